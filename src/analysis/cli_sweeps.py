"""Commands on sweeps of our own model families: ``collect``, ``figure``, ``claims``, ``backtest``."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

from src.analysis import sweeps
from src.analysis.loading import load_sweeps, require_complete_metrics, sweep_labels

FLOAT_FMT = "{:.3g}".format


def _add_common(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument(
        "sweep_dirs", nargs="+", type=Path, metavar="SWEEP_DIR", help="sweep dir(s) (logs/sweeps/<name>)"
    )
    p.add_argument("--out", type=Path, default=None, help=out_help)
    p.add_argument("--split", default="test", help="which split's metrics to use (default: test)")
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


def _add_bootstrap(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--bootstrap",
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
    table = load_sweeps(args.sweep_dirs, allow_incomplete=args.allow_incomplete)
    require_complete_metrics(table, allow=args.allow_missing)
    from src.analysis.figures import unknown_metrics

    unknown = unknown_metrics(table)
    if unknown:
        warnings.warn(
            f"left out, kind unknown (register them in src/analysis/metric_kinds.py): {unknown}", stacklevel=2
        )
    return table


def _out_dir(args: argparse.Namespace, sweep: str, default_sub: str) -> Path:
    """``--out`` (one subdirectory per sweep when several are given), else ``<sweep_dir>/<default_sub>``."""
    labels = sweep_labels(args.sweep_dirs)
    if args.out is not None:
        return args.out if len(labels) == 1 else args.out / sweep.replace("/", "__")
    return labels[sweep] / default_sub


def _print_table(title: str, df: pd.DataFrame) -> None:
    print(f"\n{title}")
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 30):
        print(df.to_string(index=False, float_format=FLOAT_FMT))


def _to_wandb(args, sweep: str, command: str, out: Path, figures=None, tables=None, summary=None) -> None:
    if not args.wandb:
        return
    from src.analysis.wandb_log import log_analysis

    cfg = {"sweep_dirs": [str(d) for d in args.sweep_dirs], "split": args.split, "command": command}
    run_dir = log_analysis(sweep, command, out, figures=figures, tables=tables, summary=summary, config=cfg)
    print(f"W&B run: {run_dir}")


def cmd_collect(args: argparse.Namespace) -> int:
    for d in args.sweep_dirs:
        print(sweeps.write_sweep_table(d))
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from src.analysis.bootstrap import bootstrap_table
    from src.analysis.figures import curve_table, figures_by_task, save_figure

    table = _load(args)
    ci = None
    if args.bootstrap > 0 and args.split == "test":
        ci = bootstrap_table(table, n_boot=args.bootstrap, level=args.ci_level, seed=args.seed)
    for (sweep, task), fig in figures_by_task(table, split=args.split, ci=ci):
        out = _out_dir(args, sweep, "figures")
        stem = f"{task}_{args.split}_smooth_vs_sharp"
        paths = save_figure(fig, out, stem)
        for path in paths:
            print(path)
        part = table[(table["sweep"] == sweep) & (table["task_name"] == task)]
        curves = curve_table(part, args.split)
        if ci is not None:
            curves = curves.merge(ci, on=["sweep", "task_name", "metric", "num_params"], how="left")
        _to_wandb(
            args, sweep, "figure", out, figures={stem: paths[0]}, tables={"runs": part, "curves": curves}
        )
        if args.premise:
            _premise_panel(part, args.split, out, task)
    return 0


def _premise_panel(part: pd.DataFrame, split: str, out: Path, task: str) -> None:
    """Premise-check figure next to the sweep figure: the smooth loss with its power-law fit and residuals."""
    from src.analysis.figures import save_figure
    from src.analysis.premise import premise_check, premise_figure

    fits, resids = premise_check(part, split)
    if fits.empty:
        return
    sweeps.write_atomic_csv(resids, out / f"{task}_{split}_premise.csv")
    for path in save_figure(premise_figure(part, split), out, f"{task}_{split}_premise"):
        print(path)


def cmd_claims(args: argparse.Namespace) -> int:
    from src.analysis.claims import claim_table, claim_verdicts

    table = _load(args)
    claims = claim_table(table, args.split)
    verdicts = claim_verdicts(claims)
    for sweep, part in claims.groupby("sweep"):
        out = _out_dir(args, sweep, "analysis")
        out.mkdir(parents=True, exist_ok=True)
        claims_path = sweeps.write_atomic_csv(part, out / f"claims_{args.split}.csv")
        v = verdicts[verdicts["sweep"] == sweep]
        verdict_path = sweeps.write_atomic_csv(v, out / f"claims_{args.split}_verdict.csv")
        print(claims_path)
        print(verdict_path)
        summary = {
            f"emergence_score/{m}": e for m, e in zip(part["metric"], part["emergence_score"], strict=True)
        }
        _to_wandb(args, sweep, "claims", out, tables={"claims": part, "verdict": v}, summary=summary)
    cols = ["task_name", "metric", "sharpness", "identity", "n_sizes", "emergence_score", "e_seed_min", "e_seed_max",
            "largest_step_share", "sizes_below_1_over_n", "start", "end"]  # fmt: skip
    _print_table(
        "Claim table (emergence score E oriented so improvement is positive; paper Eq. 1):", claims[cols]
    )
    _print_table("Prediction 'sharp metrics score higher than smooth ones' per task:", verdicts)
    _premise_claims(args, table)
    return 0


def _premise_claims(args: argparse.Namespace, table: pd.DataFrame) -> None:
    """Premise check next to the claim table: power law with irreducible term on each smooth loss, per sweep."""
    from src.analysis.premise import R2_PASS, RESID_PASS, premise_check

    fits, resids = premise_check(table, args.split)
    if fits.empty:
        return
    for sweep, part in fits.groupby("sweep"):
        out = _out_dir(args, sweep, "analysis")
        print(sweeps.write_atomic_csv(part, out / f"premise_{args.split}.csv"))
        print(
            sweeps.write_atomic_csv(
                resids[resids["sweep"] == sweep], out / f"premise_{args.split}_residuals.csv"
            )
        )
    cols = ["task_name", "quantity", "n_sizes", "E", "A", "alpha", "r2_log", "max_abs_resid_log", "passes"]
    _print_table(
        f"Premise check: L(N) = E + A N^-alpha on seed means, passes = R^2 (log) >= {R2_PASS} and |log resid| <= {RESID_PASS}:",
        fits[cols],
    )


def cmd_resolution(args: argparse.Namespace) -> int:
    from src.analysis.figures import save_figure
    from src.analysis.resolution import resolution_figure, resolution_summary, resolution_table

    table = _load(args)
    for (sweep, task), part in table.groupby(["sweep", "task_name"]):
        res = resolution_table(part, k=args.k, small_n=args.small_n, n_draws=args.draws, seed=args.seed)
        summary = resolution_summary(res, n_keep=args.sparse)
        out = _out_dir(args, sweep, "analysis")
        out.mkdir(parents=True, exist_ok=True)
        stem = f"resolution_{task}_k{args.k}_n{args.small_n}"
        print(sweeps.write_atomic_csv(res, out / f"{stem}.csv"))
        print(sweeps.write_atomic_csv(summary, out / f"{stem}_summary.csv"))
        for path in save_figure(resolution_figure(res, n_keep=args.sparse), out, stem):
            print(path)
        _print_table(
            f"Resolution: emergence score by estimator and grid ({sweep}):", summary.drop(columns="sizes")
        )
    return 0


def cmd_ablation(args: argparse.Namespace) -> int:
    from src.analysis.ablation import ablation_tables

    short = load_sweeps([args.short], allow_incomplete=args.allow_incomplete)
    converged = load_sweeps([args.converged], allow_incomplete=args.allow_incomplete)
    per_metric, per_budget = ablation_tables(short, converged, args.split)
    out = args.out if args.out is not None else Path(args.converged) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    print(sweeps.write_atomic_csv(per_metric, out / f"ablation_{args.split}.csv"))
    print(sweeps.write_atomic_csv(per_budget, out / f"ablation_{args.split}_budgets.csv"))
    _print_table("Training-length ablation, emergence score (Eq. 1) per metric:", per_metric)
    _print_table("Per budget: claim verdict and premise check:", per_budget)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from src.analysis.backtest import backtest, backtest_figure
    from src.analysis.figures import save_figure

    table = _load(args)
    summary, points = backtest(table, args.split, fit_fraction=args.fit_fraction)
    for (sweep, task), part in summary.groupby(["sweep", "task_name"]):
        out = _out_dir(args, sweep, "analysis")
        out.mkdir(parents=True, exist_ok=True)
        pts = points[(points["sweep"] == sweep) & (points["task_name"] == task)]
        print(sweeps.write_atomic_csv(part, out / f"backtest_{task}_{args.split}.csv"))
        print(sweeps.write_atomic_csv(pts, out / f"backtest_{task}_{args.split}_points.csv"))
        sub = table[(table["sweep"] == sweep) & (table["task_name"] == task)]
        paths = save_figure(backtest_figure(sub, pts, args.split), out, f"backtest_{task}_{args.split}")
        for p in paths:
            print(p)
        _to_wandb(
            args,
            sweep,
            "backtest",
            out,
            figures={"backtest": paths[0]},
            tables={"backtest": part, "points": pts},
        )
    cols = ["task_name", "metric", "sharpness", "method", "formula", "n_fit", "n_pred", "mae", "max_abs_err"]
    _print_table("Backtest (fit the smaller sizes, predict the larger; errors on seed means):", summary[cols])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "collect",
        help="write <sweep_dir>/sweep_table.csv from the run records (one row per run x metric)",
        description="Collect every finished run record (metrics.json) below each sweep dir into its tidy sweep table.",
    )
    p.add_argument("sweep_dirs", nargs="+", type=Path, metavar="SWEEP_DIR")
    p.set_defaults(func=cmd_collect)

    p = subparsers.add_parser(
        "figure",
        help="smooth vs sharp metrics against num_params (log x), seeds as mean and band; PNG + PDF",
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
        "--premise",
        action="store_true",
        help="also draw the premise check: the smooth loss with its fit L(N) = E + A N^-alpha and the residuals "
        "(<task>_<split>_premise.png/.pdf and .csv)",
    )
    p.set_defaults(func=cmd_figure)

    p = subparsers.add_parser(
        "claims",
        help="claim table: emergence score per metric, sharp vs smooth, on the same runs",
        description=(
            "For every task and metric: the emergence score (paper Eq. 1) of the seed-mean curve and its range over "
            "seeds, the largest single step as a share of the total change, and the sizes that read below the "
            "resolution floor 1/n; then per task, the share of (sharp, smooth) metric pairs in which the sharp "
            "metric scores higher (the paper predicts 1.0). Writes claims_<split>.csv and claims_<split>_verdict.csv."
        ),
    )
    _add_common(p, "output dir (default: <sweep_dir>/analysis/)")
    p.set_defaults(func=cmd_claims)

    p = subparsers.add_parser(
        "backtest",
        help="fit the smaller half of a family, predict the larger half: sharp metric directly vs via the smooth one",
        description=(
            "For every metric, fit a two-parameter power law on the smaller model sizes and predict the larger ones; "
            "for sharp metrics also predict them from their smooth companion through the mathematical model "
            "(subset_acc_k=K = acc^K), both from the extrapolated and from the measured smooth metric. Prints and "
            "writes the mean and max absolute errors, the per-point predictions and a figure."
        ),
    )
    _add_common(p, "output dir (default: <sweep_dir>/analysis/)")
    p.add_argument(
        "--fit-fraction", type=float, default=0.5, help="share of the sizes (smallest first) to fit"
    )
    p.set_defaults(func=cmd_backtest)

    p = subparsers.add_parser(
        "resolution",
        help="subset accuracy: exact estimator vs fixed groups of K on the full and on a small test set; dense vs sparse grid",
        description=(
            "From each run's per_item.npz: K-of-K subset accuracy by the exact estimator C(m,K)/C(n,K), by floor(n/K) "
            "fixed random groups of K on the whole test set, and on --draws random test sets of --small-n items; the "
            "emergence score of each on the dense grid and on a sparse grid of --sparse sizes. Writes the tables and a "
            "figure to <sweep_dir>/analysis/."
        ),
    )
    _add_common(p, "output dir (default: <sweep_dir>/analysis/)")
    p.add_argument("--k", type=int, default=5, help="K of subset accuracy (default 5)")
    p.add_argument("--small-n", type=int, default=100, help="items in a small test set (default 100)")
    p.add_argument("--draws", type=int, default=50, help="random small test sets per run (default 50)")
    p.add_argument("--sparse", type=int, default=3, help="sizes in the sparse grid (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the test-set draws and groupings (default 0)")
    p.set_defaults(func=cmd_resolution)

    p = subparsers.add_parser(
        "ablation",
        help="training-length ablation: emergence scores and premise check under a short and a converged budget",
        description=(
            "Two sweeps of the same grid (a short training budget and trained to convergence): per metric the "
            "emergence score under each, per budget the sharp-vs-smooth verdict and the premise fit of the smooth "
            "loss. Writes ablation_<split>.csv and ablation_<split>_budgets.csv (default: <CONVERGED>/analysis/)."
        ),
    )
    p.add_argument("short", type=Path, metavar="SHORT_SWEEP_DIR")
    p.add_argument("converged", type=Path, metavar="CONVERGED_SWEEP_DIR")
    p.add_argument("--out", type=Path, default=None, help="output dir (default: <CONVERGED>/analysis/)")
    p.add_argument("--split", default="test", help="which split's metrics to use (default: test)")
    p.add_argument(
        "--allow-incomplete", action="store_true", help="use the finished runs of unfinished sweeps"
    )
    p.set_defaults(func=cmd_ablation)
