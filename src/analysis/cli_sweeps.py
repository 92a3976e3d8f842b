"""Commands on sweeps of our own model families: ``collect`` and ``figure``."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from src.analysis import sweeps
from src.analysis.bootstrap import bootstrap_table
from src.analysis.figures import figures_by_task, save_figure, unknown_metrics
from src.analysis.loading import load_sweeps, require_complete_metrics


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sweep_dirs", nargs="+", type=Path, metavar="SWEEP_DIR", help="sweep dir(s) (logs/sweeps/<name>)"
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


def cmd_collect(args: argparse.Namespace) -> int:
    for d in args.sweep_dirs:
        print(sweeps.write_sweep_table(d))
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    table = load_sweeps(args.sweep_dirs, allow_incomplete=args.allow_incomplete)
    require_complete_metrics(table, allow=args.allow_missing)
    unknown = unknown_metrics(table)
    if unknown:
        warnings.warn(
            f"not plotted, kind unknown (register them in src/analysis/metric_kinds.py): {unknown}",
            stacklevel=1,
        )
    ci = None
    if args.bootstrap > 0 and args.split == "test":
        ci = bootstrap_table(table, n_boot=args.bootstrap, level=args.ci_level, seed=args.seed)
    sweep_dirs = {Path(d).resolve().name: Path(d) for d in args.sweep_dirs}
    for (sweep, task), fig in figures_by_task(table, split=args.split, ci=ci):
        out = args.out if args.out is not None else sweep_dirs[sweep] / "figures"
        stem = f"{task}_{args.split}_smooth_vs_sharp"
        for path in save_figure(fig, out, stem):
            print(path)
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
    _add_common(p)
    p.add_argument("--split", default="test", help="which split's metrics to draw (default: test)")
    p.add_argument("--out", type=Path, default=None, help="output dir (default: <sweep_dir>/figures/)")
    _add_bootstrap(p)
    p.set_defaults(func=cmd_figure)
