"""Per-curve emergence summaries and the claim table: do sharp metrics score high and smooth ones low?

For every (source, task, family, metric) curve (replicate mean against scale): the paper's Eq. 1 emergence score and the
largest single step as a share of the total change (a check that does not depend on Eq. 1's formula). Scores are
oriented so that improvement is positive (lower-is-better metrics are negated first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.core.curves import curve_table
from src.analysis.core.emergence import emergence_score, summarize_curve
from src.analysis.core.metrics import classify, param_sort_key


def claim_table(table: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """One row per (source, task, family, metric) of an evidence table: emergence score of the seed-mean curve (and its range over seeds),
    largest step share, and how many model sizes read below the resolution floor 1/n.

    ``emergence_score`` is oriented (improvement positive); ``|E|``-free comparisons use the sign as is.
    """
    curves = curve_table(table, split)
    rows = []
    for (sweep, task, family_name, metric), c in curves.groupby(["source", "task", "family", "metric"]):
        c = c.sort_values("scale")
        sign = 1.0 if bool(c["higher_is_better"].iloc[0]) else -1.0
        x = c["scale"].to_numpy(float)
        e, share, n = summarize_curve(x, sign * c["mean"].to_numpy(float))
        per_seed = []
        runs = table[
            (table["source"] == sweep)
            & (table["task"] == task)
            & (table["family"] == family_name)
            & (table["metric"] == metric)
        ]
        for _, s in runs.groupby("replicate"):
            s = s.sort_values("scale")
            if s["scale"].nunique() == len(s) == n:
                per_seed.append(emergence_score(s["scale"], sign * s["value"].to_numpy(float)))
        n_test = float(c["n_items"].median()) if c["n_items"].notna().any() else np.nan
        below = (
            int((c["mean"] < 1.0 / n_test).sum()) if c["sharpness"].iloc[0] == "sharp" and n_test > 0 else 0
        )
        info = classify(metric)
        rows.append({
            "source": sweep, "task": task, "family": family_name, "metric": metric,
            "sharpness": info.sharpness, "label": info.kind.label, "n_sizes": n,
            "identity": info.is_identity,
            "emergence_score": e,
            "e_seed_min": min(per_seed) if per_seed else np.nan,
            "e_seed_max": max(per_seed) if per_seed else np.nan,
            "largest_step_share": share,
            "sizes_below_1_over_n": below,
            "start": float(c["mean"].iloc[0]), "end": float(c["mean"].iloc[-1]),
        })  # fmt: skip
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    order = out["metric"].map(lambda m: (classify(m).sharpness != "smooth", *param_sort_key(classify(m))))
    return (
        out.assign(_o=order).sort_values(["source", "task", "_o"]).drop(columns="_o").reset_index(drop=True)
    )


def claim_verdicts(claims: pd.DataFrame) -> pd.DataFrame:
    """Per (task, family): does every sharp metric out-score every smooth one (the paper's prediction)?

    Sharp metrics at their identity parameter (subset accuracy with K=1 is accuracy) are left out.
    ``p_sharp_gt_smooth``: share of (sharp, smooth) metric pairs where the sharp one has the larger emergence
    score (1.0: the prediction holds for every pair; 0.5: no difference), and the same for largest step share.
    """
    rows = []
    if "family" not in claims.columns:
        claims = claims.assign(family="")
    for (sweep, task, family), g in claims.groupby(["source", "task", "family"]):
        # a sharp metric at its identity parameter (K=1) is the smooth metric itself: not a test of the claim
        sharp = g[(g["sharpness"] == "sharp") & ~g["identity"]]
        smooth = g[g["sharpness"] == "smooth"]
        if sharp.empty or smooth.empty:
            continue
        rows.append({
            "source": sweep, "task": task, "family": family, "n_sharp": len(sharp), "n_smooth": len(smooth),
            "median_E_sharp": float(sharp["emergence_score"].median()),
            "median_E_smooth": float(smooth["emergence_score"].median()),
            "p_sharp_gt_smooth": _pair_share(sharp["emergence_score"], smooth["emergence_score"]),
            "p_step_share_sharp_gt_smooth": _pair_share(sharp["largest_step_share"], smooth["largest_step_share"]),
        })  # fmt: skip
    cols = ["source", "task", "family", "n_sharp", "n_smooth", "median_E_sharp", "median_E_smooth",
            "p_sharp_gt_smooth", "p_step_share_sharp_gt_smooth"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _pair_share(a: pd.Series, b: pd.Series) -> float:
    """P(a > b) over all pairs, ties counting one half; NaNs dropped."""
    a, b = a.dropna().to_numpy(float), b.dropna().to_numpy(float)
    if a.size == 0 or b.size == 0:
        return float("nan")
    gt, eq = (
        a[:, None] > b[None, :],
        a[:, None] == b[None, :],
    )  # comparisons, not differences: inf == inf ties
    return float((gt + 0.5 * eq).mean())


def claim_intervals(
    table: pd.DataFrame,
    split: str = "test",
    n_boot: int = 200,
    seed: int = 0,
    threshold: float = 10.0,
    level: float = 0.95,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Intervals and verdicts of the sweep's curves from the one verdict engine (:mod:`src.analysis.stats.engine`):
    (curves, pairs) of each ``source`` of the evidence table ``table``. Replicates: items x seeds
    where runs saved ``per_item.npz`` (every metric of a run on the same resampled items: paired), else seeds
    within the family, else the binomial of the test items."""
    from src.analysis.core import evidence
    from src.analysis.core.cli import items_table
    from src.analysis.core.readers import Evidence
    from src.analysis.core.vocab import complete
    from src.analysis.stats.engine import Settings, run_engine

    runs = table[table["metric"].str.startswith(f"{split}/") | ~table["metric"].str.contains("/")]
    curves, pairs = [], []
    for source, part in runs.groupby("source"):
        ev = evidence.normalize(part, source=f"evidence of {source}")
        items = items_table(ev) if "sweep_dir" in part.columns else pd.DataFrame()
        if not items.empty:
            items = items.assign(replicate=items["replicate"].astype(str))
        ev = complete(Evidence(ev, items))
        settings = Settings(n_resamples=max(int(n_boot), 20), seed=seed, threshold=threshold, level=level)
        v = run_engine(ev, settings, progress=progress)
        curves.append(v.curves.assign(source=source))
        pairs.append(v.pairs.assign(source=source))
    return pd.concat(curves, ignore_index=True), pd.concat(pairs, ignore_index=True)
