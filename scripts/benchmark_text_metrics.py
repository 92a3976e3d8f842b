"""Throughput of the arithmetic text metrics on N (output, target) pairs against a plain-Python Levenshtein loop.

`python scripts/benchmark_text_metrics.py [--n 1000000] [--tm-n 20000]`. Pairs look like 4-digit addition answers
(4-5 digits) with random substitutions, deletions and insertions. Timed on one thread:
- rapidfuzz edit distance of whole strings (src.metrics.text.edit_distances) vs a textbook DP loop in Python;
- the full scoring (src.metrics.text.score_strings: exact match, edit distance, per-token accuracy for the whole
  answer and L = 1..5) vs the same Python loop;
- torchmetrics' functional edit_distance on a subsample (--tm-n pairs), per pair, extrapolated to N.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def levenshtein_py(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def make_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    targets = (rng.integers(0, 10_000, n) + rng.integers(0, 10_000, n)).astype(str)
    digits = np.array(list("0123456789"))
    # a random first digit in half the outputs (a substitution, or none when it repeats the digit),
    # a dropped last digit in 10%, an extra digit in 10% (setup only: list comprehensions are fine here)
    tails = np.array([t[1:] for t in targets.tolist()])
    outputs = np.where(rng.random(n) < 0.5, np.char.add(digits[rng.integers(0, 10, n)], tails), targets)
    outputs = np.where(rng.random(n) < 0.1, np.array([o[:-1] for o in outputs.tolist()]), outputs)
    outputs = np.where(rng.random(n) < 0.1, np.char.add(outputs, digits[rng.integers(0, 10, n)]), outputs)
    return outputs.tolist(), targets.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="pairs (default 1e6)")
    parser.add_argument("--tm-n", type=int, default=20_000, help="pairs for torchmetrics (default 2e4)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from torchmetrics.functional.text import edit_distance as tm_edit_distance

    from src.metrics.text import edit_distances, score_strings

    outputs, targets = make_pairs(args.n)
    print(f"{args.n:,} pairs, e.g. {list(zip(outputs[:4], targets[:4], strict=True))}")

    t = time.perf_counter()
    ours = edit_distances(outputs, targets)
    t_rf = time.perf_counter() - t

    t = time.perf_counter()
    scores = score_strings(outputs, targets, max_len=5)
    t_full = time.perf_counter() - t

    t = time.perf_counter()
    ref = [levenshtein_py(o, tg) for o, tg in zip(outputs, targets, strict=True)]
    t_py = time.perf_counter() - t
    assert np.array_equal(ours, ref), "rapidfuzz and the Python loop disagree"
    assert np.array_equal(scores["edit_distance"][:, 0], ref)

    m = min(args.tm_n, args.n)
    t = time.perf_counter()
    tm = tm_edit_distance(outputs[:m], targets[:m], reduction="none")
    t_tm = (time.perf_counter() - t) * args.n / m
    assert np.array_equal(tm.numpy(), ref[:m]), "torchmetrics and the Python loop disagree"

    rate = args.n / 1e6
    print(f"plain-Python Levenshtein loop:          {t_py:8.2f} s  ({rate / t_py:6.2f} M pairs/s)")
    print(f"rapidfuzz edit distance (whole answer): {t_rf:8.2f} s  ({rate / t_rf:6.2f} M pairs/s)  "
          f"{t_py / t_rf:6.1f}x faster than the Python loop")  # fmt: skip
    print(f"full scoring, whole answer + L=1..5:    {t_full:8.2f} s  ({rate / t_full:6.2f} M pairs/s)  "
          f"{t_py / t_full:6.1f}x faster than the Python loop (which computes 1 of its 18 numbers per pair)")  # fmt: skip
    print(f"torchmetrics edit_distance ({m:,} pairs, extrapolated): {t_tm:8.2f} s  "
          f"{t_tm / t_py:6.1f}x slower than the Python loop, {t_tm / t_rf:6.0f}x slower than rapidfuzz")  # fmt: skip


if __name__ == "__main__":
    main()
