"""LightningModule for sequence classifiers (Omniglot transformer): per-image accuracy and cross-entropy (smooth)
and sequence accuracy over the first L images (sharp), plus per-item outcomes ``correct``/``ce`` ``[n_seq, L]``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.aggregation import CatMetric
from torchmetrics.classification import MulticlassAccuracy

from src.metrics.sequence_accuracy import SequenceAccuracy
from src.models.classifier_module import check_finite_loss


class SequenceClassifierModule(L.LightningModule):
    """Trains ``net(images, labels) -> logits [B, L, C]`` with cross-entropy on every image of a sequence.

    Logs ``{val,test}/acc`` and ``/ce`` (over all images) and ``/seq_acc_l=L`` (a sequence counts when its first L
    images are all right). Batches are ``(images [B, L, ...], labels [B, L], sequence index [B])``.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        num_classes: int = 100,
        seq_ls: Sequence[int] = (1, 2, 3, 4, 5),
        compile: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = torch.compile(net) if compile else net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.num_classes = num_classes
        for split in ("val", "test"):
            setattr(self, f"{split}_acc", MulticlassAccuracy(num_classes=num_classes, average="micro"))
            setattr(self, f"{split}_ce", MeanMetric())
            setattr(self, f"{split}_seq", SequenceAccuracy(ls=seq_ls))
        self.test_correct, self.test_item_ce, self.test_index = CatMetric(), CatMetric(), CatMetric()

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def forward(self, images: Tensor, labels: Tensor) -> Tensor:
        return self.net(images, labels)

    def on_fit_start(self) -> None:
        for logger in self.loggers:
            logger.log_hyperparams({"num_params": self.num_params})

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        images, labels = batch[0], batch[1]
        logits = self(images, labels)
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        check_finite_loss(loss, self)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

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
        for k, value in seq.compute().items():
            self.log(f"{split}/seq_acc_l={k}", value.float(), sync_dist=False)
        seq.reset()

    def validation_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        correct, ce = self._eval_step("test", batch)
        self.test_correct.update(correct.float())
        self.test_item_ce.update(ce)
        if len(batch) > 2:
            self.test_index.update(batch[2].float())

    def on_test_epoch_start(self) -> None:
        for metric in (self.test_correct, self.test_item_ce, self.test_index):
            metric.reset()

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def per_item_results(self) -> dict[str, np.ndarray]:
        """``correct`` (bool) and ``ce`` (float32), both ``[n_seq, L]``, and the sequence ``index`` ``[n_seq]``."""
        out = {
            "correct": self.test_correct.compute().cpu().numpy().astype(bool),
            "ce": self.test_item_ce.compute().cpu().numpy().astype(np.float32),
        }
        if self.test_index.update_count:
            out["index"] = self.test_index.compute().cpu().numpy().astype(np.int64)
        return out

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer=optimizer)},
        }
