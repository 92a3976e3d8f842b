"""What every family's LightningModule shares: optimizer and scheduler partials, ``num_params``, the finite-loss
check, the val/test epoch hooks and the per-test-item buffers.

A family module subclasses :class:`FamilyModule` and writes only what is its own: ``training_step`` (computing the
loss and handing it to :meth:`log_train_loss`), ``_eval_step(split, batch)`` (updating the split's metrics),
``_log_epoch(split)`` (logging them), and, for per-item results, the names of its test-time ``CatMetric`` buffers in
``per_item_buffers`` so that each test epoch starts them empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric, Metric


def check_finite_loss(loss: Tensor, module: L.LightningModule) -> None:
    """Stop with a clear error on a NaN/inf training loss instead of training on garbage."""
    if not math.isfinite(loss.item()):  # one host read, no extra op (torch.isfinite + bool was both)
        raise FloatingPointError(
            f"non-finite training loss ({loss.item()}) at epoch {module.current_epoch}, global step "
            f"{module.global_step}. Lower optimizer.lr, check the input data, or set trainer.gradient_clip_val; "
            "rerunning resumes from the last good checkpoint."
        )


class FamilyModule(L.LightningModule):
    """Base of the family modules. ``optimizer`` is a partial (``_partial_: true`` in Hydra) called with the
    parameters; ``scheduler`` likewise with the optimizer, or None. Subclasses call ``save_hyperparameters`` in their
    own ``__init__`` (plain values only, so checkpoints load with ``torch.load(weights_only=True)``)."""

    per_item_buffers: tuple[str, ...] = ()

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        compile: bool = False,
        channels_last_on_cpu: bool = False,
    ):
        super().__init__()
        self.net = torch.compile(net) if compile else net
        # set in setup() once the device is known: see channels_last_on_cpu in :meth:`setup`
        self.channels_last_on_cpu, self.memory_format = channels_last_on_cpu, torch.contiguous_format
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        # the loss is checked finite before each update, so MeanMetric's own NaN scan (an isnan, an any() and a host
        # read per step) has nothing to find: "disable" skips it, same values
        self.train_loss_mean = MeanMetric(nan_strategy="disable")

    def setup(self, stage: str) -> None:
        """``channels_last_on_cpu``: on a CPU trainer, the net's weights and the 4-D inputs (:meth:`to_memory_format`)
        are channels_last (NHWC), which oneDNN's convolutions and max-pooling run much faster than NCHW for the
        LeNet family (one thread: width 6 15.1 -> 12.6 ms per step of 128 images, width 8 at 256 images 52 -> 30 ms;
        widths <= 1 the same within 2-6%). Same arithmetic in another order: the trained weights differ from NCHW
        training by float rounding (tests/models/test_channels_last.py), so it is not part of a job's identity
        (src/results/jobs.py WHERE_KEYS), as the accelerator is not. On a GPU nothing changes."""
        if self.channels_last_on_cpu and self._trainer is not None:
            if self.trainer.strategy.root_device.type == "cpu":
                self.memory_format = torch.channels_last
                self.net.to(memory_format=torch.channels_last)

    def to_memory_format(self, x: Tensor) -> Tensor:
        """``x`` in the net's memory format (channels_last on a CPU with ``channels_last_on_cpu``) when 4-D."""
        if self.memory_format is torch.contiguous_format or x.dim() != 4:
            return x
        return x.contiguous(memory_format=self.memory_format)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def on_fit_start(self) -> None:
        for logger in self.loggers:
            logger.log_hyperparams({"num_params": self.num_params})

    def log_train_loss(self, loss: Tensor) -> Tensor:
        """Check the loss, add it to the epoch mean and log it on the steps the loggers write.

        Each ``self.log`` call moves Lightning's result state (about a millisecond of Python per call, by cProfile
        on this CPU; a larger share of a step on a GPU, where small models' steps are short), so the step value is
        logged only every ``trainer.log_every_n_steps`` steps (the loggers write no others) and the epoch mean
        (``train/loss_epoch``) comes from a running ``MeanMetric``: 42% fewer Python calls per LeNet epoch.
        """
        check_finite_loss(loss, self)
        self.train_loss_mean.update(loss.detach())
        every = self.trainer.log_every_n_steps if self._trainer is not None else 1
        if (self.global_step + 1) % max(every, 1) == 0:
            self.log("train/loss_step", loss, on_step=True, on_epoch=False, prog_bar=True)
        return loss

    def on_train_epoch_start(self) -> None:
        self.train_loss_mean.reset()

    def on_train_epoch_end(self) -> None:
        self.log(
            "train/loss_epoch", self.train_loss_mean.compute(), on_step=False, on_epoch=True, sync_dist=False
        )

    def log_by_param(self, split: str, name: str, values: Mapping[Any, Tensor]) -> None:
        """Log ``{split}/{name}={param}`` for every entry of a parametrised metric's result (K, L or c); the
        metric's states are already merged over processes, so no further sync."""
        for param, value in values.items():
            self.log(f"{split}/{name}={param}", value.float(), sync_dist=False)

    @staticmethod
    def per_item_arrays(**buffers: tuple[Metric, Any]) -> dict[str, np.ndarray]:
        """``name=(cat_metric, dtype)`` -> numpy arrays of the last test epoch, all processes merged; buffers that
        were never updated (an optional ``index``) are left out."""
        return {
            name: metric.compute().cpu().numpy().astype(dtype)
            for name, (metric, dtype) in buffers.items()
            if metric.update_count
        }

    def _eval_step(self, split: str, batch: Any) -> Any:
        raise NotImplementedError

    def _log_epoch(self, split: str) -> None:
        raise NotImplementedError

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_start(self) -> None:
        for name in self.per_item_buffers:
            metric: Metric = getattr(self, name)
            metric.reset()

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer=optimizer)},
        }
