"""LightningModule for sequence classifiers (Omniglot transformer): per-image accuracy and cross-entropy (smooth)
and sequence accuracy over the first L images (sharp), plus per-item outcomes ``correct``/``ce`` ``[n_seq, L]``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.aggregation import CatMetric
from torchmetrics.classification import MulticlassAccuracy

from src.metrics.sequence_accuracy import SequenceAccuracy
from src.models.family_module import FamilyModule


class SequenceClassifierModule(FamilyModule):
    """Trains ``net(images, labels) -> logits [B, L, C]`` with cross-entropy on every image of a sequence.

    Logs ``{val,test}/acc`` and ``/ce`` (over all images) and ``/seq_acc_l=L`` (a sequence counts when its first L
    images are all right). Batches are ``(images [B, L, ...], labels [B, L], sequence index [B])``.
    """

    per_item_buffers = ("test_correct", "test_item_ce", "test_index")

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        num_classes: int = 100,
        seq_ls: Sequence[int] = (1, 2, 3, 4, 5),
        compile: bool = False,
    ):
        super().__init__(net, optimizer, scheduler, compile)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.num_classes = num_classes
        for split in ("val", "test"):
            setattr(self, f"{split}_acc", MulticlassAccuracy(num_classes=num_classes, average="micro"))
            setattr(self, f"{split}_ce", MeanMetric())
            setattr(self, f"{split}_seq", SequenceAccuracy(ls=seq_ls))
        self.test_correct, self.test_item_ce, self.test_index = CatMetric(), CatMetric(), CatMetric()

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        return self.net(images, labels)

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        images, labels = batch[0], batch[1]
        logits = self(images, labels)
        return self.log_train_loss(F.cross_entropy(logits.flatten(0, 1), labels.flatten()))

    def _eval_step(self, split: str, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        images, labels = batch[0], batch[1]
        logits = self(images, labels)
        ce = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view_as(labels)
        preds = logits.argmax(dim=-1)
        getattr(self, f"{split}_acc").update(preds.flatten(), labels.flatten())
        getattr(self, f"{split}_ce").update(ce)
        getattr(self, f"{split}_seq").update(preds, labels)
        return preds == labels, ce

    def _log_epoch(self, split: str) -> None:
        self.log(f"{split}/acc", getattr(self, f"{split}_acc"), prog_bar=split == "val")
        self.log(f"{split}/ce", getattr(self, f"{split}_ce"))
        seq = getattr(self, f"{split}_seq")
        self.log_by_param(split, "seq_acc_l", seq.compute())
        seq.reset()

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        correct, ce = self._eval_step("test", batch)
        self.test_correct.update(correct.float())
        self.test_item_ce.update(ce)
        if len(batch) > 2:
            self.test_index.update(batch[2].float())

    def per_item_results(self) -> dict[str, np.ndarray]:
        """``correct`` (bool) and ``ce`` (float32), both ``[n_seq, L]``, and the sequence ``index`` ``[n_seq]``."""
        return self.per_item_arrays(
            correct=(self.test_correct, bool),
            ce=(self.test_item_ce, np.float32),
            index=(self.test_index, np.int64),
        )
