"""Arithmetic analyses on a simulated family (per-digit accuracy p known): Fig. 3 table and claims, Fig. 4
resolution, prediction 3, and the three CLI commands on a small JSONL fixture."""

import math

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.arithmetic.scoring import (
    model_table,
    prediction3_table,
    resolution_summary,
    resolution_table,
    score_items,
)
from src.results.outputs import load_outputs
from tests.analysis.arith_factory import PS, SIZES, simulate


@pytest.fixture(scope="module")
def sim_items(tmp_path_factory):
    path = simulate(tmp_path_factory.mktemp("sim") / "outputs.jsonl", n_items=400, n_extra=1600)
    return score_items(load_outputs([path]))


def test_model_table_means_match_direct_computation(sim_items):
    table = model_table(sim_items)
    test = sim_items[sim_items["subset"] == "test"]
    one = test[test["model"] == "sim-10000"]
    row = table[(table["model"] == "sim-10000") & (table["metric"] == "test/exact_match_l=5")]
    five = one["exact_match_l=5"].dropna()
    assert row["value"].item() == pytest.approx(five.mean()) and row["n_items"].item() == len(five)
    # the simulated per-digit accuracy comes back at L=1, and the target probability is p^L exactly
    for size, p in zip(SIZES, PS, strict=True):
        vals = table[table["model"] == f"sim-{size}"].set_index("metric")["value"]
        assert vals["test/exact_match_l=1"] == pytest.approx(p, abs=0.08)
        assert vals["test/target_prob_l=3"] == pytest.approx(p**3)
        assert vals["test/edit_distance_l=4"] == pytest.approx(4 * (1 - p), abs=0.25)
    assert set(table["replicate"]) == {"0"} and table["scale"].nunique() == len(SIZES)


def test_prediction3_recovers_the_geometric_and_linear_laws(sim_items):
    pred = prediction3_table(model_table(sim_items))
    assert len(pred) == len(SIZES)
    # R^2 needs variation over L: near p = 1 accuracy barely changes with L and sampling noise dominates
    good = pred[(pred["p_l1"] > 0.3) & (pred["p_l1"] < 0.95)]
    assert len(good) >= 2 and (good["r2_acc"] > 0.9).all() and (good["r2_ed"] > 0.9).all()
    assert (good["r2_ed_fit"] > 0.95).all() and (pred["r2_ed_fit"] > 0.8).all()
    np.testing.assert_allclose(pred.sort_values("scale")["q_fit"], PS, atol=0.08)


def test_prediction3_fails_where_errors_are_not_independent():
    # a model that gets the first digit right always and every later digit wrong: acc(L) = 1, 0, 0, ... not p^L
    rows = [{"source": "s", "task": "t", "family": "f", "model": "m", "scale": 1.0,
             "metric": f"test/{m}_l={L}", "value": v}
            for L in range(1, 5) for m, v in (("exact_match", float(L == 1)), ("edit_distance", L - 1.0))]  # fmt: skip
    pred = prediction3_table(pd.DataFrame(rows)).iloc[0]
    assert pred["p_l1"] == 1.0 and pred["r2_acc"] < 0 and pred["r2_ed"] < 0


def test_resolution_more_items_fewer_zero_readings(sim_items):
    res = resolution_table(sim_items, sizes=[20, 400, 2000], max_len=5)
    summary = resolution_summary(res).set_index("n_items")
    assert summary.loc[20, "zero_readings"] > summary.loc[2000, "zero_readings"]
    small = res[(res["scale"] == SIZES[0]) & (res["L"] == 3)].set_index("n_items")
    assert small.loc[2000, "n_scored"] > small.loc[400, "n_scored"]
    # first n items: the 400 test items come before the extra ones
    assert (
        small.loc[400, "n_scored"]
        == sim_items[(sim_items["model"] == "sim-1000") & (sim_items["subset"] == "test")]["exact_match_l=3"]
        .notna()
        .sum()
    )
    zero = res[res["accuracy"] == 0].iloc[0]
    assert zero["upper95"] == pytest.approx(1 - 0.05 ** (1 / zero["n_scored"]))


def test_cli_commands_on_a_jsonl_fixture(tmp_path, capsys):
    path = simulate(tmp_path / "sweep" / "run" / "outputs.jsonl", n_items=150, n_extra=450)
    assert main(["arith-fig3", str(tmp_path / "sweep")]) == 0
    out = tmp_path / "sweep" / "arithmetic"
    for name in ("arithmetic_table.csv", "claims.csv", "claims_verdict.csv",
                 "fig3_sim_four_digit_addition.png", "fig3_sim_four_digit_addition.pdf"):  # fmt: skip
        assert (out / name).is_file(), name
    claims = pd.read_csv(out / "claims.csv")
    assert {"test/exact_match_l=5", "test/edit_distance_l=5"} <= set(claims["metric"])
    assert claims["emergence_score"].notna().all()
    verdict = pd.read_csv(out / "claims_verdict.csv").iloc[0]
    assert verdict["median_E_sharp"] > verdict["median_E_smooth"]
    # premise check on the per-token error rate, 1 - whole-answer per-token accuracy, one point per size
    premise = pd.read_csv(out / "premise.csv").iloc[0]
    assert premise["quantity"].startswith("per-token error rate") and premise["n_sizes"] == len(SIZES)
    table = pd.read_csv(out / "arithmetic_table.csv")
    token_acc = table[table["metric"] == "test/token_acc"].sort_values("scale")["value"].to_numpy()
    resid = pd.read_csv(out / "premise_residuals.csv").sort_values("scale")
    assert np.allclose(resid["loss"], 1.0 - token_acc)
    places = pd.read_csv(out / "places.csv")
    assert set(places["place"]) == {1, 2, 3, 4, 5} and (out / "places_sim_four_digit_addition.png").is_file()
    assert len(pd.read_csv(out / "place_fits.csv")) == 5
    assert main(["arith-fig4", str(path), "--out", str(tmp_path / "f4"), "--sizes", "15,150,600"]) == 0
    summary = pd.read_csv(tmp_path / "f4" / "resolution_summary.csv")
    assert (
        list(summary["n_items"]) == [15, 150, 600]
        and (tmp_path / "f4" / "fig4_sim_four_digit_addition.png").is_file()
    )
    assert main(["arith-pred3", str(path), "--out", str(tmp_path / "p3")]) == 0
    pred = pd.read_csv(tmp_path / "p3" / "prediction3.csv")
    assert len(pred) == len(SIZES) and not math.isnan(pred["r2_ed"].iloc[-1])
    assert "Prediction 3" in capsys.readouterr().out


def test_resolution_figure_draws_one_line_point_per_size_through_the_seed_mean():
    from src.analysis.arithmetic.scoring import resolution_figure

    rows = []
    for n_params, accs in ((100, (0.0, 0.0)), (1000, (0.0, 0.5)), (10_000, (1.0, 0.9))):
        for seed, acc in enumerate(accs):
            rows.append({"family": "f", "model": f"m{n_params}-{seed}", "scale": n_params, "task": "t",
                         "n_items": 100, "L": 1, "n_scored": 100, "n_correct": int(acc * 100), "accuracy": acc,
                         "upper95": 1.0})  # fmt: skip
    fig = resolution_figure(pd.DataFrame(rows))
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "L=1")
    assert line.get_xdata().tolist() == [100.0, 1000.0, 10_000.0]
    # the mean of the seeds; a size where every seed reads 0 sits at 1/(2n)
    assert np.allclose(line.get_ydata(), [0.005, 0.25, 0.95])
