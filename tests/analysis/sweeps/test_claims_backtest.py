"""Claim table, predictability backtest and W&B logging on fabricated sweeps with known shapes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.sweeps.backtest import backtest, fit_power_law
from src.analysis.sweeps.claims import claim_table, claim_verdicts
from src.analysis.sweeps.loading import load_sweeps
from tests.analysis.sweep_factory import make_autoencoder_sweep, make_sweep, num_params

WIDTHS = (1, 2, 4, 8, 16, 32, 64, 128)


def _power_law_acc(width: float) -> float:
    """Accuracy whose error falls as a power law in parameters: 1 - acc = 0.9 * (N / N(1)) ** -0.5."""
    return 1.0 - 0.9 * (num_params(width) / num_params(1)) ** -0.5


def test_claim_table_orients_scores_and_flags_the_identity_metric(tmp_path):
    sweep = make_sweep(tmp_path, widths=WIDTHS, seeds=(0, 1), n=2000, p_fn=_power_law_acc)
    claims = claim_table(load_sweeps([sweep])).set_index("metric")
    assert claims.loc["test/ce", "emergence_score"] > 0  # falling CE is improvement
    assert claims.loc["test/subset_acc_k=1", "identity"] and not claims.loc["test/subset_acc_k=5", "identity"]
    assert claims.loc["test/subset_acc_k=1", "emergence_score"] == pytest.approx(
        claims.loc["test/acc", "emergence_score"]
    )
    row = claims.loc["test/subset_acc_k=5"]
    assert row["e_seed_min"] <= row["e_seed_max"] and row["n_sizes"] == len(WIDTHS)
    # independent Eq. 1 on the seed-mean K=5 curve
    table = load_sweeps([sweep])
    y = table[table["metric"] == "test/subset_acc_k=5"].groupby("scale")["value"].mean().sort_index()
    steps = np.diff(y.to_numpy())
    expected = (y.max() - y.min()) / math.sqrt(np.median(steps**2))
    assert row["emergence_score"] == pytest.approx(expected)


def test_verdicts_count_sharp_over_smooth_pairs():
    claims = pd.DataFrame({
        "source": "s", "task": "t",
        "metric": ["test/acc", "test/ce", "test/subset_acc_k=1", "test/subset_acc_k=2", "test/subset_acc_k=3"],
        "sharpness": ["smooth", "smooth", "sharp", "sharp", "sharp"],
        "identity": [False, False, True, False, False],
        "emergence_score": [4.0, 5.0, 4.0, 4.5, math.inf],
        "largest_step_share": [0.2, 0.2, 0.2, 0.3, 1.0],
    })  # fmt: skip
    v = claim_verdicts(claims).iloc[0]
    # pairs (sharp K=2, K=3) x (acc, ce): 4.5>4, 4.5<5, inf>4, inf>5 -> 3/4; K=1 left out
    assert v["n_sharp"] == 2 and v["p_sharp_gt_smooth"] == pytest.approx(0.75)
    assert v["p_step_share_sharp_gt_smooth"] == pytest.approx(1.0)


def test_power_law_fit_recovers_a_power_law():
    n = np.logspace(3, 6, 8)
    acc = 1 - 2.0 * n**-0.4
    pred = fit_power_law(n[:4], acc[:4], higher_is_better=True)(n[4:])
    np.testing.assert_allclose(pred, acc[4:], rtol=1e-8)
    ce = 3.0 * n**-0.2
    np.testing.assert_allclose(fit_power_law(n[:3], ce[:3], higher_is_better=False)(n[3:]), ce[3:], rtol=1e-8)
    bleu = 100 - 80.0 * n**-0.3  # a score bounded by 100: the gap to the declared bound is the power law
    np.testing.assert_allclose(fit_power_law(n[:3], bleu[:3], True, upper=100.0)(n[3:]), bleu[3:], rtol=1e-8)


def test_backtest_via_the_smooth_metric_beats_the_direct_fit_on_a_power_law_family(tmp_path):
    # accuracy follows a power law exactly (up to test-set noise); subset accuracy = C(m,K)/C(n,K) ~ acc^K
    sweep = make_sweep(tmp_path, widths=WIDTHS, seeds=(0,), n=5000, p_fn=_power_law_acc)
    summary, points = backtest(load_sweeps([sweep]))
    s = summary.set_index(["metric", "method"])
    assert s.loc[("test/acc", "direct"), "mae"] < 0.01
    for k in (3, 4, 5):
        direct = s.loc[(f"test/subset_acc_k={k}", "direct"), "mae"]
        via = s.loc[(f"test/subset_acc_k={k}", "via_smooth"), "mae"]
        assert via < 0.02 and via < direct / 3, (k, via, direct)
        assert s.loc[(f"test/subset_acc_k={k}", "via_smooth_measured"), "mae"] < 0.002
    assert set(points["scale"]) == {float(num_params(w)) for w in WIDTHS[4:]}
    assert ("test/ce", "via_smooth") not in s.index  # smooth metrics have no model map


def test_backtest_needs_three_sizes(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 2), seeds=(0,))
    with pytest.raises(ValueError, match="at least 3 model sizes"):
        backtest(load_sweeps([sweep]))


def test_claims_and_backtest_cli_write_their_tables(tmp_path, capsys):
    sweep = make_sweep(tmp_path, widths=(1, 4, 16, 64), seeds=(0,), n=300)
    out = tmp_path / "out"
    assert main(["claims", str(sweep), "--out", str(out), "--intervals", "0"]) == 0
    printed = capsys.readouterr().out
    assert "p_sharp_gt_smooth" in printed and (out / "claims_test.csv").is_file()
    assert len(pd.read_csv(out / "claims_test.csv")) == 7
    assert main(["backtest", str(sweep), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "via_smooth" in printed and (out / "backtest_lenet_mnist_test.png").is_file()
    # the shaping flags of the ladder mode hold here too: --where keeps the rows it names
    assert main(["backtest", str(sweep), "--where", "metric=test/acc", "--out", str(out / "w")]) == 0
    assert "note: filters left" in capsys.readouterr().out
    assert set(pd.read_csv(out / "w" / "backtest_lenet_mnist_test.csv")["metric"]) == {"test/acc"}


@pytest.mark.slow  # starts the W&B service (~10 s)
def test_wandb_logs_an_offline_analysis_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    sweep = make_sweep(tmp_path, widths=(1, 4, 16), seeds=(0,), n=200)
    out = tmp_path / "out"
    assert main(["claims", str(sweep), "--out", str(out), "--wandb"]) == 0
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].rglob("*.wandb"))
    assert "W&B run:" in capsys.readouterr().out


def test_backtest_predicts_reconstruction_c_from_the_mean_error_through_a_gamma_model(tmp_path):
    sweep = make_autoencoder_sweep(tmp_path)
    summary, _ = backtest(load_sweeps([sweep]))
    s = summary.set_index(["metric", "method"])
    for c in ("20", "40", "80"):
        direct = s.loc[(f"test/recon_c={c}", "direct"), "mae"]
        via = s.loc[(f"test/recon_c={c}", "via_smooth"), "mae"]
        measured = s.loc[(f"test/recon_c={c}", "via_smooth_measured"), "mae"]
        assert measured < 0.02 and via < 0.05 and via < direct, (c, direct, via, measured)
    # without per-item arrays there is no shape to calibrate: no model prediction, no crash
    for npz in sweep.rglob("per_item.npz"):
        npz.unlink()
    summary, _ = backtest(load_sweeps([sweep]))
    assert set(summary["method"]) <= {"direct", "saturating"}  # no model-map method


def test_backtest_saturating_fit_recovers_an_irreducible_error(tmp_path):
    # accuracy saturating below 1: 1 - acc = 0.2 + 0.7 (N/N1)^-0.5; the two-parameter law cannot bend, the
    # saturating one predicts the large models; errors also as relative error and share of range
    sweep = make_sweep(tmp_path, widths=WIDTHS, seeds=(0,), n=20000,
                       p_fn=lambda w: 0.8 - 0.7 * (num_params(w) / num_params(1)) ** -0.5)  # fmt: skip
    summary, _ = backtest(load_sweeps([sweep]))
    s = summary.set_index(["metric", "method"])
    assert s.loc[("test/acc", "saturating"), "mae"] < 0.5 * s.loc[("test/acc", "direct"), "mae"]
    assert s.loc[("test/acc", "saturating"), "mean_rel_err"] < 0.02
    assert {"mean_rel_err", "range_share"} <= set(summary.columns)
