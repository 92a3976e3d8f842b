"""Run records (``<run_dir>/metrics.json``): one small JSON file per run, the source of truth for every table.

Schema in docs/design.md. Written by training at the start (``status: running``) and end of every run; read by the
skip/resume logic (:func:`read_run_record`, lenient) and by analysis (:func:`read_record`, strict).
"""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path
from typing import Any

from src.results.errors import InputError
from src.results.io import write_json

log = logging.getLogger(__name__)

RECORD_NAME = "metrics.json"
CHECKPOINT_DIR = "checkpoints"
LAST_CKPT = "last.ckpt"
REQUIRED_FIELDS = ("task_name", "model_family", "width", "num_params", "seed", "metrics")


def record_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / RECORD_NAME


def write_record(run_dir: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Write the run record atomically (never half a file)."""
    return write_json(record_path(run_dir), record)


def write_record_in_place(run_dir: str | os.PathLike, record: dict[str, Any]) -> bool:
    """Last resort for a run that is failing because the disk is full: the atomic writer needs room for a second
    copy, so rewrite the existing record in its own blocks instead (not atomic, so only when the atomic write
    failed, and only when the new record fits in the blocks the file already has).
    Returns whether the record was written; never raises (the caller is already handling the real error)."""
    path = record_path(run_dir)
    try:
        write_record(run_dir, record)
        return True
    except OSError as err:
        first = err
    data = (json.dumps(record, indent=2, default=str) + "\n").encode()
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
        try:
            allocated = os.fstat(fd).st_blocks * 512
            if len(data) > allocated:  # it would need new blocks: a half-written record would lose the resume
                raise OSError(
                    errno.ENOSPC, f"the record needs {len(data)} bytes, its blocks hold {allocated}"
                )
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        finally:
            os.close(fd)
        return True
    except OSError as err:
        log.warning("could not write the run record %s (%s; in place: %s)", path, first, err)
        return False


def clean_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Tensors to plain floats, keys sorted. NaN stays NaN (JSON ``NaN``) rather than vanishing from the record."""
    return {
        key: float(value.item() if hasattr(value, "item") else value)
        for key, value in sorted(metrics.items())
    }


def read_run_record(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run's record, or None when it has none (never started) or an unreadable one (crashed mid-write,
    binary garbage): the caller then treats the job as not finished."""
    path = record_path(run_dir)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None
    return record if isinstance(record, dict) else None


def is_finished(run_dir: str | os.PathLike) -> bool:
    record = read_run_record(run_dir)
    return record is not None and record.get("status") == "finished"


def last_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    path = Path(run_dir) / CHECKPOINT_DIR / LAST_CKPT
    return path if path.is_file() else None


def find_records(sweep_dir: str | os.PathLike) -> list[Path]:
    """All run records below ``sweep_dir``, sorted; an absent directory is an error."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise InputError(
            "sweep directory does not exist",
            path=sweep_dir,
            fix="run the sweep first (python train.py -m ...) or check the path",
        )
    return sorted(sweep_dir.rglob(RECORD_NAME))


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """Read one run record strictly, naming the file if it is not valid JSON or lacks required fields."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(
            f"run record is not valid JSON ({err})",
            path=path,
            fix="rerun that job (force=true) to rewrite it",
        ) from err
    if not isinstance(record, dict):
        raise InputError("run record is not a JSON object", path=path, fix="rerun that job (force=true)")
    missing = [k for k in REQUIRED_FIELDS if k not in record]
    if missing:
        raise InputError(
            f"run record lacks field(s) {missing}", path=path, fix="rerun that job (force=true) to rewrite it"
        )
    return record
