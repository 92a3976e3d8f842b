"""One lab table, ingested once, through every command that reads evidence; and a sweep folder gives the same claim
tables whichever way it becomes the evidence table (loaded, read by the reader registry, ingested to a file)."""

from __future__ import annotations

import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.sweeps.claims import claim_table, claim_verdicts
from src.analysis.sweeps.loading import load_sweeps
from src.results.errors import InputError
from tests.analysis.core.evidence_factory import (
    DECLARE_FLAGS,
    FAMILIES,
    INGEST_FLAGS,
    N_ROWS,
    write_per_run_table,
)
from tests.analysis.sweep_factory import make_sweep


def wei_files(tmp_path):
    ann, meta = tmp_path / "wei.csv", tmp_path / "meta.csv"
    pd.DataFrame({"task": ["a", "b"], "wei_appendixE_category": ["emergent_palm", "flat"], "emergent": [True, False],
                  "emergent_model_family": ["PaLM", None]}).to_csv(ann, index=False)  # fmt: skip
    pd.DataFrame(
        {"task": ["a", "b"], "preferred_score": ["multiple_choice_grade", "exact_str_match"]}
    ).to_csv(meta, index=False)
    return ["--annotations", str(ann), "--metadata", str(meta)]


def test_every_command_on_one_ingested_table(tmp_path, capsys):
    raw = write_per_run_table(tmp_path / "runs.csv")
    ev_stem = tmp_path / "ev" / "evidence"  # --out is a directory: evidence.parquet / .csv go into it
    assert main(["ingest", str(raw), *INGEST_FLAGS, "--out", str(ev_stem.parent)]) == 0
    ev = pd.read_parquet(ev_stem.with_suffix(".parquet"))
    assert len(ev) == N_ROWS and len(pd.read_csv(ev_stem.with_suffix(".csv"))) == N_ROWS
    table = str(ev_stem.with_suffix(".parquet"))
    out = tmp_path / "out"

    assert main(["figure", table, *DECLARE_FLAGS, "--max-figures", "2", "--out", str(out / "figure")]) == 0
    pngs = sorted(p.name for p in (out / "figure").glob("*.png"))
    # 3 composite tasks x 2 families = 6 (task, family) groups: the 2 strongest drawn, then one summary of all
    assert len(pngs) == 3 and "summary_test_emergence_by_metric.png" in pngs
    summary = pd.read_csv(out / "figure" / "summary_test_emergence_by_metric.csv")
    assert summary.groupby(["task", "family"]).ngroups == 3 * len(FAMILIES)

    assert main(["claims", table, *DECLARE_FLAGS, "--out", str(out / "claims")]) == 0
    claims = pd.read_csv(out / "claims" / "claims_test.csv")
    em = claims[
        (claims.metric == "exact_match") & (claims.family == "Alpha") & (claims.task == "add/plain/0")
    ]
    assert em.iloc[0].n_sizes == 5 and em.iloc[0].sharpness == "sharp"
    assert (out / "claims" / "claims_test_verdict.csv").is_file()

    assert (
        main(["backtest", table, *DECLARE_FLAGS, "--max-figures", "1", "--out", str(out / "backtest")]) == 0
    )
    assert len(list((out / "backtest").glob("backtest_*_test.png"))) == 1
    bt = pd.read_csv(out / "backtest" / "backtest_test.csv")
    assert bt.groupby(["task", "family"]).ngroups == 3 * len(FAMILIES)

    fig6 = ["--mcg-metric", "exact_match", "--brier-metric", "edit_distance_char"]
    extra = {"bigbench-fig5a": [], "bigbench-fig6": fig6, "bigbench-null": ["--n-draws", "20"],
             "bigbench-all": [*fig6, "--n-draws", "20", *wei_files(tmp_path)]}  # fmt: skip
    for command, flags in extra.items():
        assert main([command, table, *DECLARE_FLAGS, *flags, "--out", str(out / command)]) == 0, command
    fig5a = pd.read_csv(out / "bigbench-fig5a" / "fig5a_triplet_scores.csv")
    assert set(fig5a.metric) == {"exact_match", "edit_distance_char", "bertscore_f1"}
    assert (
        fig5a.n_models == fig5a.n_sizes
    ).all()  # seeds averaged into one score per model, not counted as models
    pairs = pd.read_csv(out / "bigbench-fig6" / "fig6_mcg_vs_brier.csv", keep_default_na=False)
    assert len(pairs) == 3 * len(FAMILIES) and set(pairs.brier_note) == {""}
    for name in ("fig6_scatter.png", "fig6_curves_Alpha.png", "null_expected_vs_observed.png"):
        assert (out / "bigbench-all" / name).stat().st_size > 1000


def test_a_sweep_gives_identical_claim_tables_however_it_becomes_evidence(tmp_path):
    from src.analysis.core.readers import ReadOptions
    from src.analysis.families.readers.formats import read_sweep

    sweep = make_sweep(tmp_path, widths=(1, 2, 4, 8, 16), seeds=(0, 1))
    old = claim_table(load_sweeps([sweep]))
    assert len(old) > 4 and old["emergence_score"].notna().all()
    via_reader = claim_table(read_sweep([sweep], ReadOptions()).table)
    pd.testing.assert_frame_equal(old, via_reader)
    pd.testing.assert_frame_equal(claim_verdicts(old), claim_verdicts(via_reader))
    # the command (sweep dir -> evidence -> claims) writes the same table; so does an ingested copy of the sweep
    assert main(["claims", str(sweep), "--out", str(tmp_path / "a")]) == 0
    written = pd.read_csv(tmp_path / "a" / "claims_test.csv")
    expected = pd.read_csv(_roundtrip_csv(old, tmp_path / "old.csv"))
    pd.testing.assert_frame_equal(written, expected)
    assert main(["ingest", str(sweep), "--out", str(tmp_path / "ev")]) == 0
    assert (tmp_path / "ev" / "evidence.items.parquet").is_file()  # per-item outcomes beside the evidence
    assert main(["claims", str(tmp_path / "ev" / "evidence.parquet"), "--out", str(tmp_path / "b")]) == 0
    again = pd.read_csv(tmp_path / "b" / "claims_test.csv")
    cols = ["task", "family", "metric", "n_sizes", "emergence_score", "e_seed_min", "e_seed_max"]
    pd.testing.assert_frame_equal(again[cols], expected[cols])


def _roundtrip_csv(df, path):
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("flag", ["--out", "--out-dir"])
def test_out_everywhere_with_the_old_name_as_alias(tmp_path, flag):
    raw = write_per_run_table(tmp_path / "runs.csv")
    argv = ["bigbench-fig5a", str(raw), *INGEST_FLAGS, *DECLARE_FLAGS, flag, str(tmp_path / "o")]
    assert main(argv) == 0 and (tmp_path / "o" / "fig5a_triplet_scores.csv").is_file()


def test_a_gap_in_a_metric_the_command_ignores_is_no_error(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,))
    rec = sweep / "model.width=2,seed=0" / "metrics.json"
    rec.write_text(rec.read_text().replace('"val/subset_acc_k=2"', '"val/other"'))
    assert main(["claims", str(sweep), "--out", str(tmp_path / "a")]) == 0  # claims reads test/ metrics only
    with pytest.raises(InputError, match="lack metric"):
        main(["claims", str(sweep), "--split", "val", "--out", str(tmp_path / "b")])
