"""SubsetAccuracy against brute-force enumeration of K-subsets, and its DDP merge."""

import itertools
import math

import numpy as np
import pytest
import torch

from src.metrics.subset_accuracy import (
    SubsetAccuracy,
    exact_subset_accuracy,
    sampled_subset_accuracy,
    subset_accuracy,
)
from tests.helpers.ddp import run_distributed


def brute_force(correct: np.ndarray, k: int) -> float:
    """Mean over every K-subset (without replacement) of 'all K correct'."""
    subsets = list(itertools.combinations(range(len(correct)), k))
    return float(np.mean([all(correct[list(s)]) for s in subsets]))


@pytest.mark.parametrize("n", [1, 5, 9])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_exact_equals_brute_force(n, k):
    rng = np.random.default_rng(n * 10 + k)
    for _ in range(5):
        correct = rng.random(n) < rng.random()
        got = subset_accuracy(torch.from_numpy(correct), ks=[k])[k]
        if n < k:
            assert math.isnan(float(got))
        else:
            assert float(got) == pytest.approx(brute_force(correct, k), abs=1e-12)


def test_exact_large_n_no_overflow_and_matches_comb():
    n, c = 100_000, 99_000
    for k in (1, 5, 50):
        expected = math.comb(c, k) / math.comb(n, k)
        assert float(exact_subset_accuracy(c, n, k)) == pytest.approx(expected, rel=1e-9)
    assert float(exact_subset_accuracy(3, n, 5)) == 0.0


def test_k1_is_accuracy_and_monotone_in_k():
    correct = torch.rand(1000, generator=torch.Generator().manual_seed(0)) < 0.8
    values = subset_accuracy(correct, ks=range(1, 8))
    assert float(values[1]) == pytest.approx(float(correct.float().mean()))
    assert all(values[k + 1] <= values[k] for k in range(1, 7))


def test_sampled_groups_are_disjoint_and_resolution_is_one_over_groups():
    correct = torch.tensor([True] * 10 + [False] * 2)
    for k in (1, 2, 3, 5):
        value = float(sampled_subset_accuracy(correct, k, seed=3))
        n_groups = 12 // k
        # a mean over n_groups 0/1 outcomes is a multiple of 1/n_groups
        assert value * n_groups == pytest.approx(round(value * n_groups))
        # two wrong items spoil at most two groups
        assert value >= (n_groups - 2) / n_groups
    # all correct / none correct
    assert float(sampled_subset_accuracy(torch.ones(10, dtype=torch.bool), 3)) == 1.0
    assert float(sampled_subset_accuracy(torch.zeros(10, dtype=torch.bool), 1)) == 0.0


def test_sampled_is_seeded():
    correct = torch.rand(500, generator=torch.Generator().manual_seed(1)) < 0.7
    a = sampled_subset_accuracy(correct, 4, seed=0)
    assert float(a) == float(sampled_subset_accuracy(correct, 4, seed=0))
    values = {float(sampled_subset_accuracy(correct, 4, seed=s)) for s in range(10)}
    assert len(values) > 1


def test_class_matches_functional_over_batches():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 10, generator=gen)
    target = torch.randint(0, 10, (300,), generator=gen)
    target[:200] = logits[:200].argmax(-1)
    metric = SubsetAccuracy(ks=(1, 2, 3))
    for chunk in range(0, 300, 64):
        metric.update(logits[chunk : chunk + 64], target[chunk : chunk + 64])
    got = metric.compute()
    want = subset_accuracy(logits.argmax(-1) == target, ks=(1, 2, 3))
    for k in (1, 2, 3):
        assert float(got[k]) == pytest.approx(float(want[k]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="ks must be"):
        SubsetAccuracy(ks=[0])
    with pytest.raises(ValueError, match="mode must be"):
        SubsetAccuracy(mode="approx")
    with pytest.raises(ValueError, match="must match"):
        SubsetAccuracy().update(torch.zeros(3), torch.zeros(4))


def _ddp_worker(rank, world_size, preds, target, mode):
    metric = SubsetAccuracy(ks=(1, 2, 5), mode=mode, seed=7)
    index = torch.arange(len(target))
    # uneven, interleaved shards, as the evaluation sampler gives them
    shard = index[rank::world_size]
    for chunk in shard.split(37):
        metric.update(preds[chunk], target[chunk], indexes=chunk if mode == "sampled" else None)
    return {k: float(v) for k, v in metric.compute().items()}


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_ddp_two_processes_merge_to_single_process_value(mode):
    gen = torch.Generator().manual_seed(42)
    target = torch.randint(0, 3, (401,), generator=gen)
    preds = torch.where(torch.rand(401, generator=gen) < 0.85, target, (target + 1) % 3)
    single = SubsetAccuracy(ks=(1, 2, 5), mode=mode, seed=7)
    single.update(preds, target, indexes=torch.arange(401) if mode == "sampled" else None)
    want = {k: float(v) for k, v in single.compute().items()}
    results = run_distributed(_ddp_worker, preds, target, mode, world_size=2)
    for result in results:
        assert result == pytest.approx(want, abs=1e-12)
