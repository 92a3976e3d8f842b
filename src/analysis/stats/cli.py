"""Commands of the statistics stream: ``ladder-backtest`` (prediction of a large model from a ladder of small
runs; the same as ``backtest --target MODEL``, see :mod:`src.analysis.stats.ladder_cli`) and ``grid-density`` (how each sharpness measure behaves as the grid of sizes gets denser)."""

from __future__ import annotations

import argparse
from pathlib import Path

from src.analysis.core.cli import add_command
from src.analysis.core.saving import output_path, print_table, save_figure, save_table


def run_grid_density(args: argparse.Namespace) -> int:
    from src.analysis.stats import density

    table, summ = density.simulate(args.n_sims, seed=args.seed)
    out = Path(args.out)
    save_table(table, output_path(out, "grid_density", ".csv"))
    save_table(summ, output_path(out, "grid_density_summary", ".csv"))
    print_table("sharpness measures by grid density (median and 5-95% over simulated curves)", summ)
    paths = save_figure(density.figure(summ), out, "grid_density")
    print(f"\nfigure: {paths[0]}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from src.analysis.core.inputs import add_ingest_args
    from src.analysis.stats.ladder_cli import add_ladder_args, run_ladder_predict

    p = add_command(
        subparsers,
        "ladder-backtest",
        func=run_ladder_predict,
        help="predict a large model's task accuracy from a ladder of small runs (= backtest --target MODEL)",
        description="Direct and two-step predictors (task loss from N and D, then accuracy from the loss) on any "
        "evidence table with scale, tokens or compute, a smooth loss and accuracies; OLMo-ladder CSVs or their "
        "folder are read as such. The method and its intervals come from backtests inside the ladder.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="table file(s), sweep dir(s) or OLMo-ladder CSVs / folder",
    )
    p.add_argument("--out", type=Path, default=None, help="output folder (default outputs/ladder)")
    add_ladder_args(p)
    add_ingest_args(p)

    p = add_command(
        subparsers,
        "grid-density",
        func=run_grid_density,
        help="simulation: Eq. 1, largest-step share and logistic width as the grid of sizes gets denser",
    )
    p.add_argument("--n-sims", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="outputs/grid_density")
