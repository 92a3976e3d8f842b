"""What a ladder prediction is fitted on, from any evidence table with ``scale``, ``tokens`` (or ``compute``), a
smooth task loss and a task accuracy: per task one row per run (its final values, the mean of its last ``k``
evaluations) and the run's checkpoints; the fit set chosen by size x token multiplier and reruns; the target's
value; task averages (MMLU as the weighted mean of its splits); chance levels per task.

No OLMo-ladder file shape is assumed: a run is a (model, replicate), its checkpoints are ordered by tokens then
step, and a checkpoint without a step after the last stepped one (an anneal read from its own file) is a model of
its own (``final`` target) rather than one more evaluation of the run.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np
import pandas as pd

from src.results.errors import InputError

#: Chance accuracy (1 / options) of the OLMo ladder's multiple-choice tasks, used only for task names that match
#: and only where neither ``--chance`` nor a ``chance`` column of the table says otherwise.
BUILTIN_CHANCE = {
    "mmlu_*": 0.25, "hellaswag*": 0.25, "arc_easy*": 0.25, "arc_challenge*": 0.25, "boolq*": 0.5,
    "csqa*": 0.2, "openbookqa*": 0.25, "piqa*": 0.5, "socialiqa*": 1 / 3, "winogrande*": 0.5,
}  # fmt: skip

#: MMLU test questions per split (hendrycks/test): the weights of the paper's MMLU average.
MMLU_TEST_COUNTS = {"stem": 3018, "humanities": 4705, "social_sciences": 3077, "other": 3242}

RUN_COLS = ["model", "replicate"]


def resolve_chance(
    task: str, flags: dict[str, float], table: dict[str, float] | None = None
) -> tuple[float, str]:
    """Chance level of ``task`` and where it came from: ``--chance`` (an exact name first, then globs in the order
    given), then the table's ``chance`` column, then the built-in OLMo-ladder levels; else one error."""
    if task in flags:
        return float(flags[task]), "--chance"
    for pat, v in flags.items():
        if fnmatch.fnmatchcase(task, pat):
            return float(v), "--chance"
    if table and task in table and np.isfinite(table[task]):
        return float(table[task]), "table"
    for pat, v in BUILTIN_CHANCE.items():
        if fnmatch.fnmatchcase(task, pat):
            return float(v), "built-in"
    raise InputError(
        f"no chance level for task {task!r}",
        fix=f"add --chance '{task}=<1/number of options>' or a chance column to the table",
    )


def table_chance(ev: pd.DataFrame) -> dict[str, float]:
    """Chance per task from a ``chance`` column of the evidence table (one value per task), if it has one."""
    if "chance" not in ev.columns:
        return {}
    c = pd.to_numeric(ev["chance"], errors="coerce")
    per = c.groupby(ev["task"]).agg(["min", "max"]).dropna()
    bad = per[per["max"] - per["min"] > 1e-9]
    if not bad.empty:
        raise InputError(f"task {bad.index[0]!r} has several chance levels in the table",
                         fix="give one chance per task")  # fmt: skip
    return per["min"].to_dict()


def with_tokens(ev: pd.DataFrame) -> pd.DataFrame:
    """``tokens`` where the table gives only ``compute`` (``D = C / 6N``); one error when it gives neither."""
    ev = ev.copy()
    miss = ev["tokens"].isna() & ev["compute"].notna()
    ev.loc[miss, "tokens"] = ev.loc[miss, "compute"] / (6.0 * ev.loc[miss, "scale"])
    if ev["tokens"].isna().all():
        raise InputError(
            "the evidence table has neither tokens nor compute",
            fix="give the training tokens (or FLOPs) of each model (columns tokens or compute); lm-eval "
            "checkpoints with a step: --tokens-per-step T",
        )
    return ev


def parse_average(spec: str) -> tuple[str, dict[str, float]]:
    """``NAME=TASK[:WEIGHT],TASK[:WEIGHT],...`` -> (NAME, {task: weight}); weights default to 1."""
    name, _, rest = spec.partition("=")
    members: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        task, _, w = part.partition(":")
        try:
            members[task] = float(w) if w else 1.0
        except ValueError:
            raise InputError(f"--average {spec!r}: weight {w!r} is not a number",
                             fix="e.g. --average 'mmlu=mmlu_stem:3018,mmlu_other:3242'") from None  # fmt: skip
    if not name or not members:
        raise InputError(f"--average {spec!r} is not NAME=TASK[:WEIGHT],...",
                         fix="e.g. --average 'mmlu=mmlu_stem:3018,mmlu_other:3242'")  # fmt: skip
    return name.strip(), members


def add_average(ev: pd.DataFrame, name: str, members: dict[str, float]) -> pd.DataFrame:
    """Rows of a new task ``name``: the weighted mean of ``members``' values per (model, replicate, checkpoint,
    metric), kept only where every member has the value."""
    missing = [t for t in members if not (ev["task"] == t).any()]
    if missing:
        raise InputError(f"--average {name}: task(s) {missing} are not in the table",
                         fix=f"name tasks of the table (e.g. {sorted(ev['task'].unique())[:4]})")  # fmt: skip
    sub = ev[ev["task"].isin(members)].copy()
    sub["_w"] = sub["task"].map(members)
    sub["_wv"] = sub["_w"] * sub["value"]
    key = ["family", "model", "replicate", "checkpoint", "metric"]
    g = sub.groupby(key, dropna=False)
    agg = g.agg(_wv=("_wv", "sum"), _w=("_w", "sum"), _n=("task", "nunique"),
                scale=("scale", "first"), step=("step", "first"), tokens=("tokens", "first"),
                compute=("compute", "first")).reset_index()  # fmt: skip
    agg = agg[agg["_n"] == len(members)]
    agg["value"] = agg["_wv"] / agg["_w"]
    agg["task"] = name
    extra = {c: g[c].first().reindex(pd.MultiIndex.from_frame(agg[key])).to_numpy()
             for c in ("chinchilla_multiplier", "size") if c in ev.columns}  # fmt: skip
    agg = agg.assign(**extra).drop(columns=["_wv", "_w", "_n"])
    return pd.concat([ev, agg], ignore_index=True)


def acc_metric_of(ev: pd.DataFrame, task: str, preferred: tuple[str, ...]) -> str:
    have = set(ev.loc[ev["task"] == task, "metric"])
    for m in preferred:
        if m in have:
            return m
    raise InputError(f"task {task!r} has none of the accuracy metrics {list(preferred)}; it has {sorted(have)}",
                     fix="name its accuracy with --acc-metric")  # fmt: skip


def split_loss(loss_metric: str) -> tuple[str | None, str]:
    """``--loss-metric``: ``METRIC`` (each task's own loss, e.g. bpb) or ``TASK:METRIC`` (one loss every task shares,
    e.g. a validation set's cross-entropy: ``c4_en-validation:ce_loss``, ``val:loss``) -> (task or None, metric)."""
    task, sep, metric = str(loss_metric).rpartition(":")
    if sep and (not task or not metric):
        raise InputError(
            f"--loss-metric {loss_metric!r} is not METRIC or TASK:METRIC", fix="e.g. --loss-metric val:loss"
        )
    return (task or None), metric


def checkpoints(ev: pd.DataFrame, task: str, acc_metric: str, loss_metric: str) -> pd.DataFrame:
    """One row per checkpoint of every run on ``task``: run keys, scale, tokens, step, ``acc``, ``loss`` (the task's
    own ``loss_metric``, or with ``TASK:METRIC`` the shared loss of that task at the same checkpoint)."""
    loss_task, loss_metric = split_loss(loss_metric)
    t = ev[(ev["task"] == task) & (ev["metric"] == acc_metric)]
    lt = ev[(ev["task"] == (loss_task or task)) & (ev["metric"] == loss_metric)]
    if loss_task is not None:
        lt = lt[lt["model"].isin(set(t["model"]))]
    t = pd.concat([t, lt], ignore_index=True)
    for m, where in ((acc_metric, task), (loss_metric, loss_task or task)):
        if not (t["metric"] == m).any():
            raise InputError(f"task {where!r} has no metric {m!r}" + (" for the models of task " + repr(task) if where != task else ""),
                             fix="name the accuracy (--acc-metric) and smooth loss (--loss-metric METRIC, or "
                                 "TASK:METRIC for one loss every task shares) the table holds")  # fmt: skip
    cols = ["model", "replicate", "checkpoint", "scale", "tokens", "step"]
    extra = [c for c in ("chinchilla_multiplier",) if c in t.columns]
    w = t.groupby([*cols, "metric"], dropna=False, sort=False)["value"].first().unstack("metric")
    w = w.rename(columns={acc_metric: "acc", loss_metric: "loss"})[["acc", "loss"]].reset_index()
    w = w.dropna(subset=["acc", "loss", "tokens"])
    bad = ~w["acc"].between(0.0, 1.0)
    if bad.any():  # --acc-metric names an accuracy, registered or not: a share of items
        r = w[bad].iloc[0]
        raise InputError(f"task {task!r}: accuracy {acc_metric!r} of model {r['model']!r} is {r['acc']:g}, not in "
                         f"[0, 1] ({int(bad.sum())} such value(s))",
                         fix="give accuracies as shares (a percentage: divide by 100), or name the accuracy with --acc-metric")  # fmt: skip
    if extra:
        mult = t.groupby(["model", "replicate"])[extra[0]].first()
        w = w.merge(mult.rename("mult").reset_index(), on=RUN_COLS, how="left")
    else:
        w["mult"] = np.nan
    return w.sort_values([*RUN_COLS, "tokens", "step"], na_position="last").reset_index(drop=True)


def finals(ck: pd.DataFrame, last_k: int = 1) -> pd.DataFrame:
    """Each run's final values: the mean ``acc`` and ``loss`` of its last ``last_k`` stepped evaluations, at its
    last tokens. A stepless checkpoint past them (an anneal) is left out here: it is a model of its own."""
    rows = []
    for (model, rep), g in ck.groupby(RUN_COLS, sort=False):
        s = g[g["step"].notna()] if g["step"].notna().any() else g
        last = s.tail(last_k)
        rows.append({"model": model, "replicate": rep, "scale": float(last["scale"].iloc[-1]),
                     "tokens": float(last["tokens"].iloc[-1]), "acc": float(last["acc"].mean()),
                     "loss": float(last["loss"].mean()), "n_evals": len(last),
                     "mult": float(g["mult"].iloc[0]) if pd.notna(g["mult"].iloc[0]) else np.nan})  # fmt: skip
    f = pd.DataFrame(rows)
    if not f.empty:
        f["mult"] = f["mult"].fillna(f["tokens"] / (20.0 * f["scale"]))
        f["compute"] = 6.0 * f["scale"] * f["tokens"]
    return f


def target_value(ck: pd.DataFrame, target: str, checkpoint: str, last_k: int) -> dict:
    """The target model's value: ``final`` (its last checkpoint by tokens; a stepless one, e.g. an anneal, alone,
    else the mean of its last ``last_k`` evaluations), ``last-step`` (the mean of its last ``last_k`` stepped
    evaluations: the end of the main run) or one checkpoint label; a target trained with several seeds
    (replicates) is the mean over them, each taken so."""
    g = ck[ck["model"] == target]
    if g.empty:
        raise InputError(f"target model {target!r} is not in the table (or has no accuracy and loss there)",
                         fix=f"name a model of the table (largest: {_largest(ck)})")  # fmt: skip
    parts = [
        _target_rows(r, target, checkpoint, last_k)
        for _, r in g.groupby("replicate", dropna=False, sort=False)
    ]
    last = pd.concat(parts)
    label = (
        ",".join(c for c in parts[0]["checkpoint"].astype(str).tolist()[-2:] if c not in ("", "nan"))
        or "final"
    )
    label += f" (mean of {len(parts[0])})" if len(parts[0]) > 1 else ""
    label += f", mean of {len(parts)} replicates" if len(parts) > 1 else ""
    return {"target": target, "target_checkpoint": label, "n_evals": len(last),
            "scale": float(last["scale"].iloc[-1]), "tokens": float(last["tokens"].iloc[-1]),
            "acc": float(np.mean([p["acc"].mean() for p in parts])),
            "loss": float(np.mean([p["loss"].mean() for p in parts]))}  # fmt: skip


def _target_rows(g: pd.DataFrame, target: str, checkpoint: str, last_k: int) -> pd.DataFrame:
    """One replicate's rows of the target value (see :func:`target_value`)."""
    stepped = g[g["step"].notna()]
    if checkpoint == "final":
        return g.iloc[[-1]] if pd.isna(g["step"].iloc[-1]) else stepped.tail(last_k)
    if checkpoint == "last-step":
        if stepped.empty:
            raise InputError(
                f"target {target!r} has no stepped checkpoint", fix="use --target-checkpoint final"
            )
        return stepped.tail(last_k)
    last = g[g["checkpoint"] == checkpoint]
    if last.empty:
        raise InputError(f"target {target!r} has no checkpoint {checkpoint!r}",
                         fix=f"use final, last-step or one of {list(g['checkpoint'])[-3:]}")  # fmt: skip
    return last


def _largest(ck: pd.DataFrame) -> str:
    return str(ck.sort_values("scale")["model"].iloc[-1]) if not ck.empty else "none"


@dataclass(frozen=True)
class FitSet:
    """Which runs are fitted: scale in [min_scale, max_scale], token multiplier (tokens / 20N, or the table's
    ``chinchilla_multiplier``) within 10% of one of ``mults``, reruns (a non-empty replicate) in or out, models
    matching ``exclude`` globs out."""

    max_scale: float = np.inf
    min_scale: float = 0.0
    mults: tuple[float, ...] | None = None
    reruns: bool = True
    exclude: tuple[str, ...] = ()

    def mask(self, runs: pd.DataFrame) -> pd.Series:
        m = (runs["scale"] <= self.max_scale * (1 + 1e-9)) & (runs["scale"] >= self.min_scale * (1 - 1e-9))
        if self.mults:
            m &= np.any([np.abs(runs["mult"] / k - 1) < 0.1 for k in self.mults], axis=0)
        if not self.reruns:
            m &= runs["replicate"].astype(str) == ""
        for pat in self.exclude:
            m &= ~runs["model"].map(lambda s, pat=pat: fnmatch.fnmatchcase(s, pat))
        return m
