"""The one atomic writer: every file a run or an analysis writes goes through :func:`atomic_write`.

The content is written to a randomly named temp file in the destination directory (created exclusively, so a
planted file or symlink at a predictable name is never followed), flushed, then ``os.replace``-d onto the
destination: a reader sees the old file or the new one, never half of one. Files are created mode 0644 (subject to
the umask), like any other output, not the temp-file default 0600.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o644


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], *, binary: bool = False) -> Path:
    """Call ``write(fh)`` on a fresh temp file beside ``path``, then replace ``path`` with it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, FILE_MODE & ~umask)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
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


def write_json(path: str | os.PathLike, payload: Any) -> Path:
    """JSON (indented, numpy/torch scalars and paths converted), atomically."""

    def write(fh: IO) -> None:
        json.dump(payload, fh, indent=2, default=_jsonable)
        fh.write("\n")

    return atomic_write(path, write)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text))


def write_table(df, path: str | os.PathLike) -> Path:
    """A DataFrame as CSV or Parquet, chosen by the suffix (``.csv``, ``.parquet``), atomically."""
    path = Path(path)
    if path.suffix == ".parquet":
        return atomic_write(path, lambda fh: df.to_parquet(fh, index=False), binary=True)
    return atomic_write(path, lambda fh: df.to_csv(fh, index=False))


def save_npz(path: str | os.PathLike, **arrays: Any) -> Path:
    """Compressed ``.npz`` of named arrays, atomically (a killed run never leaves a truncated file)."""
    import numpy as np

    return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays), binary=True)


class LockHeldError(RuntimeError):
    """Another live process holds the lock file; ``holder`` is the PID it wrote there (or ``"unknown"``)."""

    def __init__(self, path: Path, holder: str):
        self.path, self.holder = path, holder
        super().__init__(f"lock {path} is held by PID {holder}")


@contextlib.contextmanager
def pid_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive, non-blocking ``flock`` on ``path`` (created, never followed if it is a symlink) for the
    block and write this process's PID into it; a second process gets :class:`LockHeldError` naming the holder.
    The kernel drops the lock when the process dies, even by ``kill -9``, so a stale file never blocks a rerun."""
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockHeldError(path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
