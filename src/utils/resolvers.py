"""OmegaConf resolvers used by the configs; importing this module registers them (idempotently)."""

from __future__ import annotations

import os
import secrets
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


def user_cache_dir() -> str:
    """``$XDG_CACHE_HOME/mirage`` (when absolute), else ``<home>/.cache/mirage`` with the home dir from the password
    database when ``HOME`` is unset: always a directory of this user, never a shared one such as ``/tmp``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return str(Path(xdg) / "mirage")
    home = os.environ.get("HOME") or ""
    if not os.path.isabs(home):
        import pwd

        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            home = ""
    if not os.path.isabs(home) or home == "/":
        raise ValueError(
            "no home directory for the data cache (HOME unset and none in the password database); "
            "set MIRAGE_CACHE_DIR (or paths.cache_dir) to a directory of your own"
        )
    return str(Path(home) / ".cache" / "mirage")


def isatty() -> bool:
    """Progress bars only when a person watches: stdout is a terminal (not a log file, CI or a SLURM job)."""
    return sys.stdout.isatty()


WANDB_ID_FILE = "wandb_id.txt"


def wandb_id(job_dir: str) -> str:
    """The W&B run id of the job in ``job_dir``: random on first use, then read back from ``job_dir/wandb_id.txt``.

    A requeued or rerun job (same dir, since dirs are a function of the overrides) so resumes the same W&B run,
    while a fresh job dir gets a fresh id. Created with an exclusive hard link, so DDP ranks agree on one id."""
    path = Path(job_dir) / WANDB_ID_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{WANDB_ID_FILE}.{os.getpid()}")
        tmp.write_text(secrets.token_hex(8) + "\n")
        try:
            os.link(tmp, path)  # fails if another process made it first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def register() -> None:
    resolvers = {
        "project_root": lambda: str(PROJECT_ROOT),
        "dirname": dirname,
        "run_name": run_name,
        "isatty": isatty,
        "user_cache_dir": user_cache_dir,
        "wandb_id": wandb_id,
    }
    for name, fn in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register()
