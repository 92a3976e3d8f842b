"""Sequence accuracy against a Python loop, the class against its functional twin, DDP merge, bad input."""

import math

import numpy as np
import pytest
import torch

from src.metrics.sequence_accuracy import SequenceAccuracy, sequence_accuracy
from tests.helpers.ddp import run_distributed


def loop_reference(correct: np.ndarray, k: int) -> float:
    return sum(all(row[:k]) for row in correct.tolist()) / len(correct)


def test_functional_matches_loop():
    rng = np.random.default_rng(0)
    correct = rng.random((200, 5)) < 0.8
    got = sequence_accuracy(torch.from_numpy(correct), ls=range(1, 6))
    for k in range(1, 6):
        assert float(got[k]) == pytest.approx(loop_reference(correct, k))
    assert float(got[1]) > float(got[5]) > 0  # sharper with L, and the fixture is not degenerate


def test_l_is_a_prefix_not_any_l_items():
    correct = torch.tensor([[True, False, True], [False, True, True]])
    got = sequence_accuracy(correct, ls=(1, 2, 3))
    assert [float(got[k]) for k in (1, 2, 3)] == [0.5, 0.0, 0.0]


def test_class_matches_functional_over_batches_from_logits():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 4, 7, generator=gen)
    target = torch.randint(0, 7, (300, 4), generator=gen)
    target = torch.where(torch.rand(300, 4, generator=gen) < 0.7, logits.argmax(-1), target)
    metric = SequenceAccuracy(ls=(1, 2, 4))
    for chunk in torch.arange(300).split(64):
        metric.update(logits[chunk], target[chunk])
    want = sequence_accuracy(logits.argmax(-1) == target, ls=(1, 2, 4))
    assert {k: float(v) for k, v in metric.compute().items()} == pytest.approx(
        {k: float(v) for k, v in want.items()}
    )
    metric.reset()
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert all(math.isnan(float(v)) for v in metric.compute().values())


def test_bad_arguments():
    with pytest.raises(ValueError, match="ks must be"):
        SequenceAccuracy(ls=[0])
    with pytest.raises(ValueError, match="sequences hold 3 items"):
        SequenceAccuracy(ls=[5]).update(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"\[n_seq, L\]"):
        SequenceAccuracy().update(torch.zeros(6), torch.zeros(6))


def _ddp_worker(rank, world_size, preds, target):
    metric = SequenceAccuracy(ls=(1, 3, 5))
    for chunk in torch.arange(len(target))[rank::world_size].split(23):
        metric.update(preds[chunk], target[chunk])
    return {k: float(v) for k, v in metric.compute().items()}


def test_ddp_two_processes_merge_to_single_process_value():
    gen = torch.Generator().manual_seed(42)
    target = torch.randint(0, 3, (201, 5), generator=gen)
    preds = torch.where(torch.rand(201, 5, generator=gen) < 0.85, target, (target + 1) % 3)
    want = {k: float(v) for k, v in sequence_accuracy(preds == target, ls=(1, 3, 5)).items()}
    for result in run_distributed(_ddp_worker, preds, target, world_size=2):
        assert result == pytest.approx(want, abs=1e-12)
