"""The mathematical model's identities (paper Sec. 2, App. A)."""

from __future__ import annotations

import numpy as np
import pytest

from src.analysis.mathmodel import model as mm

N = np.logspace(6, 12, 25)


def test_power_law_is_a_line_of_slope_alpha_in_log_log():
    ce = mm.cross_entropy(N, c=1e8, alpha=-0.3)
    slope = np.polyfit(np.log(N), np.log(ce), 1)[0]
    assert slope == pytest.approx(-0.3)
    assert mm.cross_entropy(1e8, c=1e8, alpha=-0.3) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alpha < 0"):
        mm.cross_entropy(N, c=1e8, alpha=0.1)


def test_token_prob_accuracy_and_edit_distance():
    p = mm.token_prob(N, 1e8, -0.3)
    np.testing.assert_allclose(-np.log(p), mm.cross_entropy(N, 1e8, -0.3))
    assert np.all(np.diff(p) > 0) and p.max() < 1
    np.testing.assert_allclose(mm.sequence_accuracy(p, 1), p)
    np.testing.assert_allclose(mm.sequence_accuracy(p, 5), p * p * p * p * p)
    np.testing.assert_allclose(mm.token_edit_distance(p, 5), 5 - 5 * p)
    # accuracy in L falls geometrically: log-accuracy is linear in L with slope log p
    acc = np.array([mm.sequence_accuracy(0.9, L) for L in range(1, 10)])
    np.testing.assert_allclose(np.diff(np.log(acc)), np.log(0.9))


def test_multiple_choice_grade_is_a_step_and_brier_is_smooth():
    q = np.linspace(0.0, 1.0, 101)
    probs = mm.choice_distribution(q, 4)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0)
    grade = mm.multiple_choice_grade(probs)
    # the right choice wins exactly when q > (1 - q) / 3, i.e. q > 1/4
    np.testing.assert_array_equal(grade, (q > 0.25 + 1e-12).astype(float))
    brier = mm.brier_score(probs)
    np.testing.assert_allclose(brier, (1 - q) ** 2 + 3 * ((1 - q) / 3) ** 2)
    assert mm.brier_score(mm.choice_distribution(0.25, 4)) == pytest.approx(3 / 4)  # uniform: (K-1)/K
    assert mm.brier_score(np.array([0.0, 1.0, 0.0, 0.0])) == pytest.approx(2.0)
    assert np.all(np.diff(brier) < 0)


def test_resolution_rounding():
    np.testing.assert_allclose(
        mm.resolution_round([0.004, 0.006, 0.5, 0.123456], 100), [0.0, 0.01, 0.5, 0.12]
    )
    assert mm.resolution_round(1 / 3, 3) == pytest.approx(1 / 3)
    assert mm.resolution_round(0.2, 1) == 0.0
    # a model with true accuracy p^L below 1/(2n) reads as exactly 0 on n items
    assert mm.resolution_round(mm.sequence_accuracy(0.5, 12), 1000) == 0.0
    with pytest.raises(ValueError, match="n >= 1"):
        mm.resolution_round(0.5, 0)
