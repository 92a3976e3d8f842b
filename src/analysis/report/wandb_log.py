"""One W&B run per analysis (not per figure): the verdicts as tables, and per-size values of every sharp metric and
its smooth partner logged against the parameter count, so that one W&B line plot shows both against parameters.

History rows, one per (family, task, model): ``scale`` (parameters) and ``<family>/<task>/<metric>`` for every
metric of that task; ``define_metric`` makes ``scale`` their x axis. In W&B: Add panel -> Line plot, X axis
``scale`` (log), Y ``<family>/<task>/<sharp>`` and ``<family>/<task>/<smooth>``. The strongest tasks also get a
ready-made ``wandb.plot.line_series`` chart each (``sharp_vs_smooth/<family>/<task>``). Offline unless ``WANDB_MODE`` says
otherwise; ``WANDB_PROJECT`` sets the project.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.plotting import natural_key

DEFAULT_PROJECT = "mirage-emergence"
MAX_CHARTS = (
    40  # ready-made sharp-vs-smooth charts, strongest tasks first; every task is in the history anyway
)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """W&B tables want plain cells: infinities become strings, booleans and objects stay."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]) and np.isinf(out[col].to_numpy(float)).any():
            out[col] = out[col].map(lambda v: str(v) if np.isinf(v) else v).astype(str)
    return out


def key(family: str, task: str, metric: str) -> str:
    """The history key of one curve: ``<family>/<task>/<metric>``."""
    return f"{family}/{task}/{metric}"


def history_rows(verdicts) -> list[dict]:
    """One row per (family, task, model), in size order: ``scale``, ``model`` and each metric's value."""
    rows = []
    pts = verdicts.points
    for (fam, task), g in pts.groupby(["family", "task"], sort=False):
        for (model, scale), m in g.groupby(["model", "scale"], sort=False):
            row = {"scale": float(scale), "model": str(model)}
            row.update({key(fam, task, r.metric): float(r.value) for r in m.itertuples()})
            rows.append(row)
    rows.sort(key=lambda r: (next(k for k in r if "/" in k).rsplit("/", 1)[0], r["scale"]))
    return rows


def log_analysis(verdicts, name: str, out_dir: str | os.PathLike = ".", group: str | None = None) -> Path:
    """Log one analysis as one W&B run named ``audit:<name>``; returns the run's local directory."""
    import wandb

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=os.environ.get("WANDB_PROJECT", DEFAULT_PROJECT),
        group=group or name,
        job_type="analysis",
        name=f"audit:{name}",
        dir=str(out_dir),
        mode=os.environ.get("WANDB_MODE", "offline"),
        config=dict(getattr(verdicts, "settings", {}) or {}),
    )
    try:
        run.define_metric("scale")
        curves, pairs = verdicts.curves, getattr(verdicts, "pairs", None)
        for fam, task, metric in curves[["family", "task", "metric"]].itertuples(index=False):
            run.define_metric(key(fam, task, metric), step_metric="scale")
        for row in history_rows(verdicts):
            run.log(row)
        tables = {"curves": curves, "points": verdicts.points}
        if pairs is not None and len(pairs):
            tables["pairs"] = pairs
        charts = _pair_charts(verdicts, wandb)
        run.log({**{f"tables/{k}": wandb.Table(dataframe=_plain(v)) for k, v in tables.items()}, **charts})
        for verdict, n in curves["verdict"].value_counts().items():
            run.summary[f"verdicts/curves/{verdict}"] = int(n)
        if pairs is not None and len(pairs):
            for verdict, n in pairs["verdict"].value_counts().items():
                run.summary[f"verdicts/pairs/{verdict}"] = int(n)
        run_dir = Path(run.dir).parent
    finally:
        run.finish()
    return run_dir


def _pair_charts(verdicts, wandb) -> dict:
    """Per (family, task) with a pair, strongest first, one line_series of its smooth partner(s) and sharp metrics."""
    pairs = getattr(verdicts, "pairs", None)
    if pairs is None or not len(pairs):
        return {}
    strength = verdicts.curves.groupby(["family", "task"])["strength"].max().sort_values(ascending=False)
    out = {}
    for fam, task in strength.index:
        pr = pairs[(pairs["family"] == fam) & (pairs["task"] == task)]
        if not len(pr):
            continue
        metrics = sorted(set(pr["smooth"]), key=natural_key) + sorted(set(pr["sharp"]), key=natural_key)
        pts = verdicts.points[(verdicts.points["family"] == fam) & (verdicts.points["task"] == task)]
        xs, ys, keys = [], [], []
        for m in metrics:
            c = pts[pts["metric"] == m].sort_values("scale")
            if len(c):
                xs.append(c["scale"].astype(float).tolist())
                ys.append(c["value"].astype(float).tolist())
                keys.append(m)
        if keys:
            out[f"sharp_vs_smooth/{fam}/{task}"] = wandb.plot.line_series(
                xs=xs, ys=ys, keys=keys, title=f"{fam} · {task}: sharp and smooth", xname="parameters"
            )
        if len(out) >= MAX_CHARTS:
            break
    return out
