"""The evidence table seen the way each stream's code works on it, and back.

- long view (families: Fig. 5, Fig. 6, nulls): ``source, task, metric, family, model, size, score`` with replicates
  averaged (``n_replicates`` says over how many).

The sweep commands read the evidence table itself (a sweep folder becomes one in
:func:`src.analysis.sweeps.loading.load_sweeps`).
"""

from __future__ import annotations

import pandas as pd

from src.analysis.core import evidence


def evidence_to_long(ev: pd.DataFrame) -> pd.DataFrame:
    """The long view for the family commands: replicates (seeds) of one model averaged into one score."""
    ev = ev[ev["value"].notna()]
    keys = ["source", "task", "metric", "family", "model"]
    extra = [c for c in ev.columns if c not in evidence.COLUMNS and c not in ("run_dir", "sweep_dir")]
    agg = (
        ev.groupby(keys, sort=False, dropna=False)
        .agg(
            size=("scale", "first"),
            score=("value", "mean"),
            n_replicates=("value", "size"),
            n_items=("n_items", "min"),
            **{c: (c, "first") for c in extra},
        )  # fmt: skip
        .reset_index()
    )
    agg["source"] = agg["source"].replace("", "table")
    return agg


def long_to_evidence(long: pd.DataFrame, source: str = "table") -> pd.DataFrame:
    """A meta-analysis long table (``task, metric, family, model, size, score`` [+ ``source``]) as evidence."""
    ev = long.rename(columns={"size": "scale", "score": "value"})
    if "source" not in ev.columns:
        ev = ev.assign(source=source)
    return evidence.normalize(ev, source=source)
