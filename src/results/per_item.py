"""Per-test-item outcomes (``<run_dir>/per_item.npz``): arrays whose first axis is the test item.

Written atomically by training; read by analysis to bootstrap over items and rescore with other metrics. Arrays
by family in docs/design.md (``correct``, ``ce``, ``sq_err``).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from src.results.errors import InputError
from src.results.io import save_npz

PER_ITEM_NAME = "per_item.npz"


def per_item_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / PER_ITEM_NAME


def save_per_item(run_dir: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    return save_npz(per_item_path(run_dir), **arrays)


def load_per_item(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of one ``per_item.npz``; a truncated or corrupt file is an :class:`InputError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no per-item results file", path=path, fix="rerun that job (force=true) to write it")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise InputError(
            f"per-item results file is truncated or corrupt ({type(err).__name__}: {err})",
            path=path,
            fix="rerun that job (force=true) to rewrite it",
        ) from err


def n_items(path: str | os.PathLike) -> int | None:
    """Number of test items in a ``per_item.npz`` (its first array's length), or None when it has no arrays."""
    arrays = load_per_item(path)
    return int(next(iter(arrays.values())).shape[0]) if arrays else None
