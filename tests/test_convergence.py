"""callbacks=converge: early stopping on the validation loss, and how the run record says why training ended."""

import json
from pathlib import Path

import pytest

from src.training import train
from tests.helpers.configs import compose_train
from tests.test_train import FAST

TINY = [o for o in FAST if not o.startswith("trainer.max_epochs=")]  # each test sets its own budget


@pytest.mark.parametrize(
    ("extra", "reason", "epochs", "converged"),
    [
        # an improvement of 10 nats is never reached: the 2nd epoch does not improve, patience 1 stops the run
        (["callbacks=converge", "callbacks.early_stopping.patience=1", "callbacks.early_stopping.min_delta=10"],
         "early_stopping", 2, True),
        (["callbacks=converge", "callbacks.early_stopping.patience=50"], "max_epochs", 3, False),
        (["callbacks=default"], "max_epochs", 3, None),
    ],
)  # fmt: skip
def test_run_record_says_why_training_ended(tmp_path, tiny_mnist_dir, extra, reason, epochs, converged):
    cfg = compose_train([*TINY, "trainer.max_epochs=3", *extra], tmp_path, tiny_mnist_dir)
    train(cfg)
    conv = json.loads((tmp_path / "metrics.json").read_text())["convergence"]
    assert conv["stopped_reason"] == reason
    assert conv["epochs"] == epochs and conv["steps"] == 4 * epochs
    assert conv["converged"] is converged
    if converged is not None:
        assert conv["monitor"] == "val/ce" and conv["best_val"] > 0


def test_converge_monitors_each_familys_validation_loss(tmp_path):
    for model, loss in (("lenet", "val/ce"), ("autoencoder", "val/sq_err"), ("transformer", "val/ce")):
        cfg = compose_train([f"model={model}", "callbacks=converge"], tmp_path)
        assert cfg.callbacks.early_stopping.monitor == loss


def test_converge_tests_the_best_validation_checkpoint(tmp_path, tiny_mnist_dir):
    """The test metrics are those of the checkpoint with the best val loss, recomputed here from that file."""
    import lightning as L
    from hydra.utils import instantiate

    cfg = compose_train(
        [*TINY, "trainer.max_epochs=3", "callbacks=converge", "callbacks.early_stopping.patience=50"],
        tmp_path,
        tiny_mnist_dir,
    )
    record = train(cfg)
    ckpt_dir = tmp_path / "checkpoints"
    best = ckpt_dir / record["tested_checkpoint"]
    assert best.is_file() and best.name != "last.ckpt"
    state = __import__("torch").load(ckpt_dir / "last.ckpt", weights_only=False)
    scores = [v for k, v in state["callbacks"].items() if k.startswith("ModelCheckpoint")][0]
    assert Path(scores["best_model_path"]).name == best.name
    model = instantiate(cfg.model.module, _convert_="all")
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (again,) = trainer.test(model, datamodule=instantiate(cfg.data, _convert_="all"), ckpt_path=str(best))
    assert record["metrics"]["test/ce"] == pytest.approx(again["test/ce"], rel=1e-6)


def test_record_says_how_training_ended_even_when_an_earlier_checkpoint_is_tested(tmp_path, tiny_mnist_dir):
    """lr=0: the validation loss never improves, so the best checkpoint is the first epoch's and early stopping
    ends the run; testing that checkpoint restores its callback states, which must not rewrite the record."""
    cfg = compose_train(
        [*TINY, "trainer.max_epochs=5", "callbacks=converge", "callbacks.early_stopping.patience=1",
         "model.module.optimizer.lr=0.0"],
        tmp_path,
        tiny_mnist_dir,
    )  # fmt: skip
    record = train(cfg)
    assert record["tested_checkpoint"].startswith("epoch=000-")
    conv = record["convergence"]
    assert conv["stopped_reason"] == "early_stopping" and conv["converged"] is True
    assert conv["epochs"] == record["epochs"] == 2 and conv["epochs_since_best"] == 1
