"""The permutation null of ``bigbench-null``: a test against chance orderings of the sizes, not a verdict engine.

Every verdict with an interval (emergent, sharp above smooth) comes from :mod:`src.analysis.stats.engine`. Curves
with one score per model and no interval source are what this table is for: it asks whether Eq. 1 is above what
shuffling the sizes gives, and labels a curve "emergent" only under the engine's own conditions as far as a point
can meet them (:func:`permutation_table`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from src.analysis.stats.nulls import bh, draws_for_bh, min_pvalue, permutation_pvalue
from src.analysis.stats.sharpness import emergence_rows, null_threshold, threshold_status


def permutation_table(
    curves: list[tuple[tuple, np.ndarray, np.ndarray]],
    keys: list[str],
    threshold: float,
    alpha: float = 0.05,
    seed: int = 0,
    n_draws: int | None = None,
    progress: bool = True,
    rise_floors=None,
    log_scores=None,
) -> pd.DataFrame:
    """Per curve (key, x, oriented y): N-aware threshold status, exact (N <= 8) or Monte-Carlo permutation p with
    enough draws for BH over all curves to pass (:func:`draws_for_bh`), the smallest attainable p, BH q, the
    oriented total ``change`` (largest size minus smallest) and ``early_share`` (the share of it made by the
    middle size), and the label ``emergent``, by the engine's rule as far as a point can meet it: status ok,
    E >= threshold, q <= alpha (the chance ordering ruled out, in place of an interval), **a real rise**: the
    change exceeds the curve's ``rise_floors`` entry (the engine's resolution and ``min_rise`` of the metric's
    range; default 0, a rise at all), else "no real rise" whatever E is (a flat 0.52 -> 0.54 with E = inf is not
    emergent), and at most half of the rise in the smaller half of the sizes (else "not emergent": it saturates).
    ``log_scores``: per curve, Eq. 1 of the metric's log where its rise is real only relative to a floor of 0 (the
    engine's ``min_ratio``), else NaN; such a curve is "not emergent" unless that also reaches the threshold.
    ``can_pass_bh``: smallest attainable p <= alpha (else no correction can ever let it pass);
    ``can_pass_bh_alone``: <= alpha / m."""
    from src.analysis.stats.engine import _early_share

    m = len(curves)
    n_draws = n_draws or draws_for_bh(m, alpha)
    rng = np.random.default_rng(seed)
    rows = []
    for key, _, y in tqdm(curves, desc="permutation tests", disable=not progress):
        e = emergence_rows(y)
        p, exact = permutation_pvalue(y, n_draws=n_draws, rng=rng)
        p_thr, _ = permutation_pvalue(y, n_draws=min(n_draws, 20000), rng=rng, obs=threshold)
        y = np.asarray(y, dtype=float)
        rows.append({**dict(zip(keys, key, strict=True)), "n_sizes": y.size, "E": e,
                     "change": float(y[-1] - y[0]), "early_share": _early_share(y),
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
    floor = np.zeros(m) if rise_floors is None else np.asarray(rise_floors, dtype=float)
    real = out["change"].to_numpy() > np.nan_to_num(floor)
    above = out["E"] >= threshold
    if log_scores is not None:  # a relative rise near 0 is steep only if its log is (engine.curve_verdict)
        logs = np.asarray(log_scores, dtype=float)
        above &= np.isnan(logs) | (logs >= threshold)
    out["emergent"] = np.select(
        [
            ~ok,
            ~real,
            above & (out["q"] <= alpha) & (out["early_share"] <= 0.5),
            above & (out["q"] <= alpha),
            above,
        ],
        [
            out["threshold_status"],
            "no real rise",
            "emergent",
            "not emergent",
            "above threshold, not significant",
        ],
        "not emergent",
    )
    out.attrs["n_draws"], out.attrs["threshold"] = n_draws, threshold
    return out
