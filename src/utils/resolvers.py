"""OmegaConf resolvers used by the configs; importing this module registers them (idempotently)."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def dirname(override_dirname: str) -> str:
    """A job directory name from Hydra's ``override_dirname``: ``default`` when empty, no path separators."""
    return override_dirname.replace("/", "_") if override_dirname else "default"


def run_name() -> str:
    """``<task>/<overrides>`` for loggers: the job's overrides, or ``default``."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return "default"
    return dirname(HydraConfig.get().job.override_dirname)


def isatty() -> bool:
    """Progress bars only when a person watches: stdout is a terminal (not a log file, CI or a SLURM job)."""
    return sys.stdout.isatty()


def register() -> None:
    resolvers = {"project_root": lambda: str(PROJECT_ROOT), "dirname": dirname, "run_name": run_name, "isatty": isatty}
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register()
