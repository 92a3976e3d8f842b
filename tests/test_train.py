"""train() in-process: a real short run, crash-and-rerun resume, skip of finished runs, seeds, bad input."""

import json

import lightning as L
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import open_dict

from src.results.errors import InputError
from src.training import train
from tests.helpers.configs import compose_train

FAST = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=1",
    "data.batch_size=32",
    "data.val_size=100",
    "data.download=false",
    "model.width=2",
    "logger=none",
]


class CrashAtEpoch(L.Callback):
    """Raises at the start of ``epoch``, after the previous epoch's checkpoint was written: a crash mid-run."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


def crash_at(monkeypatch, epoch: int) -> None:
    """Add a CrashAtEpoch callback to the Trainer without changing the config (another config is another job)."""
    import src.training

    original = src.training._instantiate_group

    def with_crash(group):
        objs = original(group)
        if group is not None and "model_checkpoint" in group:
            objs.append(CrashAtEpoch(epoch))
        return objs

    monkeypatch.setattr(src.training, "_instantiate_group", with_crash)


def _test_metrics(record):
    return {k: v for k, v in record["metrics"].items() if k.startswith("test/")}


def test_fast_dev_run_writes_a_record(tmp_path, tiny_mnist_dir):
    cfg = compose_train([*FAST, "debug=fdr"], tmp_path, tiny_mnist_dir)
    record = train(cfg)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["status"] == record["status"] == "finished"
    assert saved["model_family"] == "lenet" and saved["width"] == 2 and saved["num_params"] == 6785
    for key in ("test/acc", "test/ce", "test/subset_acc_k=1", "test/subset_acc_k=5"):
        assert key in saved["metrics"]
    assert saved["metrics"]["test/subset_acc_k=1"] == pytest.approx(saved["metrics"]["test/acc"])
    assert saved["config"]["model"]["width"] == 2


def test_crash_then_rerun_resumes_and_matches_uninterrupted_run(tmp_path, tiny_mnist_dir, monkeypatch):
    clean = train(compose_train(FAST, tmp_path / "clean", tiny_mnist_dir))
    assert clean["resumed_from"] is None and clean["epochs"] == 2

    crash_at(monkeypatch, 1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(compose_train(FAST, tmp_path / "crash", tiny_mnist_dir))
    monkeypatch.undo()
    failed = json.loads((tmp_path / "crash" / "metrics.json").read_text())
    assert failed["status"] == "failed" and "simulated crash" in failed["error"]
    assert (tmp_path / "crash" / "checkpoints" / "last.ckpt").is_file()

    resumed = train(compose_train(FAST, tmp_path / "crash", tiny_mnist_dir))
    assert resumed["resumed_from"].endswith("last.ckpt") and resumed["status"] == "finished"
    assert resumed["global_step"] == clean["global_step"]
    assert _test_metrics(resumed) == pytest.approx(_test_metrics(clean), abs=1e-6)


def test_finished_run_is_skipped_unless_forced(tmp_path, tiny_mnist_dir, capsys):
    cfg = compose_train([*FAST, "trainer.max_epochs=1"], tmp_path, tiny_mnist_dir)
    first = train(cfg)
    mtime = (tmp_path / "metrics.json").stat().st_mtime_ns
    again = train(cfg)
    assert "skipping finished run" in capsys.readouterr().out
    assert (
        again == json.loads((tmp_path / "metrics.json").read_text()) and again["metrics"] == first["metrics"]
    )
    assert (tmp_path / "metrics.json").stat().st_mtime_ns == mtime
    with open_dict(cfg):
        cfg.force = True
    train(cfg)
    assert (tmp_path / "metrics.json").stat().st_mtime_ns > mtime


def test_same_seed_same_metrics_other_seed_differs(tmp_path, tiny_mnist_dir):
    args = [*FAST, "trainer.max_epochs=1", "callbacks=none"]
    a = train(compose_train([*args, "seed=3"], tmp_path / "a", tiny_mnist_dir))
    b = train(compose_train([*args, "seed=3"], tmp_path / "b", tiny_mnist_dir))
    c = train(compose_train([*args, "seed=4"], tmp_path / "c", tiny_mnist_dir))
    assert _test_metrics(a) == _test_metrics(b)
    assert _test_metrics(a)["test/ce"] != _test_metrics(c)["test/ce"]


def test_nan_loss_is_a_clear_error_and_recorded(tmp_path, tiny_mnist_dir):
    # a step size so large that the weights overflow to inf after one update: the next loss is NaN
    overrides = ["model.module.optimizer._target_=torch.optim.SGD", "model.module.optimizer.lr=1e38"]
    cfg = compose_train([*FAST, *overrides], tmp_path, tiny_mnist_dir)
    with pytest.raises(FloatingPointError, match="non-finite training loss.*Lower optimizer.lr"):
        train(cfg)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "failed"


def test_missing_data_is_a_clear_error(tmp_path):
    cfg = compose_train(FAST, tmp_path / "run", tmp_path / "no_data_here")
    with pytest.raises(FileNotFoundError, match=r"no_data_here/MNIST/raw.*DATA_DIR"):
        train(cfg)


@pytest.mark.parametrize(
    "override, message",
    [("model.depth=3", "depth"), ("data=imagenet", "imagenet"), ("trainer.max_epoch=3", "max_epoch")],
)
def test_unknown_config_values_are_clear_errors(tmp_path, override, message):
    with pytest.raises(ConfigCompositionException, match=message):
        compose_train([override], tmp_path)


def test_bad_width_is_a_clear_error(tmp_path, tiny_mnist_dir):
    # refused by check_config before anything is built (it was the model's message inside Hydra's)
    with pytest.raises(InputError, match="model.width must be a positive number, got 0"):
        train(compose_train([*FAST, "model.width=0"], tmp_path, tiny_mnist_dir))
