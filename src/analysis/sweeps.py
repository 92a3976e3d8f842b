"""Collect run records (`metrics.json`) into one tidy sweep table (one row per run x metric)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

RECORD_NAME = "metrics.json"
TABLE_NAME = "sweep_table.csv"
ID_COLUMNS = ["run_dir", "task_name", "model_family", "width", "num_params", "seed"]
COLUMNS = [*ID_COLUMNS, "metric", "value"]


def find_records(sweep_dir: str | os.PathLike) -> list[Path]:
    """All run records below ``sweep_dir``, sorted; an absent directory is an error."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep directory {sweep_dir} does not exist")
    return sorted(sweep_dir.rglob(RECORD_NAME))


def read_record(path: str | os.PathLike) -> dict:
    """Read one run record, naming the file if it is not valid JSON or lacks required fields."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"run record {path} is not valid JSON ({err}); rerun that job to rewrite it"
        ) from err
    missing = [
        k for k in ("task_name", "model_family", "width", "num_params", "seed", "metrics") if k not in record
    ]
    if missing:
        raise ValueError(f"run record {path} lacks field(s) {missing}")
    return record


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


def write_atomic_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` to ``path`` through a temporary file and ``os.replace``, so readers never see half a table."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            df.to_csv(fh, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_sweep_table(sweep_dir: str | os.PathLike) -> Path:
    """Collect ``sweep_dir``'s finished run records and write ``sweep_dir/sweep_table.csv`` atomically."""
    return write_atomic_csv(collect(sweep_dir), Path(sweep_dir) / TABLE_NAME)
