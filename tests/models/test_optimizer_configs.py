"""The model configs' optimizers step with ``foreach: true`` (one op over all parameters instead of a Python loop
per tensor; faster on CPU, where torch's default is the loop). It must not change what is trained: on CPU the
foreach step is bitwise equal to the default loop, so every sweep in the README reproduces exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from src.models.autoencoder import ShallowAutoencoder
from src.models.decoder import DecoderLM
from src.models.lenet import LeNet

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"
NETS = {
    "lenet": (lambda: LeNet(2), lambda g: torch.randn(16, 1, 28, 28, generator=g)),
    "autoencoder": (lambda: ShallowAutoencoder(16), lambda g: torch.rand(16, 3, 32, 32, generator=g)),
    "arithmetic_transformer": (
        lambda: DecoderLM(14, width=16, depth=1, max_len=16),
        lambda g: torch.randint(0, 14, (16, 12), generator=g),
    ),
}


def _train(name: str, **override) -> torch.Tensor:
    cfg = OmegaConf.load(CONFIGS / f"{name}.yaml").module.optimizer
    make_net, make_batch = NETS[name]
    torch.manual_seed(0)
    net = make_net()
    opt = instantiate(cfg, **override)(params=net.parameters())
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        out = net(make_batch(g))
        loss = out.float().pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


@pytest.mark.parametrize("name", sorted(NETS))
def test_configured_optimizer_is_foreach_and_bitwise_equal_to_the_default_loop(name):
    assert OmegaConf.load(CONFIGS / f"{name}.yaml").module.optimizer.foreach is True
    assert torch.equal(_train(name), _train(name, foreach=False))


def test_every_model_config_steps_with_foreach():
    for path in CONFIGS.glob("*.yaml"):
        assert OmegaConf.load(path).module.optimizer.get("foreach") is True, path.name


def test_foreach_is_not_part_of_a_jobs_identity():
    from src.results.jobs import job_identity

    a = {"model": {"module": {"optimizer": {"_target_": "torch.optim.Adam", "lr": 1e-3}}}}
    b = {"model": {"module": {"optimizer": {"_target_": "torch.optim.Adam", "lr": 1e-3, "foreach": True}}}}
    assert job_identity(a) == job_identity(b)  # a run finished before foreach was switched on is the same job
    c = {"model": {"module": {"optimizer": {"_target_": "torch.optim.Adam", "lr": 1e-3, "fused": True}}}}
    assert job_identity(a) != job_identity(c)  # fused changes the trained weights: another job
