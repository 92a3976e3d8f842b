"""One training run from a composed config: build, fit (resuming from last.ckpt), test, write the run record.

``train.py`` is the Hydra entry point and calls :func:`train`; tests call it in-process with a composed config.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from src.results.errors import InputError
from src.results.jobs import (
    check_same_job,
    identity_hash,
    job_identity,
    job_lock,
    move_aside,
    resume_checkpoint,
)
from src.results.outputs import OUTPUTS_NAME, write_outputs
from src.results.per_item import save_per_item
from src.results.records import read_run_record, record_path, write_record
from src.utils import resolvers  # noqa: F401  (registers the config resolvers)

log = logging.getLogger(__name__)


class _DropLightningTips(logging.Filter):
    """Lightning advertises other logging products ("💡 Tip: ...") at every Trainer construction; drop those."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("💡 Tip")


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropLightningTips())


def _instantiate_group(cfg: DictConfig | None) -> list[Any]:
    """A list of objects from a config group whose entries each have a ``_target_`` (loggers, callbacks)."""
    if not cfg:
        return []
    return [
        instantiate(entry) for entry in cfg.values() if isinstance(entry, DictConfig) and "_target_" in entry
    ]


def _wandb_key_configured() -> bool:
    """An API key in the environment or in the netrc file that `wandb login` writes (read without importing
    wandb: once wandb sets itself up it no longer sees a WANDB_MODE set afterwards)."""
    import netrc
    from urllib.parse import urlparse

    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    path = os.environ.get("NETRC", os.path.expanduser("~/.netrc"))
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def _configure_wandb(cfg: DictConfig) -> None:
    """W&B never crashes a run for lack of an API key: without one (and without WANDB_MODE) it runs offline."""
    if not cfg.get("logger") or not any("Wandb" in str(v.get("_target_", "")) for v in cfg.logger.values()):
        return
    if not os.environ.get("WANDB_MODE") and not _wandb_key_configured():
        log.warning("no W&B API key configured: logging offline; upload later with `wandb sync`")
        os.environ["WANDB_MODE"] = "offline"


def _finish_wandb(failing: bool = False) -> None:
    """Close the W&B run (also after an error). While an error propagates (``failing``), a W&B failure is logged
    instead of raised, so it cannot mask that error: a SLURM requeue or cancel (SIGTERM) also stops W&B's service
    process, and its ConnectionResetError would otherwise replace Lightning's SIGTERM exit with a job error."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            print(f"W&B run dir: {wandb.run.dir}  (sync: wandb sync {Path(wandb.run.dir).parent})")
            try:
                wandb.finish()
            except Exception as err:
                if not failing:
                    raise
                log.warning(
                    "W&B run not closed cleanly (%s: %s); the run stopped anyway", type(err).__name__, err
                )


def _cluster_plugins(cfg: DictConfig) -> dict[str, Any]:
    """Inside a SLURM job, Lightning's SLURMEnvironment without auto-requeue: submitit (hydra/launcher=slurm) owns
    requeueing on timeout and preemption, and two owners would requeue one job twice. Explicit plugins win."""
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    if cfg.trainer.get("plugins") or not SLURMEnvironment.detect():
        return {}
    return {"plugins": [SLURMEnvironment(auto_requeue=False)]}


def _base_record(cfg: DictConfig, num_params: int | None) -> dict[str, Any]:
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return {
        "status": "running",
        "task_name": cfg.task_name,
        "model_family": cfg.model.family,
        "width": cfg.model.width,
        "num_params": num_params,
        "seed": cfg.seed,
        "overrides": overrides,
        "metrics": {},
    }


def _check_config(cfg: DictConfig) -> None:
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


def _global_rank() -> int:
    """This process's rank before the Trainer exists (DDP children and SLURM tasks carry it in the env)."""
    from lightning.fabric.utilities.rank_zero import _get_rank

    return _get_rank() or 0


def _identity(cfg: DictConfig) -> dict[str, Any]:
    """The job's identity (src.results.jobs.job_identity) from the composed config; the logger node is left out
    before resolving, so no logger resolver (the W&B id file) runs for a job that is then skipped."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    tree.pop("logger", None)
    return job_identity(OmegaConf.to_container(OmegaConf.create(tree), resolve=True))


def _prepare_job_dir(cfg: DictConfig, run_dir: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """``force=true``: move the old run aside (rank 0). Else: the job dir's record must be of this config; returns
    it when that run finished (skip), None when the job is to run or resume."""
    if cfg.get("force", False):
        if _global_rank() == 0:
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


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one job; returns its record. The job dir is locked for the run (a second process gets a clear error).
    A finished job of the same config is skipped, one of another config is an error, ``force=true`` moves the old
    files aside and starts from scratch; an interrupted job resumes from its newest readable checkpoint."""
    _check_config(cfg)
    run_dir = Path(cfg.paths.output_dir)
    if _global_rank() != 0:  # DDP children and other ranks: rank 0 holds the lock and prepared the dir
        return _train_job(cfg, run_dir)
    with job_lock(run_dir):
        return _train_job(cfg, run_dir)


def _train_job(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    identity = _identity(cfg)
    finished = _prepare_job_dir(cfg, run_dir, identity)
    if finished is not None:
        log.info("already finished, skipping (force=true reruns it): %s", run_dir)
        print(f"skipping finished run: {run_dir}")
        return finished

    start = time.time()
    L.seed_everything(cfg.seed, workers=True)
    _configure_wandb(cfg)

    datamodule: L.LightningDataModule = instantiate(cfg.data, _convert_="all")
    model: L.LightningModule = instantiate(cfg.model.module, _convert_="all")  # plain lists in checkpoints
    num_params = int(getattr(model, "num_params", sum(p.numel() for p in model.parameters())))
    callbacks = _instantiate_group(cfg.get("callbacks"))
    loggers = _instantiate_group(cfg.get("logger"))
    plugins = _cluster_plugins(cfg)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **plugins)

    record = _base_record(cfg, num_params)
    record["config"] = OmegaConf.to_container(cfg, resolve=True)
    record["config_hash"] = identity_hash(identity)
    ckpt = resume_checkpoint(run_dir)
    record["resumed_from"] = str(ckpt) if ckpt else None
    if trainer.is_global_zero:
        write_record(run_dir, record)
    if ckpt:
        log.info("resuming from %s", ckpt)
        print(f"resuming from checkpoint: {ckpt}")

    failing = False
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=str(ckpt) if ckpt else None)
        metrics = {k: v for k, v in trainer.callback_metrics.items() if not k.startswith("train/")}
        if cfg.get("test", True):
            for results in trainer.test(model, datamodule=datamodule, verbose=False):
                metrics.update(results)
        record["metrics"] = {k: float(v) for k, v in sorted(metrics.items())}
        per_item = (
            model.per_item_results() if hasattr(model, "per_item_results") and cfg.get("test", True) else {}
        )
        # per-sample generated outputs (arithmetic family): outputs.jsonl, schema in src/results/outputs.py
        outputs = None
        if hasattr(model, "per_sample_outputs") and cfg.get("test", True):
            outputs = model.per_sample_outputs(datamodule)
        test_set = getattr(datamodule, "test_set", None)
        record["n_test"] = len(test_set) if test_set is not None else None
        record["epochs"] = trainer.current_epoch
        record["global_step"] = trainer.global_step
        record["wall_time_s"] = round(time.time() - start, 3)
        record["status"] = "finished"
        if trainer.is_global_zero:
            if per_item:
                save_per_item(run_dir, per_item)
            if outputs is not None:
                name, family = f"{cfg.task_name}/{run_dir.name}", cfg.model.family
                write_outputs(
                    run_dir / OUTPUTS_NAME, outputs, model=name, family=family, num_params=num_params
                )
            write_record(run_dir, record)
            log.info("run record: %s", record_path(run_dir))
    except BaseException as err:
        failing = True
        if trainer.is_global_zero:
            record.update(
                status="failed",
                error=f"{type(err).__name__}: {err}",
                wall_time_s=round(time.time() - start, 3),
            )
            write_record(run_dir, record)
        if trainer.received_sigterm and not isinstance(err, SystemExit):
            # Stopped from outside (SLURM requeue, preemption, scancel), and the stop broke something on the way
            # out (W&B's service dies with the job step): exit as stopped, so the scheduler's verdict stands and
            # submitit does not record this side effect as the job's error.
            from lightning.pytorch.utilities.exceptions import SIGTERMException

            raise SIGTERMException(f"stopped by SIGTERM ({type(err).__name__}: {err})") from err
        raise
    finally:
        _finish_wandb(failing)
    return record
