"""The compose-once sweeper (hydra_plugins/emergence_sweeper): one composition per kind of job before a sweep,
and a job that cannot compose still stops the sweep before its first job."""

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.plugins import Plugins
from hydra.types import HydraContext

from hydra_plugins.emergence_sweeper.compose_once import representatives
from tests.conftest import REPO
from tests.helpers.configs import CONFIG_DIR


def _grid(*axes: list[str]) -> list[list[str]]:
    jobs = [[]]
    for axis in axes:
        jobs = [job + [value] for job in jobs for value in axis]
    return jobs


def test_plain_values_share_a_shape_groups_and_structures_do_not():
    is_group = {"experiment", "model", "hydra/launcher"}.__contains__
    widths, seeds = ["model.width=1", "model.width=2", "model.width=4"], ["seed=0", "seed=1"]
    assert len(representatives(_grid(["experiment=lenet_mnist"], widths, seeds), is_group)) == 1
    # a float width is another type, a config group option is its own config, a dict value may not merge
    assert len(representatives(_grid(widths + ["model.width=0.5"], seeds), is_group)) == 2
    assert len(representatives(_grid(["model=lenet", "model=nosuch"], widths), is_group)) == 2
    assert len(representatives([["model.net={a:1}"], ["model.net={b:1}"], ["model.net=3"]], is_group)) == 3
    # an added or deleted key is another shape; an interpolation is kept whole
    assert len(representatives([["+x=1"], ["x=1"], ["~seed"], ["seed=${x}"], ["seed=${y}"]], is_group)) == 5
    assert representatives(_grid(widths, seeds), is_group)[0] == ["model.width=1", "seed=0"]


@pytest.fixture()
def sweeper():
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        config = compose(config_name="train", overrides=[], return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        calls = []
        load = loader.load_sweep_config

        def counting(master_config, sweep_overrides):
            calls.append(list(sweep_overrides))
            return load(master_config=master_config, sweep_overrides=sweep_overrides)

        loader.load_sweep_config = counting
        # the class Hydra's plugin discovery registered (it re-executes plugin modules, base classes included)
        cls = Plugins.instance().class_name_to_class[
            "hydra_plugins.emergence_sweeper.compose_once.ComposeOnceSweeper"
        ]
        s = cls(max_batch_size=None, params=None)
        s.hydra_context, s.config = HydraContext(config_loader=loader, callbacks=None), config
        yield s, calls
    GlobalHydra.instance().clear()


def test_a_width_by_seed_sweep_composes_one_job_before_it_starts(sweeper):
    s, calls = sweeper
    s.validate_batch_is_legal(
        _grid(["experiment=lenet_mnist"], [f"model.width={w}" for w in (1, 2, 4)], ["seed=0", "seed=1"])
    )
    assert calls == [["experiment=lenet_mnist", "model.width=1", "seed=0"]]


def test_a_job_that_cannot_compose_is_still_found_before_any_job_runs(sweeper):
    s, calls = sweeper
    with pytest.raises(Exception, match="model/nosuch"):
        s.validate_batch_is_legal(_grid(["model=lenet", "model=nosuch"], ["seed=0", "seed=1"]))
    with pytest.raises(Exception, match="widht"):
        s.validate_batch_is_legal(_grid(["model.width=1"], ["model.widht=2"]))


def test_train_py_uses_it_and_fails_a_bad_sweep_before_the_first_job(tmp_path):
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        "model=lenet,nosuch",
        "model.width=1",
        f"paths.log_dir={tmp_path}",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Could not find 'model/nosuch'" in proc.stderr
    assert not [p for p in tmp_path.rglob("*") if p.is_dir() and "model=" in p.name]  # no job dir
    assert "Callback" not in proc.stderr  # the sweep plan was written (no callback warning)
    cfg = subprocess.run(
        [sys.executable, "train.py", "--cfg", "hydra"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert "hydra_plugins.emergence_sweeper.compose_once.ComposeOnceSweeper" in cfg.stdout
