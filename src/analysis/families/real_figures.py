"""Figures of the real-family analyses (:mod:`src.analysis.families.real`); each returns a matplotlib Figure that
the command saves as PNG + PDF next to the CSV it is drawn from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.core.plotting import colors, log_x, model_ticks
from src.analysis.core.vocab import meaning_of

FAMILY_COLOR = {"GPT-3": "C0", "GPT-2": "C1"}


def _clip_e(v, lim):
    return np.clip(np.asarray(v, dtype=float), -lim, lim)


def fig6_scatter(summary: pd.DataFrame, lim: float = 15.0):
    """E(MCG) against E(Brier) and against E(log p), one point per (family, task), 95% item-bootstrap bars."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), constrained_layout=True)
    for ax, other, label in (
        (axes[0], "brier", "multi-class Brier score (exact)"),
        (axes[1], "logprob", "log-probability of the right option"),
    ):
        d = summary.dropna(subset=["E_mcg", f"E_{other}"])
        for fam, g in d.groupby("family"):
            x, y = _clip_e(g[f"E_{other}"], lim), _clip_e(g["E_mcg"], lim)
            xerr = np.abs(
                np.vstack([x - _clip_e(g[f"E_{other}_lo"], lim), _clip_e(g[f"E_{other}_hi"], lim) - x])
            )
            yerr = np.abs(np.vstack([y - _clip_e(g["E_mcg_lo"], lim), _clip_e(g["E_mcg_hi"], lim) - y]))
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color=FAMILY_COLOR.get(fam), label=fam, ms=5,
                        elinewidth=0.8, capsize=2, alpha=0.85)  # fmt: skip
            for xi, yi, t in zip(x, y, g["task"], strict=True):
                if abs(yi - xi) > 3 or abs(yi) >= lim:
                    ax.annotate(t, (xi, yi), fontsize=6.5, xytext=(3, 3), textcoords="offset points")
        ax.plot([-lim, lim], [-lim, lim], color="0.6", lw=0.8, ls="--", label="equal scores")
        ax.axhline(0, color="0.85", lw=0.6)
        ax.axvline(0, color="0.85", lw=0.6)
        ax.set_xlim(-lim * 1.05, lim * 1.05)
        ax.set_ylim(-lim * 1.05, lim * 1.05)
        ax.set_xlabel(f"emergence score of the {label}")
        ax.set_ylabel("emergence score of Multiple Choice Grade")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        f"Fig. 6 on real families: Eq. 1 of MCG vs smooth scores of the same per-item outputs\n"
        f"(oriented: improvement > 0; |E| clipped at {lim:g}; bars: 95% item bootstrap, the same items for every model)",
        fontsize=9,
    )
    return fig


def fig6_curves(items: pd.DataFrame, tasks: list[tuple[str, str]]):
    """MCG (solid, left axis) and exact Brier score (dashed, right axis) vs parameters, one panel per task."""
    import matplotlib.pyplot as plt

    n = len(tasks)
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.3 * cols, 2.7 * rows), constrained_layout=True, squeeze=False
    )
    for ax, (fam, task) in zip(axes.flat, tasks, strict=False):
        g = items[(items.family == fam) & (items.task == task)]
        agg = g.groupby(["model", "scale"])[["correct", "brier"]].mean().reset_index().sort_values("scale")
        ax.plot(agg["scale"], agg["correct"], "o-", color=FAMILY_COLOR.get(fam, "C0"), label="MCG")
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("MCG", fontsize=8)
        ax2 = ax.twinx()
        ax2.plot(agg["scale"], agg["brier"], "s--", color="0.35", label="Brier", ms=4)
        ax2.set_ylim(-0.03, max(1.03, float(agg["brier"].max()) + 0.05))
        ax2.set_ylabel("Brier (lower better)", fontsize=8)
        log_x(ax)
        model_ticks(ax, agg["scale"], agg["model"])
        ax.set_title(f"{fam}: {task}", fontsize=8.5)
        ax.set_xlabel("parameters", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.suptitle("Multiple Choice Grade (solid) and exact 2-option Brier score (dashed) of the same outputs",
                 fontsize=9)  # fmt: skip
    return fig


def resolution_figure(res: pd.DataFrame, task: str, family: str = "GPT-3"):
    """Left: accuracy on random item subsets of several sizes (central 95% bands) vs parameters; middle: the mean
    probability of the right option on the same subsets; right: the central 95% range of Eq. 1 (accuracy ties at 1/n) over subsets, per size."""
    import matplotlib.pyplot as plt

    g = res[(res.family == family) & (res.task == task)]
    ns = sorted(g["n"].unique())
    show = [n for n in ns if n in (10, 50, 200)] + [ns[-1]]
    cs = colors(len(show))[::-1]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    for c, n in zip(cs, show, strict=True):
        s = g[g.n == n].sort_values("scale")
        lab = f"all {n} items" if s["is_all"].iloc[0] else f"{n} items"
        for ax, m in ((axes[0], "acc"), (axes[1], "p")):
            if s["is_all"].iloc[0]:  # the whole task: the line (the subsets' means equal it)
                ax.plot(s["scale"], s[f"{m}_mean"], "o-", color="k", label=lab, ms=4, zorder=5)
            else:
                ax.fill_between(s["scale"], s[f"{m}_lo"], s[f"{m}_hi"], color=c, alpha=0.3, label=lab)
    axes[0].set_ylabel("accuracy (MCG) on the subset")
    axes[1].set_ylabel("mean probability of the right option")
    for ax in axes[:2]:
        log_x(ax)
        ax.set_xlabel("parameters")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(fontsize=7)
    e = g.groupby("n")[["E_acc_lo", "E_acc_hi", "E_p_lo", "E_p_hi", "E_acc_median", "E_p_median"]].first()
    finite = e.replace([np.inf, -np.inf], np.nan)
    top = float(np.nanmax(finite.to_numpy())) * 1.15 if np.isfinite(finite.to_numpy()).any() else 1.0
    bottom = float(np.nanmin(finite.to_numpy())) if np.isfinite(finite.to_numpy()).any() else 0.0
    inf_hi = e.index[np.isposinf(e["E_acc_hi"])]
    e = e.clip(lower=min(bottom, 0.0) - 1.0, upper=top)  # an infinite end is drawn at the axis edge, marked
    axes[2].fill_between(
        e.index, e["E_acc_lo"], e["E_acc_hi"], alpha=0.25, color="C3", label="accuracy, central 95%"
    )
    axes[2].plot(e.index, e["E_acc_median"], "o-", color="C3", label="accuracy, median")
    axes[2].fill_between(
        e.index, e["E_p_lo"], e["E_p_hi"], alpha=0.25, color="C0", label="mean prob., central 95%"
    )
    axes[2].plot(e.index, e["E_p_median"], "s-", color="C0", label="mean prob., median")
    if len(inf_hi):
        axes[2].plot(inf_hi, [top] * len(inf_hi), "^", color="C3", ms=7, label="accuracy: upper end = inf")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("items in the subset")
    axes[2].set_ylabel("emergence score (Eq. 1) over the 4 models")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Resolution on per-item data, {family} {task}: random item subsets (bands: central 95% over subsets; accuracy ties at 1/n)",
                 fontsize=9)  # fmt: skip
    return fig


def olmo_figure(ev: pd.DataFrame, task: str, budget_for_time: float = 10.0):
    """Rows: over parameters (final model of each size, one line per token budget) and over training tokens
    (every checkpoint of each size's ``budget_for_time`` x C run, with the final models of all budgets as
    markers). Columns: accuracy, probability of the correct answer, its bits per byte."""
    import matplotlib.pyplot as plt

    from src.analysis.families.real import _final, olmo_accuracy

    ev = olmo_accuracy(ev[ev["chinchilla_multiplier"].notna() & (ev["task"] == task)])
    fin = _final(ev)
    metrics = ["acc", "p_correct", "bpb"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), constrained_layout=True)
    budgets = sorted(fin["chinchilla_multiplier"].unique())
    sizes = fin.groupby("size")["scale"].first().sort_values().index.tolist()
    for j, m in enumerate(metrics):
        ax = axes[0, j]
        for c, k in zip(colors(len(budgets)), budgets, strict=True):
            s = fin[(fin.metric == m) & (fin.chinchilla_multiplier == k)].sort_values("scale")
            ax.plot(s["scale"], s["value"], "o-", color=c, label=f"{k:g}xC")
        log_x(ax)
        ax.set_xlabel("parameters")
        ax.set_ylabel(meaning_of(m)["label"])
        ax.legend(fontsize=7, title="token budget", title_fontsize=7)
        ax = axes[1, j]
        for c, size in zip(colors(len(sizes)), sizes, strict=True):
            run = ev[(ev.metric == m) & (ev["size"] == size) & (ev.chinchilla_multiplier == budget_for_time)]
            run = run[run.tokens > 0].sort_values("tokens")
            ax.plot(
                run["tokens"],
                run["value"],
                "-",
                color=c,
                lw=1,
                alpha=0.8,
                label=f"{size} ({budget_for_time:g}xC run)",
            )
            s = fin[(fin.metric == m) & (fin["size"] == size)].sort_values("tokens")
            ax.plot(s["tokens"], s["value"], "o", color=c, ms=5, mec="k", mew=0.5)
        log_x(ax)
        ax.set_xlabel("training tokens")
        ax.set_ylabel(meaning_of(m)["label"])
        ax.legend(fontsize=7)
    fig.suptitle(
        f"OLMo ladder, {task}: top, over parameters (final models); bottom, over training tokens "
        f"(lines: every checkpoint of the {budget_for_time:g}xC runs; dots: final models of the 5 budgets)",
        fontsize=9,
    )
    return fig


def pythia_figure(lam: pd.DataFrame):
    """LAMBADA accuracy and log perplexity of Pythia: over parameters (final checkpoint) and over training tokens."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    sizes = lam.groupby("model")["scale"].first().sort_values()
    final = lam["step"].max()
    for j, m in enumerate(["acc", "log_ppl"]):
        g = lam[lam.metric == m]
        f = g[g.step == final].sort_values("scale")
        axes[0, j].errorbar(f["scale"], f["value"], yerr=f["stderr"], fmt="o-", capsize=2)
        log_x(axes[0, j])
        model_ticks(axes[0, j], f["scale"], f["model"])
        axes[0, j].set_xlabel("parameters")
        for c, (model, _) in zip(colors(len(sizes)), sizes.items(), strict=True):
            s = g[(g.model == model) & (g.tokens > 0)].sort_values("tokens")
            axes[1, j].plot(s["tokens"], s["value"], "o-", color=c, ms=2.5, lw=1, label=model)
        log_x(axes[1, j])
        axes[1, j].set_xlabel("training tokens (step x 2,097,152)")
        for ax in axes[:, j]:
            ax.set_ylabel("LAMBADA accuracy" if m == "acc" else "LAMBADA log perplexity (nats per token)")
    axes[1, 0].legend(fontsize=6.5)
    fig.suptitle(f"Pythia, LAMBADA (zero-shot): top, final models (step {int(final)}, ±1 s.e.); bottom, "
                 "every evaluated checkpoint", fontsize=9)  # fmt: skip
    return fig


def arithmetic_figure(ev: pd.DataFrame, mean: pd.DataFrame, fewshot: int):
    """Pythia (deduped, v0) arithmetic accuracy by first operand at the final checkpoint, and the mean over operands
    vs parameters for each checkpoint."""
    import matplotlib.pyplot as plt

    ev = ev[ev.fewshot == fewshot]
    final = ev["step"].max()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    sizes = ev.groupby("model")["scale"].first().sort_values()
    for ax, op in zip(axes[:2], ["addition", "multiplication"], strict=True):
        for c, model in zip(colors(len(sizes)), sizes.index, strict=True):
            s = ev[(ev.operation == op) & (ev.model == model) & (ev.step == final)].sort_values("operand")
            ax.plot(s["operand"], s["value"], "-", color=c, lw=1, label=model.replace("pythia-", ""))
        ax.set_xlabel("first operand")
        ax.set_ylabel(f"{op} accuracy ({fewshot}-shot)")
        ax.set_title(f"{op}, step {int(final)}", fontsize=9)
        ax.set_ylim(-0.03, 1.03)
    axes[1].legend(fontsize=7, ncol=2, loc="upper right", framealpha=0.9)
    ax = axes[2]
    steps = sorted(mean["step"].unique())
    for c, step in zip(colors(len(steps)), steps, strict=True):
        for op, ls in (("addition", "-"), ("multiplication", "--")):
            s = mean[(mean.step == step) & (mean.operation == op)].sort_values("scale")
            ax.plot(
                s["scale"],
                s["acc"],
                ls,
                marker="o",
                ms=3,
                color=c,
                label=f"step {int(step)}" if op == "addition" else None,
            )
    log_x(ax)
    ax.set_xlabel("parameters")
    ax.set_ylabel("accuracy, mean over first operands")
    ax.set_title("solid: addition, dashed: multiplication", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle(f"Pythia (deduped, v0 names) arithmetic by first operand, {fewshot}-shot", fontsize=9)
    return fig
