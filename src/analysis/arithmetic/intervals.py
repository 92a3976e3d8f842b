"""Item-bootstrap intervals and paired verdicts for the arithmetic Fig. 3 curves (``arith-fig3 --n-resamples B``).

Per (family, task): the test items every model was scored on are resampled with replacement, B times, and the
**same** resampled items are used for every model, every target length L and every metric, so a sharp and a smooth
metric of the same outputs are paired (:func:`src.analysis.stats.intervals.item_counts`). Where a size has more than
one model (seeds), the seeds of each size are resampled too (crossed, as
:func:`src.analysis.stats.intervals.resample_crossed`; one seed draw per replicate for every metric), so a family
whose runs of one size disagree (one seed solves the task, another does not) gets intervals that say so. A replicate
curve is, per size, the mean over the drawn models of that size of each model's mean over the resampled items that
have a score (items with fewer than L target digits have none). Each curve is oriented by its metric's direction (token edit
distance is lower-is-better: negated) and summarised by :func:`src.analysis.stats.verdicts.curve_summary`: Eq. 1
with ties at the measurement resolution, its interval, the largest-step share, the logistic width where identified,
the threshold status at its number of sizes and the direction (improves / worsens / flat, from the interval of
last-minus-first). Pairs: each sharp metric (exact match, probability of the exact target; not at its identity
parameter) against each smooth one (token edit distance, per-token accuracy) at the same L
(:func:`src.analysis.stats.verdicts.paired_verdicts`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.core.metrics import classify, is_share_of_items
from src.analysis.stats.intervals import DEFAULT_LEVEL, item_counts
from src.analysis.stats.verdicts import curve_summary, paired_verdicts

THRESHOLD = (
    10.0  # Eq. 1's threshold for "emergent" (applied only where the number of sizes makes it reachable)
)
MIN_WIDTH_SIZES = 6  # the logistic has up to 4 free parameters: its width is fitted only with this many sizes

RULE = (
    "Rules (95% percentile intervals from resampling test items, the same items for every model and metric, "
    "and the seeds of each size where there are several):\n"
    "  emergent: Eq. 1 threshold reachable at the curve's number of sizes N, and the lower end of E's interval "
    ">= {thr:g}\n"
    "  sharp vs smooth (same L): on the paired difference of the logistic width (smooth minus sharp, decades) where "
    "both widths are identified and resolved by the grid (smallest spacing <= width <= span of the sizes, decades), "
    "else on Eq. 1 (sharp minus smooth): 'sharp above smooth' when the interval lies "
    "above 0, 'smooth above sharp' below, 'no difference' when it straddles 0; 'worsens: <which>' when a metric's "
    "last-minus-first interval lies below 0 (it gets worse with scale, so it counts as neither)."
)


def replicate_means(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values [models, items]`` (NaN: no score), ``counts [B, items]`` -> (observed ``[models]``, replicates
    ``[B, models]``): each model's mean over the (resampled) items that have a score, in two matrix products."""
    has = ~np.isnan(values)
    v = np.where(has, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        obs = v.sum(axis=1) / has.sum(axis=1)
        reps = (counts @ v.T) / (counts @ has.T.astype(float))
    return obs, reps


def _by_size(x_models: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the models (seeds) of each size, along the last axis of ``cols``; returns (sizes, means)."""
    sizes, inv = np.unique(x_models, return_inverse=True)
    onehot = np.zeros((x_models.size, sizes.size))
    onehot[np.arange(x_models.size), inv] = 1.0 / np.bincount(inv)[inv]
    return sizes, cols @ onehot


def _seed_weights(x_models: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_boot, models, sizes]`` weights: per replicate, the models (seeds) of each size drawn with replacement,
    each drawn model weighted 1 / (models of its size); a size with one model always weighs it 1."""
    sizes, inv = np.unique(x_models, return_inverse=True)
    w = np.zeros((n_boot, x_models.size, sizes.size))
    for j in range(sizes.size):
        members = np.flatnonzero(inv == j)
        w[:, members, j] = item_counts(members.size, n_boot, rng) / members.size
    return w


def _headline(pv: pd.DataFrame, resolved: dict[str, bool]) -> pd.DataFrame:
    """The headline verdict: on the width where both widths are resolved by the grid and have an interval, else
    on Eq. 1 (a worsening metric is named by either)."""
    both = pv["sharp"].map(resolved).fillna(False) & pv["smooth"].map(resolved).fillna(False)
    pv["widths_resolved"] = both.astype(bool)
    on_width = pv["widths_resolved"] & (
        pv["verdict_width"].isin(["sharp above smooth", "smooth above sharp", "no difference"])
        | pv["verdict_width"].str.startswith("worsens")
    )
    pv["verdict"] = np.where(on_width, pv["verdict_width"], pv["verdict_E"])
    pv["verdict_on"] = np.where(on_width, "logistic width", "Eq. 1")
    return pv


def arith_intervals(
    items: pd.DataFrame,
    subset: str = "test",
    split: str = "test",
    n_boot: int = 200,
    seed: int = 0,
    threshold: float = THRESHOLD,
    level: float = DEFAULT_LEVEL,
    max_len: int = 5,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, pairs) for every ``<score>_l=<L>`` curve of :func:`.scoring.score_items` rows; see the module doc.

    Scores: one row per (family, task, metric) with ``emergence_score`` (E), ``e_lo`` / ``e_hi``, the step share
    and its interval, ``width`` / ``width_lo`` / ``width_hi`` (decades of N, NaN where not identified),
    ``width_resolved`` (the fitted width lies between the smallest spacing of the sizes and their span, in
    decades: narrower is an upper bound, wider an extrapolation beyond the measured sizes), ``threshold_status``, ``null_threshold_95``, ``direction`` and ``emergent``. Pairs: one row per (sharp, smooth)
    at the same L with the paired differences of E and of the width, their verdicts and the headline ``verdict``.
    """
    from src.analysis.arithmetic.scoring import SCORES

    part = items[items["subset"] == subset]
    if part.empty:
        raise ValueError(
            f"no items of subset {subset!r}; subsets present: {sorted(items['subset'].unique())}"
        )
    rng = np.random.default_rng(seed)
    metrics = [f"{s}_l={L}" for L in range(1, max_len + 1) for s in SCORES if f"{s}_l={L}" in part.columns]
    rows, pair_rows = [], []
    for (family, task), g in part.groupby(["family", "task"], sort=True):
        models = g.groupby("model")["num_params"].first().sort_values(kind="stable")
        # the items every model was scored on (the shared test set), in one order
        common = sorted(set.intersection(*(set(h["item"]) for _, h in g.groupby("model"))))
        if len(common) < 2:
            continue
        g = g[g["item"].isin(common)].drop_duplicates(["model", "item"])
        counts = item_counts(len(common), n_boot, rng)  # [B, items], shared by every model and metric: paired
        x_models = models.to_numpy(float)
        per_size = np.bincount(np.unique(x_models, return_inverse=True)[1])
        seeds_min = int(per_size.min())
        seed_w = _seed_weights(x_models, n_boot, rng) if per_size.max() > 1 else None
        source = "items x seeds" if seed_w is not None else "items"
        summaries, info, resolved = {}, {}, {}
        for col in metrics:
            mat = g.pivot(index="model", columns="item", values=col).reindex(
                index=models.index, columns=common
            )
            vals = mat.to_numpy(float)
            if (
                np.isnan(vals).all(axis=1).any()
            ):  # a model without any score (no log-probabilities, L too long)
                continue
            key = f"{split}/{col}"
            mi = classify(key)
            sign = 1.0 if mi.kind.higher_is_better else -1.0
            obs, reps = replicate_means(vals, counts)
            x, y = _by_size(x_models, obs)
            if seed_w is None:
                _, reps = _by_size(x_models, reps)
            else:
                reps = np.einsum("bm,bms->bs", reps, seed_w)
            n_scored = int((~np.isnan(vals)).sum(axis=1).min())
            res = 1.0 / (n_scored * seeds_min) if is_share_of_items(key) and n_scored > 0 else 0.0
            s = curve_summary(x, sign * y, sign * reps, threshold, res, level,
                              widths=x.size >= MIN_WIDTH_SIZES)  # fmt: skip
            summaries[key], info[key] = s, mi
            row = {"family": family, "task": task, "metric": key, "L": int(col.split("_l=")[1]),
                   "sharpness": mi.sharpness, "identity": mi.is_identity,
                   "higher_is_better": bool(mi.kind.higher_is_better), "n_items": n_scored,
                   "n_models": len(models), "n_boot": n_boot, "interval_source": source, "resolution": res}  # fmt: skip
            row.update({k: v for k, v in s.items() if not k.startswith("_")})
            row["emergence_score"], row["largest_step_share"] = row.pop("E"), row.pop("step_share")
            for a, b in (("E_lo", "e_lo"), ("E_hi", "e_hi")):
                if a in row:
                    row[b] = row.pop(a)
            # the width is resolved only between the grid's smallest spacing and its span (decades): a narrower rise
            # fits as well with any width below the spacing (an upper bound); a wider one is an extrapolation
            lx = np.log10(x)
            row["grid_spacing"], row["grid_span"] = float(np.diff(lx).min()), float(lx[-1] - lx[0])
            w = row.get("width", np.nan)
            row["width_resolved"] = bool(np.isfinite(w) and row["grid_spacing"] <= w <= row["grid_span"])
            resolved[key] = row["width_resolved"]
            row["start"], row["end"] = float(y[0]), float(y[-1])
            rows.append(row)
        pairs = []
        for L in range(1, max_len + 1):
            at_l = [k for k in summaries if k.endswith(f"_l={L}")]
            sharp = [k for k in at_l if info[k].sharpness == "sharp" and not info[k].is_identity]
            smooth = [k for k in at_l if info[k].sharpness == "smooth"]
            pairs += [(a, b) for a in sharp for b in smooth]
        if pairs:
            pv = _headline(paired_verdicts(summaries, pairs, level), resolved)
            pv.insert(0, "L", [int(a.split("_l=")[1]) for a in pv["sharp"]])
            pair_rows.append(pv.assign(family=family, task=task))
    scores = pd.DataFrame(rows)
    pairs = pd.concat(pair_rows, ignore_index=True) if pair_rows else pd.DataFrame()
    if not pairs.empty:
        front = ["family", "task", "L", "sharp", "smooth", "verdict", "verdict_on"]
        pairs = pairs[front + [c for c in pairs.columns if c not in front]]
    return scores, pairs
