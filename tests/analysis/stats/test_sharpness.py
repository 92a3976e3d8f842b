import math

import numpy as np
import pytest

from src.analysis.core.emergence import emergence_score
from src.analysis.stats.intervals import interval
from src.analysis.stats.sharpness import (
    WIDTH_FACTOR,
    emergence_rows,
    largest_step_share,
    logistic_width,
    logistic_width_rows,
    max_emergence,
    null_threshold,
    threshold_status,
)


def _eq1_loop(y):
    """Brute-force Eq. 1 (no tolerance), written out independently."""
    steps = [(y[i] - y[i - 1]) ** 2 for i in range(1, len(y))]
    med = float(np.median(steps))
    sign = 1.0 if int(np.argmax(y)) > int(np.argmin(y)) else -1.0
    return sign * (max(y) - min(y)) / math.sqrt(med)


def test_emergence_rows_matches_brute_force_and_core():
    rng = np.random.default_rng(0)
    ys = rng.standard_normal((50, 6))
    got = emergence_rows(ys, rtol=0.0)
    ref = [_eq1_loop(list(r)) for r in ys]
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_allclose(got, [emergence_score(np.arange(6) + 1.0, r) for r in ys], rtol=1e-12)


def test_float_noise_steps_are_ties():
    # seed means equal up to a rounding bit: without ties Eq. 1 divides by ~1e-17
    base = np.array([0.1, 0.1, 0.1, 0.1, 0.7])
    noisy = base + np.array([0.0, 2**-56, -(2**-56), 2**-55, 0.0])
    assert emergence_rows(noisy, rtol=0.0) > 1e14  # the bug the tolerance fixes
    assert emergence_rows(noisy) == math.inf  # a one-step curve: the sharpest there is
    assert emergence_rows(noisy) == emergence_rows(base)  # a tie with the exact curve
    # a curve flat up to float noise scores 0, not inf
    assert emergence_rows(np.full(5, 0.3) + np.array([0, 1e-17, 0, -1e-17, 0])) == 0.0
    assert largest_step_share(noisy) == 1.0


def test_resolution_ties_steps_below_one_item():
    y = np.array([0.0, 0.004, 0.0, 0.004, 0.5])  # steps of one item out of 250 are measurement resolution
    assert math.isfinite(emergence_rows(y))
    assert emergence_rows(y, resolution=1 / 250) == math.inf


def test_three_sizes_cannot_reach_threshold():
    assert max_emergence(3) == 2.0 and max_emergence(4) == math.inf and math.isnan(max_emergence(2))
    assert threshold_status(3, 10.0) == "unreachable"
    assert threshold_status(2, 10.0) == "not scorable"
    assert threshold_status(5, 10.0) == "ok"
    # the bound holds: a one-step curve scores sqrt(2), an evenly stepped one 2
    assert emergence_rows(np.array([0.0, 0.0, 1.0])) == pytest.approx(math.sqrt(2))
    assert emergence_rows(np.array([0.0, 0.5, 1.0])) == pytest.approx(2.0)
    ys = np.random.default_rng(1).standard_normal((2000, 3))
    assert np.abs(emergence_rows(ys)).max() <= 2.0 + 1e-12
    assert null_threshold(3) <= 2.0


def test_null_threshold_grows_with_n():
    t = [null_threshold(n, draws=4000) for n in (4, 6, 10)]
    assert t[0] < t[1] < t[2]


def test_logistic_width_recovered_within_its_interval():
    rng = np.random.default_rng(3)
    x = np.logspace(6, 10, 13)
    true_w, mid, chance, sd = 1.0, 8.2, 0.25, 0.015
    s = true_w / WIDTH_FACTOR
    truth = chance + (0.9 - chance) / (1 + np.exp(-(np.log10(x) - mid) / s))
    y = truth + sd * rng.standard_normal(x.size)
    fit = logistic_width(x, y, floor=chance)
    assert fit.identified and abs(fit.mid - mid) < 0.1
    reps = fit.predict(x)[None, :] + sd * rng.standard_normal((200, x.size))  # parametric bootstrap
    lo, hi = interval(logistic_width_rows(x, reps, fit, chance, None))
    assert lo <= true_w <= hi
    assert hi - lo < 0.5  # and the interval is informative
    # a step (all change between two sizes) has width ~0; a line in log N is wider than the grid
    step = np.where(np.log10(x) < 8.1, chance, 0.9)
    assert logistic_width(x, step, floor=chance).width < 0.34  # below one grid spacing
    line = np.linspace(0.3, 0.6, x.size)
    assert logistic_width(x, line, floor=chance).width > 3.0
