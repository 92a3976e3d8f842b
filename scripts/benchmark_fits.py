"""Logistic width fits of many curves and their resamples: the batched fit against the per-row fit it replaces.

    python scripts/benchmark_fits.py                       # 200 curves x 200 resamples, both paths on every curve
    python scripts/benchmark_fits.py --old-curves 40       # the per-row path on the first 40 curves only

Synthetic curves like the ones the verdicts see: 4-13 sizes over four decades, a logistic in log10 N of width 0.1-4
decades from chance (0, 0.25 or 0.5) to 0.6-1.0, measured on 50-1000 binomial items; half with the chance floor
fixed, half with a fitted floor. Per curve, as ``verdicts.curve_summary`` does: the point fit (15 starts), then, if
it is identified, every resample refitted from it. The two paths alternate curve by curve (so that a drifting
machine slows both alike) on the same data:

  new   ``logistic_width`` + ``logistic_width_rows`` (all starts / all resamples of a curve in one batched fit)
  old   ``_careful_width``: one scipy ``least_squares`` call per start and per resample, as before issue 24
and, timed once after them, ``logistic_width_many`` on the same curves (all curves with the same number of sizes
and kind of floor in one batched fit: what a verdict engine over a whole table can use).

Prints the seconds of each on the curves both ran, the ratio old / new, and how far apart their answers are:
identified / not identified decisions that differ, and quantiles of |width difference| in decades. A benchmark,
not a test (tests/analysis/stats/test_logistic_batch.py checks the agreement).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from src.analysis.stats.sharpness import (
    WIDTH_FACTOR,
    _careful_width,
    expit,
    logistic_width,
    logistic_width_many,
    logistic_width_rows,
)


def synthetic_curves(n_curves: int, n_resamples: int, seed: int = 0):
    """(x, y, resamples [B, n], floor, upper) per curve; resamples are binomial redraws of the observed y."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_curves):
        n = int(rng.choice([4, 5, 6, 9, 13]))
        x = np.logspace(6, 10, n)
        width, mid = float(rng.choice([0.1, 0.3, 1.0, 2.0, 4.0])), rng.uniform(6.5, 9.5)
        chance, top = float(rng.choice([0.0, 0.25, 0.5])), rng.uniform(0.6, 1.0)
        items = int(rng.choice([50, 200, 1000]))
        p = chance + (top - chance) * expit((np.log10(x) - mid) / (width / WIDTH_FACTOR))
        y = rng.binomial(items, p) / items
        reps = rng.binomial(items, y, size=(n_resamples, n)) / items
        floor = chance if rng.random() < 0.5 else None
        out.append((x, y, reps, floor, max(1.0, float(y.max() + np.ptp(y)))))
    return out


def new_path(x, y, reps, floor, upper):
    fit = logistic_width(x, y, floor=floor, upper=upper)
    w = logistic_width_rows(x, reps, fit, floor, None, upper) if fit.identified else None
    return fit, w


def old_path(x, y, reps, floor, upper, start=None):
    """The per-row path; ``start``: refit the resamples from this fit instead of the per-row point fit."""
    fit = _careful_width(x, y, floor=floor, upper=upper) if start is None else start
    if not fit.identified:
        return fit, None
    warm = fit
    w = np.empty(len(reps))
    for i, row in enumerate(reps):
        f = _careful_width(x, row, floor, None, upper, warm=warm)
        w[i] = f.width if f.identified else np.nan
    return fit, w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--curves", type=int, default=200)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--old-curves", type=int, default=None, help="run the per-row path on the first K curves")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--self-check",
        action="store_true",
        help="also refit the resamples per row from the batched point fit (untimed), which splits the new-vs-old "
        "differences into the refit algorithm's (same start) and the point fit's (where the refits start)",
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    curves = synthetic_curves(args.curves, args.resamples, args.seed)
    k_old = len(curves) if args.old_curves is None else min(args.old_curves, len(curves))
    t_new = t_new_shared = t_old = 0.0
    mismatched = rows = self_mismatched = 0
    diffs, rep_diffs, self_diffs, same_start, point = [], [], [], [], []
    for i, c in enumerate(curves):
        start = time.perf_counter()
        fit_n, w_n = new_path(*c)
        dt = time.perf_counter() - start
        t_new += dt
        if i >= k_old:
            continue
        t_new_shared += dt
        start = time.perf_counter()
        fit_o, w_o = old_path(*c)
        t_old += time.perf_counter() - start
        rows += 1
        mismatched += fit_n.identified != fit_o.identified
        point.append((abs(fit_n.width - fit_o.width), (fit_n.rss - fit_o.rss) / max(fit_o.rss, 1e-12)))
        if fit_n.identified and fit_o.identified:
            diffs.append(abs(fit_n.width - fit_o.width))
            if w_n is not None and w_o is not None:
                rows += len(w_n)
                mismatched += int(np.sum(np.isnan(w_n) != np.isnan(w_o)))
                both = ~np.isnan(w_n) & ~np.isnan(w_o)
                diffs.extend(np.abs(w_n - w_o)[both])
                rep_diffs.extend(np.abs(w_n - w_o)[both])
                if args.self_check:
                    _, w_s = old_path(*c, start=fit_n)  # per-row refits from the batched point fit
                    self_mismatched += int(np.sum(np.isnan(w_s) != np.isnan(w_n)))
                    both = ~np.isnan(w_s) & ~np.isnan(w_n)
                    same_start.extend(np.abs(w_n - w_s)[both])
                    both = ~np.isnan(w_s) & ~np.isnan(w_o)
                    self_diffs.extend(np.abs(w_s - w_o)[both])
    start = time.perf_counter()
    logistic_width_many(curves[:k_old])
    t_many = time.perf_counter() - start
    start = time.perf_counter()
    logistic_width_many(curves)
    t_many_all = time.perf_counter() - start
    d = np.asarray(diffs) if diffs else np.zeros(1)
    load = os.getloadavg()[0]
    print(f"{args.curves} curves x {args.resamples} resamples (point fit of 15 starts + refits from it); "
          f"per-row path on {k_old} curves; load average {load:.1f}")  # fmt: skip
    print(f"new (batched): {t_new:.2f} s for all curves, {t_new_shared:.2f} s for the {k_old} shared curves")
    print(f"old (per row): {t_old:.2f} s for the {k_old} shared curves")
    print(f"new, all curves at once (logistic_width_many): {t_many:.2f} s for the {k_old} shared curves, "
          f"{t_many_all:.2f} s for all {len(curves)}")  # fmt: skip
    if k_old:
        print(f"old / new = {t_old / t_new_shared:.1f}x per curve, {t_old / t_many:.1f}x all curves at once")
    print(f"agreement on {rows} fits (point fits + resamples): identified decisions differing: {mismatched}; "
          f"|width difference| (decades) median {np.median(d):.1e}, 99% {np.quantile(d, 0.99):.1e}, "
          f"max {d.max():.1e}; share <= 1e-6: {np.mean(d <= 1e-6):.3f}, <= 1e-3: {np.mean(d <= 1e-3):.4f}")  # fmt: skip
    if point:
        pw, pr = np.array(point).T
        far = pw > 1e-6
        print(f"  point fits (best of 15 starts): |width difference| > 1e-6 on {far.sum()} of {pw.size} curves, "
              f"max {pw.max():.1e}; their rss differ by at most {np.abs(pr[far]).max() if far.any() else 0:.1e} "
              f"relative (rss floored at 1e-12: equally good fits), batched rss lower on {(pr < 0).sum()} curves")  # fmt: skip
    if args.self_check and rep_diffs:
        for name, v, mis in (("new vs old (end to end)", rep_diffs, None),
                             ("batched vs per-row from the same start", same_start, self_mismatched),
                             ("per-row from the batched vs the per-row point fit", self_diffs, None)):  # fmt: skip
            v = np.asarray(v)
            extra = "" if mis is None else f"; identified decisions differing: {mis}"
            print(f"  resample refits, {name}: |width difference| > 1e-6 on {np.mean(v > 1e-6):.3f}, > 1e-3 on "
                  f"{np.mean(v > 1e-3):.4f}, > 0.1 on {np.mean(v > 0.1):.4f} of {v.size}, max {v.max():.1e}{extra}")  # fmt: skip


if __name__ == "__main__":
    main()
