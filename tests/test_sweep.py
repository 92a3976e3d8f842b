"""`python train.py -m ...` for real, in subprocesses: records, sweep table, W&B offline, skip, kill -9 and resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO
from tests.helpers.configs import FAST_OVERRIDES
from tests.helpers.wandb_files import read_wandb_run

pytestmark = pytest.mark.slow


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(DATA_DIR=str(data_dir), WANDB_SILENT="true", HOME=str(data_dir.parent), PYTHONUNBUFFERED="1")
    return env  # no WANDB_MODE and no key: the run must go offline by itself


def _train(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_multirun_records_table_wandb_offline_and_rerun_skips(tmp_path, tiny_mnist_dir):
    env = _env(tiny_mnist_dir)
    args = [
        "-m",
        "model.width=1,2",
        "trainer.max_epochs=1",
        "logger=many",
        f"paths.log_dir={tmp_path}",
        *FAST_OVERRIDES,
    ]
    first = _train(args, env)
    sweep = tmp_path / "sweeps" / "lenet_mnist"
    records = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}
    assert len(records) == 2 and all(name.startswith("data.batch_size=32") for name in records), (
        records.keys()
    )
    for rec in records.values():
        assert rec["status"] == "finished" and rec["num_params"] == {1: 2068, 2: 6785}[rec["width"]]
    table = pd.read_csv(sweep / "sweep_table.csv")
    assert sorted(table["width"].unique()) == [1, 2]
    assert {"test/acc", "test/subset_acc_k=5", "val/ce"} <= set(table["metric"])
    one = table[(table.width == 2) & (table.metric == "test/acc")]["value"].item()
    assert one == pytest.approx(next(r for r in records.values() if r["width"] == 2)["metrics"]["test/acc"])
    # W&B: offline without a key, one run per job, named by the job's overrides, grouped by the sweep
    wandb_runs = sorted(sweep.glob("*/wandb/offline-run-*"))
    assert len(wandb_runs) == 2, first.stdout[-2000:]
    assert "sweep table:" in first.stdout
    assert f"wandb sync {sweep}/*/wandb/offline-run-*" in first.stdout
    for run_dir in wandb_runs:  # what each run wrote, read back from its .wandb file
        job_dir, run = run_dir.parents[1], read_wandb_run(run_dir)
        rec = records[job_dir.name]
        assert (run.group, run.job_type, run.name) == ("lenet_mnist", "lenet_mnist", job_dir.name)
        assert run.run_id == (job_dir / "wandb_id.txt").read_text().strip() and run.tags == ["lenet_mnist"]
        for key in ("test/acc", "test/subset_acc_k=5", "val/acc", "val/subset_acc_k=5"):  # smooth and sharp
            assert run.summary[key] == pytest.approx(rec["metrics"][key]), key
        assert any("val/subset_acc_k=3" in row for row in run.history)

    mtimes = {p: p.stat().st_mtime_ns for p in sweep.glob("*/metrics.json")}
    again = _train(args, env)
    assert again.stdout.count("skipping finished run") == 2
    assert {p: p.stat().st_mtime_ns for p in sweep.glob("*/metrics.json")} == mtimes


def test_kill_9_then_rerun_resumes_from_last_checkpoint(tmp_path, tiny_mnist_dir):
    env = _env(tiny_mnist_dir)
    args = [
        "model.width=1",
        "trainer.max_epochs=30",
        "logger=csv",
        f"paths.log_dir={tmp_path}",
        *FAST_OVERRIDES,
    ]
    run_dir = tmp_path / "runs" / "lenet_mnist"
    proc = subprocess.Popen(
        [sys.executable, "train.py", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 240
        # any checkpoint from epoch 2 on (top_k=1 replaces epoch=002 within ~0.1 s on an idle machine)
        while not any(int(p.name[6:9]) >= 2 for p in run_dir.glob("*/checkpoints/epoch=*.ckpt")):
            assert proc.poll() is None, "training ended before it could be killed"
            assert time.time() < deadline, "no checkpoint appeared"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (job,) = run_dir.iterdir()
    assert (
        json.loads((job / "metrics.json").read_text())["status"] == "running"
    )  # killed: no chance to say more

    resumed = _train(args, env)
    record = json.loads((job / "metrics.json").read_text())
    assert "resuming from checkpoint" in resumed.stdout
    assert record["status"] == "finished" and record["resumed_from"].endswith("last.ckpt")
    assert record["epochs"] == 30
