"""Curves from a table of runs: one row per (sweep, task, metric, size) with the mean, range and count over
replicates (seeds), and the metric's kind from the registry (:mod:`src.analysis.core.metrics`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.core.metrics import classify

CURVE_KEYS = ["sweep", "task_name", "model_family", "metric", "num_params"]


def curve_table(table: pd.DataFrame, split: str | None = "test") -> pd.DataFrame:
    """One row per (sweep, task, metric, num_params): seed mean, min, max, count, and the metric's kind.

    Rows of ``split`` (and of metrics named without a split) only (all splits with ``None``); metrics the registry does not know are dropped here (list
    them with :func:`unknown_metrics`).
    """
    df = table if "sweep" in table.columns else table.assign(sweep="")
    infos = {m: classify(m) for m in df["metric"].unique()}
    keep = [m for m, i in infos.items() if i is not None and (split is None or i.split in (split, ""))]
    df = df[df["metric"].isin(keep)]
    if "n_test" not in df.columns:
        df = df.assign(n_test=np.nan)
    agg = (
        df.groupby(CURVE_KEYS, as_index=False)
        .agg(
            mean=("value", "mean"),
            lo=("value", "min"),
            hi=("value", "max"),
            std=("value", "std"),
            n_seeds=("value", "size"),
            n_test=("n_test", "median"),
        )
        .sort_values(CURVE_KEYS)
    )
    agg["split"] = agg["metric"].map(lambda m: infos[m].split)
    agg["sharpness"] = agg["metric"].map(lambda m: infos[m].sharpness)
    agg["family"] = agg["metric"].map(lambda m: infos[m].kind.family)
    agg["param"] = agg["metric"].map(lambda m: infos[m].param)
    agg["higher_is_better"] = agg["metric"].map(lambda m: infos[m].kind.higher_is_better)
    return agg.reset_index(drop=True)


def unknown_metrics(table: pd.DataFrame) -> list[str]:
    """Metric keys in ``table`` that the registry cannot classify (so no figure or claim uses them)."""
    return sorted(m for m in table["metric"].unique() if classify(m) is None)
