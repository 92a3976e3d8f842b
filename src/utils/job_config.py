"""The config side of a job, for :mod:`src.training`: values checked before anything is built, the job's identity
from the composed config, preparing the job dir (skip / error / force), and the value ``train.py`` returns.
The rules themselves (identity, lock, move-aside, checkpoints) are in :mod:`src.results.jobs`."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf

from src.results.errors import InputError
from src.results.jobs import JobLockedError, check_same_job, job_identity, move_aside
from src.results.records import read_run_record, record_path


class UserError(CompactHydraException):
    """A mistake the user can fix (config value, data, job dir): Hydra prints a compact exception as its message
    alone, one line, where it prints any other with a traceback."""


def user_errors() -> tuple[type[BaseException], ...]:
    """The errors a user causes and can fix from the message: bad config values and job-dir conflicts
    (:class:`InputError`), a job dir in use, and data files that are missing or not what they claim."""
    from src.datamodules.idx import CorruptDataError, DataMissingError

    return (InputError, JobLockedError, CorruptDataError, DataMissingError)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn a user error (:func:`user_errors`) raised in the block into one line, ``error: <message>``, with no
    traceback; ``HYDRA_FULL_ERROR=1`` keeps the original exception and its traceback."""
    try:
        yield
    except user_errors() as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        raise UserError("error: " + " ".join(str(err).split())) from err


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bad(key: str, value: Any, want: str, example: str) -> InputError:
    return InputError(f"{key} must be {want}, got {value!r}", fix=f"pass e.g. {example}")


def _optimizer_values(node: Any, prefix: str) -> list[tuple[str, Any]]:
    """Every ``lr`` / ``weight_decay`` / ``momentum`` below ``node`` (the model's optimizer and scheduler)."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, DictConfig):
        for key in node:
            child = node.get(key)
            if key in ("lr", "weight_decay", "momentum"):
                found.append((f"{prefix}{key}", child))
            elif isinstance(child, DictConfig):
                found += _optimizer_values(child, f"{prefix}{key}.")
    return found


def check_config(cfg: DictConfig) -> None:
    """Values that would otherwise fail deep inside torch, never end, or give a finished run that trained
    nothing, as one error naming the key (before anything is written into the job dir)."""
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise _bad("seed", seed, "an integer in [0, 2**32)", "seed=0")
    width = cfg.model.get("width")
    if not _number(width) or not math.isfinite(width) or width <= 0:
        raise _bad("model.width", width, "a positive number", "model.width=4")
    max_epochs, max_steps = cfg.trainer.get("max_epochs"), cfg.trainer.get("max_steps")
    for key, value in (("trainer.max_epochs", max_epochs), ("trainer.max_steps", max_steps)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value == 0 or value < -1
        ):
            raise _bad(key, value, "a positive integer (or -1: no limit)", f"{key}=10")
    bounded_steps = isinstance(max_steps, int) and max_steps > 0
    if not bounded_steps and not cfg.trainer.get("max_time") and not cfg.trainer.get("fast_dev_run"):
        if max_epochs is None or max_epochs < 1:
            raise InputError(
                f"trainer.max_epochs={max_epochs} with no trainer.max_steps or trainer.max_time never ends",
                fix="set trainer.max_epochs to a positive integer (or a positive trainer.max_steps)",
            )
    for key in ("batch_size", "eval_batch_size", "train_subset", "val_size"):
        value = cfg.data.get(key)
        if value is None and key != "batch_size":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            # train_subset=0 used to record a finished run with 0 training steps
            raise _bad(f"data.{key}", value, "a positive integer" + ("" if key == "batch_size" else " or null"),
                       f"data.{key}=100")  # fmt: skip
    for key, value in _optimizer_values(cfg.model.get("module"), "model.module."):
        # lr=0 is allowed on purpose: a run whose weights never move (tests of early stopping use it)
        if not _number(value) or not math.isfinite(value) or value < 0:
            raise _bad(key, value, "a finite number >= 0", f"{key}={'0.001' if key.endswith('.lr') else '0'}")


def global_rank() -> int:
    """This process's rank before the Trainer exists (DDP children and SLURM tasks carry it in the env)."""
    from lightning.fabric.utilities.rank_zero import _get_rank

    return _get_rank() or 0


def identity_of(cfg: DictConfig) -> dict[str, Any]:
    """The job's identity (src.results.jobs.job_identity) from the composed config; the logger node is left out
    before resolving, so no logger resolver (the W&B id file) runs for a job that is then skipped."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    tree.pop("logger", None)
    return job_identity(OmegaConf.to_container(OmegaConf.create(tree), resolve=True))


def prepare_job_dir(
    cfg: DictConfig, run_dir: Path, identity: dict[str, Any], data: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """``force=true``: move the old run aside (rank 0). Else: the job dir's record must be of this config and this
    data (``data``: the datamodule's ``data_source()``); returns it when that run finished (skip), None when the
    job is to run or resume."""
    if cfg.get("force", False):
        if global_rank() == 0:
            moved = move_aside(run_dir)
            if moved is not None:
                print(f"force=true: the previous run's files are in {moved}; starting from scratch")
        return None
    record = read_run_record(run_dir)
    if record is None:
        if record_path(run_dir).exists():
            raise InputError(
                "run record is unreadable, so the job's config (and its checkpoints') is unknown",
                path=record_path(run_dir),
                fix="rerun with force=true to start the job from scratch (the old files are moved aside)",
            )
        return None
    check_same_job(run_dir, record, identity, data)
    return record if record.get("status") == "finished" else None


def objective(cfg: DictConfig, record: dict[str, Any]) -> float | None:
    """The run's ``optimized_metric`` (what a Hydra sweeper such as Optuna optimises); None when it is null."""
    metric = cfg.get("optimized_metric")
    if not metric:
        return None
    metrics = record.get("metrics", {})
    if metric not in metrics:
        raise InputError(
            f"optimized_metric={metric!r} is not among this run's metrics {sorted(metrics)}",
            fix="set optimized_metric to one of them, e.g. optimized_metric=test/acc",
        )
    return metrics[metric]
