"""Load one or many sweep dirs into one evidence table (:mod:`src.analysis.core.evidence`), and say clearly what
is missing.

One row per run x metric: ``family`` (the record's ``model_family``), ``model`` (``<sweep>/<run dir without its
seed= override>``: one model, several seeds), ``scale`` (``num_params``), ``task`` (``task_name``), ``metric``,
``value``, ``replicate`` (the seed), ``n_items`` (test items scored: per_item.npz's length, else the record's
``n_test``; for the resolution floor 1/n) and ``source`` (the sweep's label), with the extras ``run_dir`` and
``sweep_dir`` (where the run's per-item file lives; the model width is in the run dir's overrides). Runs are read from ``sweep_table.csv`` when it
is there and current, else collected from the run records (the source of truth).
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core import evidence
from src.results import records, sweep_table
from src.results.errors import InputError
from src.results.per_item import PER_ITEM_NAME
from src.results.per_item import n_items as per_item_n_items


class SweepError(InputError):
    """A sweep dir that cannot be analysed as asked (empty, unfinished runs, missing metrics)."""


@dataclass
class SweepStatus:
    """What was found below one sweep dir: finished runs, unfinished ones, and planned ones never started."""

    sweep_dir: Path
    finished: list[Path] = field(default_factory=list)
    unfinished: list[tuple[Path, str]] = field(default_factory=list)  # (run dir, why)
    never_started: list[tuple[str, str]] = field(default_factory=list)  # (overrides, plan file)

    @property
    def complete(self) -> bool:
        return not self.unfinished and not self.never_started

    def describe_missing(self) -> str:
        lines = [f"{d} ({why})" for d, why in self.unfinished]
        lines += [f"{o} (planned in {where}, no run record)" for o, where in self.never_started]
        return "\n  ".join(lines)


def _normalize(overrides: list[str]) -> frozenset[str] | None:
    """``key=value`` strings as Hydra normalizes them (``false`` -> ``False``, ``1e-3`` -> ``0.001``), or None
    when they do not parse (then the plan is unknown rather than guessed)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
        return frozenset(f"{o.get_key_element()}={o.get_value_element_as_str()}" for o in parsed)
    except (HydraException, ValueError):
        return None


def _plan_files(sweep_dir: Path) -> list[Path]:
    """``multirun.yaml`` (Hydra's, the newest launch) and every launch's plan in ``.plans/`` (our callback's)."""
    from src.utils.hydra_callbacks import PLANS_DIR

    files = [sweep_dir / "multirun.yaml"] + sorted((sweep_dir / PLANS_DIR).glob("*.yaml"))
    return [f for f in files if f.is_file()]


def _planned_overrides(sweep_dir: Path) -> dict[frozenset[str], str] | None:
    """The job override sets the Hydra multiruns into ``sweep_dir`` planned, each with the file that first planned
    it (``multirun.yaml``, then ``.plans/*.yaml``), or None when no plan is known.

    A plan is ``hydra.sweeper.params`` (an experiment's grid) updated by the command-line overrides
    (``hydra.overrides.task``), expanded with Hydra's own override parser as its basic sweeper does. A plan file
    that does not parse is left out rather than guessed.
    """
    planned: dict[frozenset[str], str] = {}
    known = False
    for path in _plan_files(sweep_dir):
        jobs = _expand_plan(path)
        if jobs is None:
            continue
        known = True
        for job in jobs:
            planned.setdefault(job, path.relative_to(sweep_dir).as_posix())
    return planned if known else None


def _expand_plan(path: Path) -> list[frozenset[str]] | None:
    import yaml
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        hydra_cfg = yaml.safe_load(path.read_text())["hydra"]
        task = list(hydra_cfg["overrides"]["task"] or [])
        params = dict((hydra_cfg.get("sweeper") or {}).get("params") or {})
    except (KeyError, TypeError, AttributeError, yaml.YAMLError):
        return None
    by_key: dict[str, str] = {k: f"{k}={v}" for k, v in params.items()}
    try:
        parser = OverridesParser.create()
        for ov in parser.parse_overrides([str(o) for o in task]):
            by_key[ov.get_key_element()] = ov.input_line
        axes = []
        for ov in parser.parse_overrides(list(by_key.values())):
            key = ov.get_key_element()
            values = (
                list(ov.sweep_string_iterator())
                if ov.is_sweep_override()
                else [ov.get_value_element_as_str()]
            )
            axes.append([f"{key}={v}" for v in values])
    except (HydraException, ValueError):
        return None
    planned = [_normalize(list(c)) for c in itertools.product(*axes)]
    return None if any(p is None for p in planned) else planned


def sweep_status(sweep_dir: str | os.PathLike) -> SweepStatus:
    """Classify every job dir below ``sweep_dir``: finished record, unfinished record or Hydra dir without one."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise SweepError(
            f"sweep directory {sweep_dir} does not exist; run the sweep first (train.py --multirun ...)"
        )
    status = SweepStatus(sweep_dir)
    seen: set[frozenset[str]] = set()  # override sets of finished runs
    started: set[frozenset[str]] = set()  # ... of runs that started but did not finish
    for path in records.find_records(sweep_dir):
        rec = records.read_record(path)
        if rec.get("status") == "finished":
            status.finished.append(path.parent)
            seen.add(_normalize(rec.get("overrides", [])) or frozenset())
        else:
            status.unfinished.append((path.parent, f"record status {rec.get('status')!r}"))
            started.add(_normalize(rec.get("overrides", [])) or frozenset())
    for hydra_dir in sorted(sweep_dir.rglob(".hydra")):
        job = hydra_dir.parent
        if job != sweep_dir and not (job / records.RECORD_NAME).exists():
            status.unfinished.append((job, f"no {records.RECORD_NAME}: crashed, killed or still running"))
            started.add(_normalize(_job_overrides(job)) or frozenset())
    planned = _planned_overrides(sweep_dir)
    if planned is not None and seen and all(seen):
        started |= seen
        status.never_started = sorted(
            (",".join(sorted(p)), where) for p, where in planned.items() if not any(p <= s for s in started)
        )
    return status


def _job_overrides(job_dir: Path) -> list[str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    import yaml

    return [str(o) for o in yaml.safe_load(path.read_text()) or []]


def _read_table(sweep_dir: Path, status: SweepStatus) -> pd.DataFrame:
    table_path = sweep_dir / sweep_table.TABLE_NAME
    if table_path.is_file():
        from src.analysis.core.ingest import read_any

        table = read_any(table_path)
        missing_cols = [c for c in sweep_table.COLUMNS if c not in table.columns]
        if missing_cols:
            raise SweepError(
                f"{table_path} lacks column(s) {missing_cols}; rewrite it with `python -m src.analysis collect {sweep_dir}`"
            )
        current = sweep_table.table_is_current(sweep_dir)
        if current and table["run_dir"].nunique() == len(status.finished):
            return table
        warnings.warn(
            f"{table_path} has {table['run_dir'].nunique()} runs but {len(status.finished)} finished run records "
            f"exist{'' if current else ', some newer than the table'}; using the records (rewrite the table with "
            "`python -m src.analysis collect`)",
            stacklevel=3,
        )
    return sweep_table.collect(sweep_dir)


def _abs_run_dir(sweep_dir: Path, run_dir: str) -> Path:
    p = Path(run_dir)
    return p if p.is_absolute() else sweep_dir / p


def sweep_labels(sweep_dirs: list[str | os.PathLike]) -> dict[str, Path]:
    """A short unique label per sweep dir: its name (the W&B group), or ``parent/name`` when two names collide."""
    paths = [Path(d) for d in sweep_dirs]
    names = [p.resolve().name for p in paths]
    labels = {}
    for p, name in zip(paths, names, strict=True):
        label = name if names.count(name) == 1 else f"{p.resolve().parent.name}/{name}"
        if label in labels:
            raise SweepError(
                f"sweep dir {p} is given twice (or two dirs share {label!r}); pass each sweep once"
            )
        labels[label] = p
    return labels


def load_sweeps(sweep_dirs: list[str | os.PathLike], allow_incomplete: bool = False) -> pd.DataFrame:
    """Evidence table (run x metric, module doc) of all finished runs in ``sweep_dirs``.

    An empty sweep dir is an error. Unfinished or never-started runs are an error naming them, unless
    ``allow_incomplete`` (then a warning naming them, and the finished runs are used).
    """
    frames = []
    for label, sweep_dir in sweep_labels(sweep_dirs).items():
        status = sweep_status(sweep_dir)
        if not status.finished:
            detail = f"; unfinished:\n  {status.describe_missing()}" if not status.complete else ""
            raise SweepError(
                f"sweep directory {sweep_dir} holds no finished run record ({records.RECORD_NAME} with "
                f'"status": "finished"){detail}'
            )
        if not status.complete:
            msg = f"sweep {sweep_dir} is not finished; missing runs:\n  {status.describe_missing()}"
            if not allow_incomplete:
                raise SweepError(
                    msg + "\nrerun the sweep (finished jobs are skipped), or pass --allow-incomplete"
                )
            warnings.warn(msg + "\nusing the finished runs only", stacklevel=2)
        table = _read_table(sweep_dir, status)
        n_items = {
            run_dir: _n_scored(_abs_run_dir(sweep_dir, run_dir)) for run_dir in table["run_dir"].unique()
        }
        frames.append(_as_evidence(table, label, sweep_dir, table["run_dir"].map(n_items)))
    return pd.concat(frames, ignore_index=True)


_SEED = re.compile(r"(^|,)seed=[^,]*")


def _as_evidence(table: pd.DataFrame, label: str, sweep_dir: Path, n_items: pd.Series) -> pd.DataFrame:
    """One sweep's table (``sweep_table.COLUMNS``) in the evidence columns: ``model`` is ``<label>/<run dir without
    its seed= override>`` (one model, several seeds), ``replicate`` the seed, ``source`` the label."""
    run_dir = table["run_dir"].astype(str)
    model = label + "/" + run_dir.map(lambda r: _SEED.sub("", r).strip(",") or r)
    ev = pd.DataFrame(
        {
            "family": table["model_family"].astype(str),
            "model": model,
            "scale": table["num_params"].astype(float),
            "task": table["task_name"].astype(str),
            "metric": table["metric"].astype(str),
            "value": table["value"].astype(float),
            "replicate": table["seed"].astype(str),
            "n_items": n_items.astype(float),
            "source": label,
            "run_dir": run_dir,
            "sweep_dir": str(sweep_dir),
        }
    )
    if ev.duplicated(["family", "model", "task", "metric", "replicate"]).any():
        ev["model"] = label + "/" + run_dir  # two runs share overrides but for the seed and something else
    return evidence.normalize(ev, source=str(sweep_dir / sweep_table.TABLE_NAME))


def _n_scored(run_dir: Path) -> float:
    """Test items the run's metrics were computed on: the per-item arrays' length when saved (exact, also under
    ``limit_test_batches``), else the record's ``n_test``; NaN when neither says."""
    per_item = run_dir / PER_ITEM_NAME
    if per_item.is_file():
        n = per_item_n_items(per_item)
        if n is not None:
            return float(n)
    rec_path = run_dir / records.RECORD_NAME
    n = records.read_record(rec_path).get("n_test") if rec_path.is_file() else None
    return float(n) if n is not None else np.nan


def check_complete_metrics(table: pd.DataFrame, metrics: list[str] | None = None) -> list[tuple[str, str]]:
    """(run_dir, metric) pairs missing from ``table``: within each task, every run should log every metric.

    ``metrics`` restricts the check to those keys. Returns the missing pairs (empty when complete).
    """
    missing: list[tuple[str, str]] = []
    for _, task in table.groupby(["source", "task"]):
        wanted = set(task["metric"]) if metrics is None else set(metrics)
        for run_dir, run in task.groupby("run_dir"):
            for m in sorted(wanted - set(run["metric"])):
                missing.append((str(run_dir), m))
    return missing


def require_complete_metrics(
    table: pd.DataFrame, metrics: list[str] | None = None, allow: bool = False
) -> None:
    """Raise (or warn, with ``allow``) naming each run record that lacks a metric its sweep-mates have."""
    missing = check_complete_metrics(table, metrics)
    if not missing:
        return
    lines = "\n  ".join(f"{r}: {m}" for r, m in missing[:50])
    more = f"\n  ... and {len(missing) - 50} more" if len(missing) > 50 else ""
    msg = f"{len(missing)} run record(s) lack metric(s) that other runs of the sweep log:\n  {lines}{more}"
    if not allow:
        raise SweepError(
            msg + "\nrerun those jobs with force=true, or pass --allow-missing to plot what exists"
        )
    warnings.warn(msg, stacklevel=2)


def per_item_path(row_sweep_dir: str, run_dir: str) -> Path:
    """Where a run's per-item results live (``<run_dir>/per_item.npz``)."""
    return _abs_run_dir(Path(row_sweep_dir), run_dir) / PER_ITEM_NAME
