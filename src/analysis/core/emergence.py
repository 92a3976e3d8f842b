"""The emergence score of BIG-Bench (Srivastava et al. 2022), the paper's Eq. 1, and a formula-free companion.

    E({(x_i, y_i)}) = sign(argmax_i y_i - argmin_i y_i) * (max y - min y) / sqrt(median_i (y_i - y_{i-1})^2)

with the points sorted by scale x. A curve that changes in one big step scores high: its median squared step is
small next to its total change. A smooth curve of the same total change scores low.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _sorted_by_scale(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of equal length, got shapes {x.shape} and {y.shape}")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("x and y must not contain NaN; drop missing points before scoring a curve")
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def emergence_score(x: Sequence[float], y: Sequence[float]) -> float:
    """BIG-Bench's emergence score of the curve y(x) (paper Eq. 1); points are sorted by x first.

    Edge cases, chosen so that tables of many curves stay well defined:
    - fewer than 3 points: ``nan`` (two points have one step, whose median is the whole change: no information);
    - a flat curve (max y == min y): ``0.0``;
    - a zero median step with a non-zero change (most steps flat, one jump): ``+inf`` or ``-inf``, the sharpest
      possible curve.
    The sign is + when the maximum comes at a larger scale than the minimum (improvement for higher-is-better).
    """
    _, y = _sorted_by_scale(x, y)
    if y.size < 3:
        return math.nan
    total = float(y.max() - y.min())
    if total == 0.0:
        return 0.0
    sign = float(np.sign(int(np.argmax(y)) - int(np.argmin(y))))
    median_sq_step = float(np.median(np.diff(y) ** 2))
    if median_sq_step == 0.0:
        return sign * math.inf
    return sign * total / math.sqrt(median_sq_step)


def largest_step_share(x: Sequence[float], y: Sequence[float]) -> float:
    """Largest single absolute step between neighbouring scales as a share of the summed absolute steps.

    1.0 means all change happens between two neighbouring sizes (a step); 1/(n-1) means evenly spread change.
    ``nan`` for fewer than 2 points or a flat curve. Independent of Eq. 1's formula, so the two can cross-check.
    """
    _, y = _sorted_by_scale(x, y)
    if y.size < 2:
        return math.nan
    steps = np.abs(np.diff(y))
    total = float(steps.sum())
    if total == 0.0:
        return math.nan
    return float(steps.max() / total)


def summarize_curve(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, int]:
    """(emergence score, largest step share, number of points) of one curve y(x)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return emergence_score(x, y), largest_step_share(x, y), int(x.size)
