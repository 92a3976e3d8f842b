"""Sweep figures: smooth metrics and sharp metrics side by side against parameter count (log x).

Figure functions take a tidy table and return a matplotlib ``Figure``; saving is the caller's job
(:func:`src.analysis.core.saving.save_figure` writes PNG and PDF). Panels go in a grid (at most 4 a row) in
natural order; model names are the x ticks where there are few. Seeds are drawn as their mean (line) and range (band); where a table of
bootstrap intervals over test items is given, the interval of the seed mean is drawn as error bars; sharp panels show
the resolution floor 1/n (a test set of n items cannot resolve anything between 0 and 1/n).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.analysis.core.curves import curve_table
from src.analysis.core.emergence import emergence_score
from src.analysis.core.metrics import classify, param_sort_key
from src.analysis.core.plotting import (
    colors,
    grid,
    log_x,
    model_ticks,
    panel_order,
    plain_symlog_ticks,
    share_ylim,
)


def sweep_figure(
    table: pd.DataFrame,
    split: str = "test",
    ci: pd.DataFrame | None = None,
    title: str | None = None,
    panel_size: tuple[float, float] = (4.0, 3.4),
) -> Figure:
    """Smooth metric panels (left) and sharp metric panels (right) of one task against scale (log x).

    ``table``: evidence table of one task (see :mod:`src.analysis.sweeps.loading`). ``ci``: optional table with
    ``metric, scale, ci_lo, ci_hi`` (bootstrap interval of the seed mean over test items). Each curve's legend
    entry carries its emergence score E (paper Eq. 1) on the seed-mean curve.
    """
    curves = curve_table(table, split)
    if curves.empty:
        raise ValueError(
            f"no {split!r} metric the registry knows in this table; metrics: {sorted(table['metric'].unique())}"
        )
    tasks = curves[["source", "task"]].drop_duplicates()
    if len(tasks) > 1:
        raise ValueError(f"sweep_figure draws one task; got {len(tasks)}: use figures_by_task(table)")
    if ci is not None:
        curves = curves.merge(
            ci[
                [
                    "metric",
                    "scale",
                    "ci_lo",
                    "ci_hi",
                    *(["ci_source"] if "ci_source" in ci.columns else []),
                ]
            ],
            on=["metric", "scale"],
            how="left",
        )
    panels = panel_order(curves)
    rows, cols = grid(len(panels))
    fig = Figure(figsize=(panel_size[0] * cols, panel_size[1] * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    names = model_names(table)
    chance = _chance_by_metric(table)
    for ax, (sharpness, family) in zip(axes, panels, strict=False):
        panel = curves[(curves["metric_family"] == family) & (curves["sharpness"] == sharpness)]
        _draw_panel(ax, panel, sharpness, names, chance)
    for ax in axes[len(panels) :]:
        ax.remove()
    _share_unit_range(axes[: len(panels)], panels, curves)
    task = tasks.iloc[0]
    fam = str(curves["family"].iloc[0])
    head = title or f"{task['task']} ({fam}): smooth vs sharp metrics"
    width = int(fig.get_figwidth() * 12)  # characters of 10 pt text across the figure
    fig.suptitle("\n".join([head, *textwrap.wrap(caption(curves), width)]), fontsize=10)
    return fig


def _share_unit_range(axes, panels, curves: pd.DataFrame) -> None:
    """One y range for every panel of scores in [0, 1] with higher better (accuracies, pass@k, subset accuracy),
    so their heights compare at a glance; other panels keep their own units."""
    unit = []
    for ax, (sharpness, family) in zip(axes, panels, strict=True):
        c = curves[(curves["metric_family"] == family) & (curves["sharpness"] == sharpness)]
        if c["higher_is_better"].all() and c["mean"].between(0.0, 1.0).all():
            unit.append(ax)
    share_ylim(unit)


def caption(curves: pd.DataFrame) -> str:
    """What the data are, from their own facts: the split only where the metric names carry one, seeds only where
    there are several, bars only where an interval was computed."""
    parts = []
    splits = sorted({s for s in curves["split"] if s})
    if splits:
        parts.append(f"{'/'.join(splits)} split")
    n_seeds = int(curves["n_seeds"].max())
    if n_seeds > 1:
        parts.append(f"line: mean of {n_seeds} seeds, band: their range")
    else:
        parts.append("one run per size")
    if curves["n_items"].notna().any():
        parts.append(f"{curves['n_items'].median():,.0f} items")
    if "ci_lo" in curves.columns and curves["ci_lo"].notna().any():
        from_stderr = "ci_source" in curves.columns and (curves["ci_source"] == "stderr").any()
        parts.append("bars: 95% interval from the source's stderr" if from_stderr
                     else "bars: 95% bootstrap interval over the items")  # fmt: skip
    return "; ".join(parts) + "; E: emergence score (Eq. 1), improvement positive"


def model_names(table: pd.DataFrame) -> dict[float, str]:
    """scale -> the model's name where one name belongs to each size (``w<width>`` of a Hydra run dir, else the run
    dir without its seed, else ``model``); empty when names are not unique."""
    has_dir = "run_dir" in table.columns and (table["run_dir"].astype(str) != "").all()
    names = table["run_dir" if has_dir else "model"].astype(str)
    width = names.str.extract(r"width=(\d+)")[0]
    names = names.where(width.isna(), "w" + width.fillna(""))
    names = names.str.replace(r",?seed=\d+", "", regex=True)
    pairs = pd.DataFrame({"x": table["scale"].astype(float), "name": names}).drop_duplicates()
    if pairs["x"].duplicated().any() or pairs["name"].duplicated().any():
        return {}
    return dict(zip(pairs["x"], pairs["name"], strict=True))


def _chance_by_metric(table: pd.DataFrame) -> dict[str, float]:
    """A ``chance`` column of the table (per task, from the source) wins over the metric's declared chance."""
    if "chance" not in table.columns:
        return {}
    c = table.dropna(subset=["chance"]).groupby("metric")["chance"].first()
    return {str(k): float(v) for k, v in c.items()}


def _draw_panel(
    ax, panel: pd.DataFrame, sharpness: str, names: dict | None = None, chance: dict | None = None
) -> None:
    metrics = sorted(panel["metric"].unique(), key=lambda m: param_sort_key(classify(m)))
    for color, metric in zip(colors(len(metrics)), metrics, strict=True):
        info = classify(metric)
        c = panel[panel["metric"] == metric].sort_values("scale")
        x = c["scale"].to_numpy(float)
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
    if sharpness == "sharp" and panel["n_items"].notna().any():
        n = float(panel["n_items"].median())
        ax.axhline(1.0 / n, color="0.35", ls="--", lw=1, label=f"resolution 1/n = {1.0 / n:.2g} (n={n:.0f})")
    level = (chance or {}).get(metrics[0], info.kind.chance)
    if level is not None:
        ax.axhline(level, color="0.55", ls=":", lw=1, label=f"chance = {level:g}")
    log_x(ax)
    if names:
        xs = sorted(panel["scale"].unique())
        model_ticks(ax, xs, [names.get(float(x), f"{x:.3g}") for x in xs])
    ax.set_xlabel("number of parameters")
    arrow = "higher is better" if info.kind.higher_is_better else "lower is better"
    ax.set_ylabel(f"{info.kind.label if len(labels) == 1 else info.kind.family}\n({arrow})")
    ax.set_title(f"{sharpness} metric: {info.kind.family}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)


GROUP = ["source", "task", "family"]


def figures_by_task(table: pd.DataFrame, split: str = "test", ci: pd.DataFrame | None = None, groups=None):
    """Yield ``((source, task, family), Figure)`` for every curve group of a table of one or many
    sweeps or evidence tables; ``groups`` (a list of such keys) restricts and orders them."""
    parts = dict(iter(table.groupby(GROUP, sort=True)))
    for key in groups if groups is not None else list(parts):
        part = parts[key]
        part_ci = None
        if ci is not None:
            part_ci = ci[(ci["source"] == key[0]) & (ci["task"] == key[1])]
        yield key, sweep_figure(part, split=split, ci=part_ci)


def rank_groups(claims: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(sweep, task, family) groups, strongest first, by the largest :func:`strength` of a sharp metric (any
    metric where none is sharp): a flat 0.52 -> 0.54 curve with an infinite Eq. 1 no longer comes first."""
    c = claims.assign(_sharp=(claims["sharpness"] == "sharp") & ~claims["identity"].astype(bool))
    c = c.assign(_strength=strength(c))
    rows = []
    for key, g in c.groupby(GROUP, sort=True):
        pool = g.loc[g["_sharp"], "_strength"] if g["_sharp"].any() else g["_strength"]
        e = pool.max()
        rows.append((key, -np.inf if np.isnan(e) else e))
    rows.sort(key=lambda r: -r[1])
    return [k for k, _ in rows]


def strength(claims: pd.DataFrame, cap: float = 100.0) -> pd.Series:
    """Strength of a curve's evidence for emergence: Eq. 1 (clipped to [0, ``cap``]) times the size of its total
    change (relative to the larger end where values exceed 1), so a large E on a tiny change ranks low."""
    e = claims["emergence_score"].astype(float).clip(lower=0.0, upper=cap)
    start, end = claims["start"].astype(float), claims["end"].astype(float)
    scale = np.maximum(np.maximum(start.abs(), end.abs()), 1.0)
    return (e * (end - start).abs() / scale).fillna(-np.inf)


def summary_figure(claims: pd.DataFrame, drawn: int, split: str = "test", threshold: float = 10.0) -> Figure:
    """Every curve group's emergence score per metric (one column per metric, one dot per (task, family)), with the
    line E = ``threshold``, for when only the strongest groups get a figure of their own."""
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
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"E = {threshold:g}")
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    ax.set_yscale("symlog", linthresh=1.0)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, max(hi, threshold * 2.0))
    plain_symlog_ticks(ax)
    ax.set_xticks(range(len(metrics)), metrics, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("emergence score E (Eq. 1, improvement positive)")
    n = claims.groupby(GROUP).ngroups
    where = f"{split} split: " if claims["metric"].astype(str).str.startswith(f"{split}/").any() else ""
    ax.set_title(
        f"{where}emergence score of every (task, family) curve\n{n} groups, the {drawn} strongest "
        "also drawn on their own\nred: sharp, blue: smooth; ▲ = ±inf",
        fontsize=9,
    )
    ax.grid(True, axis="y", alpha=0.3)
    return fig
