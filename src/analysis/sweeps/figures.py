"""Sweep figures: smooth metrics and sharp metrics side by side against parameter count (log x).

Figure functions take a tidy table and return a matplotlib ``Figure``; saving is the caller's job
(:func:`src.analysis.core.saving.save_figure` writes PNG and PDF). Seeds are drawn as their mean (line) and range (band); where a table of
bootstrap intervals over test items is given, the interval of the seed mean is drawn as error bars; sharp panels show
the resolution floor 1/n (a test set of n items cannot resolve anything between 0 and 1/n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.analysis.core.curves import curve_table
from src.analysis.core.emergence import emergence_score
from src.analysis.core.metrics import classify, param_sort_key
from src.analysis.core.plotting import colors, log_x, panel_order


def sweep_figure(
    table: pd.DataFrame,
    split: str = "test",
    ci: pd.DataFrame | None = None,
    title: str | None = None,
    panel_size: tuple[float, float] = (4.0, 3.4),
) -> Figure:
    """Smooth metric panels (left) and sharp metric panels (right) of one task against num_params (log x).

    ``table``: tidy sweep table of one task (see :mod:`src.analysis.sweeps.loading`). ``ci``: optional table with
    ``metric, num_params, ci_lo, ci_hi`` (bootstrap interval of the seed mean over test items). Each curve's legend
    entry carries its emergence score E (paper Eq. 1) on the seed-mean curve.
    """
    curves = curve_table(table, split)
    if curves.empty:
        raise ValueError(
            f"no {split!r} metric the registry knows in this table; metrics: {sorted(table['metric'].unique())}"
        )
    tasks = curves[["sweep", "task_name"]].drop_duplicates()
    if len(tasks) > 1:
        raise ValueError(f"sweep_figure draws one task; got {len(tasks)}: use figures_by_task(table)")
    if ci is not None:
        curves = curves.merge(
            ci[["metric", "num_params", "ci_lo", "ci_hi"]], on=["metric", "num_params"], how="left"
        )
    panels = panel_order(curves)
    fig = Figure(figsize=(panel_size[0] * len(panels), panel_size[1] + 0.5), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (sharpness, family) in zip(axes, panels, strict=True):
        _draw_panel(ax, curves[(curves["family"] == family) & (curves["sharpness"] == sharpness)], sharpness)
    n_seeds = int(curves["n_seeds"].max())
    task = tasks.iloc[0]
    fam = str(curves["model_family"].iloc[0])
    bars = ""
    if "ci_lo" in curves.columns and curves["ci_lo"].notna().any():
        bars = "; bars: bootstrap interval over test items"
    fig.suptitle(
        title
        or f"{task['task_name']} ({fam}), {split} split: smooth vs sharp metrics\nline: mean, band: range of "
        f"{n_seeds} seed(s){bars}; E: emergence score (Eq. 1), improvement positive",
        fontsize=10,
    )
    return fig


def _draw_panel(ax, panel: pd.DataFrame, sharpness: str) -> None:
    metrics = sorted(panel["metric"].unique(), key=lambda m: param_sort_key(classify(m)))
    for color, metric in zip(colors(len(metrics)), metrics, strict=True):
        info = classify(metric)
        c = panel[panel["metric"] == metric].sort_values("num_params")
        x = c["num_params"].to_numpy(float)
        sign = 1.0 if info.kind.higher_is_better else -1.0  # oriented as in the claim table
        e = emergence_score(x, sign * c["mean"].to_numpy(float)) if len(c) >= 3 else float("nan")
        label = f"{info.curve_label}  (E={e:.2g})" if not np.isnan(e) else info.curve_label
        ax.plot(x, c["mean"], "o-", color=color, ms=3.5, lw=1.6, label=label)
        if (c["n_seeds"] > 1).any():
            ax.fill_between(x, c["lo"], c["hi"], color=color, alpha=0.2, lw=0)
        if "ci_lo" in c.columns and c["ci_lo"].notna().any():
            yerr = np.vstack([c["mean"] - c["ci_lo"], c["ci_hi"] - c["mean"]]).clip(min=0)
            ax.errorbar(x, c["mean"], yerr=yerr, fmt="none", ecolor=color, elinewidth=1, capsize=2)
    info = classify(metrics[0])
    if sharpness == "sharp" and panel["n_test"].notna().any():
        n = float(panel["n_test"].median())
        ax.axhline(1.0 / n, color="0.35", ls="--", lw=1, label=f"resolution 1/n = {1.0 / n:.2g} (n={n:.0f})")
    log_x(ax)
    ax.set_xlabel("number of parameters")
    arrow = "higher is better" if info.kind.higher_is_better else "lower is better"
    ax.set_ylabel(f"{info.kind.label}\n({arrow})")
    ax.set_title(f"{sharpness} metric: {info.kind.family}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)


def figures_by_task(table: pd.DataFrame, split: str = "test", ci: pd.DataFrame | None = None):
    """Yield ``((sweep, task_name), Figure)`` for every task in a table of one or many sweeps."""
    for (sweep, task), part in table.groupby(["sweep", "task_name"], sort=True):
        part_ci = None
        if ci is not None:
            part_ci = ci[(ci["sweep"] == sweep) & (ci["task_name"] == task)]
        yield (sweep, task), sweep_figure(part, split=split, ci=part_ci)
