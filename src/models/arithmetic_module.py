"""LightningModule for the arithmetic family: next-token training on answers, greedy answers at evaluation.

Logs ``{val,test}/exact_match_l=L`` (sharp) and ``/edit_distance_l=L`` (smooth) for L = 1..max_len, the whole-answer
``exact_match`` and ``edit_distance``, and ``ce`` (teacher-forced cross-entropy per answer token). After testing,
:meth:`per_sample_outputs` gives every test item's greedy output and the target's token log-probabilities, plus the
same for the datamodule's extra items (``subset="extra"``), for ``outputs.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.aggregation import CatMetric

from src.datamodules.arithmetic import EOS, PAD, decode
from src.metrics.text import ExactMatchByLength, TokenEditDistanceByLength
from src.models.decoder import DecoderLM
from src.models.family_module import FamilyModule


class ArithmeticLMModule(FamilyModule):
    """Trains ``net`` (a :class:`DecoderLM`) with cross-entropy on the answer tokens and EOS only.

    Batches are ``(tokens [b, T], start [b], index [b])`` from :class:`ArithmeticDataModule`.
    """

    per_item_buffers = ("test_pred", "test_logp", "test_index")

    def __init__(
        self,
        net: DecoderLM,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        max_len: int = 5,
    ):
        super().__init__(net, optimizer, scheduler)
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)
        self.max_len = max_len
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

    def training_step(self, batch: Sequence[Tensor], batch_idx: int) -> Tensor:
        tokens, start = batch[0], int(batch[1][0])
        logits = self.net(tokens[:, :-1])
        return self.log_train_loss(
            F.cross_entropy(logits.transpose(1, 2), self._targets(tokens, start), ignore_index=-100)
        )

    def _predict(self, tokens: Tensor, start: int) -> tuple[Tensor, Tensor, Tensor]:
        """Raw greedy answers ``[b, A+1]``, the target's token log-probs ``[b, A+1]`` (0 off target) and the
        teacher-forced cross-entropy of every target token (flat)."""
        logits = self.net(tokens[:, :-1])
        tgt = self._targets(tokens, start)
        ce = F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=-100, reduction="none")
        mask = tgt != -100
        logp = torch.where(mask, -ce, torch.zeros_like(ce))[:, start - 1 :]
        pred = self.net.greedy(tokens[:, :start], steps=tokens.shape[1] - start)
        return pred, logp, ce[mask]

    def _eval_step(self, split: str, batch: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Greedy answers ``[b, A+1]`` (EOS and after set to PAD) and target log-probs ``[b, A+1]`` (0 off target)."""
        tokens, start = batch[0], int(batch[1][0])
        answer = tokens[:, start:]
        pred, logp, ce = self._predict(tokens, start)
        pred = torch.where(torch.cumsum((pred == EOS) | (pred == PAD), dim=1) > 0, PAD, pred)
        target = torch.where(answer == EOS, PAD, answer)
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
            pred, logp, _ = self._predict(chunk.to(self.device), start)
            preds.append(pred.cpu())
            logps.append(logp.cpu())
        return torch.cat(preds), torch.cat(logps)

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
