"""Issue 23, training side: nothing trusted that is not checked. One test (or a few) per finding:
3 job identity includes the data, 4 caches, 5 checkpoints, 6 partial and mixed outputs, 7 user errors as one line.
(Findings 1 and 2's --out items are in tests/analysis/core/test_saving.py.)"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import open_dict

from src.datamodules import checksums
from src.datamodules.base import cached_decode
from src.datamodules.cifar import load_cifar10_jpg
from src.results.errors import InputError
from src.results.jobs import JobConfigMismatchError, checkpoint_problem
from src.training import train
from tests.conftest import REPO, write_tiny_mnist
from tests.helpers.configs import compose_train
from tests.helpers.vision_data import write_tiny_cifar10_zip
from tests.test_train import FAST, crash_at


def _add_callback(monkeypatch, callback: L.Callback) -> None:
    """Add ``callback`` to the Trainer without changing the config (another config would be another job)."""
    import src.training

    original = src.training._instantiate_group

    def with_callback(group):
        objs = original(group)
        if group is not None and "model_checkpoint" in group:
            objs.append(callback)
        return objs

    monkeypatch.setattr(src.training, "_instantiate_group", with_callback)


def _test_metrics(record):
    return {k: v for k, v in record["metrics"].items() if k.startswith("test/")}


# ------------------------------------------------------------------ 3: the job identity includes the data it read
def test_finding3_a_finished_job_on_other_data_is_not_skipped(tmp_path, monkeypatch):
    """A run on a poisoned copy (checksums off), rerun on the official data, said "skipping finished run" and
    kept the poisoned accuracy. The data dir is a where-key, so only the data's fingerprint can tell them apart."""
    poisoned = write_tiny_mnist(tmp_path / "poisoned", seed=1)
    official = write_tiny_mnist(tmp_path / "official", seed=0)
    job = tmp_path / "job"
    first = train(compose_train(FAST, job, poisoned))
    assert first["data_source"]["checksums_verified"] is False
    with pytest.raises(
        JobConfigMismatchError, match=r"same config on other data.*data\.fingerprint.*force=true"
    ):
        train(compose_train(FAST, job, official))
    # the same data again is the same job (skipped), from any path
    assert train(compose_train(FAST, job, poisoned))["metrics"] == first["metrics"]

    # the same files, now checked against known digests: the record says it was read unverified
    raw = official / "MNIST" / "raw"
    for p in raw.iterdir():
        monkeypatch.setitem(
            checksums.KNOWN_DIGESTS, f"MNIST/raw/{p.name}", ("md5", checksums.file_digest(p, "md5"))
        )
    other = tmp_path / "job2"
    train(compose_train(FAST, other, official))
    cfg = compose_train(FAST, other, official)
    with open_dict(cfg):
        cfg.data.verify_checksums = True
    with pytest.raises(JobConfigMismatchError, match=r"data\.checksums_verified: False -> True"):
        train(cfg)


# ------------------------------------------------------------------ 4: caches
def test_finding4_a_cache_edited_after_it_was_written_is_not_used(tmp_path):
    """A cache with the right source fingerprint and zeroed images was used silently (sq_err 797.9 vs 249.2)."""
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    write_tiny_cifar10_zip(data_dir)
    first = load_cifar10_jpg(data_dir, cache_dir, verify=False)
    (cache,) = (cache_dir / "cifar10_jpg").glob("*.pt")
    edited = torch.load(cache, weights_only=True)
    edited["train_images"] = torch.zeros_like(
        edited["train_images"]
    )  # valid shape, dtype, labels, fingerprint
    torch.save(edited, cache)
    again = load_cifar10_jpg(data_dir, cache_dir, verify=False)
    assert torch.equal(again["train_images"], first["train_images"])
    assert torch.load(cache, weights_only=True)["train_images"].any()  # and the cache was written again


@pytest.mark.parametrize("layout", ["world_writable_grandparent", "other_owner", "symlink", "world_writable"])
def test_finding4_cache_dirs_others_could_write_are_refused_in_one_line(tmp_path, layout):
    """Only the nearest existing dir was checked (a 0777 parent and another user's dir were accepted), and a
    symlinked or 0777 cache dir was a PermissionError traceback instead of the one-line error."""
    mine = tmp_path / "shared" / "mine"
    mine.mkdir(parents=True)
    mine.chmod(0o700)
    cache_dir = mine / "cache"
    if layout == "world_writable_grandparent":
        (tmp_path / "shared").chmod(0o777)  # another user can rename "mine" and put their own in its place
        expect = r"shared is writable by every user"
    elif layout == "other_owner":
        if os.getuid() != 0:
            pytest.skip("making a dir owned by another user needs root")
        os.chown(mine, 65534, 65534)
        expect = r"mine is owned by another user \(uid 65534\)"
    elif layout == "symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        cache_dir.symlink_to(tmp_path / "elsewhere")
        expect = r"cache is a symlink"
    else:
        cache_dir.mkdir()
        cache_dir.chmod(0o777)
        expect = r"cache is writable by every user"
    decoded = []
    with pytest.raises(InputError, match=rf"cache dir .*refused: .*{expect}.*; set MIRAGE_CACHE_DIR"):
        cached_decode(
            cache_dir / "x.pt", lambda: decoded.append(1) or {}, "x", fingerprint="f", validate=dict
        )
    assert not decoded
    from src.utils.job_config import UserError, one_line_errors

    with pytest.raises(UserError) as err, one_line_errors():
        cached_decode(cache_dir / "x.pt", dict, "x", fingerprint="f", validate=dict)
    assert str(err.value).startswith("error: cache dir ") and "\n" not in str(err.value)


# ------------------------------------------------------------------ 5: checkpoints
def _crashed_job(tmp_path, tiny_mnist_dir, monkeypatch) -> Path:
    """A job that wrote its epoch-0 checkpoints and then crashed."""
    crash_at(monkeypatch, 1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    monkeypatch.undo()
    return tmp_path / "checkpoints"


def test_finding5_a_last_ckpt_that_does_not_fit_falls_back_to_the_epoch_checkpoint(
    tmp_path, tiny_mnist_dir, monkeypatch, capsys
):
    """Another width's last.ckpt (loads, but does not fit) failed the job on every rerun while a good epoch=000
    checkpoint sat beside it."""
    other = tmp_path / "width4"
    train(compose_train([*FAST, "model.width=4", "trainer.max_epochs=1"], other, tiny_mnist_dir))
    ckpts = _crashed_job(tmp_path / "job", tiny_mnist_dir, monkeypatch)
    (epoch_ckpt,) = ckpts.glob("epoch=*.ckpt")
    (ckpts / "last.ckpt").write_bytes((other / "checkpoints" / "last.ckpt").read_bytes())
    assert (
        checkpoint_problem(ckpts / "last.ckpt") is None
    )  # a sound zip: only loading it into the model tells
    resumed = train(compose_train(FAST, tmp_path / "job", tiny_mnist_dir))
    out = capsys.readouterr().out
    assert f"unusable checkpoint {ckpts / 'last.ckpt'} (does not fit this model: RuntimeError" in out
    assert resumed["status"] == "finished" and resumed["resumed_from"] == str(epoch_ckpt)
    assert resumed["epochs"] == 2


def test_finding5_a_junk_zip_or_a_planted_pickle_is_never_loaded_as_code(
    tmp_path, tiny_mnist_dir, monkeypatch, capsys
):
    """Checkpoints were loaded with weights_only=None: with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (or torch < 2.6) a
    planted checkpoint ran its code; a junk zip failed the job for good."""
    ckpts = _crashed_job(tmp_path, tiny_mnist_dir, monkeypatch)
    (epoch_ckpt,) = ckpts.glob("epoch=*.ckpt")
    marker = tmp_path / "pwned"

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    good = torch.load(ckpts / "last.ckpt", weights_only=True)
    torch.save({**good, "loops": RunsCode()}, ckpts / "last.ckpt")
    junk = ckpts / "epoch=005-step=99.ckpt"  # named newer, a sound zip of junk
    with zipfile.ZipFile(junk, "w") as zf:
        zf.writestr("archive/data.pkl", b"not a pickle")
    os.utime(junk, (os.path.getmtime(ckpts / "last.ckpt") + 60,) * 2)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    resumed = train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    out = capsys.readouterr().out
    assert not marker.exists()
    assert f"unusable checkpoint {junk} (does not load with weights_only=True" in out
    assert f"unusable checkpoint {ckpts / 'last.ckpt'} (does not load with weights_only=True" in out
    assert resumed["resumed_from"] == str(epoch_ckpt) and resumed["status"] == "finished"


def test_finding5_torch_floor_loads_safely_by_default():
    """pyproject allowed torch >= 2.1, whose versions before 2.6 unpickle anything by default."""
    import re

    (torch_dep,) = re.findall(r'^\s*"(torch\s*[<>=!~][^"]*)",', (REPO / "pyproject.toml").read_text(), re.M)
    floor = tuple(int(x) for x in re.search(r">=\s*(\d+)\.(\d+)", torch_dep).groups())
    assert floor >= (2, 6), torch_dep


# ------------------------------------------------------------------ 6: partial and mixed outputs
def test_finding6_a_resumed_run_appends_to_its_csv_log(tmp_path, tiny_mnist_dir, monkeypatch):
    """A resumed run's csv/metrics.csv lost its pre-kill rows."""
    overrides = [*FAST, "logger=csv", "trainer.log_every_n_steps=1"]
    crash_at(monkeypatch, 1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(compose_train(overrides, tmp_path, tiny_mnist_dir))
    monkeypatch.undo()
    path = tmp_path / "csv" / "metrics.csv"
    with path.open() as fh:
        before = list(csv.DictReader(fh))
    assert before and {r["epoch"] for r in before} == {"0"}
    train(compose_train(overrides, tmp_path, tiny_mnist_dir))
    with path.open() as fh:
        after = list(csv.DictReader(fh))
    keep = [{k: r.get(k, "") for k in before[0]} for r in after[: len(before)]]
    assert keep == before  # the old rows, unchanged, first
    assert {r["epoch"] for r in after[len(before) :]} >= {"1"}  # then the resumed epoch's

    # with Hydra's own .hydra/ writing off (it ran before the lock), the job wrote the same three files itself
    import yaml

    assert "logger=csv" in yaml.safe_load((tmp_path / ".hydra" / "overrides.yaml").read_text())
    assert yaml.safe_load((tmp_path / ".hydra" / "config.yaml").read_text())["model"]["width"] == 2
    assert "hydra" in yaml.safe_load((tmp_path / ".hydra" / "hydra.yaml").read_text())


class _FillDiskAt(L.Callback):
    """Fills the file system holding ``path`` at the start of ``epoch``: the next checkpoint save fails."""

    def __init__(self, epoch: int, path: Path):
        self.epoch, self.path = epoch, path

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            with open(self.path, "wb") as fh:
                try:
                    while True:
                        fh.write(b"\0" * 4096)
                        fh.flush()
                except OSError:
                    pass


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: a real full disk (needs the right to mount; skipped without it)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()[:100]}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_finding6_a_run_dying_on_a_full_disk_is_marked_failed_and_resumes_cleanly(
    small_disk, tmp_path, tiny_mnist_dir, monkeypatch
):
    """On a full disk the record stayed "running" and the error raised was the record write's, not the run's."""
    clean = train(compose_train(FAST, tmp_path / "clean", tiny_mnist_dir))
    job = small_disk / "job"
    _add_callback(monkeypatch, _FillDiskAt(1, small_disk / "filler"))
    with pytest.raises(OSError, match="No space left on device") as err:
        train(compose_train(FAST, job, tiny_mnist_dir))
    monkeypatch.undo()
    assert err.value.__context__ is None or "metrics.json" not in str(err.value)  # the run's own error
    record = json.loads((job / "metrics.json").read_text())
    assert record["status"] == "failed" and "No space left on device" in record["error"]
    assert all(checkpoint_problem(p) is None for p in (job / "checkpoints").glob("*.ckpt"))
    (small_disk / "filler").unlink()  # the user frees space and reruns
    resumed = train(compose_train(FAST, job, tiny_mnist_dir))
    assert resumed["status"] == "finished" and resumed["resumed_from"]
    assert resumed["global_step"] == clean["global_step"]
    assert _test_metrics(resumed) == pytest.approx(_test_metrics(clean), abs=1e-6)
    assert not [p for p in job.rglob("*") if p.name.endswith(".tmp")]


def test_finding6_the_failed_record_is_written_in_place_only_where_it_fits(tmp_path, monkeypatch):
    """Where mounting a small disk is not allowed: the atomic write fails as on a full disk (no room for its temp
    file), and the record is rewritten in its own blocks if it fits there, else left whole (still resumable)."""
    import errno

    from src.results import records

    records.write_record(tmp_path, {"status": "running", "pad": "x" * 3000})

    def full(run_dir, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(records, "write_record", full)
    assert records.write_record_in_place(tmp_path, {"status": "failed", "error": "OSError: no space"})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {
        "status": "failed",
        "error": "OSError: no space",
    }
    before = (tmp_path / "metrics.json").read_bytes()
    assert not records.write_record_in_place(tmp_path, {"status": "failed", "pad": "y" * 100_000})
    assert (tmp_path / "metrics.json").read_bytes() == before  # too big for its blocks: untouched, never half


def test_finding6_and_7_a_refused_second_process_touches_nothing_and_says_one_line(tmp_path, tiny_mnist_dir):
    """A second train.py refused by the lock had already rewritten the running job's .hydra/ (Hydra writes it
    before the job starts), and its refusal was printed inside a traceback. One real subprocess run of train.py."""
    job = tmp_path / "job"
    hydra_dir = job / ".hydra"
    hydra_dir.mkdir(parents=True)
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        (hydra_dir / name).write_text(f"the running job's {name}\n")
    (job / "train.log").write_text("the running job's log\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from src.results.jobs import job_lock\n"
         "with job_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(120)", str(job)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        env = {**os.environ, "DATA_DIR": str(tiny_mnist_dir), "WANDB_MODE": "offline"}
        env.pop("HYDRA_FULL_ERROR", None)
        second = subprocess.run(
            [sys.executable, "train.py", f"hydra.run.dir={job}", f"paths.log_dir={tmp_path}",
             f"paths.cache_dir={tmp_path / 'cache'}", "trainer.accelerator=cpu", *FAST],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode != 0
    assert "Traceback" not in second.stderr, second.stderr[-2000:]
    errors = [line for line in second.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and f"job in use by PID {holder.pid}" in errors[0], second.stderr[-2000:]
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        assert (hydra_dir / name).read_text() == f"the running job's {name}\n"
    assert (job / "train.log").read_text() == "the running job's log\n"  # not even "Error executing job ..."
    assert not (job / "metrics.json").exists()


def test_finding6_train_log_is_written_only_under_the_job_lock(tmp_path):
    """Hydra's train.log handler appended a refused process's lines to the running job's log; the job's own
    handler keeps lines until this process holds the lock, then writes them in order."""
    import logging

    from src.results.jobs import job_lock
    from src.utils.job_log import JobLogHandler

    handler = JobLogHandler(str(tmp_path / "train.log"))
    logger = logging.getLogger("test_trust.job_log")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("before the lock")
        assert not (tmp_path / "train.log").exists()
        with job_lock(tmp_path):
            logger.warning("under the lock")
        logger.warning("after the job")
        handler.flush()
        assert (tmp_path / "train.log").read_text().splitlines() == [
            "before the lock",
            "under the lock",
            "after the job",
        ]
    finally:
        logger.removeHandler(handler)
        handler.close()


# ------------------------------------------------------------------ 7: user errors as one line
@pytest.mark.parametrize(
    "override, message",
    [
        ("model.width=-1", r"model\.width must be a positive number, got -1"),
        (
            "trainer.max_epochs=0",
            r"trainer\.max_epochs must be a positive integer \(or -1: no limit\), got 0",
        ),
        ("seed=abc", r"seed must be an integer in \[0, 2\*\*32\), got 'abc'"),
        (
            "model.module.optimizer.lr=nan",
            r"model\.module\.optimizer\.lr must be a finite number >= 0, got nan",
        ),
        ("data.train_subset=0", r"data\.train_subset must be a positive integer or null, got 0"),
        ("data.batch_size=0", r"data\.batch_size must be a positive integer, got 0"),
    ],
)
def test_finding7_bad_config_values_are_refused_in_one_line(tmp_path, tiny_mnist_dir, override, message):
    """width -1, max_epochs 0, seed "abc", lr nan printed their message inside a Hydra traceback (or trained);
    data.train_subset=0 recorded a finished run with 0 steps."""
    from src.utils.job_config import UserError, one_line_errors

    cfg = compose_train([*FAST, override], tmp_path, tiny_mnist_dir)
    with pytest.raises(UserError, match=rf"^error: {message}; pass e\.g\. ") as err, one_line_errors():
        train(cfg)
    assert "\n" not in str(err.value) and isinstance(err.value.__cause__, InputError)
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / ".hydra").exists()


def test_finding7_an_identity_mismatch_is_one_line_and_full_error_keeps_the_traceback(
    tmp_path, tiny_mnist_dir, monkeypatch
):
    from src.utils.job_config import UserError, one_line_errors

    train(compose_train(FAST, tmp_path, tiny_mnist_dir))
    other = compose_train([*FAST, "model.width=3"], tmp_path, tiny_mnist_dir)
    with pytest.raises(UserError, match=r"^error: .*another config.*model\.width: 2 -> 3.*force=true") as err:
        with one_line_errors():
            train(other)
    assert "\n" not in str(err.value)
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(JobConfigMismatchError), one_line_errors():
        train(other)


def test_finding7_missing_data_is_one_line(tmp_path):
    """The missing-data message (what is expected where, how to get it) was printed inside a traceback."""
    from src.utils.job_config import UserError, one_line_errors

    cfg = compose_train(FAST, tmp_path / "run", tmp_path / "no_data_here")
    with pytest.raises(
        UserError, match=r"^error: MNIST files missing: .*no_data_here/MNIST/raw.*DATA_DIR"
    ) as err:
        with one_line_errors():
            train(cfg)
    assert "\n" not in str(err.value) and isinstance(err.value.__cause__, FileNotFoundError)
    assert not (tmp_path / "run" / ".hydra").exists()
