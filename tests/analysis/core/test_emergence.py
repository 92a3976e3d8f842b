"""The paper's Eq. 1 emergence score and the largest-step share on curves with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from src.analysis.core.emergence import emergence_score, largest_step_share

X9 = np.logspace(3, 7, 9)


def test_line_scores_its_number_of_steps():
    # equal steps d: (max - min) / sqrt(median d^2) = 8 d / d
    assert emergence_score(X9, np.linspace(0.1, 0.9, 9)) == pytest.approx(8.0)
    assert largest_step_share(X9, np.linspace(0.1, 0.9, 9)) == pytest.approx(1 / 8)


def test_falling_line_is_negative():
    assert emergence_score(X9, np.linspace(0.9, 0.1, 9)) == pytest.approx(-8.0)


def test_exact_step_has_zero_median_step_and_scores_inf():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1], float)
    assert emergence_score(X9, y) == math.inf
    assert emergence_score(X9, -y) == -math.inf
    assert largest_step_share(X9, y) == 1.0


def test_noisy_step_scores_far_above_a_line():
    y = np.array([0.00, 0.01, 0.00, 0.01, 0.95, 0.96, 0.95, 0.96, 0.95])
    # steps: .01 .01 .01 .94 .01 .01 .01 .01 -> median sq step 1e-4; total change 0.96
    assert emergence_score(X9, y) == pytest.approx(0.96 / 0.01)
    assert largest_step_share(X9, y) == pytest.approx(0.94 / (0.94 + 7 * 0.01))


def test_flat_curve_scores_zero_and_has_no_step_share():
    assert emergence_score(X9, np.full(9, 0.3)) == 0.0
    assert math.isnan(largest_step_share(X9, np.full(9, 0.3)))


def test_fewer_than_three_points_is_nan():
    assert math.isnan(emergence_score([1, 2], [0, 1]))
    assert math.isnan(emergence_score([1], [0]))
    assert math.isnan(largest_step_share([1], [0]))
    assert largest_step_share([1, 2], [0, 1]) == 1.0


def test_points_are_sorted_by_scale_first():
    order = np.random.default_rng(0).permutation(9)
    y = np.linspace(0.1, 0.9, 9)
    assert emergence_score(X9[order], y[order]) == pytest.approx(8.0)


def test_nan_and_shape_mismatch_are_errors():
    with pytest.raises(ValueError, match="NaN"):
        emergence_score([1, 2, 3], [0, np.nan, 1])
    with pytest.raises(ValueError, match="equal length"):
        emergence_score([1, 2, 3], [0, 1])
