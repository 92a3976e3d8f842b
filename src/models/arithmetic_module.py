"""LightningModule for the arithmetic family: next-token training on answers, greedy answers at evaluation.

Logs ``{val,test}/exact_match_l=L`` (sharp) and ``/edit_distance_l=L`` (smooth) for L = 1..max_len, the whole-answer
``exact_match`` and ``edit_distance``, and ``ce`` (teacher-forced cross-entropy per answer token). After testing,
:meth:`per_sample_outputs` gives every test item's greedy output and the target's token log-probabilities, plus the
same for the datamodule's extra items (``subset="extra"``), for ``outputs.jsonl``.

With ``reverse_answer`` (the datamodule writes answers least significant digit first) greedy answers and target
log-probabilities are put back in normal digit order before any metric or output sees them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.aggregation import CatMetric

from src.datamodules.arithmetic import EOS, PAD, decode, reverse_prefix, strip_whitespace
from src.metrics.text import ExactMatchByLength, TokenEditDistanceByLength
from src.models.decoder import DecoderLM
from src.models.family_module import FamilyModule


class ArithmeticLMModule(FamilyModule):
    """Trains ``net`` (a :class:`DecoderLM`) with cross-entropy on the answer tokens and EOS only.

    Batches are ``(tokens [b, T], start [b], index [b])`` from :class:`ArithmeticDataModule`. ``reverse_answer``
    must match the datamodule's. ``lr_schedule``: ``constant``, or ``cosine`` (linear warm-up over
    ``warmup_steps``, then cosine decay to ``min_lr_ratio`` x lr at the last training step), stepped every step.
    ``lr_width_ref``: when set, the optimizer's lr is scaled by ``lr_width_ref / net.width`` (Adam's learning rate
    falling as 1/width, the muP rule of Yang et al. 2022), so one lr tuned at width ``lr_width_ref`` serves the family.
    """

    per_item_buffers = ("test_pred", "test_logp", "test_index")

    def __init__(
        self,
        net: DecoderLM,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        max_len: int = 5,
        reverse_answer: bool = False,
        lr_schedule: str = "constant",
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.1,
        lr_width_ref: int | None = None,
    ):
        super().__init__(net, optimizer, scheduler)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        if lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"model.module.lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
        if lr_schedule != "constant" and scheduler is not None:
            raise ValueError("set either model.module.scheduler or model.module.lr_schedule, not both")
        self.max_len, self.reverse_answer = max_len, reverse_answer
        self.lr_schedule, self.warmup_steps, self.min_lr_ratio = lr_schedule, warmup_steps, min_lr_ratio
        self.lr_width_ref = lr_width_ref
        for split in ("val", "test"):
            setattr(self, f"{split}_em", ExactMatchByLength(max_len=max_len, pad_id=PAD))
            setattr(self, f"{split}_ed", TokenEditDistanceByLength(max_len=max_len, pad_id=PAD))
            setattr(self, f"{split}_ce", MeanMetric())
        self.test_pred, self.test_logp, self.test_index = CatMetric(), CatMetric(), CatMetric()

    @staticmethod
    def _targets(tokens: Tensor, start: int) -> Tensor:
        """Next-token targets with everything before the answer and after EOS ignored (-100)."""
        tgt = tokens[:, 1:].clone()
        tgt[:, : start - 1] = -100
        tgt[tgt == PAD] = -100
        return tgt

    @staticmethod
    def _start(batch: Sequence[Any]) -> int:
        """The answer start: a host int from the datamodule's on_before_batch_transfer (no device read per step),
        or, for batches built by hand, the first entry of the start tensor."""
        return batch[1] if isinstance(batch[1], int) else int(batch[1][0])

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        tokens, start = batch[0], self._start(batch)
        logits = self.net(tokens[:, :-1])
        return self.log_train_loss(
            F.cross_entropy(logits.transpose(1, 2), self._targets(tokens, start), ignore_index=-100)
        )

    def _predict(self, tokens: Tensor, start: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Greedy answers ``[b, A+1]`` (EOS and after set to PAD, whitespace stripped), the targets ``[b, A+1]`` (EOS set to PAD), the
        target's token log-probs ``[b, A+1]`` (0 off target), all in normal digit order, and the teacher-forced
        cross-entropy of every target token and EOS (flat)."""
        logits = self.net(tokens[:, :-1])
        tgt = self._targets(tokens, start)
        ce = F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=-100, reduction="none")
        mask = tgt != -100
        logp = torch.where(mask, -ce, torch.zeros_like(ce))[:, start - 1 :]
        pred = self.net.greedy(tokens[:, :start], steps=tokens.shape[1] - start)
        pred = torch.where(torch.cumsum((pred == EOS) | (pred == PAD), dim=1) > 0, PAD, pred)
        answer = tokens[:, start:]
        target = torch.where(answer == EOS, PAD, answer)
        if self.reverse_answer:
            pred, target = reverse_prefix(pred), reverse_prefix(target)
            logp = reverse_prefix(logp, (target != PAD).sum(dim=1))
        return strip_whitespace(pred), target, logp, ce[mask]

    def _eval_step(self, split: str, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Greedy answers ``[b, A+1]`` (EOS and after set to PAD) and target log-probs ``[b, A+1]`` (0 off target)."""
        tokens, start = batch[0], self._start(batch)
        pred, target, logp, ce = self._predict(tokens, start)
        getattr(self, f"{split}_em").update(pred, target)
        getattr(self, f"{split}_ed").update(pred, target)
        getattr(self, f"{split}_ce").update(ce)
        return pred, logp

    def _log_epoch(self, split: str) -> None:
        self.log(f"{split}/ce", getattr(self, f"{split}_ce"), prog_bar=split == "val")
        for short, name in (("em", "exact_match"), ("ed", "edit_distance")):
            metric = getattr(self, f"{split}_{short}")
            for length, value in metric.compute().items():
                key = f"{split}/{name}" if length == "full" else f"{split}/{name}_l={length}"
                if not torch.isnan(value):  # lengths no target reaches (2-digit products have <= 4 digits)
                    self.log(key, value.float(), sync_dist=False)
            metric.reset()

    def test_step(self, batch: Sequence[Tensor], batch_idx: int) -> None:
        pred, logp = self._eval_step("test", batch)
        self.test_pred.update(pred.float())
        self.test_logp.update(logp)
        self.test_index.update(batch[2].float())

    @torch.no_grad()
    def _decode_all(self, tokens: Tensor, start: int, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
        preds, logps = [], []
        for chunk in tokens.split(batch_size):
            pred, _, logp, _ = self._predict(chunk.to(self.device), start)
            preds.append(pred.cpu())
            logps.append(logp.cpu())
        return torch.cat(preds), torch.cat(logps)

    def _optimizer(self) -> torch.optim.Optimizer:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.lr_width_ref is not None:
            scale = self.lr_width_ref / self.net.width
            for group in optimizer.param_groups:
                group["lr"] *= scale
                group["initial_lr"] = group["lr"]
        return optimizer

    def configure_optimizers(self):
        if self.lr_schedule == "constant":
            if self.scheduler_factory is not None:
                return super().configure_optimizers()
            return self._optimizer()
        optimizer = self._optimizer()
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warmup, floor = min(self.warmup_steps, total), self.min_lr_ratio

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            t = min((step - warmup) / max(total - warmup, 1), 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def per_sample_outputs(self, datamodule: Any) -> dict[str, list]:
        """Columns of ``outputs.jsonl`` (schema: src/results/outputs.py) for the test items (all processes merged)
        and the datamodule's extra items; ``model``, ``family`` and ``num_params`` are added by the caller."""
        index = self.test_index.compute().long().cpu()
        order = torch.argsort(index)
        test = (
            index[order],
            self.test_pred.compute().long().cpu()[order],
            self.test_logp.compute().cpu()[order],
        )
        parts = [("test", *test)]  # only the items tested (all of them unless limit_test_batches cut the set)
        extra = getattr(datamodule, "extra_set", None)
        if extra is not None and len(extra):
            self.eval()
            pred, logp = self._decode_all(extra.tensors[0], datamodule.answer_start)
            parts.append(("extra", torch.arange(len(extra)), pred, logp))
        cols: dict[str, list] = {k: [] for k in ("task", "subset", "item", "prompt", "target", "output",
                                                 "target_tokens", "target_logprobs")}  # fmt: skip
        for subset, items, pred, logp in parts:
            prompts, answers = (arr[items.numpy()].tolist() for arr in datamodule.texts[subset])
            n = len(answers)
            cols["task"] += [datamodule.task] * n
            cols["subset"] += [subset] * n
            cols["item"] += items.tolist()
            cols["prompt"] += prompts
            cols["target"] += answers
            cols["output"] += decode(pred.numpy())
            cols["target_tokens"] += [list(a) for a in answers]
            lp = logp.numpy()
            cols["target_logprobs"] += [
                [min(float(v), 0.0) for v in lp[i, : len(a)]] for i, a in enumerate(answers)
            ]
        return cols
