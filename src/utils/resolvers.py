"""OmegaConf resolvers used by the configs; importing this module registers them (idempotently)."""

from __future__ import annotations

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


def register() -> None:
    for name, fn in (("project_root", lambda: str(PROJECT_ROOT)), ("dirname", dirname), ("run_name", run_name)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register()
