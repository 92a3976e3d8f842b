"""Figures of the audit page: per (family, task) small multiples of each sharp metric beside its smooth partner,
and the summary of every curve (E's lower bound against the interval of the total change, the E = threshold line).

Each function takes the verdict tables and returns a matplotlib Figure; saving or embedding is the caller's.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.analysis.core.plotting import grid, log_x, model_ticks, natural_key, plain_symlog_ticks, share_ylim

VERDICT_COLOR = {
    "emergent": "#c0392b",
    "not emergent": "#2c7fb8",
    "no real rise": "#5d6d7e",
    "worsens": "#8e44ad",
    "too few sizes": "#b7950b",
    "not supported by the data": "#8c8c8c",
}
SOURCE_WORDS = {
    "items": "a resample of the items",
    "items x seeds": "a resample of items and seeds",
    "seeds": "a resample of the seeds",
    "seeds+binomial": "seeds and the binomial of n items",
    "seeds+stderr": "seeds and the source's stderr",
    "stderr": "the source's stderr",
    "binomial": "the binomial of n items",
    "range bound": "n items and the metric's range (conservative)",
    "seeds+range bound": "seeds, n items and the metric's range",
    "partial": "intervals for some sizes only",
}


def panel_metrics(curves: pd.DataFrame, pairs: pd.DataFrame) -> list[str]:
    """The metrics of one (family, task) in panel order: each smooth partner, then its sharp metrics in natural
    order (pass@1, 16, 100, 128; K=1..10), then metrics in no pair, in natural order."""
    metrics = set(curves["metric"])
    order: list[str] = []
    paired = pairs[pairs["sharp"].isin(metrics) | pairs["smooth"].isin(metrics)] if len(pairs) else pairs
    for smooth in sorted(set(paired["smooth"]) if len(paired) else set(), key=natural_key):
        if smooth in metrics and smooth not in order:
            order.append(smooth)
        for sharp in sorted(paired.loc[paired["smooth"] == smooth, "sharp"], key=natural_key):
            if sharp in metrics and sharp not in order:
                order.append(sharp)
    order += sorted(metrics - set(order), key=natural_key)
    return order


def y_limits(points: pd.DataFrame, curves: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    """One y range per (family, metric), shared by every task's panel of that metric: shares keep 0 in view."""
    out = {}
    kinds = curves.drop_duplicates(["family", "metric"]).set_index(["family", "metric"])["value_kind"]
    for (fam, metric), g in points.groupby(["family", "metric"], sort=False):
        vals = pd.concat([g["value"], g["lo"], g["hi"]]).replace([np.inf, -np.inf], np.nan).dropna()
        if vals.empty:
            continue
        lo, hi = float(vals.min()), float(vals.max())
        if kinds.get((fam, metric)) == "share":
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        pad = 0.06 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1.0)
        out[(fam, metric)] = (lo - pad, hi + pad)
    return out


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "n/a")
    return f"{v:.3g}"


def task_figure(
    points: pd.DataFrame,
    curves: pd.DataFrame,
    pairs: pd.DataFrame,
    ylims: dict | None = None,
    max_cols: int = 4,
    panel_size: tuple[float, float] = (3.3, 2.7),
) -> Figure:
    """Small multiples of one (family, task): one panel per metric, each sharp metric beside its smooth partner,
    points with their 95% interval bars, chance and the measurement resolution as lines, model names as x ticks
    when there are few models, panels in a grid in natural order."""
    fam, task = curves["family"].iloc[0], curves["task"].iloc[0]
    metrics = panel_metrics(curves, pairs)
    rows, cols = grid(len(metrics), max_cols)
    fig = Figure(figsize=(panel_size[0] * cols, panel_size[1] * rows + 0.7), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    smooth = set(pairs["smooth"]) if len(pairs) else set()
    for ax, metric in zip(axes.flat, metrics, strict=False):
        c = curves[curves["metric"] == metric].iloc[0]
        p = points[points["metric"] == metric].sort_values("scale")
        if p.empty:  # a curve without points: say so rather than draw an empty log axis
            ax.text(
                0.5, 0.5, f"{metric}: no points in the data", ha="center", va="center", transform=ax.transAxes
            )
            ax.set_axis_off()
            continue
        _panel(ax, p, c, role="smooth partner" if metric in smooth else "sharp" if len(pairs) else "")
        if ylims and (fam, metric) in ylims:
            ax.set_ylim(*ylims[(fam, metric)])
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    _share_range([ax for ax, m in zip(axes.flat, metrics, strict=False) if _is_share(curves, m)])
    width = int(fig.get_figwidth() * 13)  # characters of 9 pt text across the figure
    fig.suptitle("\n".join([f"{fam} · {task}", *textwrap.wrap(caption(curves), width)]), fontsize=9)
    return fig


def _is_share(curves: pd.DataFrame, metric: str) -> bool:
    c = curves[curves["metric"] == metric]
    return bool(len(c)) and c["value_kind"].iloc[0] in ("share", "counts")


def _share_range(axes: list) -> None:
    """One y range for the panels of shares in a figure (K=1..10, pass@k, accuracy), so heights compare."""
    share_ylim([ax for ax in axes if ax.get_visible() and ax.axison])


def caption(curves: pd.DataFrame) -> str:
    """What the data are, from their own facts: models, items or trials, seeds only where there are several, and
    where the bars come from."""
    n_models = curves["n_sizes"].max()
    parts = [f"{n_models:.0f} models" if pd.notna(n_models) else "models"]
    items = curves["n_items"].dropna()
    if len(items):
        parts.append(f"{items.median():,.0f} items")
    trials = curves.loc[curves["n_trials"] > curves["n_items"], "n_trials"].dropna()
    if len(trials):
        parts.append(f"up to {trials.max():,.0f} trials (items x samples)")
    reps = curves["n_replicates"].max()
    if pd.notna(reps) and reps > 1:
        parts.append(f"{reps} seeds")
    src = curves["interval_source"].fillna("none").astype(str)
    sources = [SOURCE_WORDS.get(s, s) for s in dict.fromkeys(src[src != "none"])]
    text = ", ".join(parts)
    if sources:
        text += "; bars: 95% interval from " + "; ".join(sources)
    bare = curves.loc[src == "none", "metric"].astype(str).tolist()
    if bare:
        text += f"; no bars on {', '.join(bare)}: these data carry no interval for it"
    return text


def _panel(ax, p: pd.DataFrame, c: pd.Series, role: str) -> None:
    color = VERDICT_COLOR.get(str(c["verdict"]), "C0")
    x, y = p["scale"].to_numpy(float), p["value"].to_numpy(float)
    ax.plot(x, y, "-", color=color, lw=1.4, alpha=0.8)
    lo, hi = p["lo"].to_numpy(float), p["hi"].to_numpy(float)
    has = np.isfinite(lo) & np.isfinite(hi) & (str(c["interval_source"]) != "none")
    if has.any():
        yerr = np.vstack([y[has] - lo[has], hi[has] - y[has]]).clip(min=0)
        ax.errorbar(x[has], y[has], yerr=yerr, fmt="none", ecolor=color, elinewidth=1, capsize=2)
    zero = (y == 0) & (c["value_kind"] in ("share", "counts"))
    ax.plot(x[~zero], y[~zero], "o", color=color, ms=4)
    if zero.any():
        ax.plot(x[zero], y[zero], "o", mfc="white", mec=color, ms=5, label="read 0")
    chance = float(c["chance"]) if pd.notna(c["chance"]) else np.nan
    if np.isfinite(chance) and chance > 0:
        ax.axhline(chance, color="0.45", ls=":", lw=1, label=f"chance {chance:.3g}")
    res = float(c["resolution"]) if pd.notna(c["resolution"]) else np.nan
    if c["value_kind"] in ("share", "counts") and np.isfinite(res) and res > 0:
        ax.axhline(res, color="0.3", ls="--", lw=0.9, label=f"resolution 1/n = {res:.2g}")
    log_x(ax)
    model_ticks(ax, p["scale"], p["model"])
    arrow = "↑ better" if bool(c["higher_is_better"]) else "↓ better"
    ax.set_ylabel(f"{c['label']} ({arrow})", fontsize=7.5)
    ax.set_xlabel("parameters", fontsize=7.5)
    ax.tick_params(labelsize=7)
    verdict = str(c["verdict"])
    e = f", E ≥ {_fmt(float(c['E_lo']))}" if verdict == "emergent" and pd.notna(c["E_lo"]) else ""
    head = f"{c['metric']}" + (f" ({role})" if role else "")
    ax.set_title(f"{head}\n{verdict}{e}", fontsize=8, color=color)
    ax.grid(True, which="major", alpha=0.25)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, frameon=False, loc="best")


KIND_AXIS = {
    "share": "shares (K-of-K, pass@k, accuracy): change in share points",
    "counts": "sample counts: change in share points",
    "continuous": "continuous scores: change in the score's own units",
}


def summary_figure(curves: pd.DataFrame, threshold: float = 10.0) -> Figure:
    """Every curve: the lower end of E's interval (y, symlog) against its total change with its interval (x), coloured
    by verdict, with the line E = ``threshold``: a curve is emergent above the line and right of zero. One panel
    per kind of value (shares, continuous scores), since their changes are in different units."""
    kinds = [k for k in ("share", "counts", "continuous") if (curves["value_kind"] == k).any()]
    kinds += sorted(set(curves["value_kind"].astype(str)) - set(kinds))
    fig = Figure(figsize=(max(7.8, 4.6 * len(kinds) + 2.0), 4.8), layout="constrained")
    axes = fig.subplots(1, len(kinds), squeeze=False, sharey=True)[0]
    e_lo = curves["E_lo"].to_numpy(float)
    finite = e_lo[np.isfinite(e_lo)]
    cap = float(max(np.abs(finite).max() if finite.size else 1.0, threshold) * 3)
    for ax, kind in zip(axes, kinds, strict=True):
        _summary_panel(ax, curves[curves["value_kind"] == kind], threshold, cap)
        ax.set_xlabel(
            f"total change, smallest to largest model, 95% interval\n{KIND_AXIS.get(kind, kind)}", fontsize=8
        )
    axes[0].set_ylabel("lower end of E's 95% interval (Eq. 1)")
    plain_symlog_ticks(axes[0])
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab.split(" (")[0], h)
    counts = curves["verdict"].value_counts()
    labels = [f"{v} ({counts[v]})" if v in counts else v for v in handles]
    fig.legend(list(handles.values()), labels, loc="outside right center", fontsize=7, frameon=False)
    missing = int(np.isnan(e_lo).sum())
    note = f"; {missing} without an interval of E not drawn" if missing else ""
    fig.suptitle(f"{len(curves)} curves: emergent above the dashed line with a real rise (right of 0){note}; ▲ = inf",
                 fontsize=9)  # fmt: skip
    return fig


def _summary_panel(ax, d: pd.DataFrame, threshold: float, cap: float) -> None:
    for verdict, g in d.groupby("verdict", sort=False):
        y = g["E_lo"].to_numpy(float)
        ok = ~np.isnan(y)
        if not ok.any():
            continue
        x = g["change"].to_numpy(float)[ok]
        xl, xh = g["change_lo"].to_numpy(float)[ok], g["change_hi"].to_numpy(float)[ok]
        yy = np.clip(y[ok], -cap, cap)
        xerr = np.vstack([np.nan_to_num(x - xl), np.nan_to_num(xh - x)]).clip(min=0)
        color = VERDICT_COLOR.get(str(verdict), "C0")
        ax.errorbar(x, yy, xerr=xerr, fmt="o", ms=4, color=color, elinewidth=0.8, capsize=1.5, alpha=0.8,
                    label=str(verdict))  # fmt: skip
        inf = np.isinf(y[ok])
        if inf.any():
            ax.plot(x[inf], yy[inf], "^", color=color, ms=7)
    ax.axhline(threshold, color="k", lw=1, ls="--", label=f"E = {threshold:g}")
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.grid(True, alpha=0.25)
