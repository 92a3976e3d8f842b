"""The one way to name, save and print what a command writes: every output path, figure and table goes through these.

- :func:`output_path` builds every file name inside ``--out``: names built from data (task, family, sweep names)
  are made safe (letters, digits, ``-._=+``; ``/`` as ``__``; no leading dot) and short, with a hash of the
  original name appended whenever a character had to be replaced or the name was cut, so two different names
  never land on one file and no name leaves ``--out``.
- :func:`save_figure` and :func:`save_table` write through the one atomic writer (``src/results/io.py``): a killed
  command leaves the old file or the new one, never a truncated PNG, PDF or CSV. A write the system refuses
  (read-only or full ``--out``) is one :class:`InputError` naming the file.
- :func:`out_dir_lock`: one command at a time per ``--out`` (``<out>/.lock``); a second gets "out dir in use by
  PID ...", so two analyses never leave a mixed set of files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.results.errors import InputError
from src.results.io import LockHeldError, atomic_write, pid_lock, write_table

FLOAT_FMT = "{:.3g}".format
# File systems allow 255 bytes per name; the atomic writer's temp file adds ~14 (".<name>.XXXXXXXX.tmp"). A stem
# built from data is cut at MAX_STEM, so that commands can add "_test_smooth_vs_sharp_premise" and a suffix to it
# and stay within MAX_NAME, which output_path enforces on the whole name.
MAX_STEM = 120
MAX_NAME = 200
HASH_LEN = 10
LOCK_NAME = ".lock"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")


def safe_name(name: object, max_len: int = MAX_STEM) -> str:
    """``name`` as one safe path component of at most ``max_len`` characters (see the module docstring).
    Idempotent: a safe name within the limit comes back unchanged."""
    raw = str(name)
    readable = raw.replace("/", "__")
    safe = _UNSAFE.sub("_", readable).lstrip(".") or "_"
    if safe == readable and len(safe) <= max_len:
        return safe
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LEN]
    return f"{safe[: max_len - HASH_LEN - 1]}-{digest}"


def output_path(out_dir: str | os.PathLike, name: object, suffix: str = "") -> Path:
    """``<out_dir>/<name><suffix>`` with ``name`` made safe (:func:`safe_name`, at most :data:`MAX_NAME`
    characters with the suffix), checked to be a direct child of ``out_dir``. A stem already made safe with
    :func:`safe_name` and extended by a fixed part (``f"{stem}_summary"``) comes through unchanged."""
    if suffix and not re.fullmatch(r"(\.[A-Za-z0-9_]+)+", suffix):
        raise ValueError(f"suffix {suffix!r} is not a file suffix such as '.csv'")
    out_dir = Path(out_dir)
    path = out_dir / f"{safe_name(name, MAX_NAME - len(suffix))}{suffix}"
    # cannot fail for a safe name (no "/", no leading dot); kept as the function's contract
    if path.parent != out_dir or path.name in (".", ".."):
        raise ValueError(f"output name {name!r} leaves {out_dir}")
    return path


def _written(path: Path, write) -> Path:
    """Run an atomic write, turning what the system refuses (read-only dir, full disk) into one InputError."""
    try:
        return write()
    except OSError as err:
        raise InputError(
            f"cannot write this output ({err.strerror or err})",
            path=path,
            fix="choose an --out you can write to, on a disk with free space",
        ) from err


def save_figure(fig: Figure, out_dir: str | os.PathLike, stem: object, dpi: int = 200) -> list[Path]:
    """Write ``fig`` as ``<out_dir>/<stem>.png`` and ``.pdf`` (names through :func:`output_path`), each atomically;
    returns both paths."""
    import matplotlib.pyplot as plt

    paths = [output_path(out_dir, stem, ".png"), output_path(out_dir, stem, ".pdf")]

    def write(path: Path) -> Path:
        return atomic_write(path, lambda fh: fig.savefig(fh, format=path.suffix[1:], dpi=dpi), binary=True)

    try:
        for p in paths:
            _written(p, lambda p=p: write(p))
    finally:
        plt.close(fig)  # a pyplot figure is released; a bare Figure is unaffected
    return paths


def save_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """A table as CSV (``.csv``) or Parquet (``.parquet``), atomically; the suffix decides. A name built from data
    goes through :func:`output_path` first."""
    path = Path(path)
    return _written(path, lambda: write_table(df, path))


@contextlib.contextmanager
def out_dir_lock(out: str | os.PathLike, is_file: bool = False) -> Iterator[Path]:
    """Hold ``<out>/.lock`` (``is_file``: ``<parent>/.<name>.lock``, for commands whose ``--out`` is one file or
    stem) for the block; a second command into the same ``--out`` gets one :class:`InputError` naming the PID that
    holds it. The kernel drops the lock when the process ends, even by ``kill -9``."""
    out = Path(out)
    lock_dir, name = (out.parent, f".{out.name}.lock") if is_file else (out, LOCK_NAME)
    with contextlib.ExitStack() as stack:
        try:
            lock_dir.mkdir(parents=True, exist_ok=True)
            path = stack.enter_context(pid_lock(lock_dir / name))
        except LockHeldError as err:
            raise InputError(
                f"out dir in use by PID {err.holder} (lock {err.path}): another analysis is writing here",
                path=out,
                fix="wait for it to end, or give this one another --out",
            ) from None
        except OSError as err:
            raise InputError(
                f"cannot lock this --out ({err.strerror or err})",
                path=out,
                fix="choose an --out you can write to",
            ) from err
        yield path


class OutDirLocks:
    """The output dirs one command holds while it runs (:func:`out_dir_lock` each, taken the first time a dir is
    asked for, released together). ``src/analysis/__main__.py:run`` gives every command one as ``args.out_locks``
    and holds ``--out`` in it; commands whose outputs default to a dir per input (``<sweep>/analysis``) hold each
    such dir through :func:`hold_out_dir` before writing there."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._held: set[Path] = set()

    def hold(self, out: str | os.PathLike, is_file: bool = False) -> Path:
        key = Path(out).absolute()
        if key not in self._held:
            self._stack.enter_context(out_dir_lock(out, is_file=is_file))
            self._held.add(key)
        return Path(out)

    def close(self) -> None:
        self._stack.close()
        self._held.clear()


def hold_out_dir(args, out: str | os.PathLike) -> Path:
    """``out``, held for the rest of the command when it runs under ``run`` (``args.out_locks``); unchanged in a
    direct call of a command function (tests, notebooks)."""
    locks = getattr(args, "out_locks", None)
    return locks.hold(out) if locks is not None else Path(out)


def print_table(title: str, df: pd.DataFrame) -> None:
    print(f"\n{title}")
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 30):
        print(df.to_string(index=False, float_format=FLOAT_FMT))


TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".jsonl")


def out_file(out: str | os.PathLike, name: str) -> Path:
    """Where a command writes its table: ``--out`` is a directory (``<out>/<name>``, created); a path ending in a
    table suffix (.csv, .parquet, ...) is still taken as the file itself, as older commands used it."""
    out = Path(out)
    if out.suffix.lower() in TABLE_SUFFIXES:
        out.parent.mkdir(parents=True, exist_ok=True)
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out / name
