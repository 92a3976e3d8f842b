"""Meta-analysis on curves whose emergence scores, null probabilities and shares are worked out by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from src.analysis.core.emergence import emergence_score
from src.analysis.families import meta_analysis as M

SIZES = [1e8, 3e8, 1e9, 3e9, 1e10, 3e10]
# MCG: flat near chance, one jump. Steps .01,-.01,.01,.49,.01: median |step| .01, total .51 -> E = 51.
MCG_STEP = [0.25, 0.26, 0.25, 0.26, 0.75, 0.76]
# Brier falls by .1 per size: negated it rises in 5 equal steps -> E = 5 (raw Eq. 1 value: -5).
BRIER_SMOOTH = [0.80, 0.70, 0.60, 0.50, 0.40, 0.30]
BRIER = "brier_score_target_prob_renormalized"


def family_table(family: str = "F", task: str = "t", mcg=MCG_STEP, brier=BRIER_SMOOTH) -> pd.DataFrame:
    rows = []
    for metric, ys in ((M.MCG, mcg), (BRIER, brier)):
        for i, (x, y) in enumerate(zip(SIZES, ys, strict=True)):
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "family": family,
                    "model": f"{family}-{i}",
                    "scale": x,
                    "value": y,
                }
            )
    return pd.DataFrame(rows)


def test_mcg_step_is_emergent_and_smooth_brier_is_not():
    scores = M.triplet_scores(family_table(), threshold=10)
    mcg = scores[scores.metric == M.MCG].iloc[0]
    brier = scores[scores.metric == BRIER].iloc[0]
    assert mcg.emergence == pytest.approx(51.0) and mcg.emergent
    assert brier.emergence == pytest.approx(5.0) and not brier.emergent
    assert brier.emergence_raw == pytest.approx(-5.0) and not brier.higher_is_better
    assert mcg.largest_step_share == pytest.approx(0.49 / 0.53)
    pairs = M.mcg_vs_brier(scores, brier=BRIER)
    assert pairs.disappears.tolist() == [True]
    summary = M.metric_summary(scores).set_index("metric")
    assert summary.loc[M.MCG, "n_emergent"] == 1 and summary.loc[BRIER, "n_emergent"] == 0


def test_threshold_is_a_parameter():
    scores = M.triplet_scores(family_table(), threshold=4.0)
    assert scores.emergent.all()
    assert not M.triplet_scores(family_table(), threshold=60.0).emergent.any()


def test_orientation_of_lower_is_better_metrics():
    assert not M.higher_is_better("calibration_multiple_choice_brier_score")
    assert not M.higher_is_better("expected_calibration_error")
    assert M.higher_is_better(M.MCG) and M.higher_is_better("exact_str_match") and M.higher_is_better("bleu")
    assert not M.higher_is_better("my_error_rate", lower_is_better=["my_error_rate"])
    # A Brier that gets worse with scale scores negative: only improvements can be "emergent".
    worse = M.triplet_scores(family_table(brier=BRIER_SMOOTH[::-1]))
    assert worse[worse.metric == BRIER].emergence.iloc[0] == pytest.approx(-5.0)


def test_ties_min_sizes_and_infinite_scores():
    table = family_table()
    extra = table.iloc[[0]].assign(model="F-dup", value=0.27)  # a second model at the smallest size
    with pytest.raises(ValueError, match="several models at size 1e"):
        M.triplet_scores(pd.concat([table, extra]), ties="error")
    scores = M.triplet_scores(pd.concat([table, extra]), ties="mean")
    mcg = scores[scores.metric == M.MCG].iloc[0]
    assert (mcg.n_models, mcg.n_sizes) == (7, 6)
    # the smallest size averages to .26, so steps are 0,-.01,.01,.49,.01: median .01, total .51
    assert mcg.emergence == pytest.approx(51.0)
    with pytest.raises(ValueError, match="no \\(task, metric, family\\) triplet has 7 or more"):
        M.triplet_scores(table, min_sizes=7)
    with pytest.raises(ValueError, match="min_sizes must be >= 3"):
        M.triplet_scores(table, min_sizes=2)
    flat_then_jump = family_table(mcg=[0.0, 0.0, 0.0, 0.0, 0.0, 0.002])
    inf = M.triplet_scores(flat_then_jump)
    assert math.isinf(inf[inf.metric == M.MCG].emergence.iloc[0])  # Eq. 1: zero median step -> +inf
    assert M.metric_summary(inf).set_index("metric").loc[M.MCG, "n_inf"] == 1


def test_permutation_null_matches_the_exact_distribution():
    """y = (0, 0, 1): the 3 orders score sqrt(2), 1 and -sqrt(2), each with probability 1/3."""
    ev = pd.DataFrame({"task": "t", "metric": "acc", "family": "F", "model": list("abc"), "scale": [1.0, 2.0, 3.0],
                         "value": [0.0, 0.0, 1.0]})  # fmt: skip
    keys, null = M.null_scores(ev, kind="permutation", n_draws=3000, seed=1)
    assert null.shape == (1, 3000)
    assert set(np.round(null[0], 6)) == {round(math.sqrt(2), 6), 1.0, round(-math.sqrt(2), 6)}
    scores = M.triplet_scores(ev, threshold=1.2)
    summary = M.null_summary(scores, {"permutation": null}, thresholds=[1.2])
    assert summary.observed.iloc[0] == 1
    assert summary.expected_by_chance.iloc[0] == pytest.approx(1 / 3, abs=0.04)
    with_p = M.add_null_pvalues(scores, keys, null, "permutation")
    assert with_p.p_permutation.iloc[0] == pytest.approx(1 / 3, abs=0.04)


def test_noise_null_of_a_noiseless_line_is_the_line_itself():
    """A straight line in log size has zero residual SD: every null draw is the line, scoring N - 1 = 5."""
    line = [0.1 + 0.1 * i for i in range(6)]
    sizes = [10.0**k for k in range(6)]
    ev = pd.DataFrame(
        {"task": "t", "metric": "acc", "family": "F", "model": list("abcdef"), "scale": sizes, "value": line}
    )
    _, null = M.null_scores(ev, kind="noise", n_draws=20)
    assert null == pytest.approx(np.full((1, 20), 5.0))
    with pytest.raises(ValueError, match="null kind must be"):
        M.null_scores(ev, kind="bootstrap", n_draws=2)


def test_permutation_null_expectation_equals_exhaustive_enumeration():
    """Four step families: the Monte-Carlo expected count matches the mean over all 720 orders of each curve."""
    curves_y = [np.array(MCG_STEP) + 0.001 * i for i in range(4)]
    ev = pd.concat([family_table(family=f"F{i}", mcg=y) for i, y in enumerate(curves_y)], ignore_index=True)
    scores = M.triplet_scores(ev)
    _, perm = M.null_scores(ev, kind="permutation", n_draws=500, seed=0)
    summary = M.null_summary(scores, {"permutation": perm}, thresholds=[10.0]).iloc[0]
    exact = 0.0
    for y in curves_y + [-np.array(BRIER_SMOOTH)] * 4:  # Brier is scored negated
        orders = list(itertools.permutations(y))
        exact += np.mean([emergence_score(SIZES, o) >= 10.0 for o in orders])
    assert summary.observed == 4  # the four MCG steps; no smooth Brier
    assert summary.expected_by_chance == pytest.approx(exact, abs=0.2)
    assert summary.p_at_least_observed < 0.05


def wei_fixture() -> tuple[pd.DataFrame, pd.DataFrame]:
    ann = pd.DataFrame(
        {
            "task": ["a", "b", "c", "d", "e", "f"],
            "wei_appendixE_category": ["emergent_palm"] * 5 + ["smooth"],
            "emergent": [True, True, True, True, True, False],
            "emergent_model_family": ["PaLM", "GPT-3", "PaLM", "GPT-3", "LaMDA", None],
        }
    )
    meta = pd.DataFrame(
        {
            "task": ["a", "a", "b", "c", "d", "e", "e", "f"],
            "subtask": ["s1", "s2", None, None, None, "x", "y", None],
            "preferred_score": [M.MCG, M.MCG, M.EXACT, "bleu", None, M.MCG, "rougeLsum", M.MCG],
        }
    )
    return ann, meta


def test_wei_join_counts_task_metric_family_triplets():
    table = M.wei_metric_table(*wei_fixture())
    em = table[table.emergent]
    # a: mcg; b: exact; c: bleu; d: programmatic (no metric); e: mcg and rougeLsum -> 6 triplets
    assert len(em) == 6
    assert M.share_under(table) == pytest.approx(3 / 6)
    assert M.share_under(table, known_only=True) == pytest.approx(3 / 5)
    summary = M.wei_metric_summary(table).set_index("metric")
    assert summary.loc[M.MCG, "n_emergent"] == 2 and summary.loc[M.MCG, "n_annotated"] == 3
    assert summary.loc[M.MCG, "n_emergent_PaLM"] == 1 and summary.loc[M.MCG, "n_emergent_LaMDA"] == 1
    assert summary.share_emergent.sum() == pytest.approx(1.0)
    ann, meta = wei_fixture()
    with pytest.raises(ValueError, match=r"annotated task\(s\) \['zz'\] are not in the task metadata"):
        M.wei_metric_table(pd.concat([ann, ann.iloc[[0]].assign(task="zz")]), meta)
