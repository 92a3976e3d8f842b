"""The config side of a job, for :mod:`src.training`: values checked before anything is built, the job's identity
from the composed config, preparing the job dir (skip / error / force), and the value ``train.py`` returns.
The rules themselves (identity, lock, move-aside, checkpoints) are in :mod:`src.results.jobs`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from src.results.errors import InputError
from src.results.jobs import check_same_job, job_identity, move_aside
from src.results.records import read_run_record, record_path


def check_config(cfg: DictConfig) -> None:
    """Values that would otherwise fail deep inside torch or never end, as one error naming the key."""
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"seed must be an integer, got {seed!r}", fix="pass e.g. seed=0")
    width = cfg.model.get("width")
    if isinstance(width, bool) or not isinstance(width, int | float):
        raise InputError(f"model.width must be a number, got {width!r}", fix="pass e.g. model.width=4")
    max_epochs, max_steps = cfg.trainer.get("max_epochs"), cfg.trainer.get("max_steps")
    bounded_steps = isinstance(max_steps, int) and max_steps > 0
    if not bounded_steps and not cfg.trainer.get("max_time") and not cfg.trainer.get("fast_dev_run"):
        if not isinstance(max_epochs, int) or isinstance(max_epochs, bool) or max_epochs < 1:
            raise InputError(
                f"trainer.max_epochs={max_epochs} with no trainer.max_steps or trainer.max_time never ends",
                fix="set trainer.max_epochs to a positive integer (or a positive trainer.max_steps)",
            )


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


def prepare_job_dir(cfg: DictConfig, run_dir: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """``force=true``: move the old run aside (rank 0). Else: the job dir's record must be of this config; returns
    it when that run finished (skip), None when the job is to run or resume."""
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
    check_same_job(run_dir, record, identity)
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
