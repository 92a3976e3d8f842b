"""Log analysis figures and tables to a W&B run in the sweep's group (``job_type=analysis``), offline by default.

Dashboards then show the analysis next to the sweep's training runs (same project and group). Offline runs land in
``<dir>/wandb/offline-run-*``; upload them later with ``wandb sync``. ``WANDB_MODE`` in the environment wins over
the offline default; ``WANDB_PROJECT`` sets the project (default: the training logger's ``mirage-emergence``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

DEFAULT_PROJECT = "mirage-emergence"


def log_analysis(
    sweep: str,
    command: str,
    out_dir: str | os.PathLike,
    figures: dict[str, Path] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    summary: dict[str, float] | None = None,
    config: dict | None = None,
) -> Path:
    """One W&B run named ``<command>:<sweep>`` with the PNG figures as images and the tables as W&B Tables.

    Returns the run's local directory.
    """
    import wandb

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT),
        group=sweep,
        job_type="analysis",
        name=f"{command}:{sweep}",
        dir=str(out_dir),
        mode=os.environ.get("WANDB_MODE", "offline"),
        config=config or {},
    )
    try:
        payload = {f"figures/{k}": wandb.Image(str(p)) for k, p in (figures or {}).items()}
        for name, df in (tables or {}).items():
            # W&B tables want plain columns: infinities (a step's emergence score) become strings
            payload[f"tables/{name}"] = wandb.Table(dataframe=_plain(df))
        run.log(payload)
        for key, value in (summary or {}).items():
            run.summary[key] = value
        run_dir = Path(run.dir).parent
    finally:
        run.finish()
    return run_dir


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]) and out[col].isin([float("inf"), float("-inf")]).any():
            out[col] = out[col].map(lambda v: str(v) if v in (float("inf"), float("-inf")) else v).astype(str)
    return out
