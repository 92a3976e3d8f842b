"""Small outputs.jsonl fixtures: a simulated model family whose per-digit accuracy p grows with size.

Each output digit equals the target digit with probability p and is otherwise another digit (a substitution), so
exact match at L is about p^L and token edit distance about L(1 - p): the paper's mathematical model, which the
analysis must recover. Each target digit gets log-probability log(p).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
PS = (0.2, 0.45, 0.7, 0.9, 0.98)


def simulate(
    path: Path, n_items: int = 300, n_extra: int = 0, sizes=SIZES, ps=PS, task="four_digit_addition", seed=0
) -> Path:
    """Write a JSONL of ``len(sizes)`` models x (``n_items`` test + ``n_extra`` extra items); returns the path."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 10_000, n_items + n_extra)
    b = rng.integers(0, 10_000, n_items + n_extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        for size, p in zip(sizes, ps, strict=True):
            for i in range(n_items + n_extra):
                target = str(a[i] + b[i])
                digits = [d if rng.random() < p else str((int(d) + rng.integers(1, 10)) % 10) for d in target]
                row = {
                    "model": f"sim-{size}", "family": "sim", "num_params": int(size), "task": task,
                    "prompt": f"Q: What is {a[i]} plus {b[i]}?\n\nA: ", "target": target, "output": "".join(digits),
                    "item": i if i < n_items else i - n_items, "subset": "test" if i < n_items else "extra",
                    "target_tokens": list(target), "target_logprobs": [math.log(p)] * len(target),
                }  # fmt: skip
                fh.write(json.dumps(row) + "\n")
    return path
