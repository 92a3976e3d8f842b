"""The resolution mechanism shown directly: small test sets and few model sizes make smooth progress look like a jump.

From each run's per-item outcomes (``per_item.npz``, boolean ``correct``) this computes K-of-K subset accuracy three
ways, on the same models:

- ``exact``: C(m, K) / C(n, K) over the whole test set (the expectation over all K-subsets; no resolution limit
  beyond 1/C(n, K));
- ``sampled``: the mean over floor(n/K) disjoint random groups of K items of the whole test set, as a benchmark
  with fixed K-item questions scores it (``src.metrics.subset_accuracy.sampled_subset_accuracy``);
- ``sampled`` on a small test set of ``small_n`` items (drawn ``n_draws`` times at random from the test set): only
  floor(small_n/K) groups, so it reads multiples of 1/floor(small_n/K) and reads exactly 0 wherever the expected
  value is well below that.

and, for a *sparse* grid (a few of the sizes), the emergence score of the same curves next to the dense grid's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from src.analysis.core.emergence import emergence_score, largest_step_share
from src.analysis.sweeps.loading import per_item_path
from src.metrics.subset_accuracy import exact_subset_accuracy, sampled_subset_accuracy
from src.results.errors import InputError
from src.results.per_item import load_per_item


def _runs(table: pd.DataFrame) -> pd.DataFrame:
    need = {"source", "sweep_dir", "task", "run_dir", "scale", "replicate"}
    missing = need - set(table.columns)
    if missing:
        raise InputError(
            f"the evidence lacks column(s) {sorted(missing)}: the resolution experiment reads the "
            "per-item outcomes of sweep runs",
            fix="give a sweep dir whose runs saved per_item.npz",
        )
    runs = table.drop_duplicates("run_dir")[sorted(need)]
    seed = pd.to_numeric(runs["replicate"], errors="coerce")  # seeds in number order (2 before 10)
    return runs.assign(_s=seed).sort_values(["scale", "_s"], kind="stable").drop(columns="_s")


def resolution_table(
    table: pd.DataFrame, k: int = 5, small_n: int = 100, n_draws: int = 50, seed: int = 0
) -> pd.DataFrame:
    """One row per run: exact and sampled subset accuracy on the whole test set, and on ``n_draws`` random
    test sets of ``small_n`` items: the mean, 10th/90th percentile, and share of draws reading exactly 0."""
    if k < 1 or small_n < k or n_draws < 1:
        raise InputError(
            f"need --k >= 1, --small-n >= k and --n-resamples >= 1, got k={k}, small_n={small_n}, n_draws={n_draws}",
            fix="pass valid values",
        )
    rows = []
    rng = np.random.default_rng(seed)
    for run in _runs(table).itertuples(index=False):
        path = per_item_path(run.sweep_dir, run.run_dir)
        arrays = load_per_item(path)  # a missing or truncated file is an InputError naming it
        if "correct" not in arrays:
            raise InputError(
                f"has no 'correct' array (has {sorted(arrays)})",
                path=path,
                fix="the resolution experiment needs per-item outcomes of a classification family",
            )
        correct = np.asarray(arrays["correct"], dtype=bool)
        n = correct.size
        if n < small_n:
            raise InputError(
                f"scores {n} test items, fewer than --small-n {small_n}", path=path, fix="lower --small-n"
            )
        t = torch.from_numpy(correct)
        small = []
        for d in range(n_draws):
            pick = rng.choice(n, size=small_n, replace=False)
            small.append(float(sampled_subset_accuracy(t[torch.from_numpy(pick)], k, seed=seed + d)))
        small = np.asarray(small)
        rows.append({
            "source": run.source, "task": run.task, "run_dir": run.run_dir, "scale": run.scale,
            "replicate": run.replicate, "k": k, "n_items": n, "accuracy": float(correct.mean()),
            "exact": float(exact_subset_accuracy(int(correct.sum()), n, k)),
            "sampled_full": float(sampled_subset_accuracy(t, k, seed=seed)),
            "small_n": small_n, "small_groups": small_n // k,
            "sampled_small_mean": float(small.mean()),
            "sampled_small_q10": float(np.quantile(small, 0.1)),
            "sampled_small_q90": float(np.quantile(small, 0.9)),
            "sampled_small_first": float(small[0]),
            "share_small_reads_0": float((small == 0).mean()),
        })  # fmt: skip
    return pd.DataFrame(rows)


def sparse_sizes(sizes: Sequence[float], n_keep: int = 3) -> list[float]:
    """``n_keep`` sizes spread evenly (in rank) over the sorted grid, always the smallest and largest."""
    sizes = sorted(set(float(s) for s in sizes))
    if n_keep < 2 or n_keep > len(sizes):
        raise ValueError(f"n_keep must be between 2 and the number of sizes ({len(sizes)}), got {n_keep}")
    idx = np.unique(np.round(np.linspace(0, len(sizes) - 1, n_keep)).astype(int))
    return [sizes[i] for i in idx]


def resolution_summary(res: pd.DataFrame, n_keep: int = 3) -> pd.DataFrame:
    """Per (task, estimator, grid): the emergence score (Eq. 1) and the largest single step as a share of the
    total change, of the seed-mean curve on the dense grid and on a sparse grid of ``n_keep`` sizes, and how many
    sizes read exactly 0 (seed mean). With 3 points Eq. 1 divides by the mean of the two steps, so it cannot call a
    curve sharp; the largest-step share (1.0 = all change in one step) is the reading for the sparse grid."""
    estimators = {
        "accuracy (smooth)": "accuracy",
        "subset acc, exact, full test set": "exact",
        "subset acc, sampled groups, full test set": "sampled_full",
        "subset acc, sampled groups, one small test set": "sampled_small_first",
    }
    rows = []
    for (sweep, task), g in res.groupby(["source", "task"]):
        means = g.groupby("scale")[list(estimators.values())].mean().sort_index()
        sparse = sparse_sizes(means.index, n_keep)
        for label, col in estimators.items():
            for grid, m in (("dense", means), ("sparse", means.loc[sparse])):
                y = m[col].to_numpy(float)
                rows.append({
                    "source": sweep, "task": task, "estimator": label, "grid": grid, "n_sizes": len(m),
                    "sizes": ",".join(f"{s:.3g}" for s in m.index),
                    "emergence_score": emergence_score(m.index.to_numpy(float), y),
                    "largest_step_share": largest_step_share(m.index.to_numpy(float), y),
                    "sizes_reading_0": int((y == 0).sum()),
                })  # fmt: skip
    return pd.DataFrame(rows)


def resolution_figure(res: pd.DataFrame, n_keep: int = 3):
    """A: subset accuracy by estimator against parameters (seed mean; bands = seed range; hatched = 10-90% over
    small test sets). B: the same on a log y axis, where the small test sets' zeros drop out, with the share of
    small test sets that read exactly 0 (bars). C: the small-test-set curve on the dense grid and on a sparse grid
    of ``n_keep`` sizes, with the largest single step's share of the total change."""
    import matplotlib.pyplot as plt

    k, small_n, groups = int(res["k"].iloc[0]), int(res["small_n"].iloc[0]), int(res["small_groups"].iloc[0])
    n_test = int(res["n_items"].median())
    cols = ["accuracy", "exact", "sampled_full", "sampled_small_first", "sampled_small_mean", "sampled_small_q10",
            "sampled_small_q90", "share_small_reads_0"]  # fmt: skip
    agg = res.groupby("scale")[cols].agg(["mean", "min", "max"]).sort_index()
    x = agg.index.to_numpy(float)
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(16, 5.0), layout="constrained")
    lines = (
        ("exact", f"exact C(m,K)/C(n,K), n={n_test}", "C0", "-", 3.0),
        ("sampled_full", f"sampled: {n_test // k} fixed groups of K (n={n_test})", "C2", "--", 1.5),
        (
            "sampled_small_first",
            f"sampled: {groups} groups of K (one test set of n={small_n})",
            "C3",
            "-",
            1.5,
        ),
    )
    for col, label, color, ls, lw in lines:
        a.plot(x, agg[(col, "mean")], ls, marker="o", color=color, label=label, ms=4, lw=lw)
        a.fill_between(x, agg[(col, "min")], agg[(col, "max")], color=color, alpha=0.15, lw=0)
    a.fill_between(x, agg[("sampled_small_q10", "mean")], agg[("sampled_small_q90", "mean")], color="C3",
                   alpha=0.08, hatch="//", lw=0, label=f"10-90% over {small_n}-item test sets")  # fmt: skip
    a.axhline(1.0 / groups, color="C3", ls=":", lw=0.8, label=f"resolution step 1/{groups}")
    a.set(xscale="log", xlabel="parameters", ylabel=f"subset accuracy (all K={k} right), seed mean",
          title=f"A. Same models, three estimators (K={k})")  # fmt: skip
    a.legend(fontsize=7)
    for col, label, color, ls, lw in lines:
        y = agg[(col, "mean")].to_numpy(float)
        b.plot(x[y > 0], y[y > 0], ls, marker="o", color=color, ms=4, lw=lw, label=label)
    b.axhline(1.0 / groups, color="C3", ls=":", lw=0.8, label=f"resolution step 1/{groups}")
    b.set(xscale="log", yscale="log", xlabel="parameters", ylabel="seed mean (log; zeros not drawn)",
          title="B. Log scale: small models are above 0")  # fmt: skip
    twin = b.twinx()
    twin.bar(x, agg[("share_small_reads_0", "mean")], width=x * 0.25, color="0.5", alpha=0.3,
             label=f"share of {small_n}-item test sets reading 0")  # fmt: skip
    twin.set(ylim=(0, 1.05), ylabel=f"share of {small_n}-item test sets reading exactly 0")
    h1, l1 = b.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    b.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower right")
    sparse = sparse_sizes(x, n_keep)
    small = agg[("sampled_small_first", "mean")]
    s_dense = largest_step_share(x, small.to_numpy(float))
    s_sparse = largest_step_share(np.asarray(sparse), small.loc[sparse].to_numpy(float))
    c.plot(x, agg[("accuracy", "mean")], "s-", color="0.6", ms=3, label="accuracy (smooth), dense grid")
    c.plot(x, small, "o-", color="C3", ms=4,
           label=f"subset acc, n={small_n}, dense grid ({len(x)} sizes): largest step {s_dense:.0%} of the rise")  # fmt: skip
    c.plot(sparse, small.loc[sparse], "D--", color="k", ms=6,
           label=f"same, sparse grid ({len(sparse)} sizes): largest step {s_sparse:.0%}")  # fmt: skip
    c.set(
        xscale="log", xlabel="parameters", ylabel="seed mean", title="C. Dense vs sparse grid of model sizes"
    )
    c.legend(fontsize=7)
    n_seeds = res["replicate"].nunique()
    bands = f" (bands: range over {n_seeds} seeds)" if n_seeds > 1 else " (one run per size)"
    fig.suptitle(f"{res['task'].iloc[0]}: K-of-K subset accuracy by the exact estimator and by fixed groups of "
                 f"K on small test sets; dense vs sparse grid{bands}")  # fmt: skip
    return fig
