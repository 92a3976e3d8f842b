"""Intervals for a score and for any statistic of a curve, from the best source the data have.

Every resampler returns replicate curves ``[B, n_sizes]`` (one draw per bootstrap replicate), so a statistic of
the curve (Eq. 1, the logistic width, a paired difference of two metrics) gets its interval by applying it to the
rows: :func:`interval`.

- items: :func:`item_counts` resamples n items with replacement (multinomial counts) and :func:`resample_items`
  rescores each size's per-item values with them; several metrics of the same items share the counts (paired).
- replicates (seeds): :func:`resample_replicates` draws seeds with replacement per size.
- items x seeds, nested: :func:`resample_items_seeds` draws the seeds, then the items within each drawn seed.
- items x seeds, crossed: :func:`resample_crossed` draws items and seeds independently, the same items for every
  seed (the test set is shared by the seeds, so their errors are correlated through the items).
- problems x samples (repeated sampling of one problem): :func:`resample_clustered` resamples problems only; the
  samples of one problem move together. :func:`clustered_binomial_interval` gives a Clopper-Pearson interval on
  the effective number of independent units (0 of 16,384 samples from 128 problems bounds p by 2.9e-2, not 1.8e-4).
- aggregate tables with a standard error: :func:`resample_parametric` draws Normal(value, stderr) per size.

Percentile intervals; seeded. Assumptions: the resampled units (items, seeds, problems) are exchangeable draws
from their population; a percentile interval undercovers when the statistic's distribution is very skewed or the
number of units small (under ~20 items or under 5 seeds it is a rough guide, say so).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta

DEFAULT_LEVEL = 0.95


def interval(reps, level: float = DEFAULT_LEVEL, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of replicates along ``axis``; NaN replicates are dropped (the share kept is the
    caller's to report), +-inf kept (an inf upper bound means the sharpest possible curve is in the interval)."""
    reps = np.asarray(reps, dtype=float)
    a = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):  # inf - inf in the interpolation: handled just below
        lo, hi = np.nanquantile(reps, [a, 1.0 - a], axis=axis, method="linear")
    # nanquantile of a column holding inf interpolates inf - inf; take the order statistic there instead
    if np.isinf(reps).any():
        lo2, hi2 = np.nanquantile(reps, [a, 1.0 - a], axis=axis, method="nearest")
        lo = np.where(np.isnan(lo) & ~np.isnan(lo2), lo2, lo)
        hi = np.where(np.isnan(hi) & ~np.isnan(hi2), hi2, hi)
    return lo, hi


def interval_about(reps, point, level: float = DEFAULT_LEVEL, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of ``reps``, widened where needed to hold its own ``point`` estimate: the
    percentile interval of a statistic that is not smooth in the data (Eq. 1 of a curve with tied steps, a share
    at 0 or 1 drawn from its Beta posterior, a step share) can lie beside the value measured on the data itself,
    and an interval that excludes its own point is no statement about it. Never narrower than the percentile
    interval (a conservative reading); NaN where there is no interval (or no point)."""
    lo, hi = interval(reps, level, axis)
    point = np.asarray(point, dtype=float)
    with np.errstate(invalid="ignore"):
        lo = np.where(np.isnan(lo) | np.isnan(point), lo, np.minimum(lo, point))
        hi = np.where(np.isnan(hi) | np.isnan(point), hi, np.maximum(hi, point))
    return lo, hi


def item_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_boot, n]`` times each of n items is drawn when n items are resampled with replacement."""
    idx = rng.integers(0, n, size=(n_boot, n)) + (np.arange(n_boot) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def resample_items(per_size: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap curves ``[n_boot, n_sizes]`` of the item mean; ``per_size[j]`` holds size j's per-item values."""
    out = np.empty((n_boot, len(per_size)))
    for j, v in enumerate(per_size):
        v = np.asarray(v, dtype=float).ravel()
        out[:, j] = item_counts(v.size, n_boot, rng) @ v / v.size
    return out


def resample_replicates(per_size: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap curves of the replicate (seed) mean; ``per_size[j]``: size j's values, one per seed."""
    return resample_items(per_size, n_boot, rng)


def resample_items_seeds(per_size: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Nested bootstrap of the seed mean of item means: ``per_size[j]`` is ``[n_items, n_seeds]``; seeds are drawn
    with replacement, then items within each drawn seed independently."""
    out = np.empty((n_boot, len(per_size)))
    for j, v in enumerate(per_size):
        v = np.asarray(v, dtype=float)
        n, s = v.shape
        seeds = rng.integers(0, s, size=(n_boot, s))
        acc = np.zeros(n_boot)
        for k in range(s):
            counts = item_counts(n, n_boot, rng)
            acc += np.einsum("bi,bi->b", counts, v[:, seeds[:, k]].T) / n
        out[:, j] = acc / s
    return out


def resample_crossed(
    per_size: list[np.ndarray], n_boot: int, rng: np.random.Generator, shared_items: bool = True
) -> np.ndarray:
    """Crossed (two-way) bootstrap of the grand mean of ``[n_items, n_seeds]`` tables: item weights and seed
    weights drawn independently, mean = w_items^T V w_seeds / (n s). ``shared_items``: all sizes share one test
    set (same n), so the same item counts are used at every size (paired across sizes)."""
    out = np.empty((n_boot, len(per_size)))
    counts = None
    for j, v in enumerate(per_size):
        v = np.asarray(v, dtype=float)
        n, s = v.shape
        if counts is None or not shared_items or counts.shape[1] != n:
            counts = item_counts(n, n_boot, rng)
        w_seed = item_counts(s, n_boot, rng)
        out[:, j] = np.einsum("bi,is,bs->b", counts, v, w_seed) / (n * s)
    return out


def resample_clustered(per_size: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster bootstrap of the mean over all samples: ``per_size[j]`` is ``[n_problems, n_samples]`` (or a list
    of per-problem arrays of unequal length); problems are resampled, each with all its samples."""
    out = np.empty((n_boot, len(per_size)))
    for j, v in enumerate(per_size):
        if isinstance(v, np.ndarray) and v.ndim == 2:
            sums, sizes = v.sum(axis=1).astype(float), np.full(v.shape[0], v.shape[1], dtype=float)
        else:
            sums = np.array([np.sum(p) for p in v], dtype=float)
            sizes = np.array([np.size(p) for p in v], dtype=float)
        c = item_counts(sums.size, n_boot, rng)
        out[:, j] = (c @ sums) / (c @ sizes)
    return out


def resample_parametric(
    values, stderr, n_boot: int, rng: np.random.Generator, bounds: tuple[float, float] | None = None
) -> np.ndarray:
    """Normal(value, stderr) draws per size (aggregate tables that report a standard error), clipped to
    ``bounds`` when given. A missing stderr is an error: give it or use another source."""
    values, stderr = np.asarray(values, dtype=float), np.asarray(stderr, dtype=float)
    if np.isnan(stderr).any() or (stderr < 0).any():
        raise ValueError("parametric intervals need a non-negative stderr at every size")
    out = values[None, :] + stderr[None, :] * rng.standard_normal((n_boot, values.size))
    return np.clip(out, *bounds) if bounds is not None else out


def clopper_pearson(k, n, level: float = DEFAULT_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial interval for k successes of n (k, n may be non-integer effective counts)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    a = (1.0 - level) / 2.0
    lo = np.where(k > 0, beta.ppf(a, np.maximum(k, 1e-300), n - k + 1), 0.0)
    hi = np.where(k < n, beta.ppf(1 - a, k + 1, np.maximum(n - k, 1e-300)), 1.0)
    return lo, hi


def design_effect(successes, trials) -> float:
    """1 + (m - 1) ICC for problems with ``trials`` samples each (ICC by the ANOVA estimator, clipped to [0, 1]);
    where no sample succeeds (or every one does) the ICC cannot be estimated and is taken as 1: then only the
    number of problems counts, the conservative choice."""
    k, m = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    p_all = k.sum() / m.sum()
    if p_all in (0.0, 1.0) or k.size < 2:
        return float(m.mean())
    m0 = (m.sum() - (m**2).sum() / m.sum()) / (k.size - 1)
    msb = (((k / m - p_all) ** 2) * m).sum() / (k.size - 1)
    msw = (k - k**2 / m).sum() / (m.sum() - k.size)
    icc = (msb - msw) / (msb + (m0 - 1) * msw) if msb + (m0 - 1) * msw > 0 else 0.0
    return float(1.0 + (m.mean() - 1.0) * np.clip(icc, 0.0, 1.0))


def clustered_binomial_interval(successes, trials, level: float = DEFAULT_LEVEL) -> tuple[float, float]:
    """Clopper-Pearson on the effective sample size ``sum(trials) / design effect`` for per-problem counts."""
    k, m = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    n_eff = m.sum() / design_effect(k, m)
    lo, hi = clopper_pearson(k.sum() / m.sum() * n_eff, n_eff, level)
    return float(lo), float(hi)
