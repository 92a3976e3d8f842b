"""The ladder prediction (issue 22): known-truth synthetic ladders, calibrated intervals, and one test per friction
of the first ladder backtest (fit set, target, task averages, chance, tables of any family, guards, no interval,
the figure crash)."""

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main, run
from src.analysis.core.evidence import normalize
from src.analysis.stats import ladder_data as data
from src.analysis.stats import ladder_eval as le
from src.analysis.stats.ladder_methods import fit_loglogistic, fit_method
from src.results.errors import InputError
from tests.analysis.stats import ladder_factory as lf

CH = {"t": 0.25}


def _truth():
    _, n, m = lf.TARGET
    return float(lf.true_acc(lf.true_loss(n, 20 * n * m)))


def test_loglogistic_step2_recovers_the_law_and_the_two_step_predicts_the_target():
    lv = np.linspace(0.8, 1.6, 50)
    f = fit_loglogistic(lv, lf.true_acc(lv), 0.25)
    assert f.params["L0"] == pytest.approx(lf.LAW["L0"], rel=1e-4) and f.params["k"] == pytest.approx(
        5.0, rel=1e-4
    )
    ev = lf.ladder(np.random.default_rng(1), run_sd=0.0, ck_sd=0.001)
    tab, _, _ = le.run(
        ev, ["t"], "big", data.FitSet(), methods=("two_step_loglogistic",), chance_flags=CH, n_boot=0
    )
    r = tab.iloc[0]
    assert r["guard"] == "" and r["pred"] == pytest.approx(_truth(), abs=0.005)
    assert r["loss_pred"] == pytest.approx(lf.true_loss(7e9, 20 * 7e9 * 20), abs=0.005)


def test_calibrated_90_percent_intervals_cover_about_90_percent_over_many_draws():
    """10 noisy ladders of one known law, 3 targets each (3.2B to 14B): the targets inside their calibrated 90%
    intervals about 90% of the time, and the intervals not blown up (median half-width within a factor 2 of 1.645 x
    the predictions' actual sd); the uncalibrated bootstrap (q = 1.645) covers less: its sd misses the run-to-run
    spread."""
    hits, halves, errs, naive, calib = [], [], [], [], []
    for s in range(10):
        ev = lf.ladder(np.random.default_rng(100 + s), n_ck=3, sizes=lf.SIZES[1:], target=lf.TARGETS)
        td = le.task_data(ev, "t", ("acc",), "bpb", 1, CH, {})
        td.fin = td.fin[~td.fin["model"].isin([t[0] for t in lf.TARGETS])]
        targets = data.finals(td.ck[td.ck["model"].isin([t[0] for t in lf.TARGETS])])
        meth = ("two_step_loglogistic",)
        inner = le.backtest_inner(td, data.FitSet(), 3e9, meth, 0.1, n_boot=8, seed=s)
        tab = le.predict_runs(td, td.fin, targets, meth, 0.1, n_boot=8, seed=s)
        tab = le.add_intervals(tab, le.quantiles(inner), 0.9)
        hits += tab["covers"].astype(bool).tolist()
        halves += ((tab["hi"] - tab["lo"]) / 2).tolist()
        errs += tab["err"].tolist()
        naive += (tab["err"].abs() <= 1.645 * tab["boot_sd"]).tolist()
        calib.append(le.calibration(inner, levels=(0.9,)).iloc[0][["covered", "held_out"]].to_numpy())
    sd = float(np.sqrt(np.mean(np.square(errs))))
    assert len(hits) == 30 and np.mean(hits) >= 0.8  # 0.956 over 90 targets (30 draws): a bit conservative
    assert 0.5 * 1.645 * sd <= np.median(halves) <= 2.0 * 1.645 * sd
    assert np.mean(naive) < np.mean(hits)
    covered, held = np.sum(calib, axis=0)
    assert (
        0.75 <= covered / held <= 0.97
    )  # leave-one-fold-out inside each ladder: 4 folds, small-sample quantiles


def _runs(models):
    return pd.DataFrame(models, columns=["model", "replicate", "scale", "mult"])


def test_fit_set_by_size_times_multiplier_and_reruns_out():
    runs = _runs([("1B-1xC", "", 1.28e9, 1.0), ("1B-1xC", "rerun", 1.28e9, 1.0), ("1B-0.5xC", "", 1.28e9, 0.5),
                  ("3B-2xC", "", 3.2e9, 2.0), ("190M-10xC", "", 1.9e8, 10.0), ("190M-5xC", "", 1.9e8, 5.0)])  # fmt: skip
    m = data.FitSet(max_scale=1.3e9, mults=(1, 2, 10), reruns=False).mask(runs)
    assert runs.loc[m, "model"].tolist() == ["1B-1xC", "190M-10xC"]
    m = data.FitSet(mults=(1,), reruns=True, exclude=("3B*",)).mask(runs)
    assert runs.loc[m, "replicate"].tolist() == ["", "rerun"]


def _ck(rows):
    return pd.DataFrame(
        rows, columns=["model", "replicate", "checkpoint", "scale", "tokens", "step", "acc", "loss", "mult"]
    )


def test_target_is_the_anneal_by_default_and_last_k_averages_the_last_evaluations():
    main_run = [
        ("big", "", f"step{i}", 7e9, 1e12 * i, float(i), 0.5 + 0.01 * i, 1.0 - 0.01 * i, np.nan)
        for i in range(1, 7)
    ]
    ck = _ck([*main_run, ("big", "", "anneal", 7e9, 6.5e12, np.nan, 0.7, 0.8, np.nan)])
    t = data.target_value(ck, "big", "final", last_k=5)
    assert t["acc"] == 0.7 and t["tokens"] == 6.5e12 and t["n_evals"] == 1
    t = data.target_value(ck, "big", "last-step", last_k=3)
    assert t["acc"] == pytest.approx(np.mean([0.54, 0.55, 0.56])) and t["tokens"] == 6e12
    f = data.finals(ck, last_k=2)  # a run's final value leaves the anneal out: it is a model of its own
    assert f["acc"].iloc[0] == pytest.approx(0.555) and f["tokens"].iloc[0] == 6e12


def test_task_average_is_the_weighted_mean_of_its_splits():
    ev = lf.ladder(np.random.default_rng(0), n_ck=2)
    ev2 = ev.assign(task="u", value=ev["value"] + 0.1)
    both = pd.concat([ev, ev2], ignore_index=True)
    name, members = data.parse_average("avg=t:1,u:3")
    out = data.add_average(both, name, members)
    a = out[out["task"] == "avg"].set_index(["model", "checkpoint", "metric"])["value"]
    t = ev.set_index(["model", "checkpoint", "metric"])["value"]
    assert np.allclose(a.loc[t.index], t + 0.075)
    with pytest.raises(InputError, match="not in the table"):
        data.add_average(both, "x", {"t": 1, "nope": 1})


def test_chance_flag_wins_over_the_built_in_level():
    from src.analysis.stats.ladder import run_ladder

    ev = lf.ladder(np.random.default_rng(2), n_ck=3, task="piqa_val_rc_5shot")
    table, _ = run_ladder(
        ev, "big", {"small": 2e9}, chance={"piqa_val_rc_5shot": 0.4}, n_boot=2, progress=False
    )
    assert table["chance"].iloc[0] == 0.4  # was 0.5: the built-in glob piqa* came first
    tab, _, _ = le.run(ev, ["piqa_val_rc_5shot"], "big", data.FitSet(), methods=("direct",), n_boot=0,
                       chance_flags={"piqa*": 0.4})  # fmt: skip
    assert (tab["chance"] == 0.4).all() and (tab["chance_source"] == "--chance").all()
    assert data.resolve_chance("piqa_val_rc_5shot", {"piqa*": 0.3, "piqa_val_rc_5shot": 0.4}) == (
        0.4,
        "--chance",
    )
    assert data.resolve_chance("piqa_val_rc_5shot", {}, {"piqa_val_rc_5shot": 0.3}) == (0.3, "table")
    assert data.resolve_chance("piqa_val_rc_5shot", {}) == (0.5, "built-in")
    with pytest.raises(InputError, match="no chance level for task 'qa'"):
        data.resolve_chance("qa", {})


def _family_csv(tmp_path, flat=False, compute_only=False):
    """A plain evidence table of a non-OLMo family (model, scale, task, metric, value, tokens or compute)."""
    rng = np.random.default_rng(3)
    ev = pd.concat(
        [lf.ladder(rng, n_ck=3, task="t"), lf.ladder(rng, n_ck=3, task="f", flat=flat)], ignore_index=True
    )
    ev = ev[["model", "scale", "task", "metric", "value", "checkpoint", "step", "tokens"]].assign(
        family="fam"
    )
    if compute_only:
        ev = ev.assign(compute=6 * ev["scale"] * ev["tokens"]).drop(columns="tokens")
    path = tmp_path / "family.csv"
    ev.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("command", ["backtest", "ladder-backtest"])
def test_any_family_table_runs_through_backtest_without_ladder_files(tmp_path, capsys, command):
    path = _family_csv(tmp_path, flat=True, compute_only=command == "backtest")
    out = tmp_path / "out"
    args = [command, str(path), "--target", "big", "--chance", "t=0.25", "--chance", "f=0.25", "--n-boot", "4",
            "--acc-metric", "acc", "--methods", "direct", "two_step_loglogistic", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    pred = pd.read_csv(out / "ladder_predictions.csv")
    assert {"t", "f"} == set(pred["task"]) and (out / "ladder_calibration.csv").is_file()
    assert (out / "ladder_predictions.png").is_file()
    flat = pred[pred["task"] == "f"]
    assert flat["guard"].str.startswith("flat").all()  # at chance throughout: no number is supported
    row = next(line for line in text.splitlines() if line.strip().startswith("f ") and "--chance" in line)
    assert (
        row.split()[5] == "flat" and row.split()[6] == "-"
    )  # the prediction and its interval are not numbers
    t = pred[(pred["task"] == "t") & (pred["guard"].isna())]
    assert len(t) == pred["method"].nunique() and (t["rel_err"] < 0.1).all()
    assert t.loc[t["method"] == "two_step_loglogistic", "rel_err"].iloc[0] < 0.02  # the law the data follow


def test_prediction_far_beyond_the_fitted_range_is_flagged_not_a_number():
    ev = lf.ladder(np.random.default_rng(4), n_ck=3, target=("huge", 1e13, 100.0))
    tab, _, _ = le.run(ev, ["t"], "huge", data.FitSet(), methods=("direct", "two_step_loglogistic"), chance_flags=CH,
                       n_boot=0)  # fmt: skip
    assert tab["guard"].str.startswith("outside").all()
    assert tab["covers"].isna().all()


def test_no_interval_instead_of_covers_0(capsys, tmp_path):
    from src.analysis.stats.backtest import ladder_backtest
    from src.analysis.stats.ladder import _covers_text

    # 6 fitted runs: a resample of 6 runs nearly never holds 6 distinct ones, so every bootstrap is skipped
    ev = lf.ladder(np.random.default_rng(5), n_ck=4, sizes=lf.SIZES[:3], mults=(1, 2))
    r = ladder_backtest(ev, "t", "big", 2e9, "acc", chance=0.25, n_boot=5)
    assert r["n_boot_ok"] == 0 and r["two_step_covers"] is None and r["direct_covers"] is None
    assert _covers_text(pd.Series([r["two_step_covers"]])) == "no interval"
    # the ladder prediction: a bootstrap that never succeeds gives no interval, printed as such
    path = _family_csv(tmp_path)
    assert main(["backtest", str(path), "--target", "big", "--chance", "t=0.25", "--chance", "f=0.25",
                 "--n-boot", "0", "--out", str(tmp_path / "o"), "--methods", "two_step_loglogistic"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "no interval" in text and "covers: 0" not in text
    pred = pd.read_csv(tmp_path / "o" / "ladder_predictions.csv")
    assert pred["covers"].isna().all()


def test_task_figure_draws_a_prediction_outside_its_own_interval():
    from src.analysis.stats.ladder import run_ladder, task_figure

    ev = lf.ladder(np.random.default_rng(6), n_ck=4)
    table, fits = run_ladder(
        ev, "big", {"small": 2e9}, chance={"t": 0.25}, loss_metric="bpb", n_boot=3, progress=False
    )
    table.loc[0, "two_step_lo"] = (
        table.loc[0, "two_step"] + 0.01
    )  # the percentile interval misses the prediction
    table.loc[0, "direct_hi"] = table.loc[0, "direct"] - 0.01
    fig = task_figure(ev, table, fits, "t", "big")
    assert len(fig.axes) == 2


def test_user_errors_are_one_line(tmp_path, capsys):
    path = _family_csv(tmp_path)
    with pytest.raises(SystemExit) as e:
        run(["backtest", str(path), "--target", "big", "--out", str(tmp_path / "o")], raise_errors=False)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no chance level for task" in err and "--chance" in err
    with pytest.raises(InputError, match="--chance .*'t=x'"):
        main(
            ["ladder-backtest", str(path), "--target", "big", "--chance", "t=x", "--out", str(tmp_path / "o")]
        )
    with pytest.raises(InputError, match="target model 'nobody'"):
        main(["ladder-backtest", str(path), "--target", "nobody", "--out", str(tmp_path / "o")])


def test_ensemble_is_the_mean_of_direct_and_loglogistic():
    ev = lf.ladder(np.random.default_rng(7), n_ck=3)
    td = le.task_data(ev, "t", ("acc",), "bpb", 1, CH, {})
    fin = td.fin[td.fin["model"] != "big"]
    ck = le.late(td.ck, fin, 0.1)
    ps = [
        fit_method(m, fin, ck, 0.25)(7e9, 2.8e12).acc for m in ("direct", "two_step_loglogistic", "ensemble")
    ]
    assert ps[2] == pytest.approx((ps[0] + ps[1]) / 2)


def test_method_choice_breaks_a_tie_by_the_farthest_size_fold():
    rng = np.random.default_rng(0)
    rows = []
    for fold, shift in (
        ("size 8e+08 from smaller", 0.004),
        ("size 3.2e+09 from smaller", -0.004),
        ("2xC from lower", 0),
    ):
        for i in range(40):
            base = 0.03 + 0.01 * rng.random()
            for m, e in (("b", base), ("a", base + shift), ("c", base + 0.01)):  # a and b: equal means
                rows.append({"task": "t", "fold": fold, "model": f"m{i}", "replicate": "", "method": m,
                             "rel_err": e, "pred": 0.5, "guard": ""})  # fmt: skip
    inner = pd.DataFrame(rows)
    m, why = le.choose_method(
        inner
    )  # a and b tie on the mean; a is better where the extrapolation is farthest
    assert m == "a" and "tie" in why and "3.2e+09" in why
    inner.loc[inner["method"] == "c", "rel_err"] -= 0.05  # c clearly best: no tie
    assert le.choose_method(inner)[0] == "c"


def test_a_family_trained_on_one_token_count_gets_size_folds_and_intervals():
    """Pythia-like (one run per size): every model sees the same tokens, so the multipliers differ by size and are
    no grid; only the size folds backtest (the 2.8B from the 7 smaller), and the bootstrap still runs."""
    rows = []
    rng = np.random.default_rng(8)
    for n in (7e7, 1.6e8, 2.5e8, 4.1e8, 6e8, 1e9, 1.4e9, 2.8e9, 6.9e9):
        for i, frac in enumerate((0.5, 0.75, 1.0)):
            loss = lf.true_loss(n, 3e11 * frac) + 0.003 * rng.standard_normal()
            acc = lf.true_acc(loss) + 0.003 * rng.standard_normal()
            for metric, v in (("bpb", loss), ("acc", acc)):
                rows.append({"family": "p", "model": f"p{n:g}", "scale": n, "task": "t", "metric": metric,
                             "value": v, "checkpoint": f"step{i}", "step": float(i), "tokens": 3e11 * frac})  # fmt: skip
    ev = normalize(pd.DataFrame(rows))
    tab, inner, _ = le.run(ev, ["t"], "p6.9e+09", data.FitSet(), methods=("two_step_loglogistic",), chance_flags=CH,
                           n_boot=4)  # fmt: skip
    folds = set(inner["fold"])  # size folds, and the far fold: the 6 smallest sizes predicting every larger one
    assert folds == {"size 1.4e+09 from smaller", "size 2.8e+09 from smaller", "far: sizes <= 1e+09"}
    assert tab["n_boot_ok"].iloc[0] > 0 and tab["lo"].notna().all()
