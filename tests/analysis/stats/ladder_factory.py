"""Synthetic ladders with known truth: runs of a family generated from a known two-step law (task loss
L(N, D) = E + A (N/N0)^-alpha + B (D/D0)^-beta, accuracy = chance + (1 - chance) / (1 + (L/L0)^k)) with noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.core.evidence import normalize

LAW = {"E": 0.45, "A": 0.55, "alpha": 0.33, "B": 0.5, "beta": 0.3, "N0": 1e8, "D0": 2e9, "L0": 0.95, "k": 5.0}
SIZES = (1e8, 2e8, 4e8, 8e8, 1.6e9)
MULTS = (1, 2, 5, 10)
TARGET = ("big", 7e9, 20.0)  # model, N, multiplier
TARGETS = [TARGET, ("mid", 3.2e9, 10.0), ("huge", 1.4e10, 10.0)]


def true_loss(n, d, law=LAW):
    return law["E"] + law["A"] * (n / law["N0"]) ** -law["alpha"] + law["B"] * (d / law["D0"]) ** -law["beta"]


def true_acc(loss, chance=0.25, law=LAW):
    return chance + (1 - chance) / (1 + (np.asarray(loss) / law["L0"]) ** law["k"])


def ladder(rng, *, chance=0.25, run_sd=0.004, ck_sd=0.004, n_ck=6, task="t", sizes=SIZES, mults=MULTS,
           target=TARGET, flat=False) -> pd.DataFrame:  # fmt: skip
    """Evidence rows (bpb and acc per checkpoint) of every run and the target; ``run_sd``: a per-run offset of the
    loss (seed-to-seed spread), ``ck_sd``: noise of each evaluation; ``flat``: accuracy stays at chance."""
    rows = []
    targets = target if isinstance(target, list) else [target]
    runs = [(f"{n:g}-{m}xC", n, m) for n in sizes for m in mults] + targets
    for model, n, m in runs:
        d_final = 20 * n * m
        off = run_sd * rng.standard_normal()
        for i, frac in enumerate(np.linspace(1 / n_ck, 1.0, n_ck)):
            d = d_final * frac
            loss = true_loss(n, d) + off + ck_sd * rng.standard_normal()
            acc = (chance if flat else true_acc(loss, chance)) + ck_sd * rng.standard_normal()
            for metric, v in (("bpb", loss), ("acc", acc)):
                rows.append({"family": "synthetic", "model": model, "scale": n, "task": task, "metric": metric,
                             "value": v, "checkpoint": f"step{i + 1}", "step": float(i + 1), "tokens": d})  # fmt: skip
    return normalize(pd.DataFrame(rows))
