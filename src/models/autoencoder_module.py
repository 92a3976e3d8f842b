"""LightningModule for autoencoder families: smooth (mean squared error) and sharp (Reconstruction_c) metrics.

Scale, as in :mod:`src.metrics.reconstruction`: pixels in [0, 1], squared error summed over an image's values.
Logged: ``{val,test}/sq_err`` (mean over images of the per-image summed squared error: the training loss and the
same units as c), ``/mse`` (per pixel, = sq_err / 3072) and ``/recon_c=<c>`` for every c of the grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric, MeanSquaredError
from torchmetrics.aggregation import CatMetric

from src.metrics.reconstruction import ReconstructionThreshold, format_threshold, squared_errors
from src.models.family_module import FamilyModule


class AutoencoderModule(FamilyModule):
    """Trains ``net`` to reconstruct its input with the per-image summed squared error.

    Batches are ``(x, ...)``: the first tensor is the image batch in [0, 1]; the rest (labels, index) is ignored
    except the item index, which is kept with the per-item errors.
    """

    per_item_buffers = ("test_item_sq_err", "test_index")

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        recon_cs: Sequence[float] = (5, 10, 20, 40, 80),
        compile: bool = False,
    ):
        super().__init__(net, optimizer, scheduler, compile)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        for split in ("val", "test"):
            setattr(self, f"{split}_sq_err", MeanMetric())
            setattr(self, f"{split}_mse", MeanSquaredError())
            setattr(self, f"{split}_recon", ReconstructionThreshold(cs=recon_cs))
        self.recon_cs = self.val_recon.cs
        self.test_item_sq_err, self.test_index = CatMetric(), CatMetric()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        x = batch[0]
        return self.log_train_loss(squared_errors(x, self(x)).mean())

    def _eval_step(self, split: str, batch: Sequence[Tensor]) -> Tensor:
        x = batch[0]
        x_hat = self(x)
        sq_err = squared_errors(x, x_hat)
        getattr(self, f"{split}_sq_err").update(sq_err)
        getattr(self, f"{split}_mse").update(x_hat, x)
        getattr(self, f"{split}_recon").update(sq_err=sq_err)
        return sq_err

    def _log_epoch(self, split: str) -> None:
        self.log(f"{split}/sq_err", getattr(self, f"{split}_sq_err"), prog_bar=split == "val")
        self.log(f"{split}/mse", getattr(self, f"{split}_mse"))
        recon = getattr(self, f"{split}_recon")
        self.log_by_param(split, "recon_c", {format_threshold(c): v for c, v in recon.compute().items()})
        recon.reset()

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        sq_err = self._eval_step("test", batch)
        self.test_item_sq_err.update(sq_err)
        if len(batch) > 2:
            self.test_index.update(batch[2].float())

    def per_item_results(self) -> dict[str, np.ndarray]:
        """Per-test-image ``sq_err`` (float32, summed over the image) and ``index``, all processes merged."""
        return self.per_item_arrays(
            sq_err=(self.test_item_sq_err, np.float32), index=(self.test_index, np.int64)
        )
