"""Hydra callbacks: the sweep table, rewritten after every job of a multirun (so a failed job, which makes Hydra
stop before ``on_multirun_end``, still leaves the table of the others) and once more at the end; and each launch's
plan, kept in ``<sweep_dir>/.plans/`` because Hydra's ``multirun.yaml`` holds only the newest launch's (two
launches into one sweep dir, e.g. one per seed, would otherwise leave the first one's missing runs unnoticed)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src.results.io import atomic_write
from src.results.records import find_records, read_record
from src.results.sweep_table import write_sweep_table

log = logging.getLogger(__name__)

PLANS_DIR = ".plans"  # one file per multirun launch: its overrides and grid, as in multirun.yaml


def write_plan(config: DictConfig) -> Path:
    """``<sweep_dir>/.plans/<UTC time>-<pid>.yaml``: the launch's ``hydra.overrides.task`` and
    ``hydra.sweeper.params`` (what ``src.analysis.sweeps.loading`` expands into the planned jobs)."""
    import yaml

    hydra_cfg = config.hydra
    params = (hydra_cfg.get("sweeper") or {}).get("params")  # null when the sweep is all on the command line
    plan = {
        "hydra": {
            "overrides": {"task": [str(o) for o in (hydra_cfg.overrides.get("task") or [])]},
            "sweeper": {"params": OmegaConf.to_container(params) if params is not None else {}},
        }
    }
    plans = Path(hydra_cfg.sweep.dir) / PLANS_DIR
    plans.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    path, n = plans / f"{stem}.yaml", 0
    while path.exists():  # two launches from one process within a second
        n += 1
        path = plans / f"{stem}-{n}.yaml"
    return atomic_write(path, lambda f: yaml.safe_dump(plan, f, sort_keys=False))


class SweepTableCallback(Callback):
    """Writes ``<sweep_dir>/sweep_table.csv`` (tidy, one row per run x metric) from the jobs' run records."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        write_plan(config)

    def on_job_end(self, config: DictConfig, job_return: Any = None, **kwargs: Any) -> None:
        from hydra.types import RunMode

        hydra_cfg = config.get("hydra")
        if hydra_cfg is None or hydra_cfg.get("mode") != RunMode.MULTIRUN:
            return
        sweep_dir = Path(hydra_cfg.sweep.dir)
        if sweep_dir.is_dir():
            write_sweep_table(sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        unfinished = [
            p.parent.name for p in find_records(sweep_dir) if read_record(p).get("status") != "finished"
        ]
        if unfinished:
            log.warning(
                "runs not finished (left out of the table; rerun the sweep to resume them): %s", unfinished
            )
        path = write_sweep_table(sweep_dir)
        log.info("sweep table: %s", path)
        print(f"sweep table: {path}")
        offline = sorted(sweep_dir.glob("*/wandb/offline-run-*"))
        if offline:
            sync = f"wandb sync {sweep_dir}/*/wandb/offline-run-*"
            print(f"W&B: {len(offline)} offline runs; upload them with: {sync}")
