"""LightningModule for classifier families: smooth (accuracy, cross-entropy) and sharp (K-of-K subset accuracy)
metrics logged side by side, plus per-test-item outcomes for bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.aggregation import CatMetric
from torchmetrics.classification import MulticlassAccuracy

from src.metrics.subset_accuracy import SubsetAccuracy
from src.models.family_module import FamilyModule


class ClassifierModule(FamilyModule):
    """Trains ``net`` with cross-entropy; logs ``{val,test}/acc``, ``/ce`` and ``/subset_acc_k=K``.

    Batches are ``(x, y)`` or ``(x, y, index)``; optimizer and scheduler as in :class:`FamilyModule`.
    """

    per_item_buffers = ("test_correct", "test_item_ce", "test_index")

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        num_classes: int = 10,
        subset_ks: Sequence[int] = (1, 2, 3, 4, 5),
        compile: bool = False,
        channels_last_on_cpu: bool = False,
    ):
        super().__init__(net, optimizer, scheduler, compile, channels_last_on_cpu)
        # plain values only: checkpoints must load with torch.load(weights_only=True); the run record has the full config
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.subset_ks = tuple(subset_ks)
        for split in ("val", "test"):
            setattr(self, f"{split}_acc", MulticlassAccuracy(num_classes=num_classes, average="micro"))
            setattr(self, f"{split}_ce", MeanMetric())
            setattr(self, f"{split}_subset", SubsetAccuracy(ks=self.subset_ks))
        self.test_correct, self.test_item_ce, self.test_index = CatMetric(), CatMetric(), CatMetric()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.to_memory_format(x))

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        x, y = batch[0], batch[1]
        return self.log_train_loss(F.cross_entropy(self(x), y))

    def _eval_step(self, split: str, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        x, y = batch[0], batch[1]
        logits = self(x)
        ce = F.cross_entropy(logits, y, reduction="none")
        preds = logits.argmax(dim=-1)
        getattr(self, f"{split}_acc").update(preds, y)
        getattr(self, f"{split}_ce").update(ce)
        getattr(self, f"{split}_subset").update(preds, y)
        return preds, y, ce

    def _log_epoch(self, split: str) -> None:
        self.log(f"{split}/acc", getattr(self, f"{split}_acc"), prog_bar=split == "val")
        self.log(f"{split}/ce", getattr(self, f"{split}_ce"))
        subset = getattr(self, f"{split}_subset")
        self.log_by_param(split, "subset_acc_k", subset.compute())
        subset.reset()

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        preds, y, ce = self._eval_step("test", batch)
        self.test_correct.update((preds == y).float())
        self.test_item_ce.update(ce)
        if len(batch) > 2:
            self.test_index.update(batch[2].float())

    def per_item_results(self) -> dict[str, np.ndarray]:
        """Per-test-item outcomes of the last test epoch (all processes merged): ``correct``, ``ce``, ``index``."""
        return self.per_item_arrays(
            correct=(self.test_correct, bool),
            ce=(self.test_item_ce, np.float32),
            index=(self.test_index, np.int64),
        )
