"""Intervals and verdicts of ``claims`` on a fabricated sweep (items x seeds from per_item.npz)."""

from __future__ import annotations

import numpy as np

from src.analysis.__main__ import main
from src.analysis.sweeps.claims import claim_intervals
from src.analysis.sweeps.loading import load_sweeps
from tests.analysis.sweep_factory import make_sweep


def test_claim_intervals_nested_bootstrap_and_paired_verdicts(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4, 8, 16, 32), seeds=(0, 1), n=400)
    stats, pairs = claim_intervals(load_sweeps([sweep]), n_boot=60, progress=False)
    s = stats.set_index("metric")
    assert (s["interval_source"] == "items x seeds").all()
    assert (s["E_lo"] <= s["E"]).all() and (s["E"] <= s["E_hi"]).all()
    assert s.loc["test/acc", "resolution"] == 1 / 800  # one item of 400, averaged over 2 seeds
    assert (s["threshold_status"] == "ok").all() and set(s["verdict"]) <= {"emergent", "not emergent"}
    assert s.loc["test/ce", "change_lo"] > 0  # falling cross-entropy, oriented: an improvement
    assert {"basis", "diff", "diff_lo", "diff_hi", "verdict", "paired"} <= set(pairs.columns)
    assert pairs["paired"].all()  # the same resampled items for both metrics
    assert set(pairs["smooth"]) == {"test/acc", "test/ce"} and "test/subset_acc_k=1" not in set(
        pairs["sharp"]
    )
    assert np.isfinite(pairs["diff"]).all()


def test_claims_cli_prints_intervals_and_verdict_rule(tmp_path, capsys):
    sweep = make_sweep(tmp_path, widths=(1, 4, 16), seeds=(0,), n=300)
    out = tmp_path / "out"
    assert main(["claims", str(sweep), "--out", str(out), "--intervals", "30"]) == 0
    printed = capsys.readouterr().out
    assert "too few sizes" in printed  # 3 sizes: E <= 2 < 10
    assert (out / "claims_test_intervals.csv").is_file()
