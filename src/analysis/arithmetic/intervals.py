"""Intervals and verdicts of the arithmetic Fig. 3 curves (``arith-fig3 --n-resamples B``), from the one verdict
engine (:func:`src.analysis.stats.engine.run_engine`, docs/analysis.md "Verdict rules").

The per-item scores of :func:`.scoring.score_items` are the items table: per (family, task) and target length L,
the test items every model was scored on and that have L target digits, one column per score at L (exact match,
level 2; probability of the exact target, level 2; per-token accuracy, level 1; token edit distance, level 0:
:data:`src.analysis.core.metrics.LEVELS`). The engine resamples the items (the same resample for every model and
every score: paired across sizes and metrics) and, where a size has several models (seeds), the seeds of that
size (``items x seeds``); it pairs every score with each of lower level at the same L (exact match at L = 1 is
per-token accuracy itself and pairs with nothing). Each (task, L) is one engine task (``<task>/L=<L>``), so a
score is only ever paired with scores of the same L.
"""

from __future__ import annotations

import warnings

import pandas as pd

from src.analysis.stats.engine import Settings

THRESHOLD = Settings().threshold  # Eq. 1's threshold for "emergent" (the engine's)

RULE = (
    "Rules (the one engine, docs/analysis.md 'Verdict rules'; 95% intervals from resampling test items, the same "
    "items for every model and score, and the seeds of each size where there are several):\n"
    "  emergent: the rise is real (the interval of the total change lies above the resolution and 5% of the "
    "range) and the lower end of Eq. 1's interval >= {thr:g}, with no more than half the rise in the smaller half "
    "of the sizes; else 'not emergent', 'no real rise', 'worsens' or 'too few sizes'\n"
    "  sharp vs smooth (same L, the higher level the sharp one): on the paired difference of the logistic width "
    "(smooth minus sharp, decades) where both are identified, else of Eq. 1 (sharp minus smooth): 'sharp above "
    "smooth' when the interval lies above 0, 'smooth above sharp' below, 'no difference' when it straddles 0; "
    "'no rise to compare' when either score has no real rise (or worsens)."
)


def arith_evidence(
    items: pd.DataFrame, subset: str = "test", split: str = "test", max_len: int = 5
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(evidence, items, notices) of scored items for the engine: one engine task per (task, L), models named by
    their size (``N=<params>``) with the models of one size as its replicates (seeds), metrics ``<split>/<score>_l=<L>``
    (the items table has one column of that name per score). A score missing on some of the items (no
    log-probabilities, no token boundary at L) is left out for that (task, L), with a notice."""
    from src.analysis.arithmetic.scoring import SCORES

    part = items[items["subset"] == subset]
    if part.empty:
        raise ValueError(
            f"no items of subset {subset!r}; subsets present: {sorted(items['subset'].unique())}"
        )
    rows, its, notices = [], [], []
    for (family, task), g in part.groupby(["family", "task"], sort=True):
        # the items every model was scored on (the shared test set)
        common = set.intersection(*(set(h["item"]) for _, h in g.groupby("model")))
        g = g[g["item"].isin(common)].drop_duplicates(["model", "item"])
        size = "N=" + g["scale"].map(lambda n: f"{n:.4g}")
        for L in range(1, max_len + 1):
            cols = [f"{s}_l={L}" for s in SCORES if f"{s}_l={L}" in g.columns]
            if f"exact_match_l={L}" not in cols:
                continue
            at = g[g[f"exact_match_l={L}"].notna()]  # items with at least L target digits
            if at["item"].nunique() < 2:
                continue
            scored = [c for c in cols if at[c].notna().all()]
            missing = sorted(c for c in set(cols) - set(scored) if at[c].notna().any())  # partly scored
            if missing:
                notices.append(
                    f"{family} {task} L={L}: {', '.join(missing)} not scored on every item; left out"
                )
            names = {c: f"{split}/{c}" for c in scored}
            one = at.assign(task=f"{task}/L={L}", model=size[at.index], replicate=at["model"].astype(str),
                            checkpoint="", scale=at["scale"].astype(float)).rename(columns=names)  # fmt: skip
            its.append(
                one[["family", "model", "scale", "task", "item", "replicate", "checkpoint", *names.values()]]
            )
            keys = ["family", "model", "scale", "task", "replicate"]
            for key, r in one.groupby(keys, sort=False):
                rows += [{**dict(zip(keys, key, strict=True)), "metric": m, "value": float(r[m].mean()),
                          "n_items": float(len(r)), "checkpoint": ""} for m in names.values()]  # fmt: skip
    items_df = pd.concat(its, ignore_index=True) if its else pd.DataFrame()
    return pd.DataFrame(rows), items_df, notices


def _split_task(df: pd.DataFrame) -> pd.DataFrame:
    """The engine task ``<task>/L=<L>`` back into ``task`` and ``L``."""
    if df.empty:
        return df
    parts = df["task"].str.rpartition("/L=")
    out = df.assign(task=parts[0])
    out.insert(2, "L", parts[2].astype(int))
    return out


def arith_intervals(
    items: pd.DataFrame,
    subset: str = "test",
    split: str = "test",
    n_boot: int = 200,
    seed: int = 0,
    threshold: float = THRESHOLD,
    level: float = 0.95,
    max_len: int = 5,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, pairs) of the engine for every ``<score>_l=<L>`` curve of :func:`.scoring.score_items` rows; see the
    module doc. Curves: the engine's columns (``E`` [``E_lo``, ``E_hi``], the total change and its interval,
    ``interval_source``, ``resolution``, ``verdict`` and its ``reason``) with ``task`` and ``L``. Pairs: one row per
    (sharp, smooth) at the same L with the engine's ``basis``, difference, interval and ``verdict``."""
    from src.analysis.core.evidence import normalize
    from src.analysis.core.readers import Evidence
    from src.analysis.core.vocab import complete
    from src.analysis.stats.engine import run_engine

    table, its, notices = arith_evidence(items, subset, split, max_len)
    if table.empty:
        raise ValueError("no (task, L) with at least 2 items scored by every model")
    for n in notices:
        warnings.warn(n, stacklevel=2)
    settings = Settings(n_resamples=max(int(n_boot), 20), seed=seed, threshold=threshold, level=level)
    v = run_engine(complete(Evidence(normalize(table, "arithmetic items"), its)), settings, progress=False)
    curves = _split_task(v.curves)
    pairs = _split_task(v.pairs)
    if not pairs.empty:
        front = ["family", "task", "L", "sharp", "smooth", "verdict", "basis"]
        pairs = pairs[front + [c for c in pairs.columns if c not in front]]
    return curves, pairs
