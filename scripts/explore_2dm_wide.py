"""Exploration behind experiment=arithmetic_2dm's recipe: does 2-digit multiplication generalise when half the
training problems have operands of up to 3 digits?

A plain PyTorch loop (no Lightning, one thread) around the project's DecoderLM, with its own token layout (digits,
``*``, ``=``, answers least significant digit first) and its own draw of 2000 held-out 2-digit pairs (500 used for
validation); the GPT-3 test items and every held-out pair's swap are kept out of training, as
``data.exclude_swapped=true`` does. It prints validation exact match every 250 steps and test exact match on GPT-3's
2000 items at the end. docs/arithmetic.md lists the runs and what they printed, e.g.

    DATA_DIR=../shared/data python scripts/explore_2dm_wide.py --mode base --width 48 --steps 2000
    DATA_DIR=../shared/data python scripts/explore_2dm_wide.py --mode wide --width 64 --steps 8000 --lr 4e-3

``--mode base`` trains on the 2-digit pairs only, ``wide`` on a share ``--mix`` of them and the rest with operands of
up to ``--digits`` digits (each operand's digit count uniform, then its value). The project's own version of this
is ``data.train_digits`` / ``data.task_share`` in src/datamodules/arithmetic.py.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from src.models.decoder import DecoderLM  # noqa: E402

TEST_FILE = "llm/gpt3_arithmetic_problems/two_digit_multiplication.jsonl.gz"
PAD, EOS, TIMES, EQUALS = 0, 1, 12, 13  # digits are 2..11


def read_test(data_dir: Path) -> np.ndarray:
    path = data_dir / TEST_FILE
    if not path.is_file():
        raise SystemExit(f"{path} not found: set DATA_DIR to the directory holding {TEST_FILE}")
    pairs = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            m = re.search(r"(\d+) times (\d+)", json.loads(line)["context"])
            pairs.append((int(m.group(1)), int(m.group(2))))
    return np.array(pairs)


def encode(x: np.ndarray, y: np.ndarray, digits: int) -> tuple[torch.Tensor, int]:
    """``[n, 4 * digits + 3]`` ids: zero-padded operands, ``*``, ``=``, reversed product, EOS; and the prompt length."""
    P, A = 2 * digits + 2, 2 * digits
    seq = np.zeros((len(x), P + A + 1), np.int64)
    for i in range(digits):
        seq[:, digits - 1 - i] = (x // 10**i) % 10 + 2
        seq[:, 2 * digits - i] = (y // 10**i) % 10 + 2
    seq[:, digits], seq[:, P - 1] = TIMES, EQUALS
    z = x * y
    n_digits = np.maximum(1, np.floor(np.log10(np.maximum(z, 1))).astype(int) + 1)
    for i in range(A):
        seq[:, P + i] = np.where(i < n_digits, (z // 10**i) % 10 + 2, PAD)
    seq[np.arange(len(x)), P + n_digits] = EOS
    return torch.from_numpy(seq), P


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("base", "wide"), default="base")
    p.add_argument("--width", type=int, default=48)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--wd", type=float, default=0.01)
    p.add_argument("--mix", type=float, default=0.5, help="share of 2-digit problems in wide mode")
    p.add_argument("--digits", type=int, default=3, help="widest operands in wide mode")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-swaps", action="store_true", help="allow (b, a) of a held-out (a, b) in training")
    a = p.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(a.seed)
    torch.manual_seed(a.seed)
    digits = a.digits if a.mode == "wide" else 2
    test = read_test(Path(os.environ.get("DATA_DIR", "data")))
    test_codes = set((test[:, 0] * 100 + test[:, 1]).tolist())
    held = np.random.default_rng(0).choice(
        [c for c in range(10000) if c not in test_codes], 2000, replace=False
    )
    val = held[:500]
    excl = test_codes | set(held.tolist())
    if not a.keep_swaps:
        excl |= {c % 100 * 100 + c // 100 for c in [*test_codes, *held.tolist()]}
    pool = np.array([c for c in range(10000) if c not in excl])
    print("2-digit training pairs", len(pool), flush=True)

    def operands(m: int) -> np.ndarray:
        n_digits = rng.integers(1, digits + 1, m)
        return rng.integers(np.where(n_digits == 1, 0, 10 ** (n_digits - 1)), 10**n_digits)

    def draw(n: int) -> tuple[torch.Tensor, int]:
        k = int(round(a.mix * n)) if a.mode == "wide" else n
        c = rng.choice(pool, k)
        x, y = c // 100, c % 100
        xs, ys, got = [], [], 0
        while got < n - k:
            u, v = operands(2 * (n - k)), operands(2 * (n - k))
            bad = (u < 100) & (v < 100) & np.isin(u * 100 + v, list(excl))
            xs.append(u[~bad])
            ys.append(v[~bad])
            got += int((~bad).sum())
        if xs:
            x = np.concatenate([x, np.concatenate(xs)[: n - k]])
            y = np.concatenate([y, np.concatenate(ys)[: n - k]])
        return encode(x, y, digits)

    net = DecoderLM(14, a.width, a.depth, 32)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=a.wd)
    warm = 100

    def factor(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min((s - warm) / (a.steps - warm), 1)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    val_seq, P = encode(val // 100, val % 100, digits)
    test_seq, _ = encode(test[:, 0], test[:, 1], digits)

    def exact_match(seq: torch.Tensor) -> float:
        net.eval()
        with torch.no_grad():
            pred = net.greedy(seq[:, :P], seq.shape[1] - P)
        net.train()
        tgt = seq[:, P:]
        ends = (tgt == EOS).int().argmax(dim=1)
        pos = torch.arange(tgt.shape[1])[None, :]
        return float(((pred == tgt) | (pos > ends[:, None])).all(dim=1).float().mean())

    t0 = time.time()
    for s in range(a.steps):
        seq, P = draw(256)
        tgt = seq[:, 1:].clone()
        tgt[:, : P - 1] = -100
        tgt[tgt == PAD] = -100
        loss = F.cross_entropy(net(seq[:, :-1]).transpose(1, 2), tgt, ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (s + 1) % 250 == 0:
            print(f"step {s + 1} loss {loss.item():.3f} val_em {exact_match(val_seq):.3f} t {time.time() - t0:.0f}s",
                  flush=True)  # fmt: skip
    print("test_em", exact_match(test_seq), "params", sum(p.numel() for p in net.parameters()), flush=True)


if __name__ == "__main__":
    main()
