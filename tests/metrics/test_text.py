"""Exact match, token edit distance, per-token accuracy by target length: hand cases, brute force, torchmetrics,
the torchmetrics classes against the functional form, and a 2-process DDP merge."""

import math

import numpy as np
import pytest
import torch
from torchmetrics.functional.text import edit_distance as tm_edit_distance

from src.metrics.text import (
    ExactMatchByLength,
    TokenEditDistanceByLength,
    code_matrix,
    edit_distances,
    exact_target_logprob,
    score_strings,
    token_ids_to_codes,
)
from tests.helpers.ddp import run_distributed


def levenshtein_dp(a: str, b: str) -> int:
    """Textbook dynamic-programming Levenshtein distance (the reference, not the implementation)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def brute_scores(output: str, target: str, L: int):
    """(exact, edit, token_acc) of the first L tokens, or None when the target is shorter than L."""
    o, t = output.strip(), target.strip()
    if len(t) < L:
        return None
    o, t = o[:L], t[:L]
    return float(o == t), float(levenshtein_dp(o, t)), sum(o[i] == t[i] for i in range(min(len(o), L))) / L


def test_hand_computed_cases():
    s = score_strings([" 4275", "427", "4725", "", "12345"], ["4275", "4275", "4275", "7", "12"], max_len=5)
    # whole answer
    np.testing.assert_array_equal(s["exact_match"][:, 0], [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(s["edit_distance"][:, 0], [0, 1, 2, 1, 3])
    np.testing.assert_allclose(s["token_acc"][:, 0], [1, 0.75, 0.5, 0, 1])
    # "427" vs "4275": right for L <= 3, one deletion at L=4; "4725": first digit only; L=5: no 5-digit target
    np.testing.assert_array_equal(s["exact_match"][1, 1:], [1, 1, 1, 0, np.nan])
    np.testing.assert_array_equal(s["edit_distance"][1, 1:], [0, 0, 0, 1, np.nan])
    np.testing.assert_array_equal(s["exact_match"][2, 1:5], [1, 0, 0, 0])
    np.testing.assert_array_equal(s["edit_distance"][2, 1:5], [0, 1, 2, 2])
    np.testing.assert_allclose(s["token_acc"][2, 1:5], [1, 0.5, 1 / 3, 0.5])
    assert np.isnan(s["exact_match"][3, 2]) and s["edit_distance"][3, 1] == 1  # empty output: one insertion
    np.testing.assert_array_equal(s["n_target_tokens"], [4, 4, 4, 1, 2])


def test_random_strings_match_brute_force():
    rng = np.random.default_rng(0)
    outs = ["".join(rng.choice(list("0123-"), rng.integers(0, 7))) for _ in range(300)]
    tgts = ["".join(rng.choice(list("0123"), rng.integers(1, 7))) for _ in range(300)]
    s = score_strings(outs, tgts, max_len=6)
    for i, (o, t) in enumerate(zip(outs, tgts, strict=True)):
        assert s["edit_distance"][i, 0] == levenshtein_dp(o, t)
        assert s["exact_match"][i, 0] == float(o == t)
        for L in range(1, 7):
            ref = brute_scores(o, t, L)
            got = (s["exact_match"][i, L], s["edit_distance"][i, L], s["token_acc"][i, L])
            if ref is None:
                assert all(math.isnan(v) for v in got)
            else:
                assert got == pytest.approx(ref)


def test_edit_distance_agrees_with_torchmetrics():
    rng = np.random.default_rng(1)
    outs = ["".join(rng.choice(list("0123456789"), rng.integers(0, 6))) for _ in range(200)]
    tgts = ["".join(rng.choice(list("0123456789"), rng.integers(1, 6))) for _ in range(200)]
    ours = edit_distances(outs, tgts)
    theirs = [int(tm_edit_distance([o], [t], reduction="sum")) for o, t in zip(outs, tgts, strict=True)]
    np.testing.assert_array_equal(ours, theirs)


def test_exact_target_logprob_sums_whole_tokens_only():
    lp = exact_target_logprob([["4", "2", "7"], ["42", "75"]], [[-0.1, -0.2, -0.3], [-1.0, -2.0]], max_len=4)
    np.testing.assert_allclose(lp[0], [-0.6, -0.1, -0.3, -0.6, np.nan])
    np.testing.assert_allclose(lp[1], [-3.0, np.nan, -1.0, np.nan, -3.0])


def test_token_ids_end_at_the_first_pad():
    codes = token_ids_to_codes(torch.tensor([[3, 4, 0, 5], [2, 2, 2, 2]]), pad_id=0)
    np.testing.assert_array_equal(codes, [[4, 5, 0, 0], [3, 3, 3, 3]])
    np.testing.assert_array_equal(code_matrix([" ab ", "c"]), [[97, 98], [99, 0]])


def _random_ids(seed: int, n: int = 64, w: int = 6):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(1, 4, (n, w), generator=g)
    tlen = torch.randint(1, w + 1, (n,), generator=g)
    target[torch.arange(w)[None, :] >= tlen[:, None]] = 0
    pred = torch.where(torch.rand(n, w, generator=g) < 0.7, target, torch.randint(0, 4, (n, w), generator=g))
    return pred, target


def _ids_to_str(ids: torch.Tensor) -> list[str]:
    out = []
    for row in ids.tolist():
        s = ""
        for v in row:
            if v == 0:
                break
            s += chr(ord("a") + v)
        out.append(s)
    return out


def test_classes_equal_functional_means():
    pred, target = _random_ids(0)
    em, ed = ExactMatchByLength(max_len=5), TokenEditDistanceByLength(max_len=5)
    for a, b in ((slice(0, 20), slice(0, 20)), (slice(20, 64), slice(20, 64))):
        em.update(pred[a], target[b])
        ed.update(pred[a], target[b])
    s = score_strings(_ids_to_str(pred), _ids_to_str(target), max_len=5)
    em_v, ed_v = em.compute(), ed.compute()
    assert float(em_v["full"]) == pytest.approx(np.nanmean(s["exact_match"][:, 0]))
    for L in range(1, 6):
        col = s["exact_match"][:, L]
        assert (
            float(em_v[L]) == pytest.approx(np.nanmean(col))
            if (~np.isnan(col)).any()
            else math.isnan(em_v[L])
        )
        assert float(ed_v[L]) == pytest.approx(np.nanmean(s["edit_distance"][:, L]))
    assert ExactMatchByLength.higher_is_better and not TokenEditDistanceByLength.higher_is_better


def _ddp_compute(rank: int, world_size: int):
    pred, target = _random_ids(0)
    em, ed = ExactMatchByLength(max_len=5), TokenEditDistanceByLength(max_len=5)
    em.update(pred[rank::world_size], target[rank::world_size])
    ed.update(pred[rank::world_size], target[rank::world_size])
    return {k: float(v) for k, v in em.compute().items()}, {k: float(v) for k, v in ed.compute().items()}


def test_ddp_merge_equals_single_process():
    pred, target = _random_ids(0)
    em, ed = ExactMatchByLength(max_len=5), TokenEditDistanceByLength(max_len=5)
    em.update(pred, target)
    ed.update(pred, target)
    single = ({k: float(v) for k, v in em.compute().items()}, {k: float(v) for k, v in ed.compute().items()})
    for result in run_distributed(_ddp_compute, world_size=2):
        for got, want in zip(result, single, strict=True):
            assert got == pytest.approx(want, nan_ok=True)
