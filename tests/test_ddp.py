"""trainer=ddp: a whole train() in 2 CPU processes (gloo) matches one process on the same data.

With ``data.batch_size`` per process, 2 processes at batch B see, step by step, exactly the items one process sees
at batch 2B (the sampler strides one shuffled order), and DDP averages their gradients: the same updates up to float
summation order. Evaluation metrics merge through their states, so test metrics must match to float tolerance, and
every test item is counted once (per_item.npz holds each index exactly once).
"""

import json
import os

import numpy as np
import pytest
import torch
from omegaconf import open_dict

from src.training import train
from tests.helpers.configs import compose_train
from tests.helpers.ddp import run_distributed

BASE = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=4",
    "data.val_size=100",
    "data.eval_batch_size=64",
    "data.download=false",
    "model.width=2",
    "logger=none",
    "callbacks=none",
]
PER_PROCESS_BATCH = 16


def _ddp_train(rank: int, world_size: int, out_dir: str, data_dir: str) -> dict:
    # the processes exist already (forked, gloo group joined): tell Lightning so, as torchrun would
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        GROUP_RANK="0",
        LOCAL_WORLD_SIZE=str(world_size),
        TORCHELASTIC_RUN_ID="test-ddp",
    )
    cfg = compose_train(
        [*BASE, "trainer=ddp", f"trainer.devices={world_size}", f"data.batch_size={PER_PROCESS_BATCH}"],
        out_dir,
        data_dir,
    )
    record = train(cfg)
    return {
        "metrics": record["metrics"],
        "global_step": record["global_step"],
        "world": record["config"]["trainer"],
    }


def test_ddp_config_composes_for_each_launcher(tmp_path):
    cfg = compose_train(["trainer=ddp", "trainer.devices=4"], tmp_path)
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 4 and cfg.trainer.sync_batchnorm
    assert cfg.trainer.use_distributed_sampler is False  # our sampler shards; Lightning's would pad eval sets
    gpu = compose_train(["trainer=gpu"], tmp_path)
    assert gpu.trainer.devices == 1


def test_two_gloo_processes_match_one_process(tmp_path, tiny_mnist_dir):
    import torch

    torch.set_num_threads(1)
    single = train(
        compose_train([*BASE, f"data.batch_size={2 * PER_PROCESS_BATCH}"], tmp_path / "one", tiny_mnist_dir)
    )
    ranks = run_distributed(_ddp_train, str(tmp_path / "ddp"), str(tiny_mnist_dir), world_size=2)

    assert all(r["world"]["devices"] == 2 and r["world"]["strategy"] == "ddp" for r in ranks)
    assert ranks[0]["global_step"] == ranks[1]["global_step"] == single["global_step"] == 8
    test_single = {k: v for k, v in single["metrics"].items() if k.startswith("test/")}
    for r in ranks:  # every rank reports the merged value, not its shard's
        test_ddp = {k: v for k, v in r["metrics"].items() if k.startswith("test/")}
        assert test_ddp.keys() == test_single.keys()
        assert test_ddp == pytest.approx(test_single, abs=1e-5)  # measured: 2e-7 on test/ce

    record = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert record["status"] == "finished" and record["n_test"] == 200
    items = np.load(tmp_path / "ddp" / "per_item.npz")
    assert sorted(items["index"].tolist()) == list(range(200))  # each test item once, none padded in
    assert items["correct"].mean() == pytest.approx(record["metrics"]["test/acc"], abs=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="trainer=gpu needs CUDA")
def test_trainer_gpu_runs_on_one_gpu(tmp_path, tiny_mnist_dir):
    cfg = compose_train([*BASE, "trainer=gpu", "debug=fdr"], tmp_path, tiny_mnist_dir)
    with open_dict(cfg):
        cfg.trainer.accelerator = "gpu"  # compose_train forces the CPU for everything else
    record = train(cfg)
    assert record["status"] == "finished" and record["config"]["trainer"]["accelerator"] == "gpu"
