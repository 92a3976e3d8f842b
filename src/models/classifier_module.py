"""LightningModule for classifier families: smooth (accuracy, cross-entropy) and sharp (K-of-K subset accuracy)
metrics logged side by side, plus per-test-item outcomes for bootstrap intervals."""

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

from src.metrics.subset_accuracy import SubsetAccuracy


def check_finite_loss(loss: Tensor, module: L.LightningModule) -> None:
    """Stop with a clear error on a NaN/inf training loss instead of training on garbage."""
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"non-finite training loss ({loss.item()}) at epoch {module.current_epoch}, global step "
            f"{module.global_step}. Lower optimizer.lr, check the input data, or set trainer.gradient_clip_val; "
            "rerunning resumes from the last good checkpoint."
        )


class ClassifierModule(L.LightningModule):
    """Trains ``net`` with cross-entropy; logs ``{val,test}/acc``, ``/ce`` and ``/subset_acc_k=K``.

    Batches are ``(x, y)`` or ``(x, y, index)``. ``optimizer`` is a partial (``_partial_: true`` in Hydra) called
    with the parameters; ``scheduler`` likewise with the optimizer, or None.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        num_classes: int = 10,
        subset_ks: Sequence[int] = (1, 2, 3, 4, 5),
        compile: bool = False,
    ):
        super().__init__()
        # plain values only: checkpoints must load with torch.load(weights_only=True); the run record has the full config
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.net = torch.compile(net) if compile else net
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.subset_ks = tuple(subset_ks)
        for split in ("val", "test"):
            setattr(self, f"{split}_acc", MulticlassAccuracy(num_classes=num_classes, average="micro"))
            setattr(self, f"{split}_ce", MeanMetric())
            setattr(self, f"{split}_subset", SubsetAccuracy(ks=self.subset_ks))
        self.test_correct, self.test_item_ce, self.test_index = CatMetric(), CatMetric(), CatMetric()

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def on_fit_start(self) -> None:
        for logger in self.loggers:
            logger.log_hyperparams({"num_params": self.num_params})

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        x, y = batch[0], batch[1]
        loss = F.cross_entropy(self(x), y)
        check_finite_loss(loss, self)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

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
        for k, value in subset.compute().items():
            self.log(f"{split}/subset_acc_k={k}", value.float(), sync_dist=False)
        subset.reset()

    def validation_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        preds, y, ce = self._eval_step("test", batch)
        self.test_correct.update((preds == y).float())
        self.test_item_ce.update(ce)
        if len(batch) > 2:
            self.test_index.update(batch[2].float())

    def on_test_epoch_start(self) -> None:
        for metric in (self.test_correct, self.test_item_ce, self.test_index):
            metric.reset()

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def per_item_results(self) -> dict[str, np.ndarray]:
        """Per-test-item outcomes of the last test epoch (all processes merged): ``correct``, ``ce``, ``index``."""
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
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer=optimizer)}}
