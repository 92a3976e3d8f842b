"""Reference numbers quoted in docs/analysis.md: Eq. 1's chance threshold by N, the coverage of the items x seeds
intervals by number of seeds, and the clustered vs naive binomial bound. Seeded; about a minute on 2 CPU cores."""

from __future__ import annotations

import numpy as np

from src.analysis.stats.intervals import (
    clopper_pearson,
    clustered_binomial_interval,
    interval,
    resample_crossed,
    resample_items_seeds,
)
from src.analysis.stats.sharpness import null_threshold


def coverage(n_seeds, n_items, resampler, n_sims, n_boot=300, seed=0):
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_sims):
        v = 2.0 + rng.normal(0, 1, (n_items, 1)) + rng.normal(0, 0.5, (1, n_seeds))
        v = v + rng.normal(0, 0.5, (n_items, n_seeds))
        lo, hi = interval(resampler([v], n_boot, rng)[:, 0])
        hits += lo <= 2.0 <= hi
    return hits / n_sims


def main() -> None:
    print("95% quantile of Eq. 1 for N scores unrelated to scale (i.i.d.):")
    for n in range(3, 13):
        print(f"  N = {n:2d}: {null_threshold(n):.2f}")
    print(
        "\ncoverage of 95% intervals of the mean of an items x seeds table (80 items; item, seed, noise effects):"
    )
    for s in (3, 5, 10, 30):
        c = coverage(s, 80, resample_crossed, 400)
        nest = coverage(s, 80, resample_items_seeds, 150)
        print(f"  {s:2d} seeds: crossed {c:.3f}, nested {nest:.3f}")
    k, m = np.zeros(128), np.full(128, 128)
    print(f"\n0 of 16,384 samples from 128 problems: naive Clopper-Pearson upper {clopper_pearson(0, 16384)[1]:.3g}, "
          f"clustered {clustered_binomial_interval(k, m)[1]:.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
