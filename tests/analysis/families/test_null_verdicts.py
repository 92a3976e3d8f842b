"""bigbench-null: exact permutation verdicts, N-aware thresholds and the count of families too small to score."""

from __future__ import annotations

import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.results.errors import InputError


def test_null_reports_unscorable_and_unreachable_families(tmp_path, capsys):
    rows = []
    curves = {
        "step8": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.5, 0.9],  # 8 sizes, small even steps then a jump
        "three": [0.1, 0.1, 0.9],  # 3 sizes: |E| <= 2 < 10, unreachable
        "two": [0.1, 0.9],  # 2 sizes: not scorable
        "flat8": [0.5, 0.501, 0.502, 0.503, 0.504, 0.505, 0.506, 0.52],  # E = 20, in order, but a 0.02 rise
        "low8": [
            0.001,
            0.0012,
            0.0013,
            0.0014,
            0.0015,
            0.0016,
            0.02,
            0.04,
        ],  # 0.039 of the range, 40-fold, a jump
        "geo8": [0.0005 * 1.8**i for i in range(8)],  # 0.0005 -> 0.031: steady x1.8 per size
    }
    for fam, ys in curves.items():
        for i, y in enumerate(ys):
            rows.append(
                dict(
                    task="t",
                    metric="exact_match",
                    family=fam,
                    model=f"{fam}{i}",
                    size=10.0 ** (6 + i),
                    score=y,
                )
            )
    table = tmp_path / "scores.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    out = tmp_path / "out"
    assert main(["bigbench-null", "--table", str(table), "--out", str(out), "--n-draws", "50"]) == 0
    printed = capsys.readouterr().out
    assert "not scorable (fewer than 3 sizes): 1 triplets (1 with 2 sizes" in printed
    assert "threshold unreachable (3 sizes, |E| <= 2): 1" in printed
    t = pd.read_csv(out / "permutation_exact_triplets.csv").set_index("family")
    assert t.loc["three", "emergent"] == "unreachable" and t.loc["three", "min_p"] == 1 / 6
    assert bool(t.loc["step8", "exact"]) and t.loc["step8", "p"] < 0.01
    assert t.loc["step8", "emergent"] == "emergent"
    # the engine's rule: no label "emergent" without a real rise (5% of exact match's range), whatever E and p say
    assert t.loc["flat8", "E"] >= 10 and t.loc["flat8", "q"] <= 0.05
    assert t.loc["flat8", "emergent"] == "no real rise"
    # ... and its ratio rule: exact match has floor 0 and no chance level, so a 40-fold rise is real
    assert t.loc["low8", "E"] >= 10 and t.loc["low8", "emergent"] == "emergent"
    # a steady geometric rise near 0 (a power law) has a large Eq. 1 on its values, but not on its log
    assert t.loc["geo8", "E"] >= 10 and t.loc["geo8", "emergent"] == "not emergent"


def test_binomial_null_is_a_choice_for_tables_with_n_items(tmp_path, capsys):
    rows = []
    for fam, ys in {"jump": [0.0, 0.0, 0.01, 0.02, 0.9], "line": [0.1, 0.3, 0.5, 0.7, 0.9]}.items():
        for i, y in enumerate(ys):
            for metric, v in (("exact_match", y), ("brier_score", 1 - y)):
                rows.append(dict(task="t", metric=metric, family=fam, model=f"{fam}{i}", size=10.0 ** (6 + i),
                                 score=v, n_items=200))  # fmt: skip
    table = tmp_path / "scores.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    out = tmp_path / "out"
    assert main(["bigbench-null", "--table", str(table), "--out", str(out), "--n-draws", "400",
                 "--nulls", "binomial"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "binomial null" in printed and "per metric" in printed
    t = pd.read_csv(out / "null_triplet_pvalues.csv").set_index(["family", "metric"])
    # the binomial null applies to shares of items only; a one-step curve is far from smooth truth + binomial noise
    assert t["p_binomial"].loc[[("jump", "brier_score"), ("line", "brier_score")]].isna().all()
    assert t.loc[("jump", "exact_match"), "p_binomial"] < 0.01 < t.loc[("line", "exact_match"), "p_binomial"]
    # without n_items: one clear error
    pd.DataFrame(rows).drop(columns="n_items").to_csv(table, index=False)
    with pytest.raises(InputError, match="n_items"):
        main(["bigbench-null", "--table", str(table), "--out", str(out), "--nulls", "binomial"])
