"""How each sharpness measure behaves as the grid of sizes gets denser (docs/analysis.md).

Two true curves over the same four decades of N (1e6..1e10), both logistic in log10 N from chance 0.25 to 0.95,
midpoint 1e8: a smooth one (10%->90% width 3 decades) and a sharp one (width 0.3 decades). Each is measured on
grids of n evenly log-spaced sizes, every size on ``n_items`` binomial items, ``n_sims`` times. Per (curve, n):
Eq. 1 (ties at 1/n_items), the largest-step share and the fitted logistic width (chance floor fixed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.stats.sharpness import WIDTH_FACTOR, emergence_rows, largest_step_share, logistic_width

GRIDS = (4, 6, 9, 13, 20, 30)
TRUE = {"smooth (width 3 decades)": 3.0, "sharp (width 0.3 decades)": 0.3}
CHANCE, CEIL, MID = 0.25, 0.95, 8.0


def simulate(
    n_sims: int = 100, n_items: int = 1000, grids=GRIDS, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    for kind, width in TRUE.items():
        s = width / WIDTH_FACTOR
        for n in grids:
            x = np.logspace(6, 10, n)
            p = CHANCE + (CEIL - CHANCE) / (1 + np.exp(-(np.log10(x) - MID) / s))
            ys = rng.binomial(n_items, p, size=(n_sims, n)) / n_items
            e = emergence_rows(ys, resolution=1.0 / n_items)
            share = largest_step_share(ys, resolution=1.0 / n_items)
            for i in range(n_sims):
                f = logistic_width(x, ys[i], floor=CHANCE)
                rows.append({"curve": kind, "true_width": width, "n_sizes": n, "sim": i, "eq1": e[i],
                             "largest_step_share": share[i], "logistic_width": f.width if f.identified else np.nan})  # fmt: skip
    table = pd.DataFrame(rows)

    def q(v, a):
        v = v.replace([np.inf, -np.inf], np.nan).dropna() if a != "inf" else v
        return float(np.quantile(v, a)) if len(v) else np.nan

    summ = []
    for (kind, n), g in table.groupby(["curve", "n_sizes"], sort=False):
        r = {"curve": kind, "n_sizes": n, "share_eq1_inf": float(np.isinf(g["eq1"]).mean())}
        for m in ("eq1", "largest_step_share", "logistic_width"):
            v = g[m].replace([np.inf], 1e6)  # inf (one step) counts as very sharp in the quantiles
            r[f"{m}_median"] = float(np.nanmedian(v))
            r[f"{m}_p05"], r[f"{m}_p95"] = (float(np.nanquantile(v, a)) for a in (0.05, 0.95))
        summ.append(r)
    return table, pd.DataFrame(summ)


def figure(summ: pd.DataFrame):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    labels = {"eq1": "Eq. 1 emergence score", "largest_step_share": "largest-step share",
              "logistic_width": "logistic width 10%->90% (decades)"}  # fmt: skip
    for ax, m in zip(axes, labels, strict=True):
        for kind, col in zip(TRUE, ("C0", "C3"), strict=True):
            g = summ[summ["curve"] == kind]
            ax.plot(g["n_sizes"], g[f"{m}_median"], "o-", color=col, label=kind)
            ax.fill_between(g["n_sizes"], g[f"{m}_p05"], g[f"{m}_p95"], color=col, alpha=0.2)
            if m == "logistic_width":
                ax.axhline(TRUE[kind], color=col, ls=":", lw=1)
        if m == "logistic_width":
            ns = np.asarray(summ["n_sizes"].unique(), dtype=float)
            ax.plot(ns, 4.0 / (ns - 1), "--", color="0.5", lw=1, label="grid spacing")
            ax.legend(fontsize=7, frameon=False)
        ax.set_xscale("log")
        ax.set_xticks(list(summ["n_sizes"].unique()), [str(v) for v in summ["n_sizes"].unique()])
        ax.set_xlabel("sizes in the grid (same 4 decades of N)")
        ax.set_ylabel(labels[m])
        if m != "largest_step_share":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(top=min(axes[0].get_ylim()[1], 1e3))
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle("Sharpness measures as the grid gets denser: median and 5-95% of 1,000-item binomial measurements "
                 "(dotted: true width)", fontsize=9)  # fmt: skip
    return fig
