"""The `figure` command and its pieces, on fabricated LeNet-like sweeps."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from src.analysis.__main__ import main
from src.analysis.core.metrics import classify
from src.analysis.sweeps.figures import curve_table, sweep_figure
from src.analysis.sweeps.loading import SweepError, load_sweeps
from tests.analysis.sweep_factory import KS, make_run, make_sweep, num_params


def test_registry_classifies_the_design_keys():
    cases = {
        "test/acc": ("smooth", True, None),
        "test/ce": ("smooth", False, None),
        "val/loss": ("smooth", False, None),
        "test/mse": ("smooth", False, None),
        "test/edit_distance_l=2": ("smooth", False, "2"),
        "test/token_acc": ("smooth", True, None),
        "test/brier": ("smooth", False, None),
        "test/subset_acc_k=3": ("sharp", True, "3"),
        "test/recon_c=0.01": ("sharp", True, "0.01"),
        "test/seq_acc_l=5": ("sharp", True, "5"),
        "test/exact_match_l=2": ("sharp", True, "2"),
    }
    for key, (sharpness, hib, param) in cases.items():
        info = classify(key)
        assert (info.sharpness, info.kind.higher_is_better, info.param) == (sharpness, hib, param), key
    assert classify("test/accuracy_of_something_new") is None
    assert classify("val/acc").split == "val"


def test_figure_cli_writes_png_and_pdf(tmp_path, capsys):
    sweep = make_sweep(tmp_path)
    assert main(["figure", str(sweep), "--bootstrap", "100"]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(p.rsplit(".", 1)[1] for p in printed) == ["pdf", "png"]
    for p in printed:
        assert p.startswith(str(sweep / "figures")) and (tmp_path / p).stat().st_size > 5000
    out = tmp_path / "elsewhere"
    assert main(["figure", str(sweep), "--out", str(out), "--bootstrap", "0"]) == 0
    assert len(list(out.glob("*.png"))) == 1 and len(list(out.glob("*.pdf"))) == 1


def test_figure_draws_seed_means_from_the_records(tmp_path):
    sweep = make_sweep(tmp_path, seeds=(0, 1))
    table = load_sweeps([sweep])
    fig = sweep_figure(table)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["smooth metric: acc", "smooth metric: ce", "sharp metric: subset_acc"]
    # independent recomputation of the K=3 seed-mean curve straight from the records
    recs = [json.loads(p.read_text()) for p in sweep.rglob("metrics.json")]
    by_w = pd.DataFrame(
        [(r["num_params"], r["metrics"]["test/subset_acc_k=3"]) for r in recs], columns=["x", "y"]
    )
    expected = by_w.groupby("x")["y"].mean().sort_index()
    sharp_ax = fig.axes[2]
    curves = [ln for ln in sharp_ax.get_lines() if ln.get_label().startswith("K=")]
    assert [ln.get_label().split()[0] for ln in curves] == [f"K={k}" for k in KS]
    np.testing.assert_allclose(curves[2].get_xdata(), expected.index.to_numpy(float))
    np.testing.assert_allclose(curves[2].get_ydata(), expected.to_numpy())
    floor = [ln for ln in sharp_ax.get_lines() if ln.get_label().startswith("resolution")]
    assert len(floor) == 1 and floor[0].get_ydata()[0] == pytest.approx(1 / 500)
    assert sharp_ax.get_xscale() == "log"


def test_curve_table_aggregates_seeds(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0, 1, 2))
    curves = curve_table(load_sweeps([sweep]))
    row = curves[(curves["metric"] == "test/acc") & (curves["scale"] == num_params(2))].iloc[0]
    accs = [
        json.loads((sweep / f"model.width=2,seed={s}" / "metrics.json").read_text())["metrics"]["test/acc"]
        for s in range(3)
    ]
    assert (row["mean"], row["lo"], row["hi"], row["n_seeds"]) == pytest.approx(
        (np.mean(accs), min(accs), max(accs), 3)
    )
    assert set(curves["split"]) == {"test"}


def test_table_is_read_when_present_and_records_win_when_stale(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,))
    assert main(["collect", str(sweep)]) == 0
    table = pd.read_csv(sweep / "sweep_table.csv")
    table.loc[table["metric"] == "test/acc", "value"] = 0.123  # a marker only the table has
    table.to_csv(sweep / "sweep_table.csv", index=False)
    assert (load_sweeps([sweep]).query("metric == 'test/acc'")["value"] == 0.123).all()
    make_run(sweep, 8, 0)  # a new finished run makes the table stale
    with pytest.warns(UserWarning, match="3 runs but 4 finished"):
        loaded = load_sweeps([sweep])
    assert loaded["run_dir"].nunique() == 4 and (loaded.query("metric == 'test/acc'")["value"] != 0.123).all()


def test_empty_sweep_dir_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SweepError, match="holds no finished run record"):
        main(["figure", str(tmp_path / "empty")])
    with pytest.raises(SweepError, match="does not exist"):
        main(["figure", str(tmp_path / "absent")])


@pytest.mark.parametrize("grid_on_command_line", [False, True])
def test_half_finished_sweep_names_the_missing_runs(tmp_path, grid_on_command_line):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4, 8), seeds=(0, 1), grid_on_command_line=grid_on_command_line)
    (sweep / "model.width=8,seed=1" / "metrics.json").unlink()  # crashed: Hydra dir, no record
    rec = sweep / "model.width=4,seed=1" / "metrics.json"
    rec.write_text(rec.read_text().replace('"finished"', '"running"'))
    shutil.rmtree(sweep / "model.width=2,seed=0")  # never started
    with pytest.raises(SweepError) as err:
        main(["figure", str(sweep)])
    msg = str(err.value)
    assert "model.width=8,seed=1 (no metrics.json" in msg
    assert "model.width=4,seed=1 (record status 'running')" in msg
    assert "data.download=False,experiment=lenet_mnist,model.width=2,seed=0 (planned in multirun.yaml" in msg
    assert msg.count("planned in multirun.yaml") == 1
    assert "--allow-incomplete" in msg
    with pytest.warns(UserWarning, match="missing runs"):
        assert main(["figure", str(sweep), "--allow-incomplete", "--bootstrap", "20"]) == 0


def test_record_missing_a_metric_is_named(tmp_path):
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,))
    make_run(sweep, 2, 0, drop_metric="test/subset_acc_k=4")
    with pytest.raises(SweepError, match=r"model.width=2,seed=0: test/subset_acc_k=4"):
        main(["figure", str(sweep)])
    with pytest.warns(UserWarning, match="subset_acc_k=4"):
        assert main(["figure", str(sweep), "--allow-missing", "--bootstrap", "20"]) == 0


def test_two_sweeps_give_one_figure_each(tmp_path, capsys):
    a = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,), name="a")
    b = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,), name="b")
    assert main(["figure", str(a), str(b), "--bootstrap", "0"]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 4 and sum(p.startswith(str(a)) for p in printed) == 2


def test_resolution_floor_uses_the_items_actually_scored(tmp_path):
    # a run tested on part of the test set (limit_test_batches): per_item.npz has 300 items, the record says 500
    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,), n=300)
    for rec in sweep.rglob("metrics.json"):
        rec.write_text(rec.read_text().replace('"n_test": 300', '"n_test": 500'))
    assert set(load_sweeps([sweep])["n_items"]) == {300.0}
    for npz in sweep.rglob("per_item.npz"):
        npz.unlink()
    assert set(load_sweeps([sweep])["n_items"]) == {500.0}


def test_two_sweeps_of_the_same_name_stay_apart(tmp_path, capsys):
    a = make_sweep(tmp_path / "a", widths=(1, 2, 4), seeds=(0,))
    b = make_sweep(tmp_path / "b", widths=(1, 2, 4), seeds=(0,))
    table = load_sweeps([a, b])
    assert set(table["source"]) == {"a/lenet_mnist", "b/lenet_mnist"}
    with pytest.raises(SweepError, match="given twice"):
        load_sweeps([a, a])
    out = tmp_path / "out"
    assert main(["figure", str(a), str(b), "--out", str(out), "--bootstrap", "0"]) == 0
    assert {p.parent.name for p in out.rglob("*.png")} == {"a__lenet_mnist", "b__lenet_mnist"}


def test_a_plan_is_written_for_a_sweep_given_only_on_the_command_line(tmp_path):
    """`python train.py -m model.width=1,2,4` has no hydra.sweeper.params (null): the plan was lost to a
    ValueError that Hydra turned into a warning, so a run that never started went unnoticed."""
    from omegaconf import OmegaConf

    from src.analysis.sweeps.loading import sweep_status
    from src.utils.hydra_callbacks import write_plan

    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0,))
    shutil.rmtree(sweep / "model.width=4,seed=0")
    launch = {
        "sweep": {"dir": str(sweep)},
        "sweeper": {"params": None},
        "overrides": {
            "task": ["experiment=lenet_mnist", "data.download=false", "model.width=1,2,4", "seed=0"]
        },
    }
    write_plan(OmegaConf.create({"hydra": launch}))
    assert [o for o, _ in sweep_status(sweep).never_started] == [
        "data.download=False,experiment=lenet_mnist,model.width=4,seed=0"
    ]


def test_runs_missing_from_an_earlier_launch_into_the_same_sweep_dir_are_named(tmp_path):
    """Hydra's multirun.yaml holds only the newest launch; each launch's plan in .plans/ keeps the earlier ones."""
    from omegaconf import OmegaConf

    from src.analysis.sweeps.loading import sweep_status
    from src.utils.hydra_callbacks import write_plan

    sweep = make_sweep(tmp_path, widths=(1, 2, 4), seeds=(0, 1))
    shutil.rmtree(sweep / "model.width=2,seed=0")  # the first launch (seed=0) was killed before width 2
    launches = []
    for seed in (0, 1):  # python train.py -m experiment=lenet_mnist seed=<seed>, one launch per seed
        launches.append(
            OmegaConf.create(
                {
                    "hydra": {
                        "sweep": {"dir": str(sweep)},
                        "overrides": {
                            "task": ["experiment=lenet_mnist", "data.download=false", f"seed={seed}"]
                        },
                        "sweeper": {"params": {"model.width": "1,2,4", "seed": "0,1,2"}},
                    }
                }
            )
        )
    (sweep / "multirun.yaml").write_text(OmegaConf.to_yaml(launches[1]))  # Hydra's: the newest launch only
    assert sweep_status(sweep).complete  # without the plans, the first launch's missing run goes unnoticed
    paths = [write_plan(cfg) for cfg in launches]
    assert len(set(paths)) == 2 and all(p.parent.name == ".plans" for p in paths)
    status = sweep_status(sweep)
    assert [o for o, _ in status.never_started] == [
        "data.download=False,experiment=lenet_mnist,model.width=2,seed=0"
    ]
    assert status.never_started[0][1] == f".plans/{paths[0].name}"
    with pytest.raises(SweepError, match=r"model.width=2,seed=0 \(planned in \.plans/"):
        main(["figure", str(sweep)])
