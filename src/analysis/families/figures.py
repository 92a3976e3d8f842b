"""Figures of the emergence-by-metric meta-analysis (paper Figs. 5 and 6, Discussion). Each takes tables, returns
a matplotlib Figure; saving is the caller's job."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from src.analysis.core.metrics import higher_is_better  # noqa: E402
from src.analysis.core.plotting import log_x, model_ticks  # noqa: E402
from src.analysis.families.meta_analysis import EXACT, MCG  # noqa: E402

TARGET_ONLY_NOTE = (
    "stand-in Brier = mean (p_target - 1)^2, target class only; not BIG-Bench's multi-class Brier"
)


def _finite_cap(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Replace +-inf by a cap above the largest finite magnitude, so they can be drawn (marked separately)."""
    finite = np.abs(values[np.isfinite(values)])
    cap = float(max(finite.max() if finite.size else 1.0, 1.0) * 3)
    return np.where(np.isposinf(values), cap, np.where(np.isneginf(values), -cap, values)), cap


def fig5a(scores: pd.DataFrame, threshold: float) -> Figure:
    """Emergence score of every (task, metric, family) triplet, one column per (source, metric), threshold line."""
    groups = [c for c in ("source", "metric") if c in scores.columns]
    labels, columns = [], []
    for key, part in scores.groupby(groups, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        labels.append("\n".join(str(k) for k in key))
        columns.append(part["emergence"].to_numpy(float))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(columns) + 2), 4.8), constrained_layout=True)
    all_values, cap = _finite_cap(np.concatenate(columns))
    rng = np.random.default_rng(0)
    start = 0
    for i, values in enumerate(columns):
        drawn = all_values[start : start + len(values)]
        start += len(values)
        inf = ~np.isfinite(values)
        jitter = i + rng.uniform(-0.25, 0.25, len(values))
        above = values >= threshold
        ax.scatter(jitter[~inf & ~above], drawn[~inf & ~above], s=14, color="0.55", alpha=0.8)
        ax.scatter(jitter[~inf & above], drawn[~inf & above], s=18, color="C3")
        ax.scatter(jitter[inf], drawn[inf], s=30, marker="^", color="C3")
        ax.annotate(f"{int(above.sum())}/{len(values)}", (i, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=9)  # fmt: skip
    ax.axhline(threshold, color="C3", ls="--", lw=1, label=f"threshold = {threshold:g}")
    ax.axhline(cap, color="0.8", lw=0.8)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=20, ha="right")
    ax.set_ylabel("emergence score (oriented: + = improves with scale)")
    ax.set_title(
        "Fig. 5A: emergence score per (task, metric, family) triplet; k/n above threshold; ▲ = +inf\n",
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=8)
    return fig


def fig5bc(summary: pd.DataFrame, share_all: float, share_known: float) -> Figure:
    """B: Wei et al.'s emergent triplets by preferred metric and family. C: their share vs the base rate."""
    fig, (ax_b, ax_c) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    summary = summary[summary.n_emergent > 0].iloc[::-1]
    fam_cols = [c for c in summary.columns if c.startswith("n_emergent_")]
    left = np.zeros(len(summary))
    for j, col in enumerate(fam_cols):
        ax_b.barh(
            summary.metric, summary[col], left=left, color=f"C{j}", label=col.removeprefix("n_emergent_")
        )
        left += summary[col].to_numpy()
    ax_b.set_xlabel("emergent (task, metric, family) triplets")
    ax_b.set_title("Fig. 5B: Wei et al.'s emergent abilities by preferred metric", fontsize=10)
    ax_b.legend(title="emergent in", fontsize=8)
    y = np.arange(len(summary))
    ax_c.barh(y + 0.2, summary.share_emergent, height=0.4, color="C3", label="share of emergent triplets")
    ax_c.barh(
        y - 0.2,
        summary.share_annotated,
        height=0.4,
        color="0.6",
        label="share of all annotated (task, metric) pairs",
    )
    ax_c.set_yticks(y, summary.metric)
    ax_c.set_xlabel("share")
    ax_c.set_title(
        f"Fig. 5C: {100 * share_all:.1f}% of emergent triplets are under\n{MCG} or {EXACT}\n"
        f"({100 * share_known:.1f}% of those with a preferred metric; paper: >92%)",
        fontsize=10,
    )
    ax_c.legend(fontsize=8, loc="lower right")
    return fig


def fig6_curves(
    ev: pd.DataFrame,
    pairs: pd.DataFrame,
    family: str,
    mcg: str,
    brier: str,
    source: str | None = None,
    note: str = "",
    max_tasks: int = 8,
) -> Figure:
    """One family: the ``max_tasks`` tasks with the highest emergence under ``mcg`` drawn under ``mcg`` (left)
    and ``brier`` (middle) vs parameters, emergence scores in the legend; when the family has more tasks, a third
    panel summarises all of them (median and interquartile range per size, each metric on its own axis). ``ev``:
    evidence with one value per model (:func:`src.analysis.core.evidence.mean_over_replicates`)."""
    sel = ev[(ev.family == family) & ev.metric.isin([mcg, brier])]
    p = pairs[pairs.family == family]
    if source is not None:
        sel, p = sel[sel.source == source], p[p.source == source]
    if p.empty:
        raise ValueError(f"family {family!r} has no task scored under both {mcg!r} and {brier!r}")
    ranked = p.sort_values("emergence_mcg", ascending=False, kind="stable")
    shown = ranked.head(max_tasks)
    summary = len(ranked) > len(shown)
    n_panels = 3 if summary else 2
    fig, axes = plt.subplots(1, n_panels, figsize=(5.5 * n_panels, 4.4), constrained_layout=True, sharex=True)
    ax_m, ax_b = axes[0], axes[1]
    for j, row in enumerate(shown.itertuples()):
        for ax, metric, score, flag in (
            (ax_m, mcg, row.emergence_mcg, row.emergent_mcg),
            (ax_b, brier, row.emergence_brier, row.emergent_brier),
        ):
            curve = sel[(sel.task == row.task) & (sel.metric == metric)].groupby("scale")["value"].mean()
            ax.plot(curve.index, curve.to_numpy(), "o-", color=f"C{j % 10}", lw=2 if flag else 1,
                    label=f"{row.task} (E={score:.3g}{', emergent' if flag else ''})")  # fmt: skip
    names = _model_names(sel)
    for ax, metric in ((ax_m, mcg), (ax_b, brier)):
        better = "higher" if higher_is_better(metric) else "lower"
        log_x(ax)
        if names:
            model_ticks(ax, list(names), list(names.values()))
        ax.set_xlabel("parameters")
        ax.set_ylabel(f"{metric} ({better} is better)")
        ax.legend(fontsize=6.5, framealpha=0.7)
    top = (
        f"top {len(shown)} of {len(ranked)} tasks by {mcg} emergence" if summary else f"{len(ranked)} task(s)"
    )
    ax_m.set_title(f"{family}: {mcg}\n{top}", fontsize=10)
    ax_b.set_title(f"{family}: {brier}" + ("\n" + note.replace("; ", ";\n") if note else ""), fontsize=8)
    if summary:
        ax_s = axes[2]
        ax_t = ax_s.twinx()
        for ax, metric, color in ((ax_s, mcg, "C0"), (ax_t, brier, "C3")):
            by = sel[sel.metric == metric].groupby(["task", "scale"])["value"].mean().unstack("task")
            q = by.quantile([0.25, 0.5, 0.75], axis=1).T
            ax.plot(q.index, q[0.5], "o-", color=color, label=f"{metric}: median")
            ax.fill_between(q.index, q[0.25], q[0.75], color=color, alpha=0.2, lw=0)
            ax.set_ylabel(f"{metric} (median, IQR)", color=color, fontsize=8)
        ax_s.set_xscale("log")
        ax_s.set_xlabel("parameters")
        ax_s.set_title(f"{family}: all {len(ranked)} tasks (band: interquartile range)", fontsize=9)
    return fig


def _model_names(ev: pd.DataFrame) -> dict[float, str]:
    """scale -> model name where each scale has one model (names as ticks); empty otherwise."""
    if "model" not in ev.columns:
        return {}
    pairs = ev[["scale", "model"]].drop_duplicates()
    if pairs["scale"].duplicated().any():
        return {}
    return dict(zip(pairs["scale"].astype(float), pairs["model"].astype(str), strict=True))


def fig6_scatter(pairs: pd.DataFrame, threshold: float, mcg: str, brier: str, note: str = "") -> Figure:
    """Emergence under MCG vs under Brier for every (task, family); quadrant counts; the Brier caveat in the title."""
    fig, ax = plt.subplots(figsize=(6.2, 5.4), constrained_layout=True)
    values, cap = _finite_cap(
        np.concatenate([pairs.emergence_mcg.to_numpy(float), pairs.emergence_brier.to_numpy(float)])
    )
    xm, yb = values[: len(pairs)], values[len(pairs) :]
    dis = pairs.disappears.to_numpy()
    ax.scatter(xm[~dis], yb[~dis], s=18, color="0.45", label="(task, family)")
    ax.scatter(xm[dis], yb[dis], s=30, color="C3", label=f"emergent under {mcg}, not under {brier}")
    for v in ("x", "y"):
        (ax.axvline if v == "x" else ax.axhline)(threshold, color="C3", ls="--", lw=1)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yscale("symlog", linthresh=1.0)
    em, eb = pairs.emergent_mcg, pairs.emergent_brier
    counts = {
        "MCG only": int((em & ~eb).sum()),
        "both": int((em & eb).sum()),
        "Brier only": int((~em & eb).sum()),
        "neither": int((~em & ~eb).sum()),
    }
    ax.text(
        0.03,
        0.97,
        "\n".join(f"{k}: {v}" for k, v in counts.items()),
        transform=ax.transAxes,
        va="top",
        fontsize=8,
        bbox={"facecolor": "white", "edgecolor": "0.7"},
    )
    ax.margins(0.08)
    ax.set_xlabel(f"emergence score, {mcg}")
    negated = "" if higher_is_better(brier) else " negated"
    ax.set_ylabel(f"emergence score, {brier}\n(oriented{negated}: + = improves with scale)", fontsize=8)
    ax.set_title(f"Fig. 6: {mcg} vs {brier} emergence, threshold {threshold:g}" + (f"\n{note}" if note else ""),
                 fontsize=8)  # fmt: skip
    ax.legend(fontsize=8, loc="lower right")
    return fig


def fig_null(summary: pd.DataFrame, threshold: float) -> Figure:
    """Observed number of 'emergent' triplets vs the number expected by chance (95% band), across thresholds."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    first = summary[summary.null == summary.null.iloc[0]]
    ax.plot(first.threshold, first.observed, "ko-", label="observed")
    for j, (name, part) in enumerate(summary.groupby("null", sort=False)):
        ax.plot(
            part.threshold,
            part.expected_by_chance,
            "s--",
            color=f"C{j}",
            label=f"expected by chance ({name} null)",
        )
        ax.fill_between(part.threshold, part.chance_lo95, part.chance_hi95, color=f"C{j}", alpha=0.2)
    ax.axvline(threshold, color="C3", lw=1, ls=":", label=f"chosen threshold {threshold:g}")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("emergence-score threshold")
    ax.set_ylabel(f"triplets at or above threshold (of {int(summary.n_triplets.iloc[0])})")
    ax.set_title("Multiple comparisons: 'emergent' triplets observed vs by chance", fontsize=10)
    ax.legend(fontsize=8)
    return fig
