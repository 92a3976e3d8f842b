"""A job is its config (issue 14): stale runs of another config, force, two processes, corrupt checkpoints."""

import json
import subprocess
import sys
import time

import pytest
import yaml
from omegaconf import open_dict

from src.results.errors import InputError
from src.results.jobs import (
    WHERE_KEYS,
    JobConfigMismatchError,
    JobLockedError,
    identity_hash,
    job_identity,
)
from src.training import train
from tests.conftest import REPO
from tests.helpers.configs import compose_train
from tests.test_train import FAST, crash_at


def _record(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


def test_finished_debug_run_is_not_reused_for_another_config(tmp_path, tiny_mnist_dir):
    """Finding 1: a debug=fast run, then the experiment in the same job dir, was skipped as finished."""
    train(compose_train([*FAST, "debug=fast"], tmp_path, tiny_mnist_dir))
    mtime = (tmp_path / "metrics.json").stat().st_mtime_ns
    other = compose_train([*FAST, "experiment=lenet_mnist", "model.width=2"], tmp_path, tiny_mnist_dir)
    with pytest.raises(
        JobConfigMismatchError,
        match=r"another config.*differs in callbacks\.early_stopping\._target_.*force=true",
    ):
        train(other)
    assert (tmp_path / "metrics.json").stat().st_mtime_ns == mtime  # the old record is untouched
    # the same config is still skipped
    again = train(compose_train([*FAST, "debug=fast"], tmp_path, tiny_mnist_dir))
    assert again["status"] == "finished" and (tmp_path / "metrics.json").stat().st_mtime_ns == mtime


def test_job_dir_names_show_every_compute_changing_key():
    """Finding 1: debug, experiment and test were left out of the job-dir name."""
    hydra_cfg = yaml.safe_load((REPO / "configs" / "hydra" / "default.yaml").read_text())
    excluded = hydra_cfg["job"]["config"]["override_dirname"]["exclude_keys"]
    for key in ("experiment", "debug", "test", "callbacks", "trainer.devices", "seed", "model.width"):
        assert key not in excluded
    hidden = [k for k in excluded if k not in WHERE_KEYS and k.split(".")[0] not in WHERE_KEYS]
    assert not hidden, hidden


def test_identity_ignores_where_a_job_runs_but_not_what_it_computes():
    base = {
        "paths": {"log_dir": "/a/logs", "output_dir": "/a/logs/runs/x"},
        "trainer": {"default_root_dir": "/a/logs/runs/x", "max_epochs": 2, "enable_progress_bar": True},
        "callbacks": {"ckpt": {"dirpath": "/a/logs/runs/x/checkpoints"}},
        "data": {"data_dir": "/data", "batch_size": 32},
        "seed": 0,
        "force": False,
    }
    moved = json.loads(json.dumps(base).replace("/a/logs", "/b/other"))
    moved["trainer"]["enable_progress_bar"], moved["force"], moved["data"]["data_dir"] = False, True, "/d2"
    assert identity_hash(job_identity(moved)) == identity_hash(job_identity(base))
    assert job_identity(base)["callbacks"]["ckpt"]["dirpath"] == "<paths.output_dir>/checkpoints"
    for key, value in (("seed", 1), ("trainer.max_epochs", 3), ("data.batch_size", 64)):
        changed = json.loads(json.dumps(base))
        node = changed
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
        assert identity_hash(job_identity(changed)) != identity_hash(job_identity(base)), key


def test_force_reruns_from_scratch_and_keeps_the_old_files(tmp_path, tiny_mnist_dir):
    """Finding 2: force=true reloaded last.ckpt (already at max_epochs) and cut csv/metrics.csv to the test row."""
    overrides = [*FAST, "logger=csv"]
    first = train(compose_train(overrides, tmp_path, tiny_mnist_dir))
    old_csv = (tmp_path / "csv" / "metrics.csv").read_text()
    assert "train/loss" in old_csv
    forced = train(compose_train([*overrides, "force=true"], tmp_path, tiny_mnist_dir))
    assert forced["resumed_from"] is None and forced["epochs"] == 2
    assert forced["global_step"] == first["global_step"]
    assert forced["metrics"] == pytest.approx(first["metrics"], abs=1e-6)  # same seed, trained again in full
    assert "train/loss" in (tmp_path / "csv" / "metrics.csv").read_text()  # the curves of the new run
    previous = tmp_path / ".previous-1"
    assert _record(previous)["status"] == "finished"
    assert (previous / "csv" / "metrics.csv").read_text() == old_csv
    assert (previous / "checkpoints" / "last.ckpt").is_file()
    train(compose_train([*overrides, "force=true"], tmp_path, tiny_mnist_dir))
    assert (tmp_path / ".previous-2" / "metrics.json").is_file()


def test_second_process_on_a_job_dir_is_a_clear_error(tmp_path, tiny_mnist_dir):
    """Finding 3: two processes on one job dir both crashed in the CSV logger and marked the record failed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from src.results.jobs import job_lock\n"
            "with job_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(JobLockedError, match=rf"job in use by PID {holder.pid}"):
            train(compose_train(FAST, tmp_path, tiny_mnist_dir))
        assert not (tmp_path / "metrics.json").exists()  # nothing of the other process's job was touched
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.05)
    assert train(compose_train(FAST, tmp_path, tiny_mnist_dir))["status"] == "finished"  # lock gone with it


def test_corrupt_last_ckpt_falls_back_to_the_epoch_checkpoint(tmp_path, tiny_mnist_dir, monkeypatch, capsys):
    """Finding 4: a corrupt last.ckpt broke the job for good although a valid epoch checkpoint sat beside it."""
    crash_at(monkeypatch, 1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    monkeypatch.undo()
    ckpts = tmp_path / "checkpoints"
    (epoch_ckpt,) = ckpts.glob("epoch=*.ckpt")
    (ckpts / "last.ckpt").write_bytes(b"PK\x03\x04 not a checkpoint")
    resumed = train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    out = capsys.readouterr().out
    assert f"unusable checkpoint {ckpts / 'last.ckpt'}" in out
    assert resumed["status"] == "finished" and resumed["resumed_from"] == str(epoch_ckpt)
    assert resumed["epochs"] == 2


def test_no_readable_checkpoint_starts_fresh_and_says_so(tmp_path, tiny_mnist_dir, monkeypatch, capsys):
    crash_at(monkeypatch, 1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    monkeypatch.undo()
    for ckpt in (tmp_path / "checkpoints").glob("*.ckpt"):
        ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated
    resumed = train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    assert "no usable checkpoint" in capsys.readouterr().out
    assert resumed["resumed_from"] is None and resumed["status"] == "finished"


def test_garbage_record_is_a_clear_error_not_a_crash(tmp_path, tiny_mnist_dir):
    """Finding 6: binary garbage in metrics.json crashed is_finished."""
    (tmp_path / "metrics.json").write_bytes(b"\x80\x81\xff\x00garbage")
    with pytest.raises(InputError, match=r"metrics\.json: run record is unreadable.*force=true"):
        train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    assert train(compose_train([*FAST, "force=true"], tmp_path, tiny_mnist_dir))["status"] == "finished"


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.max_epochs=-1", r"trainer\.max_epochs=-1 .*never ends"),
        ("seed=1.5", r"seed must be an integer in \[0, 2\*\*32\), got 1\.5"),
        ("model.width=abc", r"model\.width must be a positive number, got 'abc'"),
    ],
)
def test_bad_values_name_the_key(tmp_path, tiny_mnist_dir, override, message):
    """Finding 6: max_epochs=-1 trained forever; seed=1.5 and model.width=abc failed deep inside torch."""
    cfg = compose_train([*FAST, override], tmp_path, tiny_mnist_dir)
    with pytest.raises(InputError, match=message):
        train(cfg)


def test_where_keys_keep_the_job_identity(tmp_path, tiny_mnist_dir):
    """Adding a key that changes nothing computed (the progress bar) keeps the job's identity."""
    train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    cfg = compose_train(FAST, tmp_path, tiny_mnist_dir)
    with open_dict(cfg):
        cfg.trainer.enable_progress_bar = True
        cfg.paths.data_dir = str(tiny_mnist_dir) + "/"
    assert train(cfg)["status"] == "finished"


def test_resume_prefers_last_ckpt_of_the_same_save_and_a_newer_epoch_checkpoint_otherwise(tmp_path):
    """Lightning writes the epoch checkpoint and last.ckpt of one save moments apart, in either order (the kill -9
    and requeue tests resumed from the epoch file when it happened to be written last)."""
    import os

    import torch

    from src.results.jobs import SAME_SAVE_S, resume_checkpoint

    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    last, epoch = ckpts / "last.ckpt", ckpts / "epoch=009-step=30.ckpt"
    for p in (last, epoch):
        torch.save({"global_step": 30}, p)
    t = last.stat().st_mtime
    os.utime(epoch, (t + 0.01, t + 0.01))  # the same save, the epoch file a moment later
    assert resume_checkpoint(tmp_path) == last
    os.utime(
        epoch, (t + 10 * SAME_SAVE_S, t + 10 * SAME_SAVE_S)
    )  # last.ckpt is stale (killed between the two)
    assert resume_checkpoint(tmp_path) == epoch
