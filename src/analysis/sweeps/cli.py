"""Commands on curves against scale: ``collect``, ``figure``, ``claims``, ``backtest``.

Every input is a sweep dir of our own runs or any evidence table file (ingested with the table flags of
:mod:`src.analysis.core.inputs`); both become one evidence table (:mod:`src.analysis.core.evidence`), which every command reads."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.cli import add_command
from src.analysis.core.curves import curve_table
from src.analysis.core.ingest import is_table_file
from src.analysis.core.inputs import add_declaration_args, add_ingest_args, load_evidence
from src.analysis.core.metrics import require_known
from src.analysis.core.saving import hold_out_dir, output_path, print_table, safe_name, save_figure
from src.analysis.core.saving import save_table as write_table
from src.analysis.sweeps.loading import sweep_labels
from src.results import sweep_table
from src.results.errors import InputError


def _add_common(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="sweep dir(s) (logs/sweeps/<name>) and/or evidence table file(s) (CSV, TSV, Parquet, JSON, JSONL)",
    )
    p.add_argument("--out", type=Path, default=None, help=out_help)
    p.add_argument(
        "--split",
        default="test",
        help="which split's metrics to use (default: test; metric names without a split prefix are always used)",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="use the finished runs of a sweep that still has unfinished or never-started runs (warns, naming them)",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="go on when a run record lacks a metric its sweep-mates log (warns, naming run and metric)",
    )
    p.add_argument(
        "--wandb",
        action="store_true",
        help="also log the figures and tables to a W&B run (offline unless WANDB_MODE says otherwise; "
        "group = sweep name, job_type=analysis)",
    )
    p.add_argument("--no-wandb", dest="wandb", action="store_false", help=argparse.SUPPRESS)
    add_ingest_args(p)
    add_declaration_args(p)


def _add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--n-resamples",
        "--bootstrap",
        dest="bootstrap",
        type=int,
        default=1000,
        metavar="B",
        help="bootstrap resamples of the test items (from per_item.npz) for intervals of the seed mean; 0: none",
    )
    p.add_argument(
        "--ci-level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default 0)")


def _load(args: argparse.Namespace) -> pd.DataFrame:
    """The inputs' evidence table (rows with a value), restricted to the metrics this command uses (the split's, or
    those without a split prefix), with ``source`` = the input each row came from (a sweep's label, a table file's
    stem: one set of outputs each); one error lists every used metric whose direction or kind is not known."""
    from src.analysis.core.inputs import shaping_of
    from src.analysis.core.shaping import shape

    ev = load_evidence(args.inputs, args, args.allow_incomplete, args.allow_missing, split=args.split)
    notices: list[str] = []
    ev, _ = shape(ev, pd.DataFrame(), shaping_of(args), notices)
    for n in notices:
        print(f"note: {n}")
    runs = ev[ev["value"].notna()].reset_index(drop=True)
    labels = {str(Path(p)): Path(p).name.split(".")[0] for p in args.inputs if is_table_file(p)}
    runs["source"] = runs.pop("input").astype(str).replace("", "table").map(lambda s: labels.get(s, s))
    for col in ("run_dir", "sweep_dir"):  # sweeps' extras; a table file's rows have none
        if col in runs.columns:
            runs[col] = runs[col].fillna("").astype(str)
    split_of = {m: (m.partition("/")[0] if "/" in m else "") for m in runs["metric"].unique()}
    used = [m for m, sp in split_of.items() if sp in ("", args.split)]
    if not used:
        raise InputError(
            f"no {args.split!r} metric in the inputs (metrics: {sorted(split_of)[:20]})",
            fix="choose another --split",
        )
    require_known(used)
    runs = runs[runs["metric"].isin(used)].reset_index(drop=True)
    _check_sizes(runs)
    return runs


def _check_sizes(runs: pd.DataFrame) -> None:
    """Two models of one family at one scale in one task would be drawn as one point's seeds: say so."""
    for (sweep, task, family, metric), g in runs.groupby(["source", "task", "family", "metric"]):
        run = g["model"] + np.where(g["checkpoint"] != "", "@" + g["checkpoint"], "")
        clash = g.assign(_run=run).groupby(["scale", "replicate"])["_run"].nunique()
        if (clash > 1).any():
            n = clash[clash > 1].index[0][0]
            names = sorted(run[g["scale"] == n].unique())[:4]
            warnings.warn(
                f"{sweep}: task {task!r}, family {family!r}, metric {metric!r}: models {names} share scale {n:g}; their values are "
                "averaged as if replicates (give each model its own scale or family)",
                stacklevel=3,
            )
            return


def _labels(args: argparse.Namespace) -> dict[str, Path]:
    """Output label -> default location: a sweep dir's label -> the dir; a table file's path -> beside it."""
    dirs = [p for p in args.inputs if not is_table_file(p)]
    labels = dict(sweep_labels(dirs)) if dirs else {}
    for p in args.inputs:
        if is_table_file(p):
            labels[Path(p).name.split(".")[0]] = Path(p).parent / f"{Path(p).name.split('.')[0]}-analysis"
    return labels


def _out_dir(args: argparse.Namespace, sweep: str, default_sub: str) -> Path:
    """``--out`` (one subdirectory per input when several are given), else ``<sweep_dir>/<default_sub>`` or
    ``<table dir>/<table stem>-analysis/<default_sub>``."""
    labels = _labels(args)
    if args.out is not None:
        if len(labels) == 1:
            return args.out
        return output_path(args.out, sweep)  # "a/b" -> "a__b"; any other name made safe, never outside --out
    return hold_out_dir(args, labels[sweep] / default_sub)  # one command at a time in each default dir


def _to_wandb(args, sweep: str, command: str, out: Path, figures=None, tables=None, summary=None) -> None:
    if not args.wandb:
        return
    from src.analysis.sweeps.wandb_log import log_analysis

    cfg = {"inputs": [str(d) for d in args.inputs], "split": args.split, "command": command}
    run_dir = log_analysis(sweep, command, out, figures=figures, tables=tables, summary=summary, config=cfg)
    print(f"W&B run: {run_dir}")


class OneRunPerSweep:
    """A command's figures and tables collected per sweep and logged once each: one W&B run per analysis, not one
    per figure (keys ``<task>/<name>`` inside the run)."""

    def __init__(self, args: argparse.Namespace, command: str):
        self.args, self.command, self.parts = args, command, {}

    def add(self, sweep: str, out: Path, key: str, figures=None, tables=None) -> None:
        if not self.args.wandb:
            return
        part = self.parts.setdefault(sweep, {"out": out, "figures": {}, "tables": {}})
        part["figures"].update({f"{key}/{k}": v for k, v in (figures or {}).items()})
        part["tables"].update({f"{key}/{k}": v for k, v in (tables or {}).items()})

    def log(self) -> None:
        for sweep, part in self.parts.items():
            _to_wandb(
                self.args, sweep, self.command, part["out"], figures=part["figures"], tables=part["tables"]
            )


def cmd_collect(args: argparse.Namespace) -> int:
    for d in args.sweep_dirs:
        print(sweep_table.write_sweep_table(d))
    return 0


def _stem_of(table: pd.DataFrame, sweep: str, task: str, family: str) -> str:
    """``<task>`` when the task has one family in its sweep (our sweeps), else ``<task>__<family>``."""
    part = table[(table["source"] == sweep) & (table["task"] == task)]
    name = task if part["family"].nunique() == 1 else f"{task}__{family}"
    return safe_name(name)


def stderr_table(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame | None:
    """Intervals of each point from the source's stderr (lm-eval writes one per score), where the runs carry one:
    normal, of the mean over replicates (sqrt of the mean squared stderr over sqrt(n)); None where none does."""
    from scipy.stats import norm

    if "stderr" not in table.columns or not table["stderr"].notna().any():
        return None
    z = float(norm.ppf(0.5 + level / 2))
    keys = ["source", "task", "metric", "scale"]
    g = table.dropna(subset=["stderr"]).groupby(keys)
    out = g.agg(
        mean=("value", "mean"), se2=("stderr", lambda s: float((s**2).mean())), n_runs=("value", "size")
    )
    half = z * np.sqrt(out["se2"] / out["n_runs"])
    out = out.assign(ci_lo=out["mean"] - half, ci_hi=out["mean"] + half, ci_source="stderr").reset_index()
    return out[[*keys, "ci_lo", "ci_hi", "n_runs", "ci_source"]]


def cmd_figure(args: argparse.Namespace) -> int:
    from src.analysis.sweeps.bootstrap import bootstrap_table
    from src.analysis.sweeps.claims import claim_table
    from src.analysis.sweeps.figures import figures_by_task, rank_groups, summary_figure

    table = _load(args)
    ci = None
    has_runs = "sweep_dir" in table.columns and (table["sweep_dir"] != "").any()  # per_item.npz to resample
    if args.bootstrap > 0 and args.split == "test" and has_runs:
        ci = bootstrap_table(table, n_boot=args.bootstrap, level=args.ci_level, seed=args.seed)
    if ci is None or ci.empty:
        ci = stderr_table(table, level=args.ci_level)
    claims = claim_table(table, args.split)
    ranked = rank_groups(claims)
    groups = ranked[: args.max_figures] if args.max_figures > 0 else ranked
    wandb_runs = OneRunPerSweep(args, "figure")
    for (sweep, task, family), fig in figures_by_task(table, split=args.split, ci=ci, groups=sorted(groups)):
        out = _out_dir(args, sweep, "figures")
        stem = f"{_stem_of(table, sweep, task, family)}_{args.split}_smooth_vs_sharp"
        paths = save_figure(fig, out, stem)
        for path in paths:
            print(path)
        part = table[(table["source"] == sweep) & (table["task"] == task) & (table["family"] == family)]
        curves = curve_table(part, args.split)
        if ci is not None:
            curves = curves.merge(ci, on=["source", "task", "metric", "scale"], how="left")
        wandb_runs.add(
            sweep, out, stem, figures={"figure": paths[0]}, tables={"runs": part, "curves": curves}
        )
        if args.premise:
            _premise_panel(part, args.split, out, _stem_of(table, sweep, task, family))
    wandb_runs.log()
    if len(ranked) > len(groups):
        for sweep in sorted({g[0] for g in ranked}):
            out = _out_dir(args, sweep, "figures")
            part = claims[claims["source"] == sweep]
            drawn = sum(g[0] == sweep for g in groups)
            stem = f"summary_{args.split}_emergence_by_metric"
            for path in save_figure(summary_figure(part, drawn, args.split), out, stem):
                print(path)
            print(write_table(part, output_path(out, f"{stem}", ".csv")))
        print(
            f"drew the {len(groups)} strongest of {len(ranked)} (task, family) groups (--max-figures "
            f"{args.max_figures}; ranked by strength: a sharp metric's Eq. 1 times its total change) and one summary "
            "figure of all"
        )
    return 0


def _premise_panel(part: pd.DataFrame, split: str, out: Path, stem: str) -> None:
    """Premise-check figure next to the sweep figure: the smooth loss with its power-law fit and residuals."""
    from src.analysis.sweeps.premise import premise_check, premise_figure

    fits, resids = premise_check(part, split)
    if fits.empty:
        return
    print(write_table(resids, output_path(out, f"{stem}_{split}_premise", ".csv")))
    for path in save_figure(premise_figure(part, split, (fits, resids)), out, f"{stem}_{split}_premise"):
        print(path)


def _premise_claims(args: argparse.Namespace, table: pd.DataFrame) -> None:
    """Premise check next to the claim table: power law with irreducible term on each smooth loss, per sweep."""
    from src.analysis.sweeps.premise import R2_PASS, RESID_PASS, premise_check

    fits, resids = premise_check(table, args.split)
    if fits.empty:
        return
    for sweep, part in fits.groupby("source"):
        out = _out_dir(args, sweep, "analysis")
        print(write_table(part, output_path(out, f"premise_{args.split}", ".csv")))
        print(
            write_table(
                resids[resids["source"] == sweep], output_path(out, f"premise_{args.split}_residuals", ".csv")
            )
        )
    cols = ["task", "quantity", "n_sizes", "n_censored", "E", "A", "alpha", "r2_log", "max_abs_resid_log",
            "passes"]  # fmt: skip
    print_table(
        f"Premise check: L(N) = E + A N^-alpha on seed means, passes = R^2 (log) >= {R2_PASS} and "
        f"|log resid| <= {RESID_PASS} (and, where an error rate reads 0 in every run, the fit below a 95% bound "
        "over runs):",
        fits[cols],
    )


def cmd_resolution(args: argparse.Namespace) -> int:
    from src.analysis.sweeps.resolution import resolution_figure, resolution_summary, resolution_table

    table = _load(args)
    for (sweep, task), part in table.groupby(["source", "task"]):
        res = resolution_table(part, k=args.k, small_n=args.small_n, n_draws=args.draws, seed=args.seed)
        summary = resolution_summary(res, n_keep=args.sparse)
        out = _out_dir(args, sweep, "analysis")
        stem = safe_name(f"resolution_{task}_k{args.k}_n{args.small_n}")  # the task name comes from the data
        print(write_table(res, output_path(out, f"{stem}", ".csv")))
        print(write_table(summary, output_path(out, f"{stem}_summary", ".csv")))
        for path in save_figure(resolution_figure(res, n_keep=args.sparse), out, stem):
            print(path)
        print_table(
            f"Resolution: emergence score by estimator and grid ({sweep}):", summary.drop(columns="sizes")
        )
    return 0


def cmd_ablation(args: argparse.Namespace) -> int:
    from src.analysis.sweeps.ablation import ablation_tables
    from src.analysis.sweeps.loading import load_sweeps

    short = load_sweeps([args.short], allow_incomplete=args.allow_incomplete)
    converged = load_sweeps([args.converged], allow_incomplete=args.allow_incomplete)
    per_metric, per_budget = ablation_tables(short, converged, args.split)
    out = args.out if args.out is not None else hold_out_dir(args, Path(args.converged) / "analysis")
    print(write_table(per_metric, output_path(out, f"ablation_{args.split}", ".csv")))
    print(write_table(per_budget, output_path(out, f"ablation_{args.split}_budgets", ".csv")))
    print_table("Training-length ablation, emergence score (Eq. 1) per metric:", per_metric)
    print_table("Per budget: claim verdict and premise check:", per_budget)
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from src.analysis.sweeps.claims import claim_table, claim_verdicts

    table = _load(args)
    claims = claim_table(table, args.split)
    verdicts = claim_verdicts(claims)
    for sweep, part in claims.groupby("source"):
        out = _out_dir(args, sweep, "analysis")
        out.mkdir(parents=True, exist_ok=True)
        claims_path = write_table(part, output_path(out, f"claims_{args.split}", ".csv"))
        v = verdicts[verdicts["source"] == sweep]
        verdict_path = write_table(v, output_path(out, f"claims_{args.split}_verdict", ".csv"))
        print(claims_path)
        print(verdict_path)
        summary = {
            f"emergence_score/{m}": e for m, e in zip(part["metric"], part["emergence_score"], strict=True)
        }
        _to_wandb(args, sweep, "claims", out, tables={"claims": part, "verdict": v}, summary=summary)
    cols = ["task", "family", "metric", "sharpness", "identity", "n_sizes", "emergence_score", "e_seed_min", "e_seed_max",
            "largest_step_share", "sizes_below_1_over_n", "start", "end"]  # fmt: skip
    shown = claims[claims["n_sizes"] >= 3]
    print_table(
        "Claim table (emergence score E oriented so improvement is positive; paper Eq. 1):", shown[cols]
    )
    if len(shown) < len(claims):
        print(f"({len(claims) - len(shown)} curve(s) with fewer than 3 sizes have no E and are left out of this "
              "printout; the CSV has every curve)")  # fmt: skip
    print_table("Prediction 'sharp metrics score higher than smooth ones' per task:", verdicts)
    if args.intervals > 0:
        _claim_intervals(args, table)
    _premise_claims(args, table)
    return 0


def _claim_intervals(args: argparse.Namespace, table: pd.DataFrame) -> None:
    """Intervals on every statistic and verdicts on them (rules: src/analysis/stats/verdicts.py)."""
    from src.analysis.sweeps.claims import claim_intervals

    stats, pairs = claim_intervals(table, args.split, args.intervals, args.seed, args.threshold)
    for sweep, part in stats.groupby("source"):
        out = _out_dir(args, sweep, "analysis")
        print(write_table(part, output_path(out, f"claims_{args.split}_intervals", ".csv")))
        if not pairs.empty:
            print(
                write_table(
                    pairs[pairs["source"] == sweep], output_path(out, f"claims_{args.split}_pairs", ".csv")
                )
            )
    cols = ["task", "family", "metric", "interval_source", "n_sizes", "change_lo", "E", "E_lo", "E_hi",
            "width", "width_lo", "width_hi", "verdict"]  # fmt: skip
    print_table(f"Verdicts ({args.intervals} resamples, 95%; the one engine's rules, docs/analysis.md 'Verdict rules'): "
                f"emergent = a real rise and E_lo >= {args.threshold:g}; 3 sizes cannot reach it:", stats[cols])  # fmt: skip
    if not pairs.empty:
        pcols = ["task", "sharp", "smooth", "basis", "diff", "diff_lo", "diff_hi", "verdict"]
        print_table("Sharp vs smooth, paired on the same resampled items (the logistic width's difference, smooth "
                    "minus sharp, where both are identified; else Eq. 1's):", pairs[pcols])  # fmt: skip


def cmd_backtest(args: argparse.Namespace) -> int:
    if args.target or args.settings:  # predict one named model from a ladder: the same as ladder-backtest
        from src.analysis.stats.ladder_cli import run_ladder_predict

        return run_ladder_predict(args)
    from src.analysis.sweeps.backtest import backtest, backtest_figure

    table = _load(args)
    summary, points = backtest(table, args.split, fit_fraction=args.fit_fraction)
    if summary.empty:
        raise InputError(
            "nothing to backtest: no metric has 2 fitted and 1 predicted size", fix="give more sizes"
        )
    groups = list(summary.groupby(["source", "task", "family"]))
    ranked = sorted(groups, key=lambda kv: -kv[1]["mae"].max())  # the worst-predicted first
    drawn = {k for k, _ in ranked[: args.max_figures]} if args.max_figures > 0 else {k for k, _ in groups}
    wandb_runs = OneRunPerSweep(args, "backtest")
    for (sweep, task, family), part in groups:
        out = _out_dir(args, sweep, "analysis")
        out.mkdir(parents=True, exist_ok=True)
        stem = _stem_of(table, sweep, task, family)
        sel = (points["source"] == sweep) & (points["task"] == task) & (points["family"] == family)
        pts = points[sel]
        if (sweep, task, family) not in drawn:
            continue
        print(write_table(part, output_path(out, f"backtest_{stem}_{args.split}", ".csv")))
        print(write_table(pts, output_path(out, f"backtest_{stem}_{args.split}_points", ".csv")))
        sub = table[(table["source"] == sweep) & (table["task"] == task) & (table["family"] == family)]
        paths = save_figure(backtest_figure(sub, pts, args.split), out, f"backtest_{stem}_{args.split}")
        for p in paths:
            print(p)
        wandb_runs.add(
            sweep, out, stem, figures={"backtest": paths[0]}, tables={"backtest": part, "points": pts}
        )
    wandb_runs.log()
    if len(drawn) < len(groups):
        for sweep in sorted(summary["source"].unique()):
            out = _out_dir(args, sweep, "analysis")
            print(
                write_table(
                    summary[summary["source"] == sweep], output_path(out, f"backtest_{args.split}", ".csv")
                )
            )
            print(
                write_table(
                    points[points["source"] == sweep],
                    output_path(out, f"backtest_{args.split}_points", ".csv"),
                )
            )
        print(
            f"figures (and per-group tables) for the {len(drawn)} worst-predicted of {len(groups)} (task, family) "
            "groups (--max-figures); every group is in the combined tables"
        )
    cols = ["task", "family", "metric", "sharpness", "method", "formula", "n_fit", "n_pred", "mae",
            "max_abs_err", "mean_rel_err", "range_share"]  # fmt: skip
    print_table("Backtest (fit the smaller sizes, predict the larger; errors on seed means):", summary[cols])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "collect",
        func=cmd_collect,
        help="write <sweep_dir>/sweep_table.csv from the run records (one row per run x metric)",
        description="Collect every finished run record (metrics.json) below each sweep dir into its tidy sweep table.",
    )
    p.add_argument(
        "sweep_dirs", nargs="+", type=Path, metavar="SWEEP_DIR", help="sweep dir(s) (logs/sweeps/<name>)"
    )

    p = add_command(
        subparsers,
        "figure",
        func=cmd_figure,
        help="smooth vs sharp metrics against scale (log x), seeds as mean and band; PNG + PDF",
        description=(
            "One figure per task in the sweep dir(s): smooth metrics (accuracy, cross-entropy, ...) and sharp metrics "
            "(subset accuracy, Reconstruction_c, ...) side by side against the parameter count on a log x axis; seed "
            "mean as a line, seed range as a band, error bars = bootstrap interval of the seed mean over test items "
            "(where runs saved per_item.npz), the resolution floor 1/n on sharp panels, and each curve's "
            "emergence score E in its legend. Reads <sweep_dir>/sweep_table.csv, or the run records when it is absent "
            "or stale. Prints the paths written."
        ),
    )
    _add_common(p, "output dir (default: <sweep_dir>/figures/)")
    _add_bootstrap(p)
    p.add_argument(
        "--max-figures",
        type=int,
        default=12,
        help="draw at most N (task, family) figures, the strongest by sharp-metric emergence score, plus a "
        "summary figure of all (default 12; 0: all)",
    )
    p.add_argument(
        "--premise",
        action="store_true",
        help="also draw the premise check: the smooth loss with its fit L(N) = E + A N^-alpha and the residuals "
        "(<task>_<split>_premise.png/.pdf and .csv)",
    )

    p = add_command(
        subparsers,
        "claims",
        func=cmd_claims,
        help="claim table: emergence score per metric, sharp vs smooth, on the same runs",
        description=(
            "For every task and metric: the emergence score (paper Eq. 1) of the seed-mean curve and its range over "
            "seeds, the largest single step as a share of the total change, and the sizes that read below the "
            "resolution floor 1/n; then per task, the share of (sharp, smooth) metric pairs in which the sharp "
            "metric scores higher (the paper predicts 1.0). Writes claims_<split>.csv and claims_<split>_verdict.csv."
        ),
    )
    _add_common(p, "output dir (default: <sweep_dir>/analysis/)")
    p.add_argument("--n-resamples", "--intervals", dest="intervals", type=int, default=200,
                   help="bootstrap replicates for intervals and verdicts (items x seeds where per_item.npz exist, "
                        "else seeds; default 200; 0: none)")  # fmt: skip
    p.add_argument("--threshold", type=float, default=10.0, help="Eq. 1 threshold of 'emergent' (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resampling (default 0)")

    p = add_command(
        subparsers,
        "backtest",
        func=cmd_backtest,
        help="fit the smaller half of a family, predict the larger half: sharp metric directly vs via the smooth "
        "one; with --target MODEL: predict that model from a ladder (direct and two-step, as ladder-backtest)",
        description=(
            "With --target (or --settings): the ladder prediction of ladder-backtest (--chance then gives a task's "
            "chance accuracy). Otherwise, for every metric, fit a two-parameter power law on the smaller model sizes and predict the larger ones; "
            "for sharp metrics also predict them from their smooth companion through the mathematical model "
            "(subset_acc_k=K = acc^K), both from the extrapolated and from the measured smooth metric. Prints and "
            "writes the mean and max absolute errors, the per-point predictions and a figure."
        ),
    )
    _add_common(p, "output dir (default: <sweep_dir>/analysis/)")
    p.add_argument(
        "--fit-fraction", type=float, default=0.5, help="share of the sizes (smallest first) to fit"
    )
    from src.analysis.stats.ladder_cli import add_ladder_args

    add_ladder_args(p, chance=False)
    p.add_argument(
        "--max-figures",
        type=int,
        default=12,
        help="figures for at most N (task, family) groups (default 12; 0: all)",
    )

    p = add_command(
        subparsers,
        "resolution",
        func=cmd_resolution,
        help="subset accuracy: exact estimator vs fixed groups of K on the full and on a small test set; dense vs sparse grid",
        description=(
            "From each run's per_item.npz: K-of-K subset accuracy by the exact estimator C(m,K)/C(n,K), by floor(n/K) "
            "fixed random groups of K on the whole test set, and on --n-resamples random test sets of --small-n items; the "
            "emergence score of each on the dense grid and on a sparse grid of --sparse sizes. Writes the tables and a "
            "figure to <sweep_dir>/analysis/."
        ),
    )
    _add_common(p, "output dir (default: <sweep_dir>/analysis/)")
    p.add_argument("--k", type=int, default=5, help="K of subset accuracy (default 5)")
    p.add_argument("--small-n", type=int, default=100, help="items in a small test set (default 100)")
    p.add_argument("--n-resamples", "--draws", dest="draws", type=int, default=50,
                   help="random small test sets drawn per run (default 50)")  # fmt: skip
    p.add_argument("--sparse", type=int, default=3, help="sizes in the sparse grid (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the test-set draws and groupings (default 0)")

    p = add_command(
        subparsers,
        "ablation",
        func=cmd_ablation,
        help="training-length ablation: emergence scores and premise check under a short and a converged budget",
        description=(
            "Two sweeps of the same grid (a short training budget and trained to convergence): per metric the "
            "emergence score under each, per budget the sharp-vs-smooth verdict and the premise fit of the smooth "
            "loss. Writes ablation_<split>.csv and ablation_<split>_budgets.csv (default: <CONVERGED>/analysis/)."
        ),
    )
    p.add_argument(
        "short", type=Path, metavar="SHORT_SWEEP_DIR", help="the sweep trained on the short budget"
    )
    p.add_argument(
        "converged", type=Path, metavar="CONVERGED_SWEEP_DIR", help="the same grid trained to convergence"
    )
    p.add_argument("--out", type=Path, default=None, help="output dir (default: <CONVERGED>/analysis/)")
    p.add_argument("--split", default="test", help="which split's metrics to use (default: test)")
    p.add_argument(
        "--allow-incomplete", action="store_true", help="use the finished runs of unfinished sweeps"
    )
