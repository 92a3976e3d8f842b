"""Smaller reliability findings of issue 14 (item 6), in-process: sweep tables, run files, the returned metric."""

import json
import logging
import os
import time
import warnings

import lightning as L
import numpy as np
import pytest
from omegaconf import OmegaConf

from src.analysis.sweeps.loading import load_sweeps
from src.results.errors import InputError
from src.results.io import FILE_MODE
from src.results.per_item import load_per_item, save_per_item
from src.results.records import write_record
from src.results.sweep_table import TABLE_NAME, table_is_current, write_sweep_table
from src.training import objective
from src.utils.hydra_callbacks import SweepTableCallback
from tests.analysis.sweep_factory import make_run


def _sweep(tmp_path):
    sweep = tmp_path / "lenet_mnist"
    for width in (1, 2):
        make_run(sweep, width, 0, n=50)
    return sweep


def test_a_record_newer_than_the_table_makes_it_stale(tmp_path):
    sweep = _sweep(tmp_path)
    write_sweep_table(sweep)
    assert table_is_current(sweep)
    time.sleep(0.01)
    path = sweep / "model.width=2,seed=0" / "metrics.json"
    record = json.loads(path.read_text())
    record["metrics"]["test/acc"] = 0.123456  # rerun: same number of runs, a new result
    path.write_text(json.dumps(record))
    assert not table_is_current(sweep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = load_sweeps([sweep])
    value = table[(table.run_dir == "model.width=2,seed=0") & (table.metric == "test/acc")]["value"].item()
    assert value == pytest.approx(0.123456)


def test_sweep_table_is_written_after_each_job_even_when_one_fails(tmp_path):
    """A failed job makes Hydra raise before on_multirun_end: the table is also written at every job's end."""
    sweep = _sweep(tmp_path)
    make_run(sweep, 4, 0, n=50, status="failed")
    config = OmegaConf.create({"hydra": {"mode": "MULTIRUN", "sweep": {"dir": str(sweep)}}})
    from hydra.types import RunMode

    config.hydra.mode = RunMode.MULTIRUN
    SweepTableCallback().on_job_end(config=config, job_return=None)
    import pandas as pd

    table = pd.read_csv(sweep / TABLE_NAME)
    assert sorted(table["width"].unique()) == [1, 2]  # the finished runs; the failed one is left out


def test_run_files_are_readable_by_others_and_per_item_is_atomic(tmp_path):
    umask = os.umask(0o022)
    try:
        write_record(tmp_path, {"status": "running"})
        save_per_item(tmp_path, {"correct": np.ones(5, bool)})
        write_sweep_table(_sweep(tmp_path))
    finally:
        os.umask(umask)
    for path in (tmp_path / "metrics.json", tmp_path / "per_item.npz", tmp_path / "lenet_mnist" / TABLE_NAME):
        assert path.stat().st_mode & 0o777 == FILE_MODE & ~0o022, path
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind
    (tmp_path / "per_item.npz").write_bytes((tmp_path / "per_item.npz").read_bytes()[:40])
    with pytest.raises(InputError, match=r"per_item\.npz: per-item results file is truncated or corrupt"):
        load_per_item(tmp_path / "per_item.npz")


def test_train_returns_the_configured_metric():
    record = {"metrics": {"test/acc": 0.5, "test/mse": 3.0}}
    assert objective(OmegaConf.create({"optimized_metric": "test/mse"}), record) == 3.0
    assert objective(OmegaConf.create({"optimized_metric": None}), record) is None
    with pytest.raises(InputError, match=r"optimized_metric='val/bleu' is not among.*test/acc"):
        objective(OmegaConf.create({"optimized_metric": "val/bleu"}), record)


def test_no_lightning_product_tip_at_trainer_construction(caplog):
    import src.training  # noqa: F401  (installs the filter)

    with caplog.at_level(logging.INFO):
        L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    assert "Tip" not in caplog.text and "GPU available" in caplog.text
