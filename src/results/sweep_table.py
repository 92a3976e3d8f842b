"""A sweep's tidy table (``<sweep_dir>/sweep_table.csv``): one row per run x metric, derived from the run records
(which stay the source of truth)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from src.results.io import write_table
from src.results.records import find_records, read_record

TABLE_NAME = "sweep_table.csv"
LOCK_NAME = ".sweep_table.lock"
ID_COLUMNS = ["run_dir", "task_name", "model_family", "width", "num_params", "seed"]
COLUMNS = [*ID_COLUMNS, "metric", "value"]


def records_to_table(records: Iterable[tuple[Path, dict]], root: Path | None = None) -> pd.DataFrame:
    """Tidy table from (path, record) pairs; ``run_dir`` is relative to ``root`` when given."""
    rows = []
    for path, rec in records:
        run_dir = path.parent
        run_dir_str = str(run_dir.relative_to(root)) if root is not None else str(run_dir)
        ids = [
            run_dir_str,
            rec["task_name"],
            rec["model_family"],
            rec["width"],
            rec["num_params"],
            rec["seed"],
        ]
        for metric, value in sorted(rec["metrics"].items()):
            rows.append([*ids, metric, float(value)])
    return pd.DataFrame(rows, columns=COLUMNS)


def collect(sweep_dir: str | os.PathLike, finished_only: bool = True) -> pd.DataFrame:
    """Tidy table of every (finished) run record below ``sweep_dir``."""
    sweep_dir = Path(sweep_dir)
    pairs = [(p, read_record(p)) for p in find_records(sweep_dir)]
    if finished_only:
        pairs = [(p, r) for p, r in pairs if r.get("status") == "finished"]
    return records_to_table(pairs, root=sweep_dir)


def write_sweep_table(sweep_dir: str | os.PathLike) -> Path:
    """Collect ``sweep_dir``'s finished run records and write ``sweep_dir/sweep_table.csv`` atomically, holding
    ``sweep_dir/.sweep_table.lock`` so that of two processes writing at once, the later collect is the one kept."""
    from src.results.jobs import file_lock

    sweep_dir = Path(sweep_dir)
    with file_lock(sweep_dir / LOCK_NAME):
        return write_table(collect(sweep_dir), sweep_dir / TABLE_NAME)


def table_is_current(sweep_dir: str | os.PathLike) -> bool:
    """The sweep table exists and is at least as new as every run record below ``sweep_dir`` (a record rewritten
    after the table, even with the same number of runs, makes the table stale)."""
    sweep_dir = Path(sweep_dir)
    table = sweep_dir / TABLE_NAME
    if not table.is_file():
        return False
    written = table.stat().st_mtime_ns
    return all(p.stat().st_mtime_ns <= written for p in find_records(sweep_dir))
