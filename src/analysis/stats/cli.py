"""Commands of the statistics stream: ``ladder-backtest`` (OLMo-ladder prediction of a large model, both
predictors) and ``grid-density`` (how each sharpness measure behaves as the grid of sizes gets denser)."""

from __future__ import annotations

import argparse
from pathlib import Path

from src.analysis.core.cli import add_command
from src.analysis.core.saving import output_path, print_table, safe_name, save_figure, save_table
from src.results.errors import InputError


def _key_values(items: list[str], flag: str, form: str, example: str) -> dict[str, float]:
    """``KEY=NUMBER`` flag values as a mapping; one that is not is one error naming the flag and its form."""
    out = {}
    for it in items:
        key, _, v = it.partition("=")
        try:
            out[key] = float(v)
        except ValueError:
            raise InputError(f"{flag} {it!r} is not {form}", fix=f"e.g. {flag} {example}") from None
    return out


def _cutoffs(items: list[str]) -> dict[str, float]:
    return _key_values(items, "--cutoff", "LABEL=PARAMETERS", "1B=1.3e9")


def _chances(items: list[str]) -> dict[str, float]:
    return _key_values(items, "--chance", "TASK_GLOB=LEVEL", "'boolq*=0.5'")


def run_ladder_backtest(args: argparse.Namespace) -> int:
    from src.analysis.families.readers.olmo_ladder import read_olmo_ladder
    from src.analysis.stats import ladder

    ev = read_olmo_ladder(args.paths)
    ev = ev[~ev["model"].isin(args.exclude)]
    table, fits = ladder.run_ladder(
        ev, args.target, _cutoffs(args.cutoff or args.cutoff_default), args.tasks, _chances(args.chance), args.loss_metric,
        args.n_boot, args.seed, target_checkpoint=None if args.target_checkpoint == "last" else args.target_checkpoint,
    )  # fmt: skip
    out = Path(args.out)
    save_table(table, output_path(out, "ladder_backtest", ".csv"))
    summ = ladder.summary(table)
    save_table(summ, output_path(out, "ladder_backtest_summary", ".csv"))
    cols = ["cutoff", "task", "target_checkpoint", "actual", "direct", "direct_lo", "direct_hi", "direct_rel_err",
            "two_step", "two_step_lo", "two_step_hi", "two_step_rel_err"]  # fmt: skip
    print_table(
        f"{args.target}: final accuracy predicted from the ladder (intervals {args.n_boot} bootstraps over runs)",
        table[cols],
    )
    print_table("mean over tasks", summ)
    paths = save_figure(ladder.summary_figure(table), out, "ladder_backtest_rel_err")
    for task in sorted(table["task"].unique()):
        paths += save_figure(
            ladder.task_figure(ev, table, fits, task, args.target, args.loss_metric),
            out / "tasks",
            safe_name(f"ladder_{task}"),  # the task name comes from the data
        )
    print(f"\n{len(paths)} figure files under {out}; e.g. {paths[0]}")
    return 0


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
    p = add_command(
        subparsers,
        "ladder-backtest",
        func=run_ladder_backtest,
        help="OLMo ladder: predict a large model's final accuracy per task (direct fit and two-step predictor)",
        description="Reads OLMo-ladder CSVs (files or the ladder-runs folder); fits on the models up to each cutoff.",
    )
    p.add_argument("paths", nargs="+", help="OLMo-ladder CSVs or their folder")
    p.add_argument("--target", default="peteish7", help="model to predict (default peteish7, the 7B)")
    p.add_argument("--cutoff", action="append", default=None, metavar="LABEL=PARAMS",
                   help="fit on models with at most PARAMS parameters (repeatable; default 1B=1.3e9 and 3B=3.2e9)")  # fmt: skip
    p.add_argument(
        "--tasks", nargs="*", default=None, help="task-name globs (default: every task with a loss)"
    )
    p.add_argument("--chance", action="append", default=[], metavar="GLOB=LEVEL",
                   help="chance accuracy of tasks (defaults for the ladder's 11 tasks are built in)")  # fmt: skip
    p.add_argument("--loss-metric", default="bpb", help="task loss of step 1 (default bpb)")
    p.add_argument("--target-checkpoint", default="last-step",
                   help="last-step (default: end of the main run), last (latest by tokens, e.g. anneal) or a label")  # fmt: skip
    p.add_argument("--exclude", nargs="*", default=["peteish7_medlr"], help="models not to fit")
    p.add_argument("--n-boot", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="outputs/ladder", help="output folder")
    p.set_defaults(cutoff_default=["1B=1.3e9", "3B=3.2e9"])

    p = add_command(
        subparsers,
        "grid-density",
        func=run_grid_density,
        help="simulation: Eq. 1, largest-step share and logistic width as the grid of sizes gets denser",
    )
    p.add_argument("--n-sims", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="outputs/grid_density")
