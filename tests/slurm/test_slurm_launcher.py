"""`python train.py -m hydra/launcher=slurm ...` against a real SLURM cluster (tests/slurm/conftest.py).

A sweep runs as a SLURM array and writes the same run records as an in-process run; `scontrol requeue` of a
running job makes it resume from its checkpoint (and its W&B run id) and finish with the uninterrupted metrics; a job
cancelled from outside makes the launcher fail with SLURM's verdict instead of waiting forever.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.helpers.configs import FAST_OVERRIDES
from tests.helpers.wandb_files import read_wandb_run

pytestmark = pytest.mark.slow

# one CPU and 1 GB per job, so the 2-core test node runs two array tasks at once
LAUNCHER = [
    "hydra/launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=10",
]


def _env(cluster, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in cluster.env.items() if not k.startswith("WANDB_")}
    env.update(
        DATA_DIR=str(data_dir),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        HOME=str(data_dir.parent),
    )
    return env


def _launch(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "train.py", "-m", *LAUNCHER, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        pytest.fail(f"launcher still waiting after {timeout} s (hung):\n{out[-2000:]}\n{err[-3000:]}")
    return proc.returncode, out + err


def _wait_for(what: str, check, timeout: float, proc: subprocess.Popen | None = None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"launcher ended before {what}:\n{''.join(proc.communicate())[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"no {what} after {timeout} s")


def _in_process(overrides: list[str], out_dir: Path, data_dir: Path) -> dict:
    """The same job run in this process (the basic launcher's code path): the reference record."""
    import torch

    from src.training import train
    from tests.helpers.configs import compose_train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the SLURM jobs (OMP_NUM_THREADS=1): same float summation order
    try:
        return train(compose_train(overrides, out_dir, data_dir))
    finally:
        torch.set_num_threads(threads)


def _test_metrics(record: dict) -> dict:
    return {k: v for k, v in record["metrics"].items() if k.startswith("test/")}


def test_sweep_runs_as_array_and_writes_the_basic_launchers_records(slurm_cluster, tmp_path, tiny_mnist_dir):
    args = [
        "model.width=1,2",
        "trainer.max_epochs=1",
        "logger=csv",
        f"paths.log_dir={tmp_path}",
        *FAST_OVERRIDES,
    ]
    rc, out = _finish(_launch(args, _env(slurm_cluster, tiny_mnist_dir)), timeout=300)
    assert rc == 0, out[-4000:]

    sweep = tmp_path / "sweeps" / "lenet_mnist"
    array_ids = {
        p.name.split("_")[0] for p in (sweep / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name)
    }
    assert len(array_ids) == 1, array_ids  # one SLURM array for the sweep
    (array_id,) = array_ids
    # the launcher returns once the results are written; SLURM records the tasks' end a moment later
    done = {f"{array_id}_0": "COMPLETED", f"{array_id}_1": "COMPLETED"}
    _wait_for("array completion in sacct", lambda: slurm_cluster.sacct(array_id) == done, 30)

    records = {
        json.loads(p.read_text())["width"]: json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")
    }
    assert sorted(records) == [1, 2] and all(r["status"] == "finished" for r in records.values())
    assert "sweep table:" in out and (sweep / "sweep_table.csv").is_file()

    job_overrides = ["model.width=2", "trainer.max_epochs=1", "logger=csv", *FAST_OVERRIDES]
    reference = _in_process(job_overrides, tmp_path / "reference", tiny_mnist_dir)
    slurm = records[2]
    assert set(slurm) == set(reference)  # same record schema
    # (Hydra's sweeper writes values back through Python: false -> False, with any launcher)
    lower = sorted(o.lower() for o in [*job_overrides, f"paths.log_dir={tmp_path}"])
    assert sorted(o.lower() for o in slurm["overrides"]) == lower
    assert slurm["num_params"] == reference["num_params"] and slurm["global_step"] == reference["global_step"]
    assert _test_metrics(slurm) == pytest.approx(_test_metrics(reference), abs=1e-5)
    # the job dir is the one the basic launcher would use: named by the job's overrides
    excluded = ("logger=", "data.download=", "data.verify_checksums=")  # override_dirname.exclude_keys
    expected_dir = ",".join(sorted(o for o in job_overrides if not o.startswith(excluded)))
    assert [p.parent.name.lower() for p in sweep.glob("*width=2*/metrics.json")] == [expected_dir.lower()]


def test_requeue_and_preemption_resume_from_checkpoint_with_same_metrics_and_wandb_id(
    slurm_cluster, tmp_path, tiny_mnist_dir
):
    """One job, stopped twice: `scontrol requeue` (SLURM requeues), then USR2, the signal SLURM sends before a time
    limit or on preemption (submitit, the requeue owner, checkpoints the call and requeues). Each rerun resumes from
    last.ckpt, and the job ends with the metrics of an uninterrupted run."""
    overrides = ["model.width=1", "trainer.max_epochs=30", *FAST_OVERRIDES]
    proc = _launch(
        [*overrides, "logger=many", f"paths.log_dir={tmp_path}"], _env(slurm_cluster, tiny_mnist_dir)
    )
    sweep = tmp_path / "sweeps" / "lenet_mnist"

    def last_epoch() -> int:
        epochs = [
            int(m.group(1))
            for p in sweep.glob("*/checkpoints/epoch=*.ckpt")
            if (m := re.match(r"epoch=(\d+)", p.name))
        ]
        return max(epochs, default=-1)

    def resumes() -> int:
        return sum(
            p.read_text().count("resuming from checkpoint") for p in sweep.glob(".submitit/*/*_log.out")
        )

    _wait_for("checkpoint of epoch 2", lambda: last_epoch() >= 2, 120, proc)
    (job_id,) = slurm_cluster.jobs()
    subprocess.run(["scontrol", "requeue", job_id], env=slurm_cluster.env, check=True, timeout=30)
    stopped_at = last_epoch()
    _wait_for(
        "resumed attempt 2 epochs on", lambda: resumes() == 1 and last_epoch() >= stopped_at + 3, 120, proc
    )
    subprocess.run(["scancel", "--signal=USR2", job_id], env=slurm_cluster.env, check=True, timeout=30)

    rc, out = _finish(proc, timeout=240)
    assert rc == 0, out[-4000:]
    (job_dir,) = [p.parent for p in sweep.glob("*/metrics.json")]
    record = json.loads((job_dir / "metrics.json").read_text())
    assert record["status"] == "finished" and record["epochs"] == 30
    assert record["resumed_from"] == str(job_dir / "checkpoints" / "last.ckpt")
    submitit_log = "".join(p.read_text() for p in sweep.glob(".submitit/*/*_log.out"))
    # (submitit calls it a time-out, counted against max_num_timeout, when the job's time limit is <= 10 min)
    assert re.search(r"Caught signal SIGUSR2 .*this job is (preempted|timed-out)", submitit_log)
    assert f"Requeued job {job_id}" in submitit_log
    assert resumes() == 2

    def history():
        return slurm_cluster._out("sacct", "-D", "-X", "-n", "-P", "-o", "State", "-j", job_id).split()

    _wait_for("job completion in sacct", lambda: history() == ["REQUEUED", "REQUEUED", "COMPLETED"], 30)

    reference = _in_process([*overrides, "logger=none"], tmp_path / "reference", tiny_mnist_dir)
    assert record["global_step"] == reference["global_step"]
    assert _test_metrics(record) == pytest.approx(_test_metrics(reference), abs=1e-5)

    # W&B: one offline run per attempt, all with the job's run id (they sync into one run)
    run_id = (job_dir / "wandb_id.txt").read_text().strip()
    attempts = sorted(p.name for p in (job_dir / "wandb").glob("offline-run-*"))
    assert len(attempts) == 3 and all(name.endswith(f"-{run_id}") for name in attempts), attempts
    # (the stopped attempt's file may hold only its header: SLURM signals W&B's service process with the step, and
    # offline it dies before flushing; see docs/scaling_out.md. The finishing attempt has everything from the resume.)
    final = read_wandb_run(job_dir / "wandb" / attempts[-1])
    assert final.run_id == run_id and any("val/subset_acc_k=5" in row for row in final.history)
    assert final.summary["test/subset_acc_k=5"] == pytest.approx(record["metrics"]["test/subset_acc_k=5"])
    assert final.summary["test/acc"] == pytest.approx(record["metrics"]["test/acc"])


def test_job_cancelled_from_outside_is_reported_failed_not_hung(slurm_cluster, tmp_path, tiny_mnist_dir):
    proc = _launch(
        [
            "model.width=1",
            "trainer.max_epochs=500",
            "logger=csv",
            f"paths.log_dir={tmp_path}",
            *FAST_OVERRIDES,
        ],
        _env(slurm_cluster, tiny_mnist_dir),
    )

    # cancelled once running (a job stopped mid-training takes the same SIGTERM path as the requeue tests above)
    def running_job():
        lines = slurm_cluster._out("squeue", "-h", "-o", "%i %T").splitlines()
        return next((line.split()[0] for line in lines if line.endswith("RUNNING")), None)

    job_id = _wait_for("running job", running_job, 60, proc)
    subprocess.run(["scancel", job_id], env=slurm_cluster.env, check=True, timeout=30)
    rc, out = _finish(proc, timeout=120)
    assert rc != 0
    assert re.search(rf"Job {job_id}\b.*has not produced any output \(state: CANCELLED", out, re.S), out[
        -3000:
    ]
    assert slurm_cluster.sacct(job_id)[job_id].startswith("CANCELLED")


def test_sbatch_template_requeues_itself_on_usr1_and_resumes(slurm_cluster, tmp_path, tiny_mnist_dir):
    """scripts/sbatch_train.sh without Hydra's launcher: USR1 (what --signal=B:USR1@120 sends before the time
    limit) makes the script requeue its job; the rerun resumes from the checkpoint and finishes."""
    overrides = [
        "model.width=1",
        "trainer.max_epochs=25",
        "logger=csv",
        f"paths.log_dir={tmp_path}",
        *FAST_OVERRIDES,
    ]
    env = {**_env(slurm_cluster, tiny_mnist_dir), "PYTHON": sys.executable, "MIRAGE_ROOT": str(REPO)}
    submit = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--mem=1G",
            f"--output={tmp_path}/slurm-%j.out",
            "scripts/sbatch_train.sh",
            *overrides,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    job_id = submit.stdout.strip().split(";")[0]
    runs = tmp_path / "runs" / "lenet_mnist"
    _wait_for("first checkpoint", lambda: list(runs.glob("*/checkpoints/last.ckpt")), 120)
    subprocess.run(
        ["scancel", "--batch", "--signal=USR1", job_id], env=slurm_cluster.env, check=True, timeout=30
    )

    def history():
        return slurm_cluster._out("sacct", "-D", "-X", "-n", "-P", "-o", "State", "-j", job_id).split()

    _wait_for("requeued job to complete", lambda: history() == ["REQUEUED", "COMPLETED"], 180)
    (job_dir,) = [p.parent for p in runs.glob("*/metrics.json")]
    record = json.loads((job_dir / "metrics.json").read_text())
    assert record["status"] == "finished" and record["epochs"] == 25, record.get("error")
    assert record["resumed_from"] == str(job_dir / "checkpoints" / "last.ckpt")
    log = (tmp_path / f"slurm-{job_id}.out").read_text()
    assert "requeueing" in log and "restart 1" in log, log[-2000:]


def test_ddp_job_gets_one_slurm_task_per_device_and_matches_one_process(
    slurm_cluster, tmp_path, tiny_mnist_dir
):
    """trainer=ddp under hydra/launcher=slurm: tasks_per_node = trainer.devices, SLURM starts both processes and
    Lightning joins them (no re-executed sys.argv); 2 tasks at batch 16 match one process at batch 32."""
    common = [
        "model.width=2",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=4",
        "data.val_size=100",
        "data.eval_batch_size=64",
        "data.download=false",
        "data.verify_checksums=false",  # the fixture carries the official file names, not their contents
        "logger=none",
        "callbacks=none",
    ]
    ddp = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "data.batch_size=16"]
    args = [*ddp, *common, f"paths.log_dir={tmp_path}"]
    rc, out = _finish(_launch(args, _env(slurm_cluster, tiny_mnist_dir)), timeout=300)
    assert rc == 0, out[-4000:]
    sweep = tmp_path / "sweeps" / "lenet_mnist"
    (job_dir,) = [p.parent for p in sweep.glob("*/metrics.json")]
    logs = sorted(p.name for p in (sweep / ".submitit").rglob("*_log.out"))
    assert len(logs) == 2, logs  # one submitit task per device: <id>_0 and <id>_1
    record = json.loads((job_dir / "metrics.json").read_text())
    assert record["status"] == "finished" and record["config"]["trainer"]["devices"] == 2

    reference = _in_process([*common, "data.batch_size=32"], tmp_path / "reference", tiny_mnist_dir)
    assert record["global_step"] == reference["global_step"] == 8
    assert _test_metrics(record) == pytest.approx(_test_metrics(reference), abs=1e-5)
