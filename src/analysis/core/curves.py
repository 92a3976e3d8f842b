"""Curves from an evidence table: one row per (source, task, family, metric, scale) with the mean, range and count
over replicates (seeds), and the metric's kind from the registry (:mod:`src.analysis.core.metrics`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.core.metrics import classify

CURVE_KEYS = ["source", "task", "family", "metric", "scale"]


def curve_table(table: pd.DataFrame, split: str | None = "test") -> pd.DataFrame:
    """One row per (source, task, family, metric, scale): replicate mean, min, max, count (``n_seeds``), the median
    ``n_items``, and the metric's kind (``metric_family``, ``sharpness``, ``param``, ...).

    Rows of ``split`` (and of metrics named without a split) only (all splits with ``None``); metrics the registry does not know are dropped here (list
    them with :func:`unknown_metrics`).
    """
    df = table if "source" in table.columns else table.assign(source="")
    infos = {m: classify(m) for m in df["metric"].unique()}
    keep = [m for m, i in infos.items() if i is not None and (split is None or i.split in (split, ""))]
    df = df[df["metric"].isin(keep)]
    if "n_items" not in df.columns:
        df = df.assign(n_items=np.nan)
    agg = (
        df.groupby(CURVE_KEYS, as_index=False)
        .agg(
            mean=("value", "mean"),
            lo=("value", "min"),
            hi=("value", "max"),
            std=("value", "std"),
            n_seeds=("value", "size"),
            n_items=("n_items", "median"),
        )
        .sort_values(CURVE_KEYS)
    )
    agg["split"] = agg["metric"].map(lambda m: infos[m].split)
    agg["sharpness"] = agg["metric"].map(lambda m: infos[m].sharpness)
    agg["metric_family"] = agg["metric"].map(lambda m: infos[m].kind.family)
    agg["param"] = agg["metric"].map(lambda m: infos[m].param)
    agg["higher_is_better"] = agg["metric"].map(lambda m: infos[m].kind.higher_is_better)
    return agg.reset_index(drop=True)


def unknown_metrics(table: pd.DataFrame) -> list[str]:
    """Metric keys in ``table`` that the registry cannot classify (so no figure or claim uses them)."""
    return sorted(m for m in table["metric"].unique() if classify(m) is None)
