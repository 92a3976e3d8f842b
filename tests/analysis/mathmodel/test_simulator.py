"""Monte-Carlo simulator: the error model, the metric code it calls, and agreement with the closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.mathmodel import simulator as sim


def _levenshtein(a, b) -> int:
    d = np.arange(len(b) + 1)
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return int(d[-1])


def test_corrupt_error_rate_and_never_a_silent_match():
    rng = np.random.default_rng(0)
    t = sim.sample_targets(2000, 10, 5, rng)
    np.testing.assert_array_equal(sim.corrupt(t, 0.0, 5, rng), t)
    assert (sim.corrupt(t, 1.0, 5, rng) != t).all()
    wrong = (sim.corrupt(t, 0.2, 5, rng) != t).mean()
    assert wrong == pytest.approx(0.2, abs=0.01)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sim.corrupt(t, 1.5, 5, rng)


def test_metric_code_matches_independent_references():
    rng = np.random.default_rng(1)
    t = sim.sample_targets(60, 7, 4, rng)
    p = sim.corrupt(t, 0.3, 4, rng)
    p[:5] = np.roll(t[:5], 1, axis=1)  # shifted sequences: Levenshtein well below Hamming
    assert sim.exact_match(p, t, 4) == pytest.approx((p == t).all(axis=1).mean())
    expected = np.mean([_levenshtein(a, b) for a, b in zip(p, t, strict=True)])
    assert sim.token_edit_distance(p, t) == pytest.approx(expected)
    assert sim.token_edit_distance(p, t) < (p != t).sum(axis=1).mean()


def test_rouge_lsum_union_lcs_example_of_lin_2004():
    # reference sentence w1..w5; candidate sentences w1 w2 w6 w7 w8 and w1 w3 w8 w9 w5: union LCS w1 w2 w3 w5 (4)
    target = np.array([[1, 2, 3, 4, 5]])
    pred = np.array([[1, 2, 6, 7, 8, 1, 3, 8, 9, 5]])
    recall, precision = 4 / 5, 4 / 10
    f = 2 * recall * precision / (recall + precision)
    assert sim.rouge_lsum(pred, target, tokens_per_word=1, words_per_sentence=5) == pytest.approx(f)


def test_rouge_lsum_of_one_sentence_equals_public_rouge_l():
    from torchmetrics.text import ROUGEScore

    rng = np.random.default_rng(2)
    t = sim.sample_targets(30, 12, 6, rng)
    p = sim.corrupt(t, 0.3, 6, rng)
    public = ROUGEScore(rouge_keys="rougeL", normalizer=lambda s: s, tokenizer=str.split, accumulate="best")
    preds_text = [" ".join(f"t{v}" for v in row) for row in p]
    target_text = [" ".join(f"t{v}" for v in row) for row in t]
    expected = float(public(preds_text, target_text)["rougeL_fmeasure"])
    assert sim.rouge_lsum(p, t, tokens_per_word=1, words_per_sentence=12) == pytest.approx(expected, abs=1e-6)


def test_monte_carlo_agrees_with_the_closed_forms():
    df = sim.simulate_lengths([0.05, 0.2], [1, 4, 8], n_items=1500, vocab_size=50, seed=0, progress=False)
    se = np.sqrt(df["theory_exact_match"] * (1 - df["theory_exact_match"]) / df["n_items"])
    assert (np.abs(df["exact_match"] - df["theory_exact_match"]) < 4 * se + 1e-9).all()
    # substitutions only: edit distance <= Hamming distance, whose mean is L * eps
    np.testing.assert_allclose(df["edit_distance"], df["theory_edit_distance"], rtol=0.12, atol=0.02)


def test_rouge_lsum_tracks_word_correctness():
    df = sim.simulate_rouge([0.0, 0.1, 0.3], [1, 4], n_words=16, n_items=60, seed=0, progress=False)
    assert (df.loc[df["eps"] == 0, "rouge_lsum"] == 1.0).all()
    np.testing.assert_allclose(df["rouge_lsum"], df["word_correct"], atol=0.06)
    one = df[df["tokens_per_word"] == 1].set_index("eps")["rouge_lsum"]
    four = df[df["tokens_per_word"] == 4].set_index("eps")["rouge_lsum"]
    assert four[0.3] < one[0.3] - 0.3  # several tokens per word: much sharper in eps


def test_measured_exact_match_is_a_multiple_of_one_over_n():
    rng = np.random.default_rng(3)
    for n in (7, 100):
        v = sim.measured_exact_match(0.3, 4, n, 10, rng)
        assert v * n == pytest.approx(round(v * n))
    assert sim.measured_exact_match(0.5, 30, 100, 10, rng) == 0.0  # true accuracy 1e-9 reads as exactly 0


@pytest.mark.slow  # end to end: ~15 s of simulation and six figure files
def test_model_figures_cli(tmp_path, capsys):
    assert main(["model-figures", "--out", str(tmp_path), "--n-items", "20"]) == 0
    out = capsys.readouterr().out
    for stem in ("fig2_model", "appendixA_simulation", "fig9_rouge_lsum"):
        assert (tmp_path / f"{stem}.png").stat().st_size > 10_000 and (tmp_path / f"{stem}.pdf").is_file()
    import pandas as pd

    summary = pd.read_csv(tmp_path / "model_curve_summary.csv")
    grade = summary[summary["metric"].str.startswith("multiple choice")]["emergence_score"].iloc[0]
    assert grade == np.inf and "multiple choice grade (sharp)" in out


def test_per_item_outcomes_reproduce_the_metrics_and_give_intervals():
    from src.analysis.mathmodel.cli import length_intervals
    from src.analysis.mathmodel.figures import ModelConfig

    cfg = ModelConfig(n_grid=5, lengths=(1, 4))
    eps = [0.4, 0.2, 0.1, 0.05, 0.02]
    a = sim.simulate_lengths(eps, cfg.lengths, n_items=200, seed=3, progress=False)
    items: dict = {}
    b = sim.simulate_lengths(eps, cfg.lengths, n_items=200, seed=3, progress=False, items=items)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)  # same draws, same metric values
    ci = length_intervals(cfg, b, items, n_boot=100, seed=0)
    assert set(ci["curve"]) == {"L=1", "L=4"} and (ci["E_lo"] <= ci["E_hi"]).all()


def _brute_force_E(per_size: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Eq. 1 of each bootstrap replicate, one replicate and one item at a time (same draws as item_counts)."""
    from src.analysis.core.emergence import emergence_score

    idx = [rng.integers(0, v.size, size=(n_boot, v.size)) for v in per_size]
    out = []
    for b in range(n_boot):
        curve = [sum(float(v[i]) for i in ix[b]) / v.size for v, ix in zip(per_size, idx, strict=True)]
        out.append(emergence_score(np.arange(len(curve)), curve))
    return np.array(out)


def test_choice_and_rouge_intervals_match_a_brute_force_loop():
    from src.analysis.mathmodel.cli import choice_intervals, rouge_intervals
    from src.analysis.mathmodel.figures import ModelConfig

    cfg = ModelConfig(n_grid=6)
    q = np.linspace(0.15, 0.9, 6)
    mcg, brier = sim.simulate_choices(q, cfg.n_choices, n_items=30, concentration=20.0, seed=1)
    assert mcg.shape == brier.shape == (6, 30) and set(np.unique(mcg)) <= {0.0, 1.0}
    assert (brier >= 0).all() and (brier <= 2).all()
    n_boot, seed = 7, 4
    got = choice_intervals(cfg, mcg, brier, n_boot, seed).set_index("metric")
    # brute force: the same draws, paired (both metrics on the same resampled items), Brier negated
    rng = np.random.default_rng(seed)
    idx = [rng.integers(0, 30, size=(n_boot, 30)) for _ in range(6)]
    from src.analysis.core.emergence import emergence_score

    e = {"g": [], "b": []}
    for b in range(n_boot):
        g_curve = [np.mean([mcg[j, i] for i in idx[j][b]]) for j in range(6)]
        b_curve = [-np.mean([brier[j, i] for i in idx[j][b]]) for j in range(6)]
        e["g"].append(emergence_score(q, g_curve))
        e["b"].append(emergence_score(q, b_curve))
    g, br = np.array(e["g"]), np.array(e["b"])
    for metric, reps in (("multiple choice grade (sharp)", g), ("Brier score (smooth)", br)):
        assert got.loc[metric, "E_lo"] == pytest.approx(np.percentile(reps, 2.5))
        assert got.loc[metric, "E_hi"] == pytest.approx(np.percentile(reps, 97.5))
    diff = g - br
    assert got["sharp_minus_smooth_E_lo"].iloc[0] == pytest.approx(np.percentile(diff, 2.5))
    assert got["sharp_minus_smooth_E_hi"].iloc[0] == pytest.approx(np.percentile(diff, 97.5))
    # a Brier curve that gets worse with scale is reported as such, not as smooth-vs-sharp
    worse = choice_intervals(cfg, mcg, brier[::-1], n_boot, seed)  # Brier rising with scale
    assert worse["verdict_E"].iloc[0].startswith("worsens")

    items: dict = {}
    rouge = sim.simulate_rouge([0.0, 0.3, 0.2, 0.1, 0.05], (1, 2), n_words=8, n_items=12, seed=2,
                               progress=False, items=items)  # fmt: skip
    for (eps, w), v in items.items():  # per-item scores average to the reported metric
        row = rouge[(rouge["eps"] == eps) & (rouge["tokens_per_word"] == w)]
        assert v.shape == (12,) and v.mean() == pytest.approx(float(row["rouge_lsum"].iloc[0]))
    ri = rouge_intervals(cfg, rouge, items, n_boot, seed).set_index("curve")
    rng = np.random.default_rng(seed)
    for w in (1, 2):  # sizes ascending = eps descending, eps = 0 dropped
        reps = _brute_force_E([items[(e, w)] for e in (0.3, 0.2, 0.1, 0.05)], n_boot, rng)
        assert ri.loc[f"{w} tokens/word", "E_lo"] == pytest.approx(np.percentile(reps, 2.5))
        assert ri.loc[f"{w} tokens/word", "E_hi"] == pytest.approx(np.percentile(reps, 97.5))
