"""The OLMo-ladder backtest (Bhagia et al. 2024): predict a large model's final accuracy per task from a ladder of
small models, by a direct fit of the accuracy and by the two-step predictor (task loss -> accuracy); tables and
figures. The fits and intervals are :func:`src.analysis.stats.backtest.ladder_backtest`."""

from __future__ import annotations

import fnmatch

import numpy as np
import pandas as pd

from src.analysis.core.plotting import colors, log_x
from src.analysis.stats.backtest import _final, _wide, ladder_backtest
from src.analysis.stats.ladder_data import BUILTIN_CHANCE, resolve_chance
from src.results.errors import InputError

#: Chance accuracy of the multiple-choice tasks of the OLMo ladder (1 / number of options), by task-name glob.
DEFAULT_CHANCE = BUILTIN_CHANCE


def chance_of(task: str, chance: dict[str, float]) -> float:
    """``chance`` (the user's levels, an exact name before globs) first, then the built-in levels."""
    return resolve_chance(task, chance)[0]


def acc_metric_of(ev: pd.DataFrame, task: str, preferred=("acc_len_norm", "acc")) -> str:
    have = set(ev.loc[ev["task"] == task, "metric"])
    for m in preferred:
        if m in have:
            return m
    raise InputError(f"task {task!r} has none of the accuracy metrics {preferred}; it has {sorted(have)}")


def run_ladder(
    ev: pd.DataFrame,
    target: str,
    cutoffs: dict[str, float],
    tasks: list[str] | None = None,
    chance: dict[str, float] | None = None,
    loss_metric: str = "bpb",
    n_boot: int = 100,
    seed: int = 0,
    exclude: tuple[str, ...] = (),
    progress: bool = True,
    target_checkpoint: str | None = "last-step",
) -> tuple[pd.DataFrame, dict]:
    """One row per (task, cutoff) with both predictions, intervals and errors; and the fits (for figures)."""
    from tqdm.auto import tqdm

    chance = dict(chance or {})
    have_loss = set(ev.loc[ev["metric"] == loss_metric, "task"])
    all_tasks = sorted(t for t in ev["task"].unique() if t in have_loss)
    if tasks:
        all_tasks = [t for t in all_tasks if any(fnmatch.fnmatchcase(t, p) for p in tasks)]
    if not all_tasks:
        raise InputError(
            f"no task has both {loss_metric!r} and an accuracy", fix="check --tasks and the table"
        )
    rows, fits = [], {}
    jobs = [(t, c) for t in all_tasks for c in cutoffs]
    for task, label in tqdm(jobs, desc="ladder backtest", disable=not progress):
        r = ladder_backtest(ev, task, target, cutoffs[label], acc_metric_of(ev, task), loss_metric,
                            chance_of(task, chance), n_boot=n_boot, seed=seed, exclude=exclude,
                            target_checkpoint=target_checkpoint)  # fmt: skip
        fits[(task, label)] = r.pop("_fits")
        rows.append({"cutoff": label, **r})
    return pd.DataFrame(rows), fits


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean relative error (and share of range, interval coverage) per cutoff and predictor, over tasks."""
    out = []
    for label, g in table.groupby("cutoff", sort=False):
        for k in ("direct", "two_step"):
            out.append({
                "cutoff": label, "predictor": k, "n_tasks": len(g),
                "mean_rel_err": g[f"{k}_rel_err"].mean(), "median_rel_err": g[f"{k}_rel_err"].median(),
                "mean_range_share": g[f"{k}_range_share"].mean(),
                "interval_covers": _covers_text(g[f"{k}_covers"]),
            })  # fmt: skip
    return pd.DataFrame(out)


def _covers_text(c: pd.Series) -> str:
    """``k/n`` over the tasks that have an interval; "no interval" when none has (no bootstrap succeeded)."""
    have = c.dropna()
    return f"{int(have.astype(bool).sum())}/{len(have)}" if len(have) else "no interval"


def task_figure(
    ev: pd.DataFrame, table: pd.DataFrame, fits: dict, task: str, target: str, loss_metric: str = "bpb"
):
    """Left: final accuracy against training compute 6ND (ladder runs by size, the direct fit, the target and both
    predictions with intervals); right: accuracy against the task loss over the fitted checkpoints with the
    step-2 fit and the target's predicted loss. One row per cutoff."""
    from matplotlib.figure import Figure

    rows = table[table["task"] == task]
    acc_m = rows["acc_metric"].iloc[0]
    w = _wide(ev[ev["task"] == task], [acc_m, loss_metric])
    fin = _final(w.assign(metric=acc_m, value=w[acc_m]))
    fig = Figure(figsize=(10, 3.6 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 2, squeeze=False)
    fin = fin[fin["model"] != target]
    sizes = sorted(fin["scale"].unique())
    cmap = dict(zip(sizes, colors(len(sizes)), strict=True))
    for (ax_c, ax_l), (_, r) in zip(axes, rows.iterrows(), strict=True):
        s1, s2, direct = fits[(task, r["cutoff"])]
        used = fin[fin["scale"] <= r["max_scale"]]
        held = fin[fin["scale"] > r["max_scale"]]
        tw = w[(w["model"] == target) & (w["checkpoint"] == rows["target_checkpoint"].iloc[0])]
        tgt = tw.iloc[0]
        c_t = 6 * tgt["scale"] * tgt["tokens"]
        for sz in sizes:
            for part, mk in ((used, "o"), (held, "s")):
                p = part[part["scale"] == sz]
                if not p.empty:
                    ax_c.scatter(6 * p["scale"] * p["tokens"], p[acc_m], color=cmap[sz], marker=mk, s=18,
                                 facecolors="none" if mk == "s" else cmap[sz],
                                 label=f"{sz / 1e9:.2g}B" + ("" if mk == "o" else " (not fitted)"))  # fmt: skip
        cc = np.logspace(np.log10(6 * used["scale"].min() * used["tokens"].min()), np.log10(c_t * 1.5), 100)
        ax_c.plot(cc, 1 - direct.predict(cc), "--", color="0.3", lw=1, label="direct fit: 1-acc = E + A C^-a")
        ax_c.scatter(
            [c_t],
            [tgt[acc_m]],
            marker="*",
            s=120,
            color="k",
            zorder=5,
            label=f"{target} actual ({tgt['checkpoint']})",
        )
        for k, dx, col in (("direct", 0.93, "0.3"), ("two_step", 1.07, "C3")):
            # a prediction outside its own (percentile) interval: the bar starts at the prediction, never negative
            yerr = np.nan_to_num(np.clip([[r[k] - r[f"{k}_lo"]], [r[f"{k}_hi"] - r[k]]], 0, None))
            ax_c.errorbar([c_t * dx], [r[k]], yerr=yerr, fmt="D", ms=5,
                          color=col, capsize=3, label=f"{k.replace('_', '-')} prediction (rel. err {r[f'{k}_rel_err']:.3f})")  # fmt: skip
        ax_c.axhline(r["chance"], color="0.6", lw=0.8, ls=":")
        log_x(ax_c)
        ax_c.set_xlabel("training compute 6ND (FLOPs)")
        ax_c.set_ylabel(f"{acc_m} (final checkpoint)")
        ax_c.set_title(f"fit on models up to {r['cutoff']}", fontsize=9)
        ax_c.legend(fontsize=6, frameon=False, loc="upper left")
        late = w[(w["scale"] <= r["max_scale"]) & (w["model"] != target)]
        ax_l.scatter(late[loss_metric], late[acc_m], s=3, color="0.7", label="fitted models, all checkpoints")
        lv = np.linspace(min(late[loss_metric].min(), r["loss_pred"]) - 0.05, late[loss_metric].max(), 200)
        ax_l.plot(lv, s2.predict(lv), color="C3", lw=1.2, label="step 2: chance-floor logistic")
        xerr = np.nan_to_num(
            np.clip([[r["loss_pred"] - r["loss_lo"]], [r["loss_hi"] - r["loss_pred"]]], 0, None)
        )
        ax_l.errorbar([r["loss_pred"]], [r["two_step"]], xerr=xerr,
                      fmt="D", color="C3", ms=5, capsize=3, label="two-step: predicted loss (step 1) -> accuracy (step 2)")  # fmt: skip
        ax_l.scatter(
            [r["loss_actual"]],
            [r["actual"]],
            marker="*",
            s=120,
            color="k",
            zorder=5,
            label=f"{target} actual",
        )
        ax_l.axhline(r["chance"], color="0.6", lw=0.8, ls=":")
        ax_l.set_xlabel(f"{loss_metric} of the correct answer (task loss)")
        ax_l.set_ylabel(acc_m)
        ax_l.invert_xaxis()
        ax_l.legend(fontsize=6, frameon=False, loc="upper left")
    fig.suptitle(
        f"{task}: predicting {target}'s {acc_m} at {tgt['checkpoint']} from the ladder (intervals: "
        "bootstrap over fitted runs)",
        fontsize=10,
    )
    return fig


def summary_figure(table: pd.DataFrame):
    """Relative error per task, direct vs two-step, one panel per cutoff."""
    from matplotlib.figure import Figure

    cut = list(dict.fromkeys(table["cutoff"]))
    tasks = sorted(table["task"].unique())
    fig = Figure(figsize=(10, 0.25 * len(tasks) + 1.5), layout="constrained")
    axes = fig.subplots(1, len(cut), sharey=True, squeeze=False)[0]
    y = np.arange(len(tasks))
    for ax, label in zip(axes, cut, strict=True):
        g = table[table["cutoff"] == label].set_index("task").loc[tasks]
        for k, off, col in (("direct", -0.2, "0.5"), ("two_step", 0.2, "C3")):
            ax.barh(y + off, g[f"{k}_rel_err"], height=0.38, color=col,
                    label=f"{k.replace('_', '-')} (mean {g[f'{k}_rel_err'].mean():.3f})")  # fmt: skip
        ax.set_yticks(y, tasks, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("relative error |pred - actual| / actual of the final accuracy")
        ax.set_title(f"fit on models up to {label}", fontsize=9)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
    return fig
