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
    labels = {classify(m).kind.label for m in metrics}
    if sharpness == "sharp" and panel["n_test"].notna().any():
        n = float(panel["n_test"].median())
        ax.axhline(1.0 / n, color="0.35", ls="--", lw=1, label=f"resolution 1/n = {1.0 / n:.2g} (n={n:.0f})")
    if info.kind.chance is not None:
        ax.axhline(info.kind.chance, color="0.55", ls=":", lw=1, label=f"chance = {info.kind.chance:g}")
    log_x(ax)
    ax.set_xlabel("number of parameters")
    arrow = "higher is better" if info.kind.higher_is_better else "lower is better"
    ax.set_ylabel(f"{info.kind.label if len(labels) == 1 else info.kind.family}\n({arrow})")
    ax.set_title(f"{sharpness} metric: {info.kind.family}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)


GROUP = ["sweep", "task_name", "model_family"]


def figures_by_task(table: pd.DataFrame, split: str = "test", ci: pd.DataFrame | None = None, groups=None):
    """Yield ``((sweep, task_name, model_family), Figure)`` for every curve group of a table of one or many
    sweeps or evidence tables; ``groups`` (a list of such keys) restricts and orders them."""
    parts = dict(iter(table.groupby(GROUP, sort=True)))
    for key in groups if groups is not None else list(parts):
        part = parts[key]
        part_ci = None
        if ci is not None:
            part_ci = ci[(ci["sweep"] == key[0]) & (ci["task_name"] == key[1])]
        yield key, sweep_figure(part, split=split, ci=part_ci)


def rank_groups(claims: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(sweep, task, family) groups, strongest first: by the largest emergence score of a sharp metric (any
    metric where none is sharp), +inf first, NaN last."""
    c = claims.assign(_sharp=(claims["sharpness"] == "sharp") & ~claims["identity"].astype(bool))
    rows = []
    for key, g in c.groupby(GROUP, sort=True):
        pool = g.loc[g["_sharp"], "emergence_score"] if g["_sharp"].any() else g["emergence_score"]
        e = pool.replace(-np.inf, np.nan).max()
        rows.append((key, -np.inf if np.isnan(e) else e))
    rows.sort(key=lambda r: -r[1])
    return [k for k, _ in rows]


def summary_figure(claims: pd.DataFrame, drawn: int, split: str = "test") -> Figure:
    """Every curve group's emergence score per metric (one column per metric, one dot per (task, family)),
    for when only the strongest groups get a figure of their own."""
    from src.analysis.core.metrics import classify as _classify

    metrics = sorted(
        claims["metric"].unique(),
        key=lambda m: ((_classify(m).sharpness or "") != "smooth", *param_sort_key(_classify(m))),
    )
    fig = Figure(figsize=(max(6.0, 0.9 * len(metrics) + 2), 4.6), layout="constrained")
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    finite = claims["emergence_score"].replace([np.inf, -np.inf], np.nan).abs()
    cap = float(max(finite.max() if finite.notna().any() else 1.0, 1.0) * 3)
    for i, m in enumerate(metrics):
        e = claims.loc[claims["metric"] == m, "emergence_score"].to_numpy(float)
        e = e[~np.isnan(e)]
        inf = np.isinf(e)
        y = np.where(np.isposinf(e), cap, np.where(np.isneginf(e), -cap, e))
        x = i + rng.uniform(-0.25, 0.25, len(e))
        color = "C3" if _classify(m).sharpness == "sharp" else "C0"
        ax.scatter(x[~inf], y[~inf], s=12, color=color, alpha=0.7)
        ax.scatter(x[inf], y[inf], s=28, marker="^", color=color)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xticks(range(len(metrics)), metrics, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("emergence score E (Eq. 1, improvement positive)")
    n = claims.groupby(GROUP).ngroups
    ax.set_title(
        f"{split} split: emergence score of every (task, family) curve\n{n} groups, the {drawn} strongest "
        "also drawn on their own; red: sharp, blue: smooth; ▲ = ±inf",
        fontsize=9,
    )
    ax.grid(True, axis="y", alpha=0.3)
    return fig
