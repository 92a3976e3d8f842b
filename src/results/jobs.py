"""A job directory's identity, lock, reset and checkpoints: the rules that make a job dir mean one computation.

- :func:`job_identity` / :func:`identity_hash`: what a job computes is its resolved config minus the keys that only
  say where or how it runs (:data:`WHERE_KEYS`: paths, loggers, progress bars, ``force`` ...); paths inside other
  values (``trainer.default_root_dir``, checkpoint dirs) are replaced by ``<paths.NAME>`` so moving a sweep keeps
  its identity. The run record stores the hash; a finished job is skipped only when the hashes match.
- :func:`job_lock`: one process per job dir (``<job>/.lock``, an ``flock`` released by the kernel when the process
  dies, even by ``kill -9``); a second one gets :class:`JobLockedError` naming the holder's PID.
- :func:`move_aside`: ``force=true`` moves the old run's files to ``<job>/.previous-<n>/`` and starts from scratch.
- :func:`resume_checkpoint`: the newest usable checkpoint of the job (``last.ckpt`` first), naming each unusable one and why.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from src.results.errors import InputError
from src.results.io import LockHeldError, pid_lock
from src.results.records import CHECKPOINT_DIR, LAST_CKPT

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
PREVIOUS_PREFIX = ".previous-"
# Dotted keys that say where or how a job runs, never what it computes; everything else is the job's identity.
WHERE_KEYS = (
    "hydra",
    "paths",
    "logger",
    "force",
    "optimized_metric",
    "tags",
    "task_name",
    "sweep_name",
    "trainer.accelerator",
    "trainer.strategy",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.default_root_dir",
    "trainer.log_every_n_steps",
    "trainer.plugins",
    "data.data_dir",
    "data.cache_dir",
    "data.download",
    "data.pin_memory",
    "data.verify_checksums",
    # how the optimizer steps, not what: foreach is bitwise equal to the per-tensor loop (tests/models/
    # test_optimizer_configs.py), so runs from before it was switched on stay the same job
    "model.module.optimizer.foreach",
    # the memory format of the weights and inputs on a CPU: the same computation in another order (float rounding,
    # as between accelerators, which are not part of the identity either); runs from before it stay the same job
    "model.module.channels_last_on_cpu",
)
# Kept in place by move_aside: Hydra has already opened this job's train.log (.hydra/ is written by the job itself,
# after it holds the lock and has moved the old run aside: src/training.py).
KEEP_ON_RESET = ("train.log", LOCK_NAME)


class JobConfigMismatchError(InputError):
    """The job dir holds a run of another config."""


class JobLockedError(RuntimeError):
    """Another live process holds the job dir."""


def _drop(tree: dict[str, Any], dotted: str) -> None:
    head, _, rest = dotted.partition(".")
    if head not in tree:
        return
    if rest:
        if isinstance(tree[head], dict):
            _drop(tree[head], rest)
    else:
        del tree[head]


def _replace_paths(value: Any, paths: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _replace_paths(v, paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_paths(v, paths) for v in value]
    if isinstance(value, str):
        for path, name in paths:
            value = value.replace(path, f"<paths.{name}>")
    return value


def job_identity(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved config (a plain dict, as the record's ``config``) that decides what a job computes."""
    paths = config.get("paths") or {}
    # longest first, so <job>/checkpoints becomes <paths.output_dir>/checkpoints, not <paths.log_dir>/...
    path_values = sorted(
        ((str(v), k) for k, v in paths.items() if isinstance(v, str) and len(v) > 1),
        key=lambda kv: -len(kv[0]),
    )
    tree = json.loads(json.dumps(config, default=str))  # a deep copy of plain values
    for key in WHERE_KEYS:
        _drop(tree, key)
    return _replace_paths(tree, path_values)


def identity_hash(identity: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: tree}


def identity_diff(old: dict[str, Any], new: dict[str, Any], limit: int = 6) -> list[str]:
    """``key: old -> new`` for the keys that differ (at most ``limit`` of them, then a count)."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k, "<absent>") != b.get(k, "<absent>"))
    lines = [f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}" for k in keys[:limit]]
    if len(keys) > limit:
        lines.append(f"... and {len(keys) - limit} more")
    return lines


def check_same_job(
    run_dir: Path, record: dict[str, Any], identity: dict[str, Any], data: dict[str, Any] | None = None
) -> None:
    """Raise :class:`JobConfigMismatchError` when ``record`` (the job dir's) is of another computation: another
    config, or other data (``data``: the source files' fingerprint and whether their checksums were verified, from
    the datamodule's ``data_source()``; None for generated data). A record written before runs kept their data
    identity is accepted with a printed note (its data cannot be compared)."""
    old_config = record.get("config")
    old = job_identity(old_config) if isinstance(old_config, dict) else {}
    # the identity of the stored config under today's rules (a key found to say only how a job runs, such as
    # optimizer.foreach, then drops out of old records too); the stored hash where the record has no config
    old_hash = identity_hash(old) if old else record.get("config_hash")
    if old_hash != identity_hash(identity):
        diff = "; ".join(identity_diff(old, identity)) or "the record has no config"
        raise _mismatch(run_dir, record, f"another config (config hash {old_hash}, this one "
                        f"{identity_hash(identity)}; differs in {diff})")  # fmt: skip
    if data is None and "data_source" not in record:
        return
    if "data_source" not in record:
        msg = (f"note: {run_dir}'s run record predates the data identity, so the data it read cannot be compared "
               "with this job's; force=true reruns it")  # fmt: skip
        log.warning(msg)
        print(msg)
        return
    old_data = record.get("data_source")
    if old_data != data:
        diff = "; ".join(identity_diff({"data": old_data or {}}, {"data": data or {}})) or "the data"
        raise _mismatch(run_dir, record, f"the same config on other data (differs in {diff})")


def _mismatch(run_dir: Path, record: dict[str, Any], what: str) -> JobConfigMismatchError:
    return JobConfigMismatchError(
        f"this job dir holds a {record.get('status', 'unknown')} run of {what}",
        path=run_dir,
        fix="rerun with force=true to start it from scratch (the old files move to "
        f"{PREVIOUS_PREFIX}<n>/), or give this config its own dir with sweep_name=... or paths.log_dir=...",
    )


_HELD: set[Path] = set()  # job dirs whose lock this process holds (src/utils/job_log.py asks)


def holds_job_lock(run_dir: str | os.PathLike) -> bool:
    """Whether this process holds ``run_dir``'s job lock now."""
    return Path(run_dir).absolute() in _HELD


@contextlib.contextmanager
def job_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``<run_dir>/.lock`` exclusively for the block; a second process gets :class:`JobLockedError`."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            path = stack.enter_context(pid_lock(run_dir / LOCK_NAME))
        except LockHeldError as err:
            raise JobLockedError(
                f"job in use by PID {err.holder} (lock {err.path}): another process is running this job; wait for "
                "it to end or stop it, or give this run its own dir (sweep_name=... or paths.log_dir=...)"
            ) from None
        key = run_dir.absolute()
        _HELD.add(key)
        stack.callback(_HELD.discard, key)
        yield path


@contextlib.contextmanager
def file_lock(path: str | os.PathLike) -> Iterator[None]:
    """Wait for and hold an exclusive ``flock`` on ``path`` (short critical sections: the sweep table write)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def move_aside(run_dir: str | os.PathLike) -> Path | None:
    """Move every file of the job dir (except :data:`KEEP_ON_RESET` and earlier ``.previous-*``) to a fresh
    ``<run_dir>/.previous-<n>/``; ``train.log`` is copied there. Returns that dir, or None when there was nothing."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    entries = [
        p for p in run_dir.iterdir() if p.name not in KEEP_ON_RESET and not p.name.startswith(PREVIOUS_PREFIX)
    ]
    if not entries:
        return None
    n = 1 + max((int(p.name[len(PREVIOUS_PREFIX) :]) for p in _previous_dirs(run_dir)), default=0)
    dest = run_dir / f"{PREVIOUS_PREFIX}{n}"
    dest.mkdir()
    for p in entries:
        os.replace(p, dest / p.name)
    if (run_dir / "train.log").is_file():
        shutil.copy2(run_dir / "train.log", dest / "train.log")
    return dest


def _previous_dirs(run_dir: Path) -> list[Path]:
    return [
        p
        for p in run_dir.glob(f"{PREVIOUS_PREFIX}*")
        if p.is_dir() and p.name[len(PREVIOUS_PREFIX) :].isdigit()
    ]


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable checkpoint (a torch zip archive whose every entry passes its CRC), or None."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return f"entry {bad} fails its CRC check" if bad is not None else None


SAME_SAVE_S = 5.0  # seconds: checkpoints of one save


def resume_checkpoint(
    run_dir: str | os.PathLike, problem: Callable[[Path], str | None] = checkpoint_problem
) -> Path | None:
    """The newest usable checkpoint under ``<run_dir>/checkpoints``: the first, newest first, for which
    ``problem(path)`` is None (default: a readable zip; training also loads it with ``weights_only=True`` and
    applies it to the model). ``last.ckpt`` counts as newest unless another checkpoint was written more than
    ``SAME_SAVE_S`` after it: Lightning writes the epoch checkpoint and ``last.ckpt`` of one save moments apart, in
    either order. Each unusable one is logged and printed with its path and why; None (start fresh) when none is
    usable."""
    ckpt_dir = Path(run_dir) / CHECKPOINT_DIR
    if not ckpt_dir.is_dir():
        return None
    files = [p for p in ckpt_dir.glob("*.ckpt") if p.is_file()]
    newest = max((p.stat().st_mtime for p in files), default=0.0)

    def order(p: Path) -> tuple[bool, float]:
        mtime = p.stat().st_mtime
        return (p.name == LAST_CKPT and newest - mtime <= SAME_SAVE_S, mtime)

    candidates = sorted(files, key=order, reverse=True)
    for path in candidates:
        why = problem(path)
        if why is None:
            return path
        msg = f"unusable checkpoint {path} ({why}); trying an older one"
        log.warning(msg)
        print(msg)
    if candidates:
        msg = f"no usable checkpoint in {ckpt_dir}: starting this job from scratch"
        log.warning(msg)
        print(msg)
    return None
