"""Item-bootstrap intervals of the arithmetic Fig. 3 curves against a brute-force loop, and a worsening metric."""

import json

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.arithmetic.intervals import arith_intervals
from src.analysis.arithmetic.scoring import score_items
from src.analysis.stats.intervals import interval, item_counts
from src.analysis.stats.sharpness import emergence_rows
from src.results.outputs import load_outputs
from tests.analysis.arith_factory import simulate

SIZES = (1_000, 3_000, 10_000, 30_000, 100_000, 300_000)
PS = (0.15, 0.3, 0.5, 0.7, 0.88, 0.97)


@pytest.fixture(scope="module")
def sim_items(tmp_path_factory):
    path = simulate(tmp_path_factory.mktemp("sim") / "outputs.jsonl", n_items=120, sizes=SIZES, ps=PS)
    return score_items(load_outputs([path]), max_len=3)


def test_intervals_match_a_brute_force_bootstrap_loop(sim_items):
    n_boot, seed = 40, 3
    scores, pairs = arith_intervals(sim_items, n_boot=n_boot, seed=seed, max_len=3)
    # brute force: the same resampled item indices (drawn as item_counts draws them), one replicate at a time
    test = sim_items[sim_items["subset"] == "test"]
    items = sorted(test["item"].unique())
    counts = item_counts(len(items), n_boot, np.random.default_rng(seed))
    for col, sign in (("exact_match_l=3", 1.0), ("edit_distance_l=2", -1.0), ("target_prob_l=2", 1.0)):
        per_model = [
            test[test["num_params"] == n].set_index("item").loc[items, col].to_numpy(float) for n in SIZES
        ]
        reps = np.empty((n_boot, len(SIZES)))
        for b in range(n_boot):
            draw = np.repeat(np.arange(len(items)), counts[b].astype(int))  # the items of replicate b
            for j, v in enumerate(per_model):
                reps[b, j] = sign * v[draw].mean()
        row = scores[scores["metric"] == f"test/{col}"].iloc[0]
        res = 1.0 / len(items) if col.startswith("exact_match") else 0.0
        lo, hi = interval(emergence_rows(reps, res))
        assert row["e_lo"] == pytest.approx(float(lo)) and row["e_hi"] == pytest.approx(float(hi))
        y = sign * np.array([v.mean() for v in per_model])
        assert row["emergence_score"] == pytest.approx(float(emergence_rows(y, res)))
        assert row["direction"] == "improves" and row["threshold_status"] == "ok"
    # every curve has an interval around its point estimate; 6 sizes: the logistic width is fitted
    assert (scores["e_lo"] <= scores["emergence_score"] + 1e-9).all()
    assert (scores["emergence_score"] <= scores["e_hi"] + 1e-9).all()
    assert scores["width"].notna().any()
    lx = np.log10(SIZES)
    ok = scores["width"].between(np.diff(lx).min(), lx[-1] - lx[0])
    assert (scores["width_resolved"] == ok).all() and scores["width_resolved"].any()
    # pairs at the same L only, sharp (not at its identity parameter) against smooth
    assert set(pairs["L"]) == {2, 3}  # at L = 1 both sharp metrics are at their identity parameter
    assert not (pairs["sharp"] == "test/exact_match_l=1").any()
    assert (pairs["sharp"].str[-1] == pairs["smooth"].str[-1]).all()


def test_a_worsening_metric_is_reported_as_such(tmp_path):
    # the largest models get worse: per-digit accuracy falls with size, so every metric worsens
    path = simulate(tmp_path / "w" / "outputs.jsonl", n_items=200, sizes=SIZES, ps=PS[::-1])
    scores, pairs = arith_intervals(score_items(load_outputs([path]), max_len=2), n_boot=60, max_len=2)
    ed = scores[scores["metric"] == "test/edit_distance_l=2"].iloc[0]
    assert not ed["higher_is_better"] and ed["direction"] == "worsens"  # a distance that grows is worse
    assert (scores["direction"] == "worsens").all() and (scores["emergent"] != "emergent").all()
    assert pairs["verdict"].str.startswith("worsens").all()
    assert not pairs["verdict"].isin(["sharp above smooth"]).any()


def test_only_the_smooth_metric_worsens(tmp_path):
    """Exact match improves with size while the wrong answers get more digits wrong, so token edit distance grows:
    the pair names the worsening metric instead of ranking it as smoother (or sharper)."""
    rng = np.random.default_rng(0)
    right_share = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    wrong_digits = (1, 1, 2, 3, 4, 4)  # edit distance at L = 4: 0.9, 0.8, 1.4, 1.8, 2.0, 1.6
    rows = []
    for size, r, d in zip(SIZES, right_share, wrong_digits, strict=True):
        for i in range(300):
            target = str(rng.integers(1000, 10_000))
            out = target if i < r * 300 else "".join(str((int(c) + 1) % 10) for c in target[:d]) + target[d:]
            rows.append({"model": f"m{size}", "family": "f", "num_params": size, "task": "t", "prompt": "q",
                         "target": target, "output": out, "item": i, "subset": "test"})  # fmt: skip
    path = tmp_path / "outputs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores, pairs = arith_intervals(score_items(load_outputs([path]), max_len=4), n_boot=100, max_len=4)
    d = scores.set_index("metric")["direction"]
    assert d["test/exact_match_l=4"] == "improves"
    assert d["test/edit_distance_l=4"] == "worsens" and d["test/token_acc_l=4"] == "worsens"
    row = pairs[(pairs["sharp"] == "test/exact_match_l=4") & (pairs["smooth"] == "test/edit_distance_l=4")]
    assert row["verdict"].item() == "worsens: smooth"
    assert row["verdict_E"].item() == "worsens: smooth"


def test_cli_writes_interval_tables_and_zero_turns_them_off(tmp_path, capsys):
    simulate(tmp_path / "s" / "run" / "outputs.jsonl", n_items=60, sizes=SIZES, ps=PS)
    assert main(["arith-fig3", str(tmp_path / "s"), "--max-len", "2", "--intervals", "30"]) == 0
    out = tmp_path / "s" / "arithmetic"
    shown = capsys.readouterr().out
    assert "Rules" in shown and "sharp above smooth" in shown
    scores = pd.read_csv(out / "claims_intervals.csv")
    assert {"e_lo", "e_hi", "threshold_status", "direction", "emergent"} <= set(scores.columns)
    assert (out / "claims_pairs.csv").is_file()
    assert main(["arith-fig3", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--intervals", "0"]) == 0
    assert not (tmp_path / "o" / "claims_intervals.csv").exists()
    assert (tmp_path / "o" / "claims.csv").is_file()


def test_headline_verdict_uses_the_width_only_where_the_grid_resolves_both():
    from src.analysis.arithmetic.intervals import _headline

    pv = pd.DataFrame({
        "sharp": ["a", "a", "c"], "smooth": ["b", "d", "b"],
        "verdict_width": ["sharp above smooth", "smooth above sharp", "worsens: sharp"],
        "verdict_E": ["no difference", "no difference", "worsens: sharp"],
    })  # fmt: skip
    out = _headline(pv, {"a": True, "b": True, "c": True, "d": False})
    assert list(out["verdict_on"]) == ["logistic width", "Eq. 1", "logistic width"]
    assert list(out["verdict"]) == ["sharp above smooth", "no difference", "worsens: sharp"]


def test_seeds_of_a_size_are_resampled_against_a_brute_force_loop(sim_items):
    """Two models per size (seeds): each replicate draws the items (shared) and then the seeds of every size with
    replacement; a size whose seeds disagree (one solves every item, one none) widens the interval."""
    test = sim_items[sim_items["subset"] == "test"].copy()
    other = test.copy()
    other["model"] = other["model"] + "-seed1"
    col = "exact_match_l=3"
    mid = other["num_params"] == SIZES[3]
    other.loc[~mid, col] = other.loc[~mid, col].sample(frac=1.0, random_state=1).to_numpy()  # another draw
    test.loc[test["num_params"] == SIZES[3], col] = 1.0  # at one size seed 0 solves every item ...
    other.loc[mid, col] = 0.0  # ... and seed 1 none
    both = pd.concat([test, other], ignore_index=True)
    n_boot, seed = 40, 5
    scores, _ = arith_intervals(both, n_boot=n_boot, seed=seed, max_len=3)
    row = scores[scores["metric"] == f"test/{col}"].iloc[0]
    assert row["interval_source"] == "items x seeds" and row["n_models"] == 2 * len(SIZES)
    # brute force, with the random draws in the order arith_intervals makes them: items, then seeds size by size
    rng = np.random.default_rng(seed)
    items = sorted(test["item"].unique())
    counts = item_counts(len(items), n_boot, rng)
    seed_draws = [item_counts(2, n_boot, rng) for _ in SIZES]
    per = {}
    for name, frame in (("s0", test), ("s1", other)):
        per[name] = [
            frame[frame["num_params"] == n].set_index("item").loc[items, col].to_numpy(float) for n in SIZES
        ]
    reps = np.empty((n_boot, len(SIZES)))
    for b in range(n_boot):
        draw = np.repeat(np.arange(len(items)), counts[b].astype(int))
        for j in range(len(SIZES)):
            means = np.array([per["s0"][j][draw].mean(), per["s1"][j][draw].mean()])
            reps[b, j] = (seed_draws[j][b] * means).sum() / 2
    res = 1.0 / (len(items) * 2)
    lo, hi = interval(emergence_rows(reps, res))
    assert row["e_lo"] == pytest.approx(float(lo)) and row["e_hi"] == pytest.approx(float(hi))
    # the disagreeing size's replicate mean takes the values 0, 0.5 and 1 (seed draws (1,1), (0,2), (2,0))
    assert {0.0, 0.5, 1.0} <= set(np.round(reps[:, 3], 6))
