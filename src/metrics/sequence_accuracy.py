"""Sequence accuracy: 1 for a sequence only if its first L answers are all right, averaged over sequences.

The sharp metric of the Omniglot family (paper Fig. 8C): each test sequence holds several query images, and
``seq_acc_l=L`` scores the first L of them jointly. Unlike :mod:`src.metrics.subset_accuracy`, whose K items are
independent draws, the L items here are fixed by the sequence (and share its context), so the metric counts whole
sequences; the validation of L values is shared with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from src.metrics.subset_accuracy import check_ks


def sequence_accuracy(correct: Tensor, ls: Sequence[int] = (1, 2, 3, 4, 5)) -> dict[int, Tensor]:
    """``{L: share of sequences whose first L items are right}`` from per-item outcomes ``[n_seq, L_max]``."""
    ls = check_ks(ls)
    if correct.ndim != 2:
        raise ValueError(f"correct must be [n_sequences, length], got shape {tuple(correct.shape)}")
    if max(ls) > correct.shape[1]:
        raise ValueError(
            f"sequence length L={max(ls)} asked for, but the sequences hold {correct.shape[1]} items"
        )
    correct = correct.bool()
    if correct.shape[0] == 0:
        return {k: torch.tensor(float("nan"), dtype=torch.float64) for k in ls}
    prefix_ok = correct.cumprod(dim=1)  # [n, L]: 1 while every item so far is right
    return {k: prefix_ok[:, k - 1].double().mean() for k in ls}


class SequenceAccuracy(Metric):
    """Sequence accuracy for several L at once.

    ``update(preds, target)``: class indices ``[n_seq, L_max]`` or scores ``[n_seq, L_max, C]`` and targets
    ``[n_seq, L_max]``. State: per L the number of sequences whose first L items are right, plus the number of
    sequences, summed across processes.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, ls: Sequence[int] = (1, 2, 3, 4, 5), **kwargs):
        super().__init__(**kwargs)
        self.ls = check_ks(ls)
        self.add_state("n_right", default=torch.zeros(len(self.ls), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("n_seq", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        if preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=-1)
        if preds.shape != target.shape or target.ndim != 2:
            raise ValueError(
                f"preds {tuple(preds.shape)} and target {tuple(target.shape)} must both be [n_seq, L]"
            )
        if max(self.ls) > target.shape[1]:
            raise ValueError(f"L={max(self.ls)} asked for, but the sequences hold {target.shape[1]} items")
        prefix_ok = (preds == target).long().cumprod(dim=1)
        idx = torch.tensor([k - 1 for k in self.ls], device=prefix_ok.device)
        self.n_right += prefix_ok.index_select(1, idx).sum(dim=0)
        self.n_seq += target.shape[0]

    def compute(self) -> dict[int, Tensor]:
        if int(self.n_seq) == 0:
            return {k: torch.tensor(float("nan"), dtype=torch.float64) for k in self.ls}
        shares = self.n_right.double() / self.n_seq.double()
        return {k: shares[i] for i, k in enumerate(self.ls)}
