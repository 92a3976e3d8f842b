"""The emergence score of BIG-Bench (Srivastava et al. 2022), the paper's Eq. 1, and a formula-free companion.

    E({(x_i, y_i)}) = sign(argmax_i y_i - argmin_i y_i) * (max y - min y) / sqrt(median_i (y_i - y_{i-1})^2)

with the points sorted by scale x. A curve that changes in one big step scores high: its median squared step is
small next to its total change. A smooth curve of the same total change scores low.
"""

from __future__ import annotations

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


def emergence_score(x: Sequence[float], y: Sequence[float], resolution: float = 0.0) -> float:
    """BIG-Bench's emergence score of the curve y(x) (paper Eq. 1); points are sorted by x first.

    One implementation for every command: :func:`src.analysis.stats.sharpness.emergence_rows` (steps within the
    measurement ``resolution`` or float noise are ties). Edge cases: fewer than 3 points ``nan`` (two points have
    one step, whose median is the whole change); a flat curve ``0.0``; a zero median step with a non-zero change
    ``+-inf`` (the sharpest possible curve). The sign is + when the maximum comes at a larger scale than the minimum.
    """
    from src.analysis.stats.sharpness import emergence_rows

    _, y = _sorted_by_scale(x, y)
    return float(emergence_rows(y, resolution=resolution))


def largest_step_share(x: Sequence[float], y: Sequence[float], resolution: float = 0.0) -> float:
    """Largest single absolute step between neighbouring scales as a share of the summed absolute steps.

    1.0 means all change happens between two neighbouring sizes (a step); 1/(n-1) means evenly spread change.
    ``nan`` for fewer than 2 points or a flat curve. Independent of Eq. 1's formula, so the two can cross-check.
    """
    from src.analysis.stats.sharpness import largest_step_share as share_rows

    _, y = _sorted_by_scale(x, y)
    return float(share_rows(y, resolution=resolution))


def summarize_curve(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, int]:
    """(emergence score, largest step share, number of points) of one curve y(x)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return emergence_score(x, y), largest_step_share(x, y), int(x.size)
