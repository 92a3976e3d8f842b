"""One W&B run per analysis, read back from the offline run file: the verdict tables, and per-size values of every
sharp metric and its smooth partner on rows keyed by parameters (one W&B line plot of both against ``scale``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from src.analysis.report.wandb_log import log_analysis
from tests.analysis.report.verdicts_factory import make_verdicts
from tests.helpers.wandb_files import _records, read_wandb_run


def finished_run(run_dir: Path, timeout: float = 60.0):
    """The run read back once W&B's writer (another process) has written its exit record: ``finish()`` returns
    before the offline file is complete."""
    from wandb.proto import wandb_internal_pb2 as pb

    deadline = time.monotonic() + timeout
    while True:
        (path,) = run_dir.glob("run-*.wandb")
        kinds = set()
        for raw in _records(path):
            record = pb.Record()
            record.ParseFromString(raw)
            kinds.add(record.WhichOneof("record_type"))
        if "exit" in kinds or time.monotonic() > deadline:
            return read_wandb_run(run_dir)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    pytest.importorskip("wandb")
    out = tmp_path_factory.mktemp("wandb")
    v = make_verdicts()
    run_dir = log_analysis(v, "synthetic", out)
    return v, out, run_dir, finished_run(run_dir)


def test_one_run_per_analysis(logged):
    _, out, run_dir, run = logged
    assert len(list((out / "wandb").glob("offline-run-*"))) == 1
    assert run.name == "audit:synthetic" and run.job_type == "analysis"


def test_sharp_and_smooth_values_per_size_against_parameters(logged):
    v, _, _, run = logged
    rows = [r for r in run.history if "scale" in r]
    for pair in v.pairs.itertuples():
        pts = v.points[(v.points.family == pair.family) & (v.points.task == pair.task)]
        for metric in (pair.sharp, pair.smooth):
            k = f"{pair.family}/{pair.task}/{metric}"
            got = sorted((r["scale"], r[k]) for r in rows if k in r)
            want = sorted(
                pts.loc[pts.metric == metric, ["scale", "value"]].itertuples(index=False, name=None)
            )
            assert np.allclose(got, want)
        # both on the same rows: one line plot with x = scale draws them together
        assert all(
            (f"{pair.family}/{pair.task}/{pair.smooth}" in r)
            for r in rows
            if f"{pair.family}/{pair.task}/{pair.sharp}" in r
        )


def test_tables_and_ready_charts_and_summary(logged):
    v, _, run_dir, run = logged
    logged_keys = {k for r in run.history for k in r}
    for name in ("curves", "pairs", "points"):
        assert f"tables/{name}" in {
            k.rsplit("/", 1)[0] for k in logged_keys if k.startswith(f"tables/{name}/")
        }
    table = next(run_dir.glob("files/media/table/tables/curves_*.table.json"))
    data = json.loads(table.read_text())
    assert len(data["data"]) == len(v.curves) and "verdict" in data["columns"]
    assert any(k.startswith("sharp_vs_smooth/toy/subset") for k in logged_keys)
    assert run.summary["verdicts/pairs/sharp above smooth"] == int(
        (v.pairs.verdict == "sharp above smooth").sum()
    )


def test_scale_is_the_x_axis_of_every_curve(logged):
    """define_metric(step_metric="scale"): a W&B line plot of <family>/<task>/<metric> is against parameters."""
    from wandb.proto import wandb_internal_pb2 as pb

    v, _, run_dir, _ = logged
    (path,) = run_dir.glob("run-*.wandb")
    steps = {}
    for raw in _records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "metric":
            steps[record.metric.name] = record.metric.step_metric
    for r in v.curves.itertuples():
        assert steps[f"{r.family}/{r.task}/{r.metric}"] == "scale"
