"""Benchmark of the verdict engine: ingest + verdicts on a synthetic lab's evaluation, and the plain alternative.

    python scripts/benchmark_verdicts.py                      # 100 models x 100 tasks x 1000 items, 1000 resamples
    python scripts/benchmark_verdicts.py --models 20 --tasks 10 --items 500

The table: one family, ``--models`` sizes (log-spaced 1e7..1e11), ``--tasks`` tasks, ``--items`` items per cell; per
item a right/wrong outcome (``acc``, level 1) and its Brier score (``brier``, level 0) from a per-item probability
that rises with size (a logistic in log N, a different midpoint per task), written as Parquet (evidence + items)
and read back through the reader registry, as a user's files would be. Timed: reading, the engine (items resampled,
Eq. 1, step share, total change, the paired pair verdicts with logistic widths), and the plain alternative on a
subset of tasks: the same resamples drawn per curve and per resample in a Python loop (``rng.choice`` of items and
Eq. 1 of one curve at a time), the way a first version of such code is written. Prints seconds, the ratio on the
subset, and the peak memory (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_tables(
    n_models: int, n_tasks: int, n_items: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    scales = np.logspace(7, 11, n_models)
    lx = np.log10(scales)
    mids = rng.uniform(8, 10.5, n_tasks)
    difficulty = rng.normal(0, 1, (n_tasks, n_items))  # item effects, shared by the models (one test set)
    ev_rows, items = [], []
    for t in range(n_tasks):
        logit = (lx[:, None] - mids[t]) * 2.0 - difficulty[t][None, :]  # [models, items]
        p = 1 / (1 + np.exp(-logit))
        correct = (rng.random(p.shape) < p).astype(np.float32)
        brier = ((1 - p) ** 2).astype(
            np.float32
        )  # the model's probability on the right answer, squared error
        for j in range(n_models):
            items.append(pd.DataFrame({"model": f"m{j:03d}", "task": f"task{t:03d}", "item": np.arange(n_items),
                                       "acc": correct[j], "brier": brier[j], "scale": scales[j]}))  # fmt: skip
            ev_rows += [(f"m{j:03d}", scales[j], f"task{t:03d}", "acc", float(correct[j].mean())),
                        (f"m{j:03d}", scales[j], f"task{t:03d}", "brier", float(brier[j].mean()))]  # fmt: skip
    ev = pd.DataFrame(ev_rows, columns=["model", "scale", "task", "metric", "value"])
    ev = ev.assign(family="lab", n_items=n_items, replicate="", checkpoint="")
    it = pd.concat(items, ignore_index=True).assign(family="lab", replicate="", checkpoint="")
    for c in ("family", "model", "task", "replicate", "checkpoint"):
        it[c] = it[c].astype("category")
    return ev, it


def plain(ev: pd.DataFrame, items: pd.DataFrame, B: int, seed: int = 0) -> list[tuple]:
    """Per curve, per resample: draw the items of every size with rng.choice, average, Eq. 1 of that curve."""
    from src.analysis.stats.sharpness import emergence_rows

    rng = np.random.default_rng(seed)
    out = []
    for (task, metric), g in ev.groupby(["task", "metric"], observed=True):
        g = g.sort_values("scale")
        per = [
            items.loc[(items["task"] == task) & (items["model"] == m), metric].to_numpy(float)
            for m in g["model"]
        ]
        sign = 1.0 if metric == "acc" else -1.0
        es = []
        for _ in range(B):
            y = np.array([v[rng.choice(v.size, v.size)].mean() for v in per])
            es.append(emergence_rows(sign * y))
        out.append((task, metric, np.quantile(es, [0.025, 0.975])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument("--n-width-resamples", type=int, default=200, help="logistic refits per curve in a pair")
    ap.add_argument("--plain-tasks", type=int, default=2, help="tasks the plain alternative is timed on")
    args = ap.parse_args()
    from src.analysis.core.readers import read_inputs
    from src.analysis.stats.engine import Settings, run_engine

    t0 = time.perf_counter()
    ev, items = make_tables(args.models, args.tasks, args.items)
    print(f"table: {args.models} models x {args.tasks} tasks x {args.items} items = {len(items):,} item rows, "
          f"{len(ev):,} evidence rows (made in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        ev.to_parquet(Path(d) / "evidence.parquet")
        items.to_parquet(Path(d) / "evidence.items.parquet")
        t = time.perf_counter()
        read = read_inputs([Path(d) / "evidence.parquet"])
        t_read = time.perf_counter() - t
    s = Settings(n_resamples=args.n_resamples, n_width_resamples=args.n_width_resamples)
    t = time.perf_counter()
    v = run_engine(read, s, progress=False)
    t_engine = time.perf_counter() - t
    n_curves = len(v.curves)
    print(f"read (registry, items beside the evidence): {t_read:.1f} s; engine: {t_engine:.1f} s for {n_curves} "
          f"curves and {len(v.pairs)} pairs, {args.n_resamples} resamples "
          f"({1e3 * t_engine / max(n_curves, 1):.1f} ms a curve); total {t_read + t_engine:.1f} s")  # fmt: skip
    print("sources:", dict(v.curves["interval_source"].value_counts()))
    sub = [f"task{t:03d}" for t in range(args.plain_tasks)]
    ev_sub = read.table[read.table["task"].isin(sub)]
    it_sub = read.items[read.items["task"].isin(sub)]
    t = time.perf_counter()
    from src.analysis.core.readers import Evidence

    run_engine(
        Evidence(ev_sub, it_sub), Settings(n_resamples=args.n_resamples, n_width_resamples=0), progress=False
    )
    t_new_sub = time.perf_counter() - t
    t = time.perf_counter()
    plain(ev_sub, it_sub, args.n_resamples)
    t_plain = time.perf_counter() - t
    print(f"subset of {len(sub)} tasks ({2 * len(sub)} curves), Eq. 1 intervals only: engine {t_new_sub:.2f} s, plain "
          f"per-resample loop {t_plain:.1f} s: {t_plain / t_new_sub:.0f}x")  # fmt: skip
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
