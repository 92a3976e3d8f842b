"""Intervals and verdicts of the arithmetic Fig. 3 curves from the one engine: paired items, levels, same-L pairs,
worsening metrics and seeds of a size."""

import json

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.arithmetic.intervals import arith_intervals
from src.analysis.arithmetic.scoring import score_items
from src.analysis.stats.sharpness import emergence_rows
from src.results.outputs import load_outputs
from tests.analysis.arith_factory import simulate

SIZES = (1_000, 3_000, 10_000, 30_000, 100_000, 300_000)
PS = (0.15, 0.3, 0.5, 0.7, 0.88, 0.97)


@pytest.fixture(scope="module")
def sim_items(tmp_path_factory):
    path = simulate(tmp_path_factory.mktemp("sim") / "outputs.jsonl", n_items=120, sizes=SIZES, ps=PS)
    return score_items(load_outputs([path]), max_len=3)


def test_curves_and_pairs_come_from_the_engine_on_paired_items(sim_items):
    scores, pairs = arith_intervals(sim_items, n_boot=60, seed=3, max_len=3)
    test = sim_items[sim_items["subset"] == "test"]
    n = test["item"].nunique()
    for col, sign in (("exact_match_l=3", 1.0), ("edit_distance_l=2", -1.0), ("target_prob_l=2", 1.0)):
        row = scores[scores["metric"] == f"test/{col}"].iloc[0]
        y = sign * np.array([test[test["scale"] == s][col].mean() for s in SIZES])
        res = 1.0 / n if col.startswith("exact_match") else 0.0
        assert row["E"] == pytest.approx(float(emergence_rows(y, res)))  # Eq. 1 of the per-size means
        assert row["resolution"] == pytest.approx(res)
        assert (
            row["interval_source"] == "items"
            and row["L"] == int(col[-1])
            and row["task"] == "four_digit_addition"
        )
        assert (
            row["E_lo"] <= row["E"] <= row["E_hi"] and row["change_lo"] <= row["change"] <= row["change_hi"]
        )
    # levels from the registry: exact match and the exact target's probability 2, per-token accuracy 1, distance 0
    lv = scores.set_index("metric")["level"]
    assert (lv["test/exact_match_l=3"], lv["test/token_acc_l=3"], lv["test/edit_distance_l=3"]) == (2, 1, 0)
    # pairs at the same L only, on the same resampled items; exact match at L = 1 is per-token accuracy itself
    assert (pairs["sharp"].str[-1] == pairs["smooth"].str[-1]).all() and pairs["paired"].all()
    assert not (pairs["sharp"] == "test/exact_match_l=1").any()
    at3 = set(zip(pairs.loc[pairs.L == 3, "sharp"], pairs.loc[pairs.L == 3, "smooth"], strict=True))
    em, tp, ta, ed = (f"test/{m}_l=3" for m in ("exact_match", "target_prob", "token_acc", "edit_distance"))
    assert at3 == {(em, ta), (em, ed), (tp, ta), (tp, ed), (ta, ed)}, at3


def test_a_worsening_metric_is_reported_as_such(tmp_path):
    # the largest models get worse: per-digit accuracy falls with size, so every metric worsens
    path = simulate(tmp_path / "w" / "outputs.jsonl", n_items=200, sizes=SIZES, ps=PS[::-1])
    scores, pairs = arith_intervals(score_items(load_outputs([path]), max_len=2), n_boot=60, max_len=2)
    ed = scores[scores["metric"] == "test/edit_distance_l=2"].iloc[0]
    assert not ed["higher_is_better"] and ed["verdict"] == "worsens"  # a distance that grows is worse
    assert (scores["verdict"] == "worsens").all()
    assert (pairs["verdict"] == "no rise to compare").all()


def test_only_the_smooth_metric_worsens(tmp_path):
    """Exact match improves with size while the wrong answers get more digits wrong, so token edit distance grows:
    the pair says there is no rise to compare and names the worsening metric, instead of ranking it."""
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
    d = scores.set_index("metric")["verdict"]
    assert d["test/exact_match_l=4"] in ("emergent", "not emergent")  # a real rise
    assert d["test/edit_distance_l=4"] == "worsens" and d["test/token_acc_l=4"] == "worsens"
    row = pairs[(pairs["sharp"] == "test/exact_match_l=4") & (pairs["smooth"] == "test/edit_distance_l=4")]
    assert row["verdict"].item() == "no rise to compare"
    assert "edit distance" in row["reason"].item() or "edit_distance" in row["reason"].item()


def test_cli_writes_interval_tables_and_zero_turns_them_off(tmp_path, capsys):
    simulate(tmp_path / "s" / "run" / "outputs.jsonl", n_items=60, sizes=SIZES, ps=PS)
    assert main(["arith-fig3", str(tmp_path / "s"), "--max-len", "2", "--intervals", "30"]) == 0
    out = tmp_path / "s" / "arithmetic"
    shown = capsys.readouterr().out
    assert "Rules" in shown and "sharp above smooth" in shown
    scores = pd.read_csv(out / "claims_intervals.csv")
    assert {"E", "E_lo", "E_hi", "change_lo", "interval_source", "verdict", "L"} <= set(scores.columns)
    assert (out / "claims_pairs.csv").is_file()
    assert main(["arith-fig3", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--intervals", "0"]) == 0
    assert not (tmp_path / "o" / "claims_intervals.csv").exists()
    assert (tmp_path / "o" / "claims.csv").is_file()


def test_seeds_of_a_size_are_resampled_with_the_items(sim_items):
    """Two models per size (seeds) are one size with two replicates: the engine draws the items (shared) and the
    seeds of every size; a size whose seeds disagree (one solves every item, one none) widens the interval."""
    test = sim_items[sim_items["subset"] == "test"].copy()
    other = test.copy()
    other["model"] = other["model"] + "-seed1"
    col = "exact_match_l=3"
    agree, _ = arith_intervals(pd.concat([test, other], ignore_index=True), n_boot=200, seed=5, max_len=3)
    test.loc[test["scale"] == SIZES[3], col] = 1.0  # at one size seed 0 solves every item ...
    other.loc[other["scale"] == SIZES[3], col] = 0.0  # ... and seed 1 none
    both = pd.concat([test, other], ignore_index=True)
    scores, _ = arith_intervals(both, n_boot=200, seed=5, max_len=3)
    row = scores[scores["metric"] == f"test/{col}"].iloc[0]
    ref = agree[agree["metric"] == f"test/{col}"].iloc[0]
    assert (
        row["interval_source"] == "items x seeds"
        and row["n_replicates"] == 2
        and row["n_sizes"] == len(SIZES)
    )
    assert row["resolution"] == pytest.approx(1.0 / (test["item"].nunique() * 2))
    # the point is the mean of the two seeds at every size
    y = [both[both["scale"] == s][col].mean() for s in SIZES]
    assert row["start"] == pytest.approx(y[0]) and row["end"] == pytest.approx(y[-1])
    assert row["E_hi"] - row["E_lo"] > ref["E_hi"] - ref["E_lo"]
