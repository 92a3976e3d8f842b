"""One training run from a composed config: build, fit (resuming from last.ckpt), test, write the run record.

``train.py`` is the Hydra entry point and calls :func:`train`; tests call it in-process with a composed config.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from src.results.io import write_text
from src.results.jobs import checkpoint_problem, identity_hash, job_lock, resume_checkpoint
from src.results.outputs import OUTPUTS_NAME, write_outputs
from src.results.per_item import save_per_item
from src.results.records import record_path, write_record, write_record_in_place
from src.utils import resolvers  # noqa: F401  (registers the config resolvers)
from src.utils.job_config import check_config, global_rank, identity_of, objective, prepare_job_dir

__all__ = ["objective", "train"]

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


# Written here, after the job lock (configs/hydra/default.yaml sets hydra.output_subdir: null).
HYDRA_SUBDIR = ".hydra"


def _write_hydra_files(cfg: DictConfig, run_dir: Path) -> None:
    """What Hydra writes into ``<job>/.hydra/`` (config.yaml, hydra.yaml, overrides.yaml), written by the job once
    it holds the lock and has moved an old run aside: Hydra writes them before the job starts, so a second process
    refused by the lock had already replaced the running job's copies."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    hydra = HydraConfig.instance().cfg  # {"hydra": ...}, as Hydra's own hydra.yaml
    out = run_dir / HYDRA_SUBDIR
    write_text(out / "config.yaml", OmegaConf.to_yaml(cfg))
    write_text(out / "hydra.yaml", OmegaConf.to_yaml(hydra))
    write_text(out / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(list(hydra.hydra.overrides.task))))


def _load_problem(model: L.LightningModule) -> Callable[[Path], str | None]:
    """Why a checkpoint cannot resume this job, or None: not a readable zip, not loadable with
    ``torch.load(weights_only=True)`` (plain tensors and containers, never code), not a Lightning checkpoint, or
    its weights or optimizer state do not fit this model (another width's checkpoint). Checked on a copy of the
    model, so a checkpoint that fails leaves the model as it was."""
    import copy

    import torch

    def problem(path: Path) -> str | None:
        why = checkpoint_problem(path)
        if why is not None:
            return why
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            return f"does not load with weights_only=True: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
        missing = [
            k
            for k in ("state_dict", "global_step", "epoch", "loops")
            if not isinstance(ckpt, dict) or k not in ckpt
        ]
        if missing:
            return f"not a Lightning checkpoint (lacks {missing})"
        trial = copy.deepcopy(model)
        try:
            trial.load_state_dict(ckpt["state_dict"], strict=True)
            for state in ckpt.get("optimizer_states") or []:
                _check_optimizer_state(trial, state)
        except Exception as err:
            return f"does not fit this model: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
        return None

    return problem


def _check_optimizer_state(model: L.LightningModule, state: Any) -> None:
    """Raise when an optimizer state from a checkpoint cannot be applied to ``model``'s optimizer: loaded into the
    optimizer ``configure_optimizers`` builds, or, where that needs a Trainer (a schedule over the run's steps),
    its parameter count and per-parameter state shapes checked against the model's parameters."""
    try:
        opt = model.configure_optimizers()
    except RuntimeError:  # "not attached to a Trainer": compare what can be compared without one
        params = list(model.parameters())
        ids = [i for group in state["param_groups"] for i in group["params"]]
        if len(ids) != len(params):
            raise ValueError(
                f"optimizer state is for {len(ids)} parameters, the model has {len(params)}"
            ) from None
        for i, p in zip(ids, params, strict=True):
            for name, value in state["state"].get(i, {}).items():
                if hasattr(value, "shape") and value.dim() > 0 and tuple(value.shape) != tuple(p.shape):
                    raise ValueError(f"optimizer state {name} of parameter {i} is {tuple(value.shape)}, "
                                     f"the parameter is {tuple(p.shape)}") from None  # fmt: skip
        return
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    opt = opt[0] if isinstance(opt, list | tuple) else opt
    opt.load_state_dict(state)


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


def _best_checkpoint(trainer: L.Trainer) -> Path | None:
    """The checkpoint with the best monitored validation metric when the checkpoint callback monitors one
    (callbacks=converge), else None (test the model as trained)."""
    cb = trainer.checkpoint_callback
    best = getattr(cb, "best_model_path", "") if cb is not None and getattr(cb, "monitor", None) else ""
    return Path(best) if best and Path(best).is_file() else None


def convergence_record(trainer: L.Trainer) -> dict[str, Any]:
    """How training ended, for the run record: optimizer steps and epochs taken, why it stopped
    (``early_stopping``: the validation loss stopped improving; ``max_epochs`` / ``max_steps``: the budget ran out
    first; ``other``: e.g. fast_dev_run or limit flags), and ``converged`` (stopped by early stopping). With no
    EarlyStopping callback ``converged`` is None (unknown: a fixed budget says nothing about convergence)."""
    from lightning.pytorch.callbacks import EarlyStopping

    stoppers = [cb for cb in trainer.callbacks if isinstance(cb, EarlyStopping)]
    stopper = stoppers[0] if stoppers else None
    epochs = trainer.current_epoch
    if stopper is not None and stopper.stopped_epoch > 0:
        reason = "early_stopping"
    elif trainer.max_epochs is not None and trainer.max_epochs > 0 and epochs >= trainer.max_epochs:
        reason = "max_epochs"
    elif trainer.max_steps is not None and trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
        reason = "max_steps"
    else:
        reason = "other"
    out: dict[str, Any] = {
        "steps": int(trainer.global_step),
        "epochs": int(epochs),
        "stopped_reason": reason,
        "converged": None if stopper is None else reason == "early_stopping",
    }
    if stopper is not None:
        best = stopper.best_score
        out.update(
            monitor=stopper.monitor,
            patience=stopper.patience,
            best_val=float(best) if best is not None and bool(best.isfinite()) else None,
            epochs_since_best=int(stopper.wait_count),
        )
    return out


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one job; returns its record. The job dir is locked for the run (a second process gets a clear error).
    A finished job of the same config is skipped, one of another config is an error, ``force=true`` moves the old
    files aside and starts from scratch; an interrupted job resumes from its newest usable checkpoint."""
    check_config(cfg)
    run_dir = Path(cfg.paths.output_dir)
    if global_rank() != 0:  # DDP children and other ranks: rank 0 holds the lock and prepared the dir
        return _train_job(cfg, run_dir)
    with job_lock(run_dir):
        return _train_job(cfg, run_dir)


def _train_job(cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    identity = identity_of(cfg)
    datamodule: L.LightningDataModule = instantiate(cfg.data, _convert_="all")
    # what the job reads is part of what it is: the same config on another copy of the data is another job
    data = datamodule.data_source() if hasattr(datamodule, "data_source") else None
    finished = prepare_job_dir(cfg, run_dir, identity, data)
    if finished is not None:
        log.info("already finished, skipping (force=true reruns it): %s", run_dir)
        print(f"skipping finished run: {run_dir}")
        return finished
    if global_rank() == 0:
        _write_hydra_files(cfg, run_dir)

    start = time.time()
    L.seed_everything(cfg.seed, workers=True)
    _configure_wandb(cfg)

    model: L.LightningModule = instantiate(cfg.model.module, _convert_="all")  # plain lists in checkpoints
    num_params = int(getattr(model, "num_params", sum(p.numel() for p in model.parameters())))
    callbacks = _instantiate_group(cfg.get("callbacks"))
    loggers = _instantiate_group(cfg.get("logger"))
    plugins = _cluster_plugins(cfg)
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, **plugins)

    record = _base_record(cfg, num_params)
    record["config"] = OmegaConf.to_container(cfg, resolve=True)
    record["config_hash"] = identity_hash(identity)
    if data is not None:
        record["data_source"] = data
    # force: from scratch on every rank (rank 0 moved the old checkpoints aside; another rank must not race it)
    ckpt = None if cfg.get("force", False) else resume_checkpoint(run_dir, _load_problem(model))
    record["resumed_from"] = str(ckpt) if ckpt else None
    if trainer.is_global_zero:
        write_record(run_dir, record)
    if ckpt:
        log.info("resuming from %s", ckpt)
        print(f"resuming from checkpoint: {ckpt}")

    failing = False
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=str(ckpt) if ckpt else None, weights_only=True)
        metrics = {k: v for k, v in trainer.callback_metrics.items() if not k.startswith("train/")}
        # how training ended, read before testing: testing a checkpoint restores the callbacks' state from it
        record["epochs"] = trainer.current_epoch
        record["global_step"] = trainer.global_step
        record["convergence"] = convergence_record(trainer)
        if cfg.get("test", True):
            best = _best_checkpoint(trainer)
            record["tested_checkpoint"] = best.name if best else "last trained"
            tested = trainer.test(
                model, datamodule=datamodule, ckpt_path=best, verbose=False, weights_only=True
            )
            for results in tested:
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
                error=f"{type(err).__name__}: {err}"[:2000],
                wall_time_s=round(time.time() - start, 3),
            )
            # on a full disk the atomic write has no room for its temp file: rewrite the record in place where it
            # fits; never let this write replace the error being raised
            write_record_in_place(run_dir, record)
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
