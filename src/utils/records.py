"""Run records (``metrics.json``): one small JSON file per run, the source of truth for every sweep table."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from src.analysis.sweeps import RECORD_NAME

CHECKPOINT_DIR = "checkpoints"
LAST_CKPT = "last.ckpt"


def write_json_atomic(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write JSON through a temp file in the same directory and ``os.replace``: never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=2, sort_keys=False, default=_jsonable)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def clean_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Tensors to plain floats, keys sorted. NaN stays NaN (JSON ``NaN``) rather than vanishing from the record."""
    return {
        key: float(value.item() if hasattr(value, "item") else value)
        for key, value in sorted(metrics.items())
    }


def record_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / RECORD_NAME


def read_run_record(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's record, or None when it has none (never started) or an unreadable one (crashed mid-write)."""
    path = record_path(run_dir)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def is_finished(run_dir: str | os.PathLike) -> bool:
    record = read_run_record(run_dir)
    return record is not None and record.get("status") == "finished"


def last_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    path = Path(run_dir) / CHECKPOINT_DIR / LAST_CKPT
    return path if path.is_file() else None
