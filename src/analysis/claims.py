"""Per-curve emergence summaries and the claim table: do sharp metrics score high and smooth ones low?

For every (sweep, task, metric) curve (seed mean against num_params): the paper's Eq. 1 emergence score and the
largest single step as a share of the total change (a check that does not depend on Eq. 1's formula). Scores are
oriented so that improvement is positive (lower-is-better metrics are negated first).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from src.analysis.emergence import emergence_score, largest_step_share


def summarize_curve(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, int]:
    """(emergence score, largest step share, number of points) of one curve y(x)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return emergence_score(x, y), largest_step_share(x, y), int(x.size)
