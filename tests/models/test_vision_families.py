"""One fast_dev_run per vision family through train(): record keys, per_item.npz in the design's shapes, and the
analysis bootstrap reproducing the logged test metrics from those per-item arrays."""

import json

import numpy as np
import pytest
import torch

from src.analysis.sweeps.bootstrap import load_per_item, run_replicates
from src.models.autoencoder import ShallowAutoencoder
from src.models.seq_transformer import OmniglotTransformer, transformer_sizes
from src.training import train
from tests.helpers.configs import compose_train
from tests.helpers.vision_data import write_tiny_cifar10_zip, write_tiny_cifar100, write_tiny_omniglot


def _check_rescoring(run_dir, record):
    arrays = load_per_item(run_dir / "per_item.npz")
    test_metrics = {k: v for k, v in record["metrics"].items() if k.startswith("test/")}
    reps, mismatched = run_replicates(test_metrics, arrays, n_boot=20, rng=np.random.default_rng(0))
    assert mismatched == []
    return arrays, reps


@pytest.mark.parametrize("experiment", ["autoencoder_cifar10_jpg", "autoencoder_cifar100"])
def test_autoencoder_fast_dev_run(tmp_path, experiment):
    data = tmp_path / "data"
    if experiment.endswith("cifar100"):
        write_tiny_cifar100(data, n_train=40, n_test=12)
    else:
        write_tiny_cifar10_zip(data, n_train=10, n_test=4)
    cfg = compose_train(
        [
            f"experiment={experiment}",
            "debug=fdr",
            "model.width=4",
            "logger=none",
            "data.val_size=6",
            "data.batch_size=8",
            "model.module.recon_cs=[50,200,400]",
        ],
        tmp_path / "run",
        data,
    )
    record = train(cfg)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["status"] == "finished" and saved["model_family"] == "autoencoder" and saved["width"] == 4
    assert saved["num_params"] == 2 * 3072 * 4 + 4 + 3072
    for key in ("test/sq_err", "test/mse", "test/recon_c=50", "test/recon_c=400"):
        assert key in saved["metrics"]
    assert saved["metrics"]["test/mse"] == pytest.approx(saved["metrics"]["test/sq_err"] / 3072, rel=1e-5)
    arrays, reps = _check_rescoring(tmp_path / "run", record)
    assert arrays["sq_err"].dtype == np.float32 and arrays["sq_err"].shape == (12,)
    assert {"test/sq_err", "test/mse", "test/recon_c=200"} <= set(reps)


def test_transformer_fast_dev_run(tmp_path):
    data = write_tiny_omniglot(tmp_path / "data")
    cfg = compose_train(
        [
            "experiment=transformer_omniglot",
            "debug=fdr",
            "model.width=8",
            "logger=none",
            "data.num_classes=6",
            "data.test_drawings=2",
            "data.val_drawings=1",
            "data.train_sequences=32",
            "data.val_sequences=8",
            "data.test_sequences=30",
            "data.batch_size=8",
        ],
        tmp_path / "run",
        data,
    )
    record = train(cfg)
    assert record["status"] == "finished" and record["model_family"] == "transformer"
    for key in ("test/acc", "test/ce", "test/seq_acc_l=1", "test/seq_acc_l=5"):
        assert key in record["metrics"]
    arrays, reps = _check_rescoring(tmp_path / "run", record)
    assert arrays["correct"].dtype == bool and arrays["correct"].shape == (30, 5)
    assert arrays["ce"].dtype == np.float32 and arrays["ce"].shape == (30, 5)
    assert record["metrics"]["test/acc"] == pytest.approx(arrays["correct"].mean(), abs=1e-6)
    assert {"test/acc", "test/ce", "test/seq_acc_l=3"} <= set(reps)


def test_autoencoder_shapes_and_width_check():
    net = ShallowAutoencoder(width=3)
    x = torch.rand(5, 3, 32, 32)
    out = net(x)
    assert out.shape == x.shape and 0 <= float(out.min()) and float(out.max()) <= 1
    with pytest.raises(ValueError, match="model.width must be a positive integer, got 0"):
        ShallowAutoencoder(width=0)


def test_transformer_is_causal_and_scales_with_width():
    torch.manual_seed(0)
    net = OmniglotTransformer(width=16, num_classes=7, max_len=4).eval()
    images, labels = torch.rand(2, 4, 1, 28, 28), torch.randint(0, 7, (2, 4))
    logits = net(images, labels)
    assert logits.shape == (2, 4, 7)
    # changing the last label or the last image changes nothing before it; the label of pair i is never seen at i
    images2, labels2 = images.clone(), labels.clone()
    images2[:, 3] = torch.rand(2, 1, 28, 28)
    labels2[:, 2:] = (labels[:, 2:] + 1) % 7
    logits2 = net(images2, labels2)
    assert torch.allclose(logits[:, :3], logits2[:, :3], atol=1e-5)
    assert not torch.allclose(logits[:, 3], logits2[:, 3], atol=1e-5)
    assert [transformer_sizes(w)["heads"] for w in (4, 8, 16, 64)] == [1, 1, 2, 8]
    small, big = (sum(p.numel() for p in OmniglotTransformer(w, 100).parameters()) for w in (4, 64))
    assert small < big


def test_transformer_learns_the_tiny_omniglot_classes(tmp_path):
    # each fixture character is a bar at its own height: a few epochs must beat chance (1/6) by far
    data = write_tiny_omniglot(tmp_path / "data")
    overrides = ["experiment=transformer_omniglot", "model.width=16", "logger=none", "callbacks=none",
                 "data.num_classes=6", "data.test_drawings=2", "data.val_drawings=1", "data.train_sequences=256",
                 "data.val_sequences=16", "data.test_sequences=64", "data.batch_size=16", "trainer.max_epochs=4",
                 "model.module.optimizer.lr=3e-3"]  # fmt: skip
    record = train(compose_train(overrides, tmp_path / "run", data))
    m = record["metrics"]
    assert m["test/acc"] > 0.6, m
    assert m["test/seq_acc_l=5"] <= m["test/seq_acc_l=1"]


@pytest.mark.parametrize("grid, message", [("[]", "grid is empty"), ("[10,-5]", "positive and finite")])
def test_bad_c_grid_from_the_command_line_is_a_clear_error(tmp_path, grid, message):
    from hydra.errors import InstantiationException

    data = tmp_path / "data"
    write_tiny_cifar10_zip(data, n_train=4, n_test=2)
    overrides = ["experiment=autoencoder_cifar10_jpg", "logger=none", f"model.module.recon_cs={grid}"]
    with pytest.raises(InstantiationException, match=message):
        train(compose_train(overrides, tmp_path / "run", data))
