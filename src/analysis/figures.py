"""Sweep figures: smooth metrics and sharp metrics side by side against parameter count (log x).

Figure functions take a tidy table and return a matplotlib ``Figure``; saving is the caller's job
(:func:`save_figure` writes PNG and PDF). Seeds are drawn as their mean (line) and range (band); where a table of
bootstrap intervals over test items is given, the interval of the seed mean is drawn as error bars; sharp panels show
the resolution floor 1/n (a test set of n items cannot resolve anything between 0 and 1/n).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.analysis.emergence import emergence_score
from src.analysis.metric_kinds import classify, param_sort_key

CURVE_KEYS = ["sweep", "task_name", "model_family", "metric", "num_params"]


def curve_table(table: pd.DataFrame, split: str | None = "test") -> pd.DataFrame:
    """One row per (sweep, task, metric, num_params): seed mean, min, max, count, and the metric's kind.

    Rows of ``split`` only (all splits with ``None``); metrics the registry does not know are dropped here (list
    them with :func:`unknown_metrics`).
    """
    df = table if "sweep" in table.columns else table.assign(sweep="")
    infos = {m: classify(m) for m in df["metric"].unique()}
    keep = [m for m, i in infos.items() if i is not None and (split is None or i.split == split)]
    df = df[df["metric"].isin(keep)]
    if "n_test" not in df.columns:
        df = df.assign(n_test=np.nan)
    agg = (
        df.groupby(CURVE_KEYS, as_index=False)
        .agg(
            mean=("value", "mean"),
            lo=("value", "min"),
            hi=("value", "max"),
            std=("value", "std"),
            n_seeds=("value", "size"),
            n_test=("n_test", "median"),
        )
        .sort_values(CURVE_KEYS)
    )
    agg["split"] = agg["metric"].map(lambda m: infos[m].split)
    agg["sharpness"] = agg["metric"].map(lambda m: infos[m].sharpness)
    agg["family"] = agg["metric"].map(lambda m: infos[m].kind.family)
    agg["param"] = agg["metric"].map(lambda m: infos[m].param)
    agg["higher_is_better"] = agg["metric"].map(lambda m: infos[m].kind.higher_is_better)
    return agg.reset_index(drop=True)


def unknown_metrics(table: pd.DataFrame) -> list[str]:
    """Metric keys in ``table`` that the registry cannot classify (so no figure or claim uses them)."""
    return sorted(m for m in table["metric"].unique() if classify(m) is None)


def _panel_order(curves: pd.DataFrame) -> list[tuple[str, str]]:
    """(sharpness, family) panels: smooth first, then sharp, each in order of first appearance."""
    seen: list[tuple[str, str]] = []
    for sharp in ("smooth", "sharp"):
        for fam in curves.loc[curves["sharpness"] == sharp, "family"]:
            if (sharp, fam) not in seen:
                seen.append((sharp, fam))
    return seen


def sweep_figure(
    table: pd.DataFrame,
    split: str = "test",
    ci: pd.DataFrame | None = None,
    title: str | None = None,
    panel_size: tuple[float, float] = (4.0, 3.4),
) -> Figure:
    """Smooth metric panels (left) and sharp metric panels (right) of one task against num_params (log x).

    ``table``: tidy sweep table of one task (see :mod:`src.analysis.loading`). ``ci``: optional table with
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
    panels = _panel_order(curves)
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
    colors = _colors(len(metrics))
    for color, metric in zip(colors, metrics, strict=True):
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


def log_x(ax) -> None:
    """Log x axis; call after plotting. Matplotlib's default labels every minor tick of a short range, and the
    labels collide; here decades only, plus 2x and 5x when the data span under two decades."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    if hi / lo < 100:  # under two decades: label 2x and 5x too, and only those
        ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False))
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def _colors(n: int) -> list:
    from matplotlib import colormaps

    if n == 1:
        return ["C0"]
    cmap = colormaps["viridis"]
    return [cmap(v) for v in np.linspace(0.0, 0.85, n)]


def figures_by_task(table: pd.DataFrame, split: str = "test", ci: pd.DataFrame | None = None):
    """Yield ``((sweep, task_name), Figure)`` for every task in a table of one or many sweeps."""
    for (sweep, task), part in table.groupby(["sweep", "task_name"], sort=True):
        part_ci = None
        if ci is not None:
            part_ci = ci[(ci["sweep"] == sweep) & (ci["task_name"] == task)]
        yield (sweep, task), sweep_figure(part, split=split, ci=part_ci)


def save_figure(fig: Figure, out_dir: str | os.PathLike, stem: str, dpi: int = 200) -> list[Path]:
    """Write ``fig`` as ``<out_dir>/<stem>.png`` and ``.pdf``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    for p in paths:
        fig.savefig(p, dpi=dpi)
    return paths
