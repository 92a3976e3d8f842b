"""Exact match, token edit distance and per-token accuracy of generated answers, by target length L.

Tokens: one token per character of the answer after stripping surrounding whitespace. For arithmetic answers
these are the digits (and a leading ``-`` for negative results), so character and token counts agree.
At target length L an item is scored on its first L target tokens against the first L output tokens; only items
whose target has at least L tokens count at L (a target of length L is a real L-token target, never a padded one).

- exact match at L: the first L output tokens equal the first L target tokens (sharp: all L right);
- token edit distance at L: Levenshtein distance between those two L-token prefixes (smooth, lower is better);
  computed by ``rapidfuzz`` (maintained C++ Levenshtein); torchmetrics' ``EditDistance`` gives the same numbers
  but runs a Python loop per pair, about 100x slower (scripts/benchmark_text_metrics.py);
- per-token accuracy at L: share of the L positions where output and target agree (a missing output token is wrong);
- full: the same on the whole target and the whole output (reported as L = 0 in arrays, ``exact_match`` in logs).

Strings are turned into a fixed-width code matrix (numpy ``U`` dtype viewed as ``uint32``; zero = padding), so
every comparison is one array operation and no Python runs per item except rapidfuzz's C++ loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist
from torch import Tensor
from torchmetrics import Metric


def code_matrix(strings: Sequence[str], width: int | None = None, strip: bool = True) -> np.ndarray:
    """``[n, width]`` uint32 Unicode code points of the strings (stripped of surrounding whitespace unless
    ``strip=False``), zero-padded (and cut) to ``width``."""
    arr = np.asarray(list(strings), dtype=str)
    arr = np.char.strip(arr) if strip else arr
    if arr.size == 0:
        return np.zeros((0, width or 1), dtype=np.uint32)
    w = max(int(np.char.str_len(arr).max()), 1)
    codes = np.ascontiguousarray(arr.astype(f"U{w}")).view(np.uint32).reshape(len(arr), w)
    if width is None:
        return codes
    out = np.zeros((len(arr), width), dtype=np.uint32)
    k = min(width, w)
    out[:, :k] = codes[:, :k]
    return out


def token_ids_to_codes(ids: Tensor | np.ndarray, pad_id: int) -> np.ndarray:
    """Token-id matrix ``[n, w]`` to a code matrix: id ``i`` -> ``i + 1``; ``pad_id`` and everything after the first
    ``pad_id`` in a row -> 0 (so a generated sequence ends at its first end/pad token)."""
    ids = ids.detach().cpu().numpy() if isinstance(ids, Tensor) else np.asarray(ids)
    ids = ids.astype(np.int64)
    ended = np.cumsum(ids == pad_id, axis=1) > 0
    return np.where(ended, 0, ids + 1).astype(np.uint32)


def _lengths(codes: np.ndarray) -> np.ndarray:
    """Length of each row: index of the first zero (rows are zero-padded on the right)."""
    nz = codes != 0
    return np.where(nz.all(axis=1), codes.shape[1], np.argmin(nz, axis=1))


def _as_strings(codes: np.ndarray) -> list[str]:
    """Rows of a code matrix back to Python strings (numpy's ``U`` view drops the zero padding)."""
    codes = np.ascontiguousarray(codes, dtype=np.uint32)
    if codes.shape[1] == 0:
        return [""] * codes.shape[0]
    return codes.view(f"U{codes.shape[1]}").ravel().tolist()


def edit_distances(outputs: Sequence[str], targets: Sequence[str]) -> np.ndarray:
    """Levenshtein distance of each (output, target) pair (insertions, deletions, substitutions cost 1)."""
    if len(outputs) != len(targets):
        raise ValueError(f"{len(outputs)} outputs but {len(targets)} targets")
    if len(outputs) == 0:
        return np.zeros(0, dtype=np.int64)
    return cpdist(outputs, targets, scorer=Levenshtein.distance, dtype=np.int32, workers=1).astype(np.int64)


def score_codes(out: np.ndarray, tgt: np.ndarray, max_len: int) -> dict[str, np.ndarray]:
    """Per-item scores from code matrices (see module docstring), arrays of shape ``[n, max_len + 1]``.

    Column 0 is the whole answer, column L the first L tokens. ``exact_match`` and ``token_acc`` are float with NaN
    where the target is shorter than L; ``edit_distance`` likewise. ``n_target_tokens`` [n] is the target length.
    """
    n = out.shape[0]
    if tgt.shape[0] != n:
        raise ValueError(f"{n} outputs but {tgt.shape[0]} targets")
    width = max(out.shape[1], tgt.shape[1], max_len)
    out = np.pad(out, ((0, 0), (0, width - out.shape[1])))
    tgt = np.pad(tgt, ((0, 0), (0, width - tgt.shape[1])))
    t_len, o_len = _lengths(tgt), _lengths(out)
    same = out == tgt
    exact = np.full((n, max_len + 1), np.nan)
    edit = np.full((n, max_len + 1), np.nan)
    tok = np.full((n, max_len + 1), np.nan)
    # whole answer: equal when they agree everywhere up to the longer length (zero padding compares equal)
    exact[:, 0] = same.all(axis=1)
    edit[:, 0] = edit_distances(_as_strings(out), _as_strings(tgt))
    pos = np.arange(width)[None, :]
    in_target = pos < t_len[:, None]
    tok[:, 0] = np.where(t_len > 0, (same & in_target).sum(axis=1) / np.maximum(t_len, 1), np.nan)
    for L in range(1, max_len + 1):
        ok = t_len >= L
        prefix_same = same[:, :L]
        exact[ok, L] = prefix_same[ok].all(axis=1)
        tok[ok, L] = prefix_same[ok].mean(axis=1)
        if ok.any():
            edit[ok, L] = edit_distances(_as_strings(out[ok, :L]), _as_strings(tgt[ok, :L]))
    return {"exact_match": exact, "edit_distance": edit, "token_acc": tok, "n_target_tokens": t_len,
            "n_output_tokens": o_len}  # fmt: skip


def score_strings(outputs: Sequence[str], targets: Sequence[str], max_len: int = 5) -> dict[str, np.ndarray]:
    """:func:`score_codes` on strings (whitespace around each string stripped first)."""
    if len(outputs) != len(targets):
        raise ValueError(f"{len(outputs)} outputs but {len(targets)} targets")
    return score_codes(code_matrix(outputs), code_matrix(targets), max_len)


def exact_target_logprob(
    target_tokens: Sequence[Sequence[str]], target_logprobs: Sequence[Sequence[float]], max_len: int = 5
) -> np.ndarray:
    """``[n, max_len + 1]`` log-probability of the exact first L target characters (column 0: whole target).

    A model's tokens may span several characters (BPE); the log-probability of the first L characters is the sum
    over the model tokens that cover exactly L characters, and NaN when no token boundary falls at L.
    """
    n = len(target_tokens)
    out = np.full((n, max_len + 1), np.nan)
    for i, (toks, lps) in enumerate(
        zip(target_tokens, target_logprobs, strict=True)
    ):  # short lists, not a hot loop
        ends = np.cumsum([len(t) for t in toks])
        cum = np.cumsum(np.asarray(lps, dtype=float))
        if len(ends):
            out[i, 0] = cum[-1]
        for j, e in enumerate(ends):
            if 1 <= e <= max_len:
                out[i, e] = cum[j]
    return out


class _ByLength(Metric):
    """Sums of a per-item score and item counts for L = 1..max_len (and the whole answer), summed across processes.

    ``update(preds, target)``: token-id matrices ``[n, w]``; a row ends at its first ``pad_id`` (end of answer).
    """

    is_differentiable = False
    full_state_update = False
    score_name = ""

    def __init__(self, max_len: int = 5, pad_id: int = 0, **kwargs):
        super().__init__(**kwargs)
        if max_len < 1:
            raise ValueError(f"max_len must be a positive integer, got {max_len}")
        self.max_len, self.pad_id = int(max_len), int(pad_id)
        self.add_state("total", default=torch.zeros(max_len + 1, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros(max_len + 1, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        if preds.shape[0] != target.shape[0]:
            raise ValueError(f"preds has {preds.shape[0]} rows, target {target.shape[0]}")
        scores = score_codes(
            token_ids_to_codes(preds, self.pad_id), token_ids_to_codes(target, self.pad_id), self.max_len
        )[self.score_name]
        valid = ~np.isnan(scores)
        self.total += torch.as_tensor(np.where(valid, scores, 0.0).sum(axis=0), device=self.total.device)
        self.count += torch.as_tensor(valid.sum(axis=0), device=self.count.device)

    def compute(self) -> dict[str, Tensor]:
        """``{"full": whole answer, 1: L=1, ..., max_len}``; NaN where no item had a target that long."""
        mean = self.total / self.count.clamp(min=1)
        mean = torch.where(self.count > 0, mean, torch.full_like(mean, float("nan")))
        return {"full" if i == 0 else i: mean[i] for i in range(self.max_len + 1)}


class ExactMatchByLength(_ByLength):
    """Share of items whose first L generated tokens equal the first L target tokens, for L = 1..max_len.

    torchmetrics' ``ExactMatch`` scores whole label vectors of one fixed length; this one scores prefixes of
    variable-length answers and counts only items with at least L target tokens at L.
    """

    higher_is_better = True
    score_name = "exact_match"


class TokenEditDistanceByLength(_ByLength):
    """Mean Levenshtein distance between the first L generated and first L target tokens, for L = 1..max_len.

    torchmetrics' ``EditDistance`` takes whole strings and runs a Python loop per pair; this one cuts prefixes and
    uses rapidfuzz (same distances, see tests), which keeps test-time scoring of long sweeps cheap.
    """

    higher_is_better = False
    score_name = "edit_distance"
