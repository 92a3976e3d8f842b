"""The bigbench-* analysis commands, in process, on small tables written here."""

from __future__ import annotations

import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.results.errors import InputError

SIZES = [1e8, 3e8, 1e9, 3e9, 1e10, 3e10]
BRIER = "brier_score_target_prob_renormalized"


def lab_table(path):
    """Family Step: MCG jumps once (E = 51), Brier smooth (E = 5). Family Smooth: both smooth."""
    curves = {
        ("Step", "multiple_choice_grade"): [0.25, 0.26, 0.25, 0.26, 0.75, 0.76],
        ("Step", BRIER): [0.80, 0.70, 0.60, 0.50, 0.40, 0.30],
        ("Smooth", "multiple_choice_grade"): [0.30, 0.35, 0.40, 0.45, 0.50, 0.55],
        ("Smooth", BRIER): [0.60, 0.55, 0.50, 0.45, 0.40, 0.35],
    }
    rows = [
        {
            "task": "t",
            "metric": metric,
            "model_family": fam,
            "model": f"{fam}-{i}",
            "billions": s / 1e9,
            "score": y,
        }
        for (fam, metric), ys in curves.items()
        for i, (s, y) in enumerate(zip(SIZES, ys, strict=True))
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def wei_files(tmp_path):
    ann = tmp_path / "wei.csv"
    meta = tmp_path / "meta.csv"
    pd.DataFrame({"task": ["a", "b", "c"], "wei_appendixE_category": ["emergent_palm", "emergent_palm", "flat"],
                  "emergent": [True, True, False], "emergent_model_family": ["PaLM", "PaLM", None]}).to_csv(ann, index=False)  # fmt: skip
    pd.DataFrame(
        {"task": ["a", "b", "c"], "preferred_score": ["multiple_choice_grade", "bleu", "exact_str_match"]}
    ).to_csv(meta, index=False)
    return ann, meta


def test_bigbench_all_writes_figures_and_their_tables(tmp_path, capsys):
    table = lab_table(tmp_path / "lab.csv")
    ann, meta = wei_files(tmp_path)
    out = tmp_path / "out"
    argv = ["bigbench-all", "--table", str(table), "--column", "family=model_family", "--column", "size=billions",
            "--size-scale", "1e9", "--annotations", str(ann), "--metadata", str(meta), "--n-draws", "30",
            "--out-dir", str(out)]  # fmt: skip
    assert main(argv) == 0
    for name in ("fig5a_emergence_by_metric", "fig5bc_wei_emergence_by_metric", "fig6_scatter", "fig6_curves_Step",
                 "null_expected_vs_observed"):  # fmt: skip
        for ext in ("png", "pdf"):
            assert (out / f"{name}.{ext}").stat().st_size > 1000
    pairs = pd.read_csv(out / "fig6_mcg_vs_brier.csv").set_index("family")
    assert pairs.loc["Step", "emergence_mcg"] == pytest.approx(51.0) and pairs.loc["Step", "disappears"]
    assert (
        pairs.loc["Smooth", "emergence_mcg"] == pytest.approx(5.0) and not pairs.loc["Smooth", "disappears"]
    )
    scores = pd.read_csv(out / "fig5a_triplet_scores.csv")
    assert scores.min_size.min() == pytest.approx(1e8) and scores.max_size.max() == pytest.approx(3e10)
    null = pd.read_csv(out / "null_expected_vs_observed.csv")
    assert set(null.null) == {"permutation", "noise"} and (null[null.threshold == 10].observed == 1).all()
    text = capsys.readouterr().out
    assert "MCG emergence that disappears under Brier: 1 (threshold 10)" in text
    assert "50.0% (50.0% of those with a preferred metric; the paper says >92%)" in text


def test_default_inputs_need_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DATA_DIR", raising=False)
    with pytest.raises(InputError, match="DATA_DIR is not set"):
        main(["bigbench-fig5a", "--out-dir", str(tmp_path)])
    with pytest.raises(InputError, match="--column expects NAME=VALUE"):
        main(["bigbench-fig5a", "--table", "x.csv", "--column", "family", "--out-dir", str(tmp_path)])
