"""Hydra callbacks: the sweep table, written once every job of a multirun has ended."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src.results.records import find_records, read_record
from src.results.sweep_table import write_sweep_table

log = logging.getLogger(__name__)


class SweepTableCallback(Callback):
    """Writes ``<sweep_dir>/sweep_table.csv`` (tidy, one row per run x metric) from the jobs' run records."""

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
