import itertools
import math

import numpy as np
import pytest

from src.analysis.stats.intervals import item_counts
from src.analysis.stats.nulls import (
    binomial_null,
    draws_for_bh,
    min_pvalue,
    orientation_status,
    paired_difference,
    permutation_pvalue,
)
from src.analysis.stats.sharpness import emergence_rows, largest_step_share


def _enumerated_p(y):
    """Brute force: loop over every order of the values, Eq. 1 of each."""
    obs = emergence_rows(np.asarray(y))
    perms = list(itertools.permutations(y))
    return sum(emergence_rows(np.asarray(p)) >= obs for p in perms) / len(perms)


@pytest.mark.parametrize(
    "y", [[0.1, 0.2, 0.9], [0.0, 0.0, 0.1, 0.8], [0.3, 0.1, 0.5, 0.45, 0.9], [1, 2, 3, 4, 5, 60]]
)
def test_permutation_pvalue_equals_exact_enumeration(y):
    p, exact = permutation_pvalue(np.asarray(y, dtype=float))
    assert exact and p == pytest.approx(_enumerated_p(y), abs=1e-12)


def test_permutation_floor_is_one_over_n_factorial():
    p, _ = permutation_pvalue(np.array([0.0, 0.5, 1.0]))
    assert p >= 1 / 6 and min_pvalue(3) == pytest.approx(1 / 6)
    assert min_pvalue(12, n_draws=999) == pytest.approx(1e-3)


def test_monte_carlo_pvalue_close_to_truth_above_exact_max():
    y = np.r_[np.zeros(5), np.linspace(0.5, 1.0, 4)]  # 9 sizes
    p_exact, _ = permutation_pvalue(y, exact_max=9)
    p_mc, exact = permutation_pvalue(y, n_draws=10000, rng=np.random.default_rng(0), exact_max=8)
    assert not exact and abs(p_mc - p_exact) < 0.01


def test_draws_for_bh_let_the_smallest_p_pass():
    m, alpha = 273, 0.05
    d = draws_for_bh(m, alpha)
    assert 1 / (d + 1) < alpha / m
    assert 1 / 301 > alpha / m  # 300 draws: BH over 273 tests cannot pass at all


def test_binomial_null_has_binomial_spread():
    x = np.logspace(6, 9, 7)
    y = np.linspace(0.2, 0.8, 7)
    d = binomial_null(x, y, 400, 20000, np.random.default_rng(0))
    np.testing.assert_allclose(d.mean(0), y, atol=0.005)  # y is exactly linear in log x: the fit is y
    np.testing.assert_allclose(d.std(0), np.sqrt(y * (1 - y) / 400), rtol=0.05)


def _paired(sharp_items, smooth_items, n_boot=400, stat=emergence_rows):
    rng = np.random.default_rng(0)
    n = sharp_items.shape[1]
    c = item_counts(n, n_boot, rng)  # the same resampled items for both metrics
    rs, rm = c @ sharp_items.T / n, c @ smooth_items.T / n
    ys, ym = sharp_items.mean(1), smooth_items.mean(1)
    return paired_difference(
        stat(rs), stat(rm), stat(ys), stat(ym), orientation_status(rs, ys), orientation_status(rm, ym)
    )


def test_worsening_smooth_metric_is_not_counted_as_sharp():
    rng = np.random.default_rng(0)
    n_items, sizes = 300, 6
    p = np.linspace(0.2, 0.8, sizes)
    correct = (rng.random((sizes, n_items)) < p[:, None]).astype(float)
    sharp = correct * (rng.random((sizes, n_items)) < p[:, None])  # two-of-two right: acc^2-like
    # a smooth metric of the same outputs that gets worse with scale, in one jump (oriented: negated)
    worse = -(
        np.r_[np.zeros(5), 1.0][:, None] * np.ones((sizes, n_items)) + 0.01 * rng.random((sizes, n_items))
    )
    r = _paired(sharp, worse)
    assert r["verdict"] == "worsens: smooth"
    # signed Eq. 1 would have called the sharp metric the sharper one
    assert emergence_rows(sharp.mean(1)) > emergence_rows(worse.mean(1))


def test_paired_verdicts_on_same_outputs():
    rng = np.random.default_rng(1)
    sizes, n_items = 7, 2000
    p = np.linspace(0.3, 0.95, sizes)
    tok = (rng.random((sizes, n_items, 5)) < p[:, None, None]).astype(float)
    acc, seq = tok.mean(2), tok.all(2).astype(float)  # per-token accuracy (smooth) and all-5-right (sharp)
    r = _paired(seq, acc, stat=largest_step_share)
    assert r["verdict"] == "sharp above smooth" and r["diff_lo"] > 0
    r_same = _paired(acc, acc)
    assert r_same["verdict"] == "no difference" and r_same["diff"] == 0.0
    assert math.isfinite(r["diff"])
