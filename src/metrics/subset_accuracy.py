"""Subset accuracy: 1 if all K of K independent test items are classified correctly, else 0 (paper App. B).

Two estimators of the same quantity:
- ``exact`` (default): the expectation over all K-subsets of the evaluated set, drawn without replacement,
  ``C(n_correct, K) / C(n, K)``, computed in log space. It needs only two counts, so DDP merges it by summing.
- ``sampled``: score ``floor(n / K)`` random disjoint groups of K items (seeded) and average. This is what a
  benchmark with a fixed set of K-item questions measures, and it can only resolve multiples of 1/floor(n/K):
  the paper's resolution problem. It keeps per-item outcomes (``cat`` state); pass ``indexes`` to make the
  grouping independent of the order items arrive in (and so of the number of DDP processes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

MODES = ("exact", "sampled")


def check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(int(k) for k in ks)
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of positive integers, got {ks}")
    return ks


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def exact_subset_accuracy(n_correct: Tensor | int, n: Tensor | int, k: int) -> Tensor:
    """``C(n_correct, k) / C(n, k)`` in float64 via log-gamma: exact for any n, no overflow.

    0 when ``n_correct < k``; NaN when ``n < k`` (no K-subset exists).
    """
    c = torch.as_tensor(n_correct, dtype=torch.float64)
    n = torch.as_tensor(n, dtype=torch.float64)
    if bool(n < k):
        return torch.tensor(float("nan"), dtype=torch.float64)
    if bool(c < k):
        return torch.tensor(0.0, dtype=torch.float64)
    log_ratio = torch.lgamma(c + 1) - torch.lgamma(c - k + 1) - torch.lgamma(n + 1) + torch.lgamma(n - k + 1)
    return torch.exp(log_ratio)


def sampled_subset_accuracy(correct: Tensor, k: int, seed: int = 0) -> Tensor:
    """Mean over ``floor(n/k)`` seeded random disjoint groups of ``k`` items of "all k correct"."""
    correct = correct.flatten().bool()
    n_groups = correct.numel() // k
    if n_groups == 0:
        return torch.tensor(float("nan"), dtype=torch.float64)
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + k)
    perm = torch.randperm(correct.numel(), generator=gen)[: n_groups * k]
    groups = correct.cpu()[perm].view(n_groups, k)
    return groups.all(dim=1).to(torch.float64).mean()


def subset_accuracy(
    correct: Tensor, ks: Sequence[int] = (1, 2, 3, 4, 5), mode: str = "exact", seed: int = 0
) -> dict[int, Tensor]:
    """Subset accuracy for each K from a boolean vector of per-item outcomes (functional twin of the class)."""
    ks, mode = check_ks(ks), _check_mode(mode)
    correct = correct.flatten().bool()
    if mode == "exact":
        n_correct, n = int(correct.sum()), correct.numel()
        return {k: exact_subset_accuracy(n_correct, n, k) for k in ks}
    return {k: sampled_subset_accuracy(correct, k, seed) for k in ks}


class SubsetAccuracy(Metric):
    """Subset accuracy for several K at once, from class predictions and targets.

    ``update(preds, target, indexes=None)``: ``preds`` are class indices ``[n]`` or scores ``[n, C]``.
    ``compute()`` returns ``{K: value}``. In ``exact`` mode the state is two counts (summed across processes);
    in ``sampled`` mode it is the per-item outcomes (concatenated), sorted by ``indexes`` when given.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, ks: Sequence[int] = (1, 2, 3, 4, 5), mode: str = "exact", seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.ks = check_ks(ks)
        self.mode = _check_mode(mode)
        self.seed = int(seed)
        self.add_state("n_correct", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("n_total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        if self.mode == "sampled":
            self.add_state("outcomes", default=[], dist_reduce_fx="cat")
            self.add_state("indexes", default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, target: Tensor, indexes: Tensor | None = None) -> None:
        if preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=-1)
        if preds.shape != target.shape:
            raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} must match")
        correct = (preds == target).flatten()
        self.n_correct += correct.sum()
        self.n_total += correct.numel()
        if self.mode == "sampled":
            self.outcomes.append(correct)
            if indexes is not None:
                self.indexes.append(indexes.flatten().to(correct.device))

    def compute(self) -> dict[int, Tensor]:
        if self.mode == "exact":
            return {k: exact_subset_accuracy(self.n_correct, self.n_total, k) for k in self.ks}
        outcomes = dim_zero_cat(self.outcomes) if len(self.outcomes) else torch.zeros(0, dtype=torch.bool)
        if len(self.indexes):
            idx = dim_zero_cat(self.indexes)
            if idx.numel() != outcomes.numel():
                raise ValueError("pass indexes with every update in sampled mode, or with none")
            outcomes = outcomes[torch.argsort(idx)]
        return subset_accuracy(outcomes, self.ks, mode="sampled", seed=self.seed)
