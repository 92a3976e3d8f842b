"""Nulls that can answer: exact permutations, enough draws for the multiple-comparison correction, a binomial
null for per-item data, per-metric summaries, and the paired direction-aware sharp-vs-smooth test.

- :func:`permutation_pvalue`: P(E(permuted curve) >= E(observed)) with every permutation of the sizes equally
  likely. Below ``exact_max`` sizes all n! orders are enumerated (the p-value is exact; its floor is k/n!, not
  1/(draws+1): 1/6 at n = 3); above it, Monte-Carlo draws, +1 smoothed.
- :func:`draws_for_bh`: the number of draws that lets Benjamini-Hochberg over m tests pass at all (the smallest
  attainable p must be below alpha/m), times a margin. :func:`min_pvalue` says which tests can never pass.
- :func:`binomial_null`: smooth truth (a line in log N, clipped to [0, 1]) measured on n items: each draw is
  Binomial(n_items, p(N)) / n_items, the measurement noise per-item accuracy data actually have (a Gaussian noise
  null with the residual scatter of the curve mistakes the curve's shape for noise).
- :func:`paired_difference`: sharp-vs-smooth on the same outputs: replicate rows of both metrics from the same
  resampled items, each oriented by its improvement direction; a metric whose oriented change is negative is
  reported as "worsens", never as sharp or smooth.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from src.analysis.stats.intervals import DEFAULT_LEVEL, interval, interval_about
from src.analysis.stats.sharpness import emergence_rows

EXACT_MAX = 8  # 8! = 40,320 orders: enumerated; above that, Monte-Carlo


def all_permutations(n: int) -> np.ndarray:
    """``[n!, n]`` every order of n positions (identity first)."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int64)


def draws_for_bh(n_tests: int, alpha: float = 0.05, margin: float = 20.0) -> int:
    """Monte-Carlo draws such that the smallest attainable p, 1/(draws+1), is ``margin`` times below alpha/m."""
    return int(math.ceil(margin * n_tests / alpha))


def min_pvalue(n_sizes: int, n_draws: int | None = None, exact_max: int = EXACT_MAX) -> float:
    """Smallest p-value a permutation test of n sizes can return (distinct values): 1/n! exact, else 1/(draws+1)."""
    if n_sizes <= exact_max:
        return 1.0 / math.factorial(n_sizes)
    return 1.0 / ((n_draws or 0) + 1)


def permutation_pvalue(
    y,
    stat=emergence_rows,
    n_draws: int = 10000,
    rng: np.random.Generator | None = None,
    exact_max: int = EXACT_MAX,
    chunk: int = 50000,
    obs: float | None = None,
) -> tuple[float, bool]:
    """(p, exact) for one oriented curve ``y`` sorted by scale; ``stat`` maps ``[B, n]`` rows to scores.
    ``obs``: compare with this value instead of the curve's own score (P(score >= threshold) by chance)."""
    y = np.asarray(y, dtype=float)
    if obs is None:
        obs = float(np.asarray(stat(y[None, :]))[0])
    if np.isnan(obs):
        return math.nan, True
    n = y.size
    if n <= exact_max:
        perms = all_permutations(n)
        ge = sum(
            int((np.asarray(stat(y[p])) >= obs).sum())
            for p in np.array_split(perms, max(1, len(perms) // chunk))
        )
        return ge / len(perms), True
    rng = rng or np.random.default_rng(0)
    ge, done = 0, 0
    while done < n_draws:
        b = min(chunk, n_draws - done)
        idx = np.argsort(rng.random((b, n)), axis=1)
        ge += int((np.asarray(stat(y[idx])) >= obs).sum())
        done += b
    return (1 + ge) / (1 + n_draws), False


def binomial_null(
    x, y, n_items, n_draws: int, rng: np.random.Generator, higher_is_better: bool = True
) -> np.ndarray:
    """``[n_draws, n]`` curves under smooth truth + binomial measurement: a least-squares line in log10 N through
    the proportions ``y`` (clipped to [0, 1]), each size re-measured on its ``n_items`` items. Oriented rows."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n_items = np.broadcast_to(np.asarray(n_items, dtype=np.int64), x.shape)
    design = np.column_stack([np.ones_like(x), np.log10(x)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    p = np.clip(design @ coef, 0.0, 1.0)
    draws = rng.binomial(n_items[None, :], p[None, :], size=(n_draws, x.size)) / n_items[None, :]
    return draws if higher_is_better else -draws


def null_pvalues(obs, null_rows: np.ndarray) -> np.ndarray:
    """Per-test p from a ``[tests, draws]`` null matrix: (1 + #{null >= obs}) / (1 + draws)."""
    obs = np.asarray(obs, dtype=float)
    return (1 + (null_rows >= obs[:, None]).sum(axis=1)) / (1 + null_rows.shape[1])


def bh(p) -> np.ndarray:
    """Benjamini-Hochberg q-values (NaN p kept NaN, not counted as tests)."""
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = false_discovery_control(p[ok])
    return q


def per_metric_summary(tests: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per metric (and source) from :func:`src.analysis.stats.verdicts.permutation_table`: curves, how many have
    a reachable threshold, pass it, are expected to pass it by chance (sum of the per-curve permutation
    probabilities), could pass BH at all, pass BH, and are called emergent."""
    keys = [c for c in ("source", "metric") if c in tests.columns]
    t = tests.assign(
        _ok=tests["threshold_status"] == "ok", _above=tests["E"] >= tests.attrs.get("threshold", np.inf),
        _pass=tests["q"] <= alpha, _em=tests["emergent"] == "emergent",
    )  # fmt: skip
    g = t.groupby(keys)
    out = pd.DataFrame({
        "n_curves": g.size(), "n_threshold_reachable": g["_ok"].sum(), "n_above_threshold": g["_above"].sum(),
        "expected_above_by_chance": g["p_chance_above"].sum(), "n_can_pass_bh": g["can_pass_bh"].sum(),
        "n_pass_bh": g["_pass"].sum(), "n_emergent": g["_em"].sum(),
    })  # fmt: skip
    return out.reset_index()


def orientation_status(y_reps, y_obs, level: float = DEFAULT_LEVEL) -> str:
    """``"improves"``, ``"worsens"`` or ``"flat"`` for an oriented curve, from the interval of its change
    (last minus first size) over replicate rows; ``"flat"`` where the interval straddles 0."""
    d_obs = float(y_obs[-1] - y_obs[0])
    if y_reps is None:
        return "improves" if d_obs > 0 else ("worsens" if d_obs < 0 else "flat")
    lo, hi = interval(y_reps[:, -1] - y_reps[:, 0], level)
    return "improves" if lo > 0 else ("worsens" if hi < 0 else "flat")


def difference_verdict(d, point: float, level: float = DEFAULT_LEVEL) -> tuple[float, float, str | None]:
    """The one rule on replicates ``d`` of (sharper-oriented) sharp minus smooth, whose value on the data is
    ``point``: (lo, hi, verdict) on the interval about the point (:func:`interval_about`), "sharp above smooth"
    when it lies above 0, "smooth above sharp" below, "no difference" across it; None when no replicate is left
    (NaN dropped by the caller)."""
    d = np.asarray(d, dtype=float)
    if d.size == 0:
        return math.nan, math.nan, None
    lo, hi = (float(v) for v in interval_about(d, point, level))
    if np.isnan(lo):
        return lo, hi, None
    return lo, hi, "sharp above smooth" if lo > 0 else "smooth above sharp" if hi < 0 else "no difference"


def paired_difference(
    stat_sharp_reps,
    stat_smooth_reps,
    stat_sharp,
    stat_smooth,
    status_sharp: str,
    status_smooth: str,
    level: float = DEFAULT_LEVEL,
    sharper: str = "higher",
) -> dict:
    """Paired test of "the sharp metric is sharper than the smooth one" on replicates of the same outputs.

    ``sharper``: "higher" (Eq. 1, step share) or "lower" (logistic width). The verdict rule: "sharp above smooth"
    when the interval of the oriented difference lies above 0, "smooth above sharp" when below, "no difference"
    when it straddles 0; "worsens: <which>" when either metric gets worse with scale (neither counts as sharp).
    """
    sign = 1.0 if sharper == "higher" else -1.0
    d_obs = sign * (stat_sharp - stat_smooth)
    with np.errstate(invalid="ignore"):
        d = sign * (np.asarray(stat_sharp_reps, float) - np.asarray(stat_smooth_reps, float))
    d = d[~np.isnan(d)]
    lo, hi, verdict = difference_verdict(d, d_obs, level)
    worse = [n for n, s in (("sharp", status_sharp), ("smooth", status_smooth)) if s == "worsens"]
    if worse:
        verdict = "worsens: " + " and ".join(worse)
    elif verdict is None:
        verdict = "undetermined"
    return {
        "diff": float(d_obs),
        "diff_lo": float(lo),
        "diff_hi": float(hi),
        "n_reps": int(d.size),
        "verdict": verdict,
    }
