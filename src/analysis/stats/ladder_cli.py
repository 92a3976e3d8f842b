"""The ladder prediction command: ``backtest --target MODEL`` (alias ``ladder-backtest``). Predict a large model's
task accuracy from a ladder of small runs on any evidence table (OLMo-ladder CSVs or folders are read as such),
by every method of :mod:`src.analysis.stats.ladder_methods`; choose the method and calibrate its intervals by
backtests inside the ladder (:mod:`src.analysis.stats.ladder_eval`)."""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd

from src.results.errors import InputError

DEFAULTS = {
    "target": None, "target_checkpoint": "final", "last_k": 1, "max_scale": None, "min_scale": 0.0, "mults": None,
    "reruns": "in", "exclude": [], "tasks": None, "average": [], "acc_metric": ["acc_len_norm", "acc"],
    "loss_metric": ["bpb"], "method": "auto", "level": 0.9, "skip_early": 0.1, "n_boot": 30, "seed": 0, "methods": None,
    "moving_avg": 1, "step1": "auto",
}  # fmt: skip


def add_ladder_args(p: argparse.ArgumentParser, chance: bool = True) -> None:
    """The ladder prediction's flags (``chance``: add ``--chance``; a parser that already has it shares it)."""
    g = p.add_argument_group(
        "ladder prediction (backtest --target MODEL; docs/analysis.md 'Ladder prediction')"
    )
    g.add_argument(
        "--settings",
        default=None,
        metavar="YAML",
        help="YAML of these flags' values (names with _), e.g. docs/ladder_paper.yaml; flags given win",
    )
    g.add_argument("--target", default=None, help="model to predict (default: the largest of the table)")
    g.add_argument("--target-checkpoint", default=None, metavar="final|last-step|LABEL",
                   help="final (default: its last checkpoint by tokens, e.g. an anneal), last-step (end of its main "
                        "run) or a checkpoint label")  # fmt: skip
    g.add_argument(
        "--last-k",
        type=int,
        default=None,
        help="final value of a run = mean of its last K evaluations (default 1)",
    )
    g.add_argument("--max-scale", type=float, default=None, help="fit runs with at most this many parameters "
                   "(default: every model smaller than the target)")  # fmt: skip
    g.add_argument(
        "--min-scale", type=float, default=None, help="fit runs with at least this many parameters"
    )
    g.add_argument(
        "--mults",
        default=None,
        metavar="K,K,...",
        help="fit runs whose tokens are K x 20N (Chinchilla multipliers, e.g. 1,2,5,10; default all)",
    )
    g.add_argument(
        "--reruns",
        choices=["in", "out"],
        default=None,
        help="fit reruns (runs with a replicate id) too (in, default) or not (out)",
    )
    g.add_argument("--exclude", nargs="*", default=None, metavar="GLOB", help="models not to fit")
    g.add_argument(
        "--tasks", nargs="*", default=None, help="task globs (default: every task with loss and accuracy)"
    )
    g.add_argument(
        "--average",
        action="append",
        default=None,
        metavar="NAME=TASK[:W],...",
        help="add a task: the weighted mean of tasks' values (e.g. MMLU over its 4 test splits)",
    )
    g.add_argument("--acc-metric", nargs="+", default=None, help="accuracy metric(s), first found per task "
                   "(default acc_len_norm acc)")  # fmt: skip
    g.add_argument("--loss-metric", nargs="+", default=None, metavar="METRIC|TASK:METRIC",
                   help="smooth loss of step 1: each task's own (default bpb), or TASK:METRIC for one loss every "
                        "task shares (a validation set's, e.g. c4_en-validation:ce_loss); several: the one whose "
                        "chosen method extrapolates best in the inner far backtests is used")  # fmt: skip
    g.add_argument("--method", default=None, help="method whose intervals and verdict are reported: auto (default: "
                   "the lowest error in the backtests inside the ladder) or one of the methods")  # fmt: skip
    g.add_argument("--level", type=float, default=None, help="interval level (default 0.9)")
    g.add_argument(
        "--skip-early", type=float, default=None, help="step 2 skips this share of each run's steps (0.1)"
    )
    g.add_argument("--moving-avg", type=int, default=None, metavar="K",
                   help="step 2 fits the moving average of K consecutive evaluations of each run (default 1; "
                        "the paper's 5)")  # fmt: skip
    g.add_argument("--step1", choices=["auto", "lsq", "huber"], default=None,
                   help="step 1's objective: auto (default: the paper's Huber loss on log residuals for "
                        "two_step_paper, least squares for the other two-step methods), lsq or huber (all)")  # fmt: skip
    g.add_argument("--methods", nargs="+", default=None, help="methods to fit and compare (default all)")
    g.add_argument("--n-boot", type=int, default=None,
                   help="refits on resampled runs per prediction: its bootstrap sd, the unit the intervals are "
                        "calibrated in (default 30)")  # fmt: skip
    g.add_argument("--seed", type=int, default=None, help="seed of the resampling (default 0)")
    if not any("--format" in a.option_strings for a in p._actions):
        g.add_argument("--format", default=None, metavar="NAME",
                       help="read every input in this format instead of detecting it (see `formats`)")  # fmt: skip
    if not any("--tokens-per-step" in a.option_strings for a in p._actions):
        g.add_argument("--tokens-per-step", type=float, default=None, metavar="T",
                       help="lm-eval checkpoints: training tokens per optimizer step (fills the tokens column)")  # fmt: skip
    if not any("--where" in a.option_strings for a in p._actions):
        from src.analysis.core.inputs import add_shaping_args

        add_shaping_args(p)
    if chance:
        g.add_argument(
            "--chance",
            action="append",
            default=[],
            metavar="TASK=LEVEL",
            help="chance accuracy of a task (name or glob; wins over the table and built-in levels)",
        )


def settings(args: argparse.Namespace) -> argparse.Namespace:
    """Flags given win; then the ``--settings`` YAML; then :data:`DEFAULTS`."""
    import yaml

    given = {}
    if args.settings:
        path = Path(args.settings)
        if not path.is_file():
            raise InputError("does not exist", path=path, fix="give a YAML settings file")
        try:
            given = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise InputError(f"is not YAML ({str(err).splitlines()[0]})", path=path) from None
        if not isinstance(given, dict):
            raise InputError("is not a mapping of settings", path=path, fix=f"use keys of {sorted(DEFAULTS)}")
        unknown = sorted(set(given) - set(DEFAULTS) - {"chance"})
        if unknown:
            raise InputError(f"unknown settings {unknown}", path=path, fix=f"use keys of {sorted(DEFAULTS)}")
    for k, v in DEFAULTS.items():
        if getattr(args, k, None) is None:
            setattr(args, k, given.get(k, v))
    for k, typ in (
        ("max_scale", float),
        ("min_scale", float),
        ("level", float),
        ("skip_early", float),
        ("last_k", int),
        ("moving_avg", int),
    ):
        v = getattr(args, k)
        try:
            setattr(args, k, None if v is None else typ(float(v)))
        except (TypeError, ValueError):
            raise InputError(f"setting {k} = {v!r} is not a number", fix=f"give {k} as a number") from None
    if args.last_k < 1:
        raise InputError(
            f"--last-k {args.last_k} is below 1", fix="give the number of last evaluations to average"
        )
    if args.moving_avg < 1:
        raise InputError(f"--moving-avg {args.moving_avg} is below 1", fix="give the window, 1 for none")
    if args.step1 not in ("auto", "lsq", "huber"):
        raise InputError(f"setting step1 = {args.step1!r} is unknown", fix="use auto, lsq or huber")
    if args.target_checkpoint == "last":  # the old flag value: the latest checkpoint by tokens
        args.target_checkpoint = "final"
    for k in ("tasks", "exclude", "acc_metric", "average", "methods", "loss_metric"):
        if isinstance(getattr(args, k), str):
            setattr(args, k, [getattr(args, k)])
    chance = [f"{t}={v}" for t, v in (given.get("chance") or {}).items()]
    args.chance = chance + list(getattr(args, "chance", []) or [])  # flags after: they win
    return args


def _numbers(spec, flag: str) -> tuple[float, ...] | None:
    if spec is None:
        return None
    items = spec if isinstance(spec, list | tuple) else str(spec).split(",")
    try:
        return tuple(float(x) for x in items)
    except ValueError:
        raise InputError(f"{flag} {spec!r} is not a list of numbers", fix=f"e.g. {flag} 1,2,5,10") from None


def chance_flags(items: list[str]) -> dict[str, float]:
    out = {}
    for it in items:
        key, sep, v = str(it).rpartition("=")
        try:
            out[key] = float(v)
        except ValueError:
            key = ""
        if not sep or not key:
            raise InputError(f"--chance {it!r} is not TASK=LEVEL", fix="e.g. --chance piqa_val_rc_5shot=0.5")
    return out


def load_ladder_inputs(args: argparse.Namespace) -> pd.DataFrame:
    """The inputs through the reader registry (:func:`src.analysis.core.inputs.read_evidence`: each path's format
    detected, or ``--format``; OLMo-ladder CSVs or their folder, any evidence table, sweeps, ...), as every other
    analysis command reads them; the readers' notices printed."""
    from src.analysis.core.inputs import read_evidence

    ev = read_evidence(args)
    for n in ev.notices:
        print(f"note: {n}")
    return ev.table


def _tasks(ev: pd.DataFrame, globs, loss_metric: str, acc_metrics) -> list[str]:
    from src.analysis.stats.ladder_data import split_loss

    has = ev.groupby("task")["metric"].agg(set)
    loss_task, metric = split_loss(loss_metric)
    if loss_task is not None:  # one loss every task shares
        if loss_task not in has.index or metric not in has[loss_task]:
            raise InputError(f"--loss-metric {loss_metric!r}: the table has no task {loss_task!r} with metric {metric!r}",
                             fix=f"tasks with a loss-like metric are e.g. {sorted(has.index)[:5]}")  # fmt: skip
        ok = [t for t, ms in has.items() if t != loss_task and any(a in ms for a in acc_metrics)]
    else:
        ok = [t for t, ms in has.items() if metric in ms and any(a in ms for a in acc_metrics)]
    if globs:
        for g in globs:
            if not any(fnmatch.fnmatchcase(t, g) for t in has.index):
                raise InputError(
                    f"--tasks {g!r} matches no task", fix=f"tasks are e.g. {sorted(has.index)[:5]}"
                )
        ok = [t for t in ok if any(fnmatch.fnmatchcase(t, g) for g in globs)]
    if not ok:
        raise InputError(f"no task has both the loss {loss_metric!r} and an accuracy {list(acc_metrics)}",
                         fix="name them with --loss-metric and --acc-metric")  # fmt: skip
    return sorted(ok)


def _target(ev: pd.DataFrame, target: str | None) -> str:
    if target:
        return target
    last = ev.assign(_t=ev["tokens"].fillna(ev["compute"] / (6 * ev["scale"])).fillna(0))
    return str(last.sort_values(["scale", "_t"])["model"].iloc[-1])


def size_series(fin: pd.DataFrame) -> list[set]:
    """Families joined by the model sizes they share (transitively): one model series each. The OLMo reader's
    families per token budget share their sizes and form one series; Pythia's and OPT's sizes differ: two."""
    sizes = fin.groupby("family", sort=True)["scale"].agg(set)
    groups: list[tuple[set, set]] = []
    for fam, sc in sizes.items():
        touching = [g for g in groups if g[1] & sc]
        merged = ({fam}, set(sc))
        for g in touching:
            groups.remove(g)
            merged = (merged[0] | g[0], merged[1] | g[1])
        groups.append(merged)
    return [fams for fams, _ in groups]


def ladder_rows(ev: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows the target is predicted from. A ladder is one model series: families joined by shared model sizes
    (:func:`size_series`; the OLMo reader names a family per token budget, and the 7B one of its own), holding one
    run per size and token count. So a family with a run at the same size and token count as a run of the target's
    family is another ladder on one grid, and a family of several sizes that shares none with the target's series is
    another series (Pythia beside OPT): both are left out; a family of one size cannot be told apart and joins. A
    target alone in its family takes the one series of the rest; with several series of two sizes or more, which
    one is its ladder is not in the data: an error. Pooled families that share a point with each other, or a model
    name, cannot be told apart: an error. Each choice is said in a note."""
    from src.analysis.stats import ladder_data as data

    fin = data.with_tokens(ev).groupby(["family", "model", "replicate"], dropna=False, sort=False)
    fin = fin.agg(scale=("scale", "first"), tokens=("tokens", "max")).reset_index()
    fin["point"] = list(zip(fin["scale"], (fin["tokens"] / 1e6).round(), strict=True))
    fams = set(fin.loc[fin["model"] == target, "family"])
    runs = fin[fin["model"] != target]
    own = set(runs.loc[runs["family"].isin(fams), "point"])
    other = runs[~runs["family"].isin(fams)]
    apart = sorted(set(other.loc[other["point"].isin(own), "family"]))
    if apart:
        print(f"note: left out {apart[:3]}{' ...' if len(apart) > 3 else ''}: runs at the sizes and token counts of "
              f"the target's family {sorted(fams)}, another ladder")  # fmt: skip
    runs = runs[~runs["family"].isin(apart)]
    series = size_series(runs)
    wide = [s for s in series if runs.loc[runs["family"].isin(s), "scale"].nunique() > 1]
    if own:  # the target's series, and one-size families (Pythia's 1B sits in a family of its own)
        keep = set().union(*(s for s in series if s & fams or s not in wide))
    else:  # the target alone in its family: the one series of the rest
        if len(wide) > 1:
            raise InputError(
                f"target {target!r} is alone in its family and the table holds {len(wide)} model series that "
                f"share no size: {[sorted(s)[:3] for s in wide[:3]]}; which is its ladder is not in the data",
                fix="keep one series with --where 'family=NAME' (or --drop-model), or put the target into its "
                "series' family with --family-map",
            )
        keep = set(runs["family"])
    other_series = sorted(set(runs["family"]) - keep)
    if other_series:
        print(f"note: left out {other_series[:3]}{' ...' if len(other_series) > 3 else ''}: no model size in "
              f"common with the target's family {sorted(fams)}, another model series")  # fmt: skip
    pooled = fin[fin["family"].isin(keep | fams)]
    if pooled["family"].nunique() > len(fams):
        print(f"note: {pooled['family'].nunique()} families pooled as one ladder (they share model sizes, and no "
              f"two hold a run at one size and token count): {sorted(set(pooled['family']))[:4]}")  # fmt: skip
    fix = "give the ladder's runs alone (--where 'family=NAME'), or name each family's models apart"
    clash = pooled.groupby("point")["family"].nunique()
    if (clash > 1).any():
        raise InputError(f"{int((clash > 1).sum())} size and token count(s) have runs of several pooled families "
                         f"{sorted(set(pooled['family']))[:3]}: several ladders, none the target's own", fix=fix)  # fmt: skip
    shared = pooled.groupby("model")["family"].nunique()
    if (shared > 1).any():
        raise InputError(f"model name(s) {sorted(shared[shared > 1].index)[:3]} belong to several pooled families",
                         fix=fix)  # fmt: skip
    return ev[ev["family"].isin(set(pooled["family"]))]


def shown(table: pd.DataFrame, col: str) -> pd.Series:
    """A prediction column for printing: the number, or why there is none (guarded: not a number)."""
    kind = table["guard"].str.split(":").str[0]
    return table[col].map(lambda v: f"{v:.3f}" if pd.notna(v) else "-").where(table["guard"] == "", kind)


def method_summary(
    table: pd.DataFrame, inner: pd.DataFrame, calib: pd.DataFrame, level: float
) -> pd.DataFrame:
    rows = []
    for m, g in table.groupby("method", sort=False):
        ok = g[g["guard"] == ""]
        i = inner[(inner["method"] == m) & (inner["guard"] == "")] if not inner.empty else inner
        c = calib[(calib["method"] == m) & np.isclose(calib["nominal"], level)] if not calib.empty else calib
        cov = ok["covers"].dropna()
        rows.append({"method": m, "inner_mean_rel_err": i["rel_err"].mean() if len(i) else np.nan,
                     "inner_coverage": float(c["coverage"].iloc[0]) if len(c) else np.nan,
                     "target_mean_rel_err": ok["rel_err"].mean() if len(ok) else np.nan,
                     "target_tasks": f"{len(ok)}/{len(g)}",
                     "target_covered": f"{int(cov.astype(bool).sum())}/{len(cov)}" if len(cov) else "no interval"})  # fmt: skip
    return pd.DataFrame(rows)


def chosen_far_error(table: pd.DataFrame, inner: pd.DataFrame) -> dict:
    """The chosen method of one loss's run and its mean relative error on the far inner backtests (NaN without)."""
    from src.analysis.stats import ladder_eval as le

    method = str(table.loc[table["chosen"], "method"].iloc[0])
    if inner.empty:
        return {"method": method, "far_rel_err": np.nan, "far_n": 0}
    sc = le.method_scores(inner, le.target_distance(table)).set_index("method")
    row = sc.loc[method] if method in sc.index else None
    return {"method": method, "far_rel_err": float(row["far_rel_err"]) if row is not None else np.nan,
            "far_n": int(row["far_n"]) if row is not None else 0}  # fmt: skip


def choose_loss(losses: pd.DataFrame) -> str:
    """The loss whose chosen method has the lowest far inner-backtest error (the first given where none has one):
    the method rule (:func:`src.analysis.stats.ladder_eval.choose_method`) one level up. Tried blind on the OLMo
    ladder's 1B and 3B runs before it was made a rule (docs/analysis.md "Ladder prediction")."""
    ok = losses.dropna(subset=["far_rel_err"])
    return (
        str(ok.loc[ok["far_rel_err"].idxmin(), "loss_metric"])
        if not ok.empty
        else str(losses["loss_metric"].iloc[0])
    )


def run_ladder_predict(args: argparse.Namespace) -> int:
    from src.analysis.core.saving import print_table, save_figure, save_table
    from src.analysis.stats import ladder_data as data
    from src.analysis.stats import ladder_eval as le
    from src.analysis.stats.ladder_methods import METHODS

    args = settings(args)
    ev = load_ladder_inputs(args)
    for spec in args.average or []:
        ev = data.add_average(ev, *data.parse_average(spec))
    target = _target(ev, args.target)
    if not (ev["model"] == target).any():
        raise InputError(f"target model {target!r} is not in the table", fix="name one with --target")
    ev = ladder_rows(ev, target)
    acc_metrics = tuple(args.acc_metric)
    losses = list(dict.fromkeys(args.loss_metric))
    per_loss = [set(_tasks(ev, args.tasks, lm, acc_metrics)) for lm in losses]
    tasks = sorted(set.intersection(*per_loss))
    if not tasks:
        raise InputError(
            f"no task has an accuracy and every loss {losses}", fix="name fewer losses (--loss-metric)"
        )
    dropped = sorted(set.union(*per_loss) - set(tasks))
    if dropped:  # the losses are compared on the same tasks
        print(f"note: {len(dropped)} task(s) lack one of the losses {losses} and are left out: {dropped[:5]}"
              + (" ..." if len(dropped) > 5 else ""))  # fmt: skip
    t_scale = float(ev.loc[ev["model"] == target, "scale"].iloc[0])
    fit = data.FitSet(max_scale=args.max_scale or t_scale * (1 - 1e-6), min_scale=args.min_scale,
                      mults=_numbers(args.mults, "--mults"), reruns=args.reruns == "in",
                      exclude=tuple(args.exclude or ()))  # fmt: skip
    methods = list(args.methods or METHODS)
    for m in [*methods, *([] if args.method == "auto" else [args.method])]:
        if m not in METHODS:
            raise InputError(f"method {m!r} is unknown", fix=f"use one of {METHODS}")
    if args.method not in ("auto", *methods):
        methods.append(args.method)
    if not 0 < args.level < 1:
        raise InputError(f"--level {args.level} is not in (0, 1)", fix="e.g. --level 0.9")
    runs, loss_rows = {}, []
    for lm in losses:
        table, inner, _ = le.run(ev, tasks, target, fit, acc_metrics=acc_metrics, loss_metric=lm,
                                 last_k=args.last_k, target_checkpoint=args.target_checkpoint,
                                 chance_flags=chance_flags(args.chance), skip_early=args.skip_early, level=args.level,
                                 n_boot=args.n_boot, seed=args.seed, methods=tuple(methods), method=args.method,
                                 moving_avg=args.moving_avg, step1_kind=args.step1, progress=True)  # fmt: skip
        runs[lm] = (table.assign(loss_metric=lm), inner)
        loss_rows.append({"loss_metric": lm, **chosen_far_error(table, inner)})
    losses_df = pd.DataFrame(loss_rows)
    best = choose_loss(losses_df)
    table, inner = runs[best]
    if len(losses) > 1:
        table = table.assign(choice=f"loss {best}: its chosen method extrapolates best in the far inner backtests "
                                    f"({losses_df.set_index('loss_metric').loc[best, 'far_rel_err']:.4f}); "
                                    + table["choice"].astype(str))  # fmt: skip
    calib = (
        le.calibration(inner) if not inner.empty else pd.DataFrame(columns=["method", "nominal", "coverage"])
    )
    method, why = str(table.loc[table["chosen"], "method"].iloc[0]), str(table["choice"].iloc[0])
    summ = method_summary(table, inner, calib, args.level)
    if not inner.empty:
        sc = le.method_scores(inner, le.target_distance(table)).drop(
            columns=["inner_mean_rel_err", "inner_paired_rel_err"]
        )
        summ = summ.merge(sc, on="method", how="left")
    out = Path(args.out or "outputs/ladder")
    for name, df in (
        ("predictions", table),
        ("inner_backtests", inner),
        ("calibration", calib),
        ("methods", summ),
        *((("losses", losses_df),) if len(losses) > 1 else ()),
    ):
        save_table(df, out / f"ladder_{name}.csv")
    t0 = table.iloc[0]
    ckpt = (
        str(t0["target_checkpoint"])
        if pd.notna(t0["target_checkpoint"]) and str(t0["target_checkpoint"])
        else "final"
    )
    print(f"\n{target} ({ckpt}, {t0['target_tokens']:.3g} tokens) predicted from {int(t0['n_fit'])} "
          f"runs per task; loss: {best}; method: {method}" + f" ({why})")  # fmt: skip
    sel = table[table["method"] == method].copy()
    wide = table.assign(p=shown(table, "pred")).pivot(index="task", columns="method", values="p")[
        list(dict.fromkeys(table["method"]))
    ]
    disp = sel.assign(pred=shown(sel, "pred"), interval=_interval_text(sel), rel_err=shown(sel, "rel_err"),
                      covers=sel["covers"].map(lambda c: "no interval" if c is None else str(bool(c))),
                      reach=sel["reach"].round(2), inner_reach_max=sel["inner_reach_max"].round(2))  # fmt: skip
    print_table(f"{method}: per task ({args.level:.0%} intervals calibrated by the backtests inside the ladder; "
                "inside: the target reaches no further beyond the fitted accuracies than the inner backtests' held-out runs did)",
                disp[["task", "acc_metric", "chance", "chance_source", "actual", "pred", "interval", "rel_err", "covers",
                      "reach", "inner_reach_max", "inside", "guard"]])  # fmt: skip
    ok = sel[sel["guard"] == ""]
    ins = ok[ok["inside"].astype(bool)]
    if inner.empty:
        inside = "none inside what the ladder can tell (no inner backtest tested how far it extrapolates)"
    elif ins.empty:
        inside = "none inside what the ladder can tell"
    else:
        inside = f"{ins['rel_err'].mean():.2%} over the {len(ins)} inside what the ladder can tell"
    print(f"\n{method}: mean relative error {ok['rel_err'].mean():.2%} over {len(ok)} task(s); {inside}"
          + (f" (outside: {', '.join(ok.loc[~ok['inside'].astype(bool), 'task'])})"
             if len(ins) < len(ok) and not inner.empty else ""))  # fmt: skip
    print_table("every method's prediction per task (outside / flat: the fit does not support a number)",
                wide.join(sel.set_index("task")["actual"]).reset_index())  # fmt: skip
    print_table(f"methods: mean relative error (target over unguarded tasks; inner: backtests inside the ladder) and "
                f"{args.level:.0%} coverage", summ)  # fmt: skip
    if calib.empty or not (calib["method"] == method).any():
        print(
            f"\ncalibration of {method}: none (no inner backtest with a bootstrap sd; --n-boot {args.n_boot})"
        )
    elif not calib.loc[calib["method"] == method, "held_out"].any():
        print(f"\ncalibration of {method}: none (its calibrating inner backtests form "
              f"{le.calibration_folds(inner, method)} fold(s); leaving one out needs 2)")  # fmt: skip
    else:
        print_table(f"calibration of {method}: leave-one-fold-out coverage of the inner backtests",
                    calib[calib["method"] == method])  # fmt: skip
    if len(losses) > 1:
        print_table(
            f"losses: each one's chosen method and its far inner-backtest error (used: {best})", losses_df
        )
    paths = save_figure(prediction_figure(table, method, target), out, "ladder_predictions")
    print(f"\ntables and figures under {out} (e.g. {paths[0]})")
    return 0


def _interval_text(t: pd.DataFrame) -> pd.Series:
    notes = t["interval_note"] if "interval_note" in t else pd.Series("", index=t.index)
    txt = [f"[{lo:.3f}, {hi:.3f}]" if pd.notna(lo) and g == "" else
           (("no interval" + (f" ({nt})" if nt else "")) if g == "" else "-")
           for lo, hi, g, nt in zip(t["lo"], t["hi"], t["guard"], notes, strict=True)]  # fmt: skip
    return pd.Series(txt, index=t.index)


def prediction_figure(table: pd.DataFrame, method: str, target: str):
    """Per task: the target's actual accuracy, the chosen method's prediction with its calibrated interval, and
    the other methods' predictions (guarded ones left out)."""
    from matplotlib.figure import Figure

    tasks = list(dict.fromkeys(table["task"]))
    fig = Figure(figsize=(9.5, 0.35 * len(tasks) + 1.6), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(tasks))
    methods = list(dict.fromkeys(table["method"]))
    act = table.groupby("task", sort=False)["actual"].first().reindex(tasks)
    for j, m in enumerate(methods):
        g = table[(table["method"] == m) & (table["guard"] == "")].set_index("task").reindex(tasks)
        if m == method:
            err = np.vstack([np.clip(g["pred"] - g["lo"], 0, None), np.clip(g["hi"] - g["pred"], 0, None)])
            has = bool(np.isfinite(g["lo"]).any())
            ax.errorbar(g["pred"], y, xerr=np.nan_to_num(err), fmt="D", color="C3", ms=5, capsize=3, zorder=4,
                        label=f"{m} ({'interval: calibrated in the ladder' if has else 'no interval: too few inner backtests'})")  # fmt: skip
            kinds = (
                table[table["method"] == m].set_index("task")["guard"].str.split(":").str[0].reindex(tasks)
            )
            for yi, (kind, a) in enumerate(zip(kinds, act, strict=True)):  # no number: why, beside the actual
                if isinstance(kind, str) and kind:
                    ax.annotate(f"{m}: {kind}", (a, yi), xytext=(8, 0), textcoords="offset points", va="center",
                                fontsize=6, color="C3")  # fmt: skip
        else:
            ax.scatter(g["pred"], y + 0.12 * (j - len(methods) / 2) / len(methods), s=10, color=[f"C{i}" for i in range(10) if i != 3][j % 9],
                       alpha=0.7, label=m)  # fmt: skip
    ax.scatter(act, y, marker="*", s=110, color="k", zorder=5, label=f"{target} actual")
    ax.set_yticks(y, tasks, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("accuracy")
    # outside the axes: inside, a legend covers the points of whichever tasks sit in its corner
    ax.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"{target}: predicted from the ladder, per task", fontsize=9)
    return fig
