"""Per-curve emergence summaries and the claim table: do sharp metrics score high and smooth ones low?

For every (sweep, task, metric) curve (seed mean against num_params): the paper's Eq. 1 emergence score and the
largest single step as a share of the total change (a check that does not depend on Eq. 1's formula). Scores are
oriented so that improvement is positive (lower-is-better metrics are negated first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.core.curves import curve_table
from src.analysis.core.emergence import emergence_score, summarize_curve
from src.analysis.core.metrics import classify, is_share_of_items, param_sort_key


def claim_table(table: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """One row per (sweep, task, metric): emergence score of the seed-mean curve (and its range over seeds),
    largest step share, and how many model sizes read below the resolution floor 1/n.

    ``emergence_score`` is oriented (improvement positive); ``|E|``-free comparisons use the sign as is.
    """
    curves = curve_table(table, split)
    rows = []
    for (sweep, task, family_name, metric), c in curves.groupby(
        ["sweep", "task_name", "model_family", "metric"]
    ):
        c = c.sort_values("num_params")
        sign = 1.0 if bool(c["higher_is_better"].iloc[0]) else -1.0
        x = c["num_params"].to_numpy(float)
        e, share, n = summarize_curve(x, sign * c["mean"].to_numpy(float))
        per_seed = []
        runs = table[
            (table["sweep"] == sweep)
            & (table["task_name"] == task)
            & (table["model_family"] == family_name)
            & (table["metric"] == metric)
        ]
        for _, s in runs.groupby("seed"):
            s = s.sort_values("num_params")
            if s["num_params"].nunique() == len(s) == n:
                per_seed.append(emergence_score(s["num_params"], sign * s["value"].to_numpy(float)))
        n_test = float(c["n_test"].median()) if c["n_test"].notna().any() else np.nan
        below = (
            int((c["mean"] < 1.0 / n_test).sum()) if c["sharpness"].iloc[0] == "sharp" and n_test > 0 else 0
        )
        info = classify(metric)
        rows.append({
            "sweep": sweep, "task_name": task, "model_family": family_name, "metric": metric,
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
        out.assign(_o=order)
        .sort_values(["sweep", "task_name", "_o"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )


def claim_verdicts(claims: pd.DataFrame) -> pd.DataFrame:
    """Per (task, family): does every sharp metric out-score every smooth one (the paper's prediction)?

    Sharp metrics at their identity parameter (subset accuracy with K=1 is accuracy) are left out.
    ``p_sharp_gt_smooth``: share of (sharp, smooth) metric pairs where the sharp one has the larger emergence
    score (1.0: the prediction holds for every pair; 0.5: no difference), and the same for largest step share.
    """
    rows = []
    if "model_family" not in claims.columns:
        claims = claims.assign(model_family="")
    for (sweep, task, family), g in claims.groupby(["sweep", "task_name", "model_family"]):
        # a sharp metric at its identity parameter (K=1) is the smooth metric itself: not a test of the claim
        sharp = g[(g["sharpness"] == "sharp") & ~g["identity"]]
        smooth = g[g["sharpness"] == "smooth"]
        if sharp.empty or smooth.empty:
            continue
        rows.append({
            "sweep": sweep, "task_name": task, "model_family": family, "n_sharp": len(sharp), "n_smooth": len(smooth),
            "median_E_sharp": float(sharp["emergence_score"].median()),
            "median_E_smooth": float(smooth["emergence_score"].median()),
            "p_sharp_gt_smooth": _pair_share(sharp["emergence_score"], smooth["emergence_score"]),
            "p_step_share_sharp_gt_smooth": _pair_share(sharp["largest_step_share"], smooth["largest_step_share"]),
        })  # fmt: skip
    cols = ["sweep", "task_name", "model_family", "n_sharp", "n_smooth", "median_E_sharp", "median_E_smooth",
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
    """Intervals and verdicts by the rules of :mod:`src.analysis.stats.verdicts`: per metric, Eq. 1, the
    largest-step share and the logistic width with 95% intervals, the threshold status at its N and the
    direction; per (sharp, smooth) pair of one task, the paired differences and their verdicts.

    Replicates: nested bootstrap (seeds with replacement, then test items within each, from ``per_item.npz``)
    where every size has per-item results; else seeds with replacement where every size has >= 2 seeds; else
    none. The item resampling is shared by the metrics of a run, so pairs are paired.
    """
    from src.analysis.stats.intervals import resample_replicates
    from src.analysis.stats.verdicts import curve_summary, paired_verdicts
    from src.analysis.sweeps.bootstrap import bootstrap_replicates

    item_reps = bootstrap_replicates(
        table[table["metric"].str.startswith(f"{split}/")], n_boot, seed, progress
    )
    rng = np.random.default_rng(seed + 1)
    curves = curve_table(table, split)
    rows, pair_rows = [], []
    for (sweep, task, family), g in curves.groupby(["sweep", "task_name", "model_family"]):
        sizes = np.sort(g["num_params"].unique())
        seed_idx = {}  # one seed draw per size, shared by the metrics (paired)
        summaries = {}
        for metric, c in g.groupby("metric"):
            c = c.sort_values("num_params")
            info = classify(metric)
            sign = 1.0 if info.kind.higher_is_better else -1.0
            x = c["num_params"].to_numpy(float)
            y = sign * c["mean"].to_numpy(float)
            runs = table[
                (table["sweep"] == sweep) & (table["task_name"] == task) & (table["metric"] == metric)
            ]
            reps, source = None, "none"
            per = [item_reps.get((sweep, task, metric, n)) for n in x]
            if len(x) == len(sizes) and all(p is not None for p in per):
                cols = []
                for j, rs in enumerate(per):
                    r = np.stack(rs)  # [seeds, B]
                    if j not in seed_idx or seed_idx[j].shape[1] != r.shape[0]:
                        seed_idx[j] = rng.integers(0, r.shape[0], size=(n_boot, r.shape[0]))
                    cols.append(r[seed_idx[j], np.arange(n_boot)[:, None]].mean(axis=1))
                reps, source = sign * np.column_stack(cols), "items x seeds (nested)"
            elif (c["n_seeds"] >= 2).all():
                vals = [runs.loc[runs["num_params"] == n, "value"].to_numpy(float) for n in x]
                reps, source = sign * resample_replicates(vals, n_boot, rng), "seeds"
            n_test = float(c["n_test"].median()) if c["n_test"].notna().any() else np.nan
            share = is_share_of_items(metric)  # the value moves in steps of 1/(n_items x seeds)
            res = 1.0 / (n_test * c["n_seeds"].min()) if share and n_test > 0 else 0.0
            floor = None if info.kind.chance is None else sign * info.kind.chance
            s = curve_summary(x, y, reps, threshold, res, level, floor)
            summaries[metric] = s
            rows.append({"sweep": sweep, "task_name": task, "model_family": family, "metric": metric,
                         "sharpness": info.sharpness,
                         "identity": info.is_identity, "interval_source": source, "resolution": res,
                         **{k: v for k, v in s.items() if not k.startswith("_")}})  # fmt: skip
        sharp = [m for m in summaries if classify(m).sharpness == "sharp" and not classify(m).is_identity]
        smooth = [m for m in summaries if classify(m).sharpness == "smooth"]
        pv = paired_verdicts(summaries, [(a, b) for a in sharp for b in smooth], level)
        if not pv.empty:
            pair_rows.append(pv.assign(sweep=sweep, task_name=task, model_family=family))
    pairs = pd.concat(pair_rows, ignore_index=True) if pair_rows else pd.DataFrame()
    return pd.DataFrame(rows), pairs
