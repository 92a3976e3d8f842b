"""Verdicts made on intervals and nulls, with the rule stated, for the commands (``claims``, ``bigbench-null``).

Rules (docs/analysis.md):

- **emergent** (one curve, Eq. 1): the family has enough sizes for the threshold to be reachable
  (:func:`src.analysis.stats.sharpness.threshold_status`), and the lower end of the 95% interval of E is at or
  above the threshold where an interval source exists (items, seeds, stderr); without one (one score per model),
  E >= threshold *and* the exact/Monte-Carlo permutation test survives Benjamini-Hochberg at ``alpha``.
- **sharp above smooth** (two metrics of the same outputs): the 95% interval of the paired difference of the
  logistic width (smooth minus sharp, decades of N) lies above 0, both widths identified and both metrics
  improving with scale; Eq. 1's paired difference is reported beside it. See :func:`curve_summary`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from src.analysis.stats.intervals import DEFAULT_LEVEL, interval
from src.analysis.stats.nulls import bh, draws_for_bh, min_pvalue, orientation_status, permutation_pvalue
from src.analysis.stats.sharpness import (
    emergence_rows,
    largest_step_share,
    logistic_width,
    logistic_width_rows,
    null_threshold,
    threshold_status,
)


def curve_summary(
    x,
    y,
    reps: np.ndarray | None,
    threshold: float,
    resolution: float = 0.0,
    level: float = DEFAULT_LEVEL,
    floor: float | None = None,
    widths: bool = True,
) -> dict:
    """Eq. 1, largest-step share and logistic width of one oriented curve, with intervals from ``reps``
    (``[B, n]`` replicate curves; None: no interval), the threshold status at its N and the direction."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = y.size
    out = {"n_sizes": n, "threshold_status": threshold_status(n, threshold),
           "null_threshold_95": null_threshold(n) if n >= 3 else math.nan,
           "E": emergence_rows(y, resolution), "step_share": largest_step_share(y, resolution),
           "direction": orientation_status(reps, y, level)}  # fmt: skip
    if reps is not None:
        out["E_lo"], out["E_hi"] = (float(v) for v in interval(emergence_rows(reps, resolution), level))
        out["step_share_lo"], out["step_share_hi"] = (
            float(v) for v in interval(largest_step_share(reps, resolution), level)
        )
    out["_reps_E"] = emergence_rows(reps, resolution) if reps is not None else None
    out["_reps_w"] = None
    if widths and n >= 4:
        upper = max(1.0, float(y.max() + np.ptp(y)))
        fit = logistic_width(x, y, floor=floor, upper=upper)
        out["width"] = fit.width if fit.identified else math.nan
        if reps is not None and fit.identified:
            w = logistic_width_rows(x, reps, fit, floor, None, upper)
            out["_reps_w"] = w
            out["width_lo"], out["width_hi"] = (float(v) for v in interval(w, level))
            out["width_identified_share"] = float(np.mean(~np.isnan(w)))
    if out["threshold_status"] != "ok":
        out["emergent"] = out["threshold_status"]
    elif reps is not None:
        out["emergent"] = "emergent" if out["E_lo"] >= threshold else "not emergent"
    else:
        out["emergent"] = "no interval"
    return out


def permutation_table(
    curves: list[tuple[tuple, np.ndarray, np.ndarray]],
    keys: list[str],
    threshold: float,
    alpha: float = 0.05,
    seed: int = 0,
    n_draws: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Per curve (key, x, oriented y): N-aware threshold status, exact (N <= 8) or Monte-Carlo permutation p with
    enough draws for BH over all curves to pass (:func:`draws_for_bh`), the smallest attainable p, BH q, and
    the verdict ``emergent`` = status ok, E >= threshold and q <= alpha. ``can_pass_bh``: smallest attainable p
    <= alpha (else no correction can ever let it pass); ``can_pass_bh_alone``: <= alpha / m."""
    m = len(curves)
    n_draws = n_draws or draws_for_bh(m, alpha)
    rng = np.random.default_rng(seed)
    rows = []
    for key, _, y in tqdm(curves, desc="permutation tests", disable=not progress):
        e = emergence_rows(y)
        p, exact = permutation_pvalue(y, n_draws=n_draws, rng=rng)
        p_thr, _ = permutation_pvalue(y, n_draws=min(n_draws, 20000), rng=rng, obs=threshold)
        rows.append({**dict(zip(keys, key, strict=True)), "n_sizes": y.size, "E": e,
                     "threshold_status": threshold_status(y.size, threshold),
                     "null_threshold_95": null_threshold(y.size), "p": p, "exact": exact, "p_chance_above": p_thr,
                     "min_p": min_pvalue(y.size, n_draws)})  # fmt: skip
    out = pd.DataFrame(rows)
    out["q"] = bh(out["p"])
    # BH's q is never below p: a test whose smallest attainable p exceeds alpha can never pass; one at or below
    # alpha / m passes on its own, one between passes only together with enough others
    out["can_pass_bh"] = out["min_p"] <= alpha
    out["can_pass_bh_alone"] = out["min_p"] <= alpha / max(m, 1)
    ok = out["threshold_status"] == "ok"
    out["emergent"] = np.where(
        ~ok, out["threshold_status"],
        np.where((out["E"] >= threshold) & (out["q"] <= alpha), "emergent",
                 np.where(out["E"] >= threshold, "above threshold, not significant", "not emergent")),
    )  # fmt: skip
    out.attrs["n_draws"], out.attrs["threshold"] = n_draws, threshold
    return out


def paired_verdicts(
    summaries: dict[str, dict], pairs: list[tuple[str, str]], level: float = DEFAULT_LEVEL
) -> pd.DataFrame:
    """One row per (sharp, smooth) pair of metrics whose replicates are paired (the same resampled items)."""
    from src.analysis.stats.nulls import paired_difference

    rows = []
    for a, b in pairs:
        sa, sb = summaries[a], summaries[b]
        r = {"sharp": a, "smooth": b}
        for name, key, sharper in (("width", "_reps_w", "lower"), ("E", "_reps_E", "higher")):
            if sa.get(key) is None or sb.get(key) is None or name not in sa or name not in sb:
                r[f"verdict_{name}"] = (
                    "width not identified (or < 4 sizes)" if name == "width" else "no interval"
                )
                continue
            d = paired_difference(sa[key], sb[key], sa[name], sb[name], sa["direction"], sb["direction"],
                                  level, sharper)  # fmt: skip
            r.update({f"{k}_{name}": v for k, v in d.items()})
        rows.append(r)
    return pd.DataFrame(rows)
