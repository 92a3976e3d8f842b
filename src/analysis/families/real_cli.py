"""Commands for the paper's LLM predictions on real model families.

The formats labs already have are read by ``ingest --format <format>`` (``python -m src.analysis formats``); the
old ``ingest-lm-eval``, ``ingest-olmo-ladder``, ``ingest-inverse-scaling`` and ``ingest-repeated-sampling`` are
spellings of it (:data:`src.analysis.core.cli.FORMAT_COMMANDS`).

Analyses on the shared real families (default inputs under $DATA_DIR/llm/families; figures PNG + PDF beside the
CSV they are drawn from; every result also goes to the claim table and, with --wandb, to one offline W&B run):

    python -m src.analysis real-fig6        --out outputs/real_families
    python -m src.analysis real-resolution  --out outputs/real_families
    python -m src.analysis real-scale-time  --out outputs/real_families
    python -m src.analysis real-arithmetic  --out outputs/real_families
    python -m src.analysis real-all         --out outputs/real_families
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.saving import (
    output_path,
    print_table,
    safe_name,
    save_figure,
    save_table,
)
from src.results.errors import InputError

DEFAULT_OUT = "outputs/real_families"
FAMILIES = "llm/families"


def _data_dir(args) -> Path:
    return Path(args.data_dir or os.environ.get("DATA_DIR", "data")) / FAMILIES


def _out(args) -> Path:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _wandb(args, command: str, out: Path, figures: dict, tables: dict, summary: dict | None = None) -> None:
    if not args.wandb:
        return
    from src.analysis.sweeps.wandb_log import log_analysis

    run_dir = log_analysis(
        "real-families", command, out, figures=figures, tables=tables, summary=summary or {}
    )
    print(f"W&B (offline unless WANDB_MODE says otherwise): {run_dir}")


def _claims(out: Path, name: str, curves: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The engine's curves (one per curve, with intervals and the curve verdict) and pairs (sharp vs smooth of the
    same outputs) of one analysis, saved beside each other."""
    save_table(curves, output_path(out, f"claims_{name}", ".csv"))
    save_table(pairs, output_path(out, f"claim_verdicts_{name}", ".csv"))
    return pairs


def _verdict_counts(pairs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """How many (sharp, smooth) pairs get each verdict, per group."""
    if pairs.empty:
        return pairs
    return pairs.groupby([*by, "basis", "verdict"], dropna=False).size().rename("pairs").reset_index()


def _settings(args):
    """The engine's settings: ``--settings FILE`` with ``--n-boot``, ``--threshold`` and ``--seed`` over it."""
    from src.analysis.stats.engine import Settings

    return Settings.from_yaml(
        args.settings, n_resamples=args.n_boot, threshold=args.threshold, seed=args.seed
    )


RULE = (
    "rules (the one engine, docs/analysis.md 'Verdict rules'): a curve is emergent only if its rise is real (the "
    "95% interval of its total change lies above the resolution and 5% of the metric's range) and the lower end "
    "of Eq. 1's interval reaches the threshold; a pair is 'sharp above smooth' when the 95% interval of the "
    "difference (logistic width where identified, else Eq. 1) lies above 0, 'no rise to compare' when either "
    "curve has no real rise, 'not supported by the data' without an interval source"
)


# --------------------------------------------------------------------------------------------------- analyses
def cmd_fig6(args) -> dict:
    from src.analysis.families import real, real_figures
    from src.analysis.families.readers.inverse_scaling import read_inverse_scaling

    out = _out(args)
    src = args.inverse_scaling or _data_dir(args) / "inverse_scaling_per_item"
    _, items = read_inverse_scaling(src)
    curves, pairs = real.fig6_verdicts(items, settings=_settings(args), nulls=tuple(args.nulls),
                                       n_draws=args.n_draws)  # fmt: skip
    summary = real.fig6_summary(curves, pairs)
    save_table(curves, output_path(out, "fig6_real_scores", ".csv"))
    save_table(summary, output_path(out, "fig6_real", ".csv"))
    cols = [c for c in summary.columns if not c.startswith(("d_", "basis_"))]
    print_table("Fig. 6 on real families: Eq. 1 (oriented, MCG ties at 1/n_items) of MCG, exact Brier, target "
                "log-prob, 95% intervals from resampling items (the same items for every model and metric), and "
                "the engine's verdicts", summary[cols])  # fmt: skip
    figs = {"fig6_real": save_figure(real_figures.fig6_scatter(summary), out, "fig6_real")[0]}
    two = items[items["n_options"] == 2].dropna(subset=["correct"])
    ranked = (
        summary.dropna(subset=["E_mcg", "E_brier"])
        .assign(gap=lambda d: d["E_mcg"].clip(-50, 50) - d["E_brier"].clip(-50, 50))
        .sort_values("gap", ascending=False)
    )
    tasks = [
        (f, t)
        for f, t in zip(ranked["family"], ranked["task"], strict=True)
        if ((two.family == f) & (two.task == t)).any()
    ][: args.max_panels]  # noqa: E501
    figs["fig6_real_curves"] = save_figure(real_figures.fig6_curves(two, tasks), out, "fig6_real_curves")[0]
    mcg = curves[curves["metric"] == "mcg"]
    verdict = {
        "tasks_with_mcg": int(len(mcg)),
        **{f"mcg: {k}": int(v) for k, v in mcg["verdict"].value_counts().items()},
        **{f"mcg_vs_brier: {k}": int(v) for k, v in summary.get("mcg_vs_brier", pd.Series(dtype=str))
           .value_counts().items()},
    }  # fmt: skip
    print(f"\nFig. 6 real, summary: {verdict}")
    _print_nulls(curves, args.nulls)
    claims = real.claim_rows("fig6", curves)
    _claims(out, "fig6", claims, pairs)
    print_table(
        f"paired verdicts (fig6) per family; {RULE}", _verdict_counts(pairs, ["family", "sharp", "smooth"])
    )
    _wandb(args, "real-fig6", out, figs, {"fig6_real": summary, "claims_fig6": claims}, verdict)
    return {"claims": claims, "figures": figs}


def _print_nulls(table: pd.DataFrame, nulls) -> None:
    """Per metric: curves tested and those with BH q <= 0.05 within the metric, under each null asked for."""
    for kind in nulls:
        if f"q_{kind}" not in table:
            continue
        g = table.groupby("metric")
        summ = pd.DataFrame({"curves_tested": g[f"p_{kind}"].count(),
                             "q_le_0.05": g[f"q_{kind}"].apply(lambda q: int((q <= 0.05).sum()))}).reset_index()  # fmt: skip
        print_table(f"{kind} null, per metric (BH within each metric)", summ)


def cmd_resolution(args) -> dict:
    from src.analysis.families import real, real_figures
    from src.analysis.families.readers.inverse_scaling import read_inverse_scaling

    out = _out(args)
    src = args.inverse_scaling or _data_dir(args) / "inverse_scaling_per_item"
    _, items = read_inverse_scaling(src)
    items = items[items["family"] == args.family]
    if items.empty:
        raise InputError(
            f"no items of family {args.family!r}", path=str(src), fix="give --family GPT-3 or GPT-2"
        )
    res = real.resolution_real(items, n_subsets=args.n_subsets, n_verdict_subsets=args.n_verdict_subsets,
                               seed=args.seed or 0, settings=_settings(args))  # fmt: skip
    save_table(res, output_path(out, "resolution_real", ".csv"))
    if res.empty:
        raise InputError(
            f"no 2-option task with per-item correctness for family {args.family!r}", path=str(src)
        )
    task = args.task or _most_emergent(res)
    figs = {"resolution_real": save_figure(real_figures.resolution_figure(res, task, args.family), out,
                                           "resolution_real")[0]}  # fmt: skip
    spread = (
        res.groupby(["task", "n"])[["E_acc_lo", "E_acc_hi", "E_p_lo", "E_p_hi", "share_subsets_acc_emergent",
                                    "verdict_acc_vs_p"]]
        .first().reset_index()
        .assign(E_acc_range=lambda d: d.E_acc_hi - d.E_acc_lo, E_p_range=lambda d: d.E_p_hi - d.E_p_lo)
    )  # fmt: skip
    is_all = res.groupby(["task", "n"])["is_all"].first().to_numpy()
    spread["n"] = np.where(is_all, "all", spread["n"].astype(str))
    order = {n: i for i, n in enumerate(sorted(set(spread["n"]) - {"all"}, key=int) + ["all"])}
    table = spread.groupby("n")[["E_acc_range", "E_p_range", "share_subsets_acc_emergent"]].median()
    table["tasks"] = spread.groupby("n").size()
    verdicts = spread.pivot_table(index="n", columns="verdict_acc_vs_p", values="task", aggfunc="count")
    table = table.join(verdicts.fillna(0).astype(int)).reset_index()
    table = table.sort_values("n", key=lambda s: s.map(order)).reset_index(drop=True)
    print_table(
        f"{args.family}: median over tasks of the 95% range of Eq. 1 over random item subsets (accuracy ties at "
        f"1/n) and of the share of {args.n_verdict_subsets} subsets whose accuracy the engine calls emergent; per n "
        f"how many tasks get each paired verdict (accuracy vs mean probability, the most common over the "
        f"subsets; n = all: the whole task); {RULE}",
        table,
    )
    sel = res[(res.task == task)][
        ["n", "model", "acc_mean", "acc_lo", "acc_hi", "acc_share_zero", "p_mean", "p_lo", "p_hi"]
    ]
    print_table(
        f"{args.family} {task}: accuracy and mean p(right option) on random subsets (central 95%)", sel
    )
    _wandb(args, "real-resolution", out, figs, {"resolution_spread": table})
    return {"figures": figs}


def _most_emergent(res: pd.DataFrame) -> str:
    """The task whose whole-data accuracy changes most across the family (largest max - min)."""
    full = res[res.is_all].groupby("task")["acc_mean"].agg(lambda v: v.max() - v.min())
    return str(full.idxmax())


def _curve_counts(curves: pd.DataFrame) -> pd.DataFrame:
    """Curves per (metric, axis) and verdict, with the median Eq. 1."""
    n = curves.groupby(["metric", "axis"])["verdict"].value_counts().unstack(fill_value=0)
    med = curves.groupby(["metric", "axis"])[["E"]].median().rename(columns={"E": "median_E"})
    return med.join(n).reset_index()


def cmd_scale_time(args) -> dict:
    from src.analysis.families import real, real_figures
    from src.analysis.families.readers.lm_eval import read_lm_eval_results
    from src.analysis.families.readers.olmo_ladder import read_olmo_ladder

    out = _out(args)
    settings = _settings(args)
    olmo = read_olmo_ladder(args.olmo or _data_dir(args) / "olmo_ladder" / "ladder-runs")
    kw = dict(settings=settings, nulls=tuple(args.nulls), n_draws=args.n_draws)
    st, st_pairs = real.scale_time_olmo(olmo, **kw)
    save_table(st, output_path(out, "scale_time_olmo", ".csv"))
    summ = _curve_counts(st)
    print_table("OLMo ladder (one score per checkpoint, no items or stderr; the 1xC reruns are seeds): curves per "
                "metric, axis and engine verdict, median Eq. 1", summ)  # fmt: skip
    figs = {}
    for task in args.olmo_task:
        stem = safe_name(f"scale_time_olmo_{task}")
        figs[stem] = save_figure(real_figures.olmo_figure(olmo, task), out, stem)[0]
    pythia_dirs = args.pythia or sorted(
        (_data_dir(args) / "pythia_evals" / "pythia-v1").glob("pythia-*[0-9][mb]/zero-shot")
    )
    pythia = read_lm_eval_results(pythia_dirs, tokens_per_step=args.tokens_per_step)
    lam = real.pythia_lambada(pythia)
    save_table(lam, output_path(out, "pythia_lambada", ".csv"))
    sp, sp_pairs = real.scale_time_pythia(pythia, **kw)
    save_table(sp, output_path(out, "scale_time_pythia", ".csv"))
    cols = [c for c in ("family", "metric", "axis", "fixed", "n_sizes", "interval_source", "start", "end",
                        "change_lo", "E", "E_lo", "E_hi", "width", "verdict") if c in sp]  # fmt: skip
    print_table("Pythia LAMBADA: over parameters (final checkpoints) and over training tokens (per size), 95% "
                "intervals from the harness's stderr; perplexity judged on its log", sp[cols])  # fmt: skip
    pcols = ["family", "axis", "sharp", "smooth", "basis", "diff", "diff_lo", "diff_hi", "verdict"]
    print_table("Pythia LAMBADA: accuracy vs perplexity of the same outputs", sp_pairs[pcols])
    curves = pd.concat([st, sp], ignore_index=True)
    _print_nulls(curves, args.nulls)
    figs["scale_time_pythia"] = save_figure(real_figures.pythia_figure(lam), out, "scale_time_pythia")[0]
    claims = real.claim_rows("scale_time", curves)
    pairs = pd.concat([st_pairs, sp_pairs], ignore_index=True)
    _claims(out, "scale_time", claims, pairs)
    print_table(f"paired verdicts (scale/time) per axis; {RULE}",
                _verdict_counts(pairs.assign(source=np.where(pairs["family"].str.startswith("OLMo"), "OLMo",
                                                             "Pythia")), ["source", "axis"]))  # fmt: skip
    _wandb(args, "real-scale-time", out, figs, {"olmo": summ, "pythia": sp, "pairs": pairs})
    return {"claims": claims, "figures": figs}


def cmd_arithmetic(args) -> dict:
    from src.analysis.families import real, real_figures
    from src.analysis.families.readers.operand_table import read_operand_table

    out = _out(args)
    ev = read_operand_table(args.operand_csv or _data_dir(args) / "pythia_evals" / "csv")
    mean, scores = real.operand_arithmetic(ev, fewshot=args.fewshot, tokens_per_step=args.tokens_per_step,
                                           settings=_settings(args))  # fmt: skip
    shots = int(mean["fewshot"].iloc[0])
    save_table(mean, output_path(out, "pythia_arithmetic_by_size", ".csv"))
    save_table(scores, output_path(out, "pythia_arithmetic_scores", ".csv"))
    wide = mean.pivot_table(index=["operation", "model", "scale"], columns="step", values="acc").reset_index()
    print_table(f"Pythia arithmetic ({shots}-shot): accuracy, mean over first operands, by checkpoint", wide.sort_values(["operation", "scale"]))  # fmt: skip
    cols = ["task", "axis", "fixed", "n_sizes", "interval_source", "start", "end", "change_lo", "change_hi", "E",
            "E_lo", "E_hi", "verdict"]  # fmt: skip
    print_table(
        "Mean accuracy over first operands, over parameters (per checkpoint) and over training tokens (per "
        f"size); 95% intervals from resampling the first operands; {RULE}",
        scores[cols],
    )
    figs = {"pythia_arithmetic": save_figure(real_figures.arithmetic_figure(ev, mean, shots), out,
                                             "pythia_arithmetic")[0]}  # fmt: skip
    claims = real.claim_rows("arithmetic", scores)
    save_table(claims, output_path(out, "claims_arithmetic", ".csv"))
    _wandb(args, "real-arithmetic", out, figs, {"by_size": mean, "scores": scores})
    return {"claims": claims, "figures": figs}


def cmd_all(args) -> int:
    parts = [cmd_fig6(args), cmd_resolution(args), cmd_scale_time(args), cmd_arithmetic(args)]
    claims = pd.concat([p["claims"] for p in parts if "claims" in p], ignore_index=True)
    out = _out(args)
    save_table(claims, output_path(out, "claims_real", ".csv"))
    print(f"\nclaim table of every real-family analysis: {len(claims)} curves -> {out / 'claims_real.csv'}")
    return 0


def register(subparsers) -> None:
    def common(p):
        p.add_argument(
            "--data-dir", help="data root (default $DATA_DIR); inputs under <data-dir>/llm/families"
        )
        p.add_argument(
            "--out", default=DEFAULT_OUT, metavar="DIR", help=f"output directory (default {DEFAULT_OUT})"
        )
        p.add_argument(
            "--seed", type=int, default=None, help="resampling seed (default 0, or the settings file's)"
        )
        p.add_argument("--settings", help="the engine's settings (YAML: threshold, level, n_resamples, ...)")
        p.add_argument("--wandb", action="store_true",
                       help="also log the figures and tables to one W&B run (offline unless WANDB_MODE says otherwise)")  # fmt: skip
        p.add_argument("--no-wandb", dest="wandb", action="store_false", help=argparse.SUPPRESS)
        p.add_argument("--inverse-scaling", help="inverse-scaling result folders (default: the shared ones)")
        p.add_argument("--n-resamples", "--n-boot", dest="n_boot", type=int, default=None,
                       help="resamples per curve (default 1000, or the settings file's)")  # fmt: skip
        p.add_argument("--max-panels", type=int, default=8, help="tasks drawn per figure (default 8)")
        p.add_argument("--n-subsets", type=int, default=500,
                       help="real-resolution: random item subsets per subset size (default 500)")  # fmt: skip
        p.add_argument(
            "--n-verdict-subsets",
            type=int,
            default=20,
            help="real-resolution: item subsets per size the engine judges alone (default 20)",
        )
        p.add_argument("--family", default="GPT-3", help="family for real-resolution")
        p.add_argument("--task", help="task shown by real-resolution (default: largest accuracy change)")
        p.add_argument("--olmo", nargs="+", help="OLMo-ladder CSVs or folder")
        p.add_argument("--olmo-task", nargs="+", default=["hellaswag_val_rc_5shot", "arc_easy_test_rc_5shot"],
                       help="OLMo-ladder tasks of real-scale-time (default hellaswag_val_rc_5shot arc_easy_test_rc_5shot)")  # fmt: skip
        p.add_argument(
            "--pythia", nargs="+", help="lm-eval results folders of Pythia (default: zero-shot, 8 sizes)"
        )
        p.add_argument("--tokens-per-step", type=float, default=2_097_152.0,
                       help="training tokens per optimizer step of Pythia (default 2097152)")  # fmt: skip
        p.add_argument("--operand-csv", nargs="+", help="per-operand CSVs (default: the shared Pythia ones)")
        p.add_argument("--fewshot", type=int, help="shots for real-arithmetic (default: the most)")
        p.add_argument(
            "--threshold", type=float, default=None, help="Eq. 1 threshold for 'emergent' (default 10)"
        )
        p.add_argument(
            "--nulls", nargs="*", choices=["permutation", "binomial"], default=[],
            help="p-values of Eq. 1 per curve, BH within each metric: permutation (exact, all orders of the "
            "sizes), binomial (shares of items with known n_items: smooth truth re-measured on n_items items)",
        )  # fmt: skip
        p.add_argument("--n-null-draws", "--n-draws", dest="n_draws", type=int, default=10000,
                       help="draws of the binomial null per curve (default 10000)")  # fmt: skip

    for name, func, help_ in (
        ("real-fig6", cmd_fig6, "MCG vs exact Brier / target log-prob on GPT-3 and GPT-2, item bootstrap"),
        ("real-resolution", cmd_resolution, "accuracy on random item subsets vs mean per-item probability"),
        (
            "real-scale-time",
            cmd_scale_time,
            "sharp vs smooth across parameters and training tokens (OLMo, Pythia)",
        ),
        (
            "real-arithmetic",
            cmd_arithmetic,
            "Pythia arithmetic by first operand across sizes and checkpoints",
        ),
        ("real-all", cmd_all, "every real-family analysis and the joint claim table"),
    ):
        p = subparsers.add_parser(name, help=help_)
        common(p)
        p.set_defaults(func=(lambda f: lambda a: (f(a), 0)[1])(func))
