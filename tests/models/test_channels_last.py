"""``channels_last_on_cpu`` (configs/model/lenet.yaml): on a CPU trainer the LeNet trains in NHWC. The project path
(Lightning Trainer + ClassifierModule) must train exactly what a plain loop in the same memory format trains, and
the same as NCHW up to float rounding; it is not part of a job's identity."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from src.models.classifier_module import ClassifierModule
from src.models.lenet import LeNet

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"
STEPS = 12


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(32, 1, 28, 28, generator=g), torch.randint(0, 10, (32,), generator=g))
        for _ in range(STEPS)
    ]


def _adam(params):
    return torch.optim.Adam(params, lr=1e-2, foreach=True)


def _project(channels_last: bool) -> tuple[torch.Tensor, ClassifierModule]:
    torch.manual_seed(0)
    module = ClassifierModule(LeNet(2), optimizer=_adam, channels_last_on_cpu=channels_last)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(module, train_dataloaders=DataLoader(_batches(), batch_size=None))
    assert trainer.global_step == STEPS
    return torch.cat([p.detach().flatten() for p in module.net.parameters()]), module


def _plain(channels_last: bool) -> torch.Tensor:
    torch.manual_seed(0)
    net = LeNet(2)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net.to(memory_format=fmt)
    opt = _adam(net.parameters())
    for x, y in _batches():
        loss = F.cross_entropy(net(x.contiguous(memory_format=fmt)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def test_project_path_trains_what_a_plain_loop_trains_in_either_memory_format():
    nhwc, module = _project(True)
    assert module.net.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert module.net.features[3].weight.stride()[1] == 1  # NHWC strides (C innermost), not NCHW
    assert torch.equal(nhwc, _plain(True))
    nchw, module = _project(False)
    assert module.net.features[3].weight.is_contiguous()
    assert torch.equal(nchw, _plain(False))
    # the same training up to float rounding: one step's gradients differ by ~1e-7 relative (below), and Adam's
    # normalised steps carry that into the weights (measured after 12 steps: 0.0047 apart, max 0.0017 on one weight
    # whose gradient is near 0, while training moved them 3.1), so the weights are compared with their movement
    torch.manual_seed(0)
    init = torch.cat([p.detach().flatten() for p in LeNet(2).parameters()])
    assert (nhwc - nchw).norm() < 0.01 * (nchw - init).norm()


def test_one_step_in_nhwc_has_the_gradients_of_nchw_up_to_rounding():
    x, y = _batches()[0]
    grads = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        torch.manual_seed(0)
        net = LeNet(2).to(memory_format=fmt)
        F.cross_entropy(net(x.contiguous(memory_format=fmt)), y).backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert (grads[0] - grads[1]).norm() < 1e-5 * grads[0].norm()


def test_outside_a_trainer_the_net_keeps_its_format():
    module = ClassifierModule(LeNet(2), optimizer=_adam, channels_last_on_cpu=True)
    x = torch.randn(4, 1, 28, 28)
    assert module.to_memory_format(x) is x
    assert module.net.features[3].weight.is_contiguous()
    assert module(x).shape == (4, 10)


def test_lenet_config_sets_it_and_it_is_not_part_of_a_jobs_identity():
    from src.results.jobs import job_identity

    assert OmegaConf.load(CONFIGS / "lenet.yaml").module.channels_last_on_cpu is True
    old = {
        "model": {"module": {"_target_": "src.models.classifier_module.ClassifierModule", "num_classes": 10}}
    }
    new = {"model": {"module": {**old["model"]["module"], "channels_last_on_cpu": True}}}
    assert job_identity(old) == job_identity(new)  # a run finished before the switch is the same job
