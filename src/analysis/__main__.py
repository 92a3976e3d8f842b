"""Command-line entry to the analysis module: ``python -m src.analysis <command> --help``.

``core/cli.py`` holds ``ingest``; each stream (``sweeps``, ``mathmodel``, ``arithmetic``, ``families``) has a ``<stream>/cli.py`` module with ``register(subparsers)``: it adds its sub-parser(s) and sets
``func`` (called with the parsed namespace). Commands never import the training stack.

``--help`` is a map: the commands grouped by the question they answer (:data:`GROUPS`). One name per idea across
commands (:data:`ALIASES`): the old names of an idea stay accepted as hidden aliases of its one name, added here to
every command that still declares only an old one.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import sys
import textwrap
from pathlib import Path

COMMAND_MODULES = (
    "src.analysis.core.cli",  # ingest: any inputs -> one evidence table (Parquet + CSV)
    "src.analysis.sweeps.cli",  # collect, figure, claims, backtest (sweeps of our own families)
    "src.analysis.mathmodel.cli",  # the paper's mathematical model and Monte-Carlo simulator (Fig. 2, Fig. 9)
    "src.analysis.arithmetic.cli",  # per-sample LLM outputs: Fig. 3, Fig. 4, prediction 3
    "src.analysis.families.cli",  # BIG-Bench and open-model tables: Fig. 5, Fig. 6, multiple comparisons
    "src.analysis.families.real_cli",  # lm-eval / OLMo-ladder / inverse-scaling / pass@k readers; real families
    "src.analysis.stats.cli",  # statistics: OLMo-ladder backtest, grid-density simulation
)

# The map printed by --help: question -> commands, in the order a newcomer needs them. A command registered but
# not listed here is printed under "other", so none is hidden.
GROUPS: dict[str, tuple[str, ...]] = {
    "read data (any format -> one evidence table)": (
        "ingest", "collect", "ingest-lm-eval", "ingest-olmo-ladder", "ingest-inverse-scaling",
        "ingest-repeated-sampling",
    ),
    "verdicts (is it emergent? is the sharp metric sharper than its smooth partner?)": (
        "audit", "verdicts", "claims", "resolution", "ablation", "bigbench-null", "grid-density",
    ),
    "figures (sharp and smooth metrics against parameters)": ("figure",),
    "prediction (fit the small models, predict the large ones)": ("backtest", "ladder-backtest", "arith-pred3"),
    "the paper's reproductions (Fig. 2-6, 9; real model families)": (
        "model-figures", "arith-fig3", "arith-fig4", "bigbench-table", "bigbench-fig5a", "bigbench-fig5bc",
        "bigbench-fig6", "bigbench-all", "real-fig6", "real-resolution", "real-scale-time", "real-arithmetic",
        "real-all",
    ),
}  # fmt: skip

# old name -> the one name of its idea. Old names stay accepted, hidden from --help.
ALIASES: dict[str, str] = {
    "--bootstrap": "--n-resamples",  # figure
    "--intervals": "--n-resamples",  # claims, arith-fig3, model-figures
    "--n-boot": "--n-resamples",  # real-*, ingest-repeated-sampling, ladder-backtest
    "--draws": "--n-resamples",  # resolution: random small test sets
    "--n-sims": "--n-resamples",  # grid-density: simulated data sets
    "--n-draws": "--n-null-draws",  # bigbench-null, real-*: draws of a null model (a second count beside resamples)
    "--out-dir": "--out",  # bigbench-*
    "--no-wandb": "--wandb",  # the default (no W&B run); --wandb opts in everywhere
}
HIDDEN = frozenset(ALIASES)
# One wording per idea, for a flag declared without help text (whichever module declared it).
GLOSSARY: dict[str, str] = {
    "--n-resamples": "number of resamples behind each interval (0: none)",
    "--n-null-draws": "draws of the null model per curve",
    "--seed": "seed of the random draws (same seed, same numbers)",
    "--out": "output directory (created if missing)",
    "--wandb": "also log this analysis to one W&B run (offline unless WANDB_MODE says otherwise)",
}


class MapFormatter(argparse.HelpFormatter):
    """Help that shows each flag by its one name: the old names (:data:`ALIASES`) are accepted but not listed."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = [s for s in action.option_strings if s not in HIDDEN]
        if action.option_strings and shown != action.option_strings:
            action = argparse.Action(shown or action.option_strings[:1], action.dest, nargs=action.nargs,
                                     metavar=action.metavar, help=action.help)  # fmt: skip
            if action.nargs == 0:
                action.nargs = 0
        return super()._format_action_invocation(action)

    def _format_usage(self, usage, actions, groups, prefix):
        return super()._format_usage(usage, [a for a in actions if not _alias_only(a)], groups, prefix)

    def add_argument(self, action: argparse.Action) -> None:
        if not _alias_only(action):
            super().add_argument(action)


class TopFormatter(MapFormatter, argparse.RawDescriptionHelpFormatter):
    """The top-level help: the command map (the epilog) keeps its layout."""


def _alias_only(action: argparse.Action) -> bool:
    """A flag that is nothing but an old name (``--no-wandb`` beside ``--wandb``): accepted, never shown."""
    return bool(action.option_strings) and all(s in HIDDEN for s in action.option_strings)


def one_name_per_idea(parser: argparse.ArgumentParser) -> None:
    """Give every flag that a command declares only by an old name its one name too (same destination), so that
    ``--n-resamples`` works on every command that resamples, whichever module declared it."""
    for action in list(parser._actions):
        for old in [s for s in action.option_strings if s in ALIASES]:
            new = ALIASES[old]
            if new in parser._option_string_actions or old == "--no-wandb":
                continue
            action.option_strings.insert(0, new)
            parser._option_string_actions[new] = action
    for action in parser._actions:
        name = next((s for s in action.option_strings if s in GLOSSARY), None)
        if name and not action.help:
            action.help = GLOSSARY[name]


def command_map(commands: dict[str, str]) -> str:
    """The commands grouped by question, each with its one-line help: the map ``--help`` ends with."""
    lines, listed = ["commands, by the question they answer:"], set()
    groups = dict(GROUPS)
    other = tuple(c for c in commands if not any(c in g for g in GROUPS.values()))
    if other:
        groups["other"] = other
    for title, names in groups.items():
        present = [n for n in names if n in commands]
        if not present:
            continue
        lines.append(f"\n  {title}:")
        for name in present:
            listed.add(name)
            text = textwrap.wrap(commands[name], 84) or [""]
            lines.append(f"    {name:<26}{text[0]}")
            lines += [" " * 30 + t for t in text[1:]]
    tail = ("`python -m src.analysis <command> --help` gives a command's flags. Old flag names stay accepted: "
            + ", ".join(f"{a} = {b}" for a, b in ALIASES.items() if a != "--no-wandb")
            + "; --no-wandb is the default (W&B is opt-in with --wandb everywhere).")  # fmt: skip
    lines += ["", *textwrap.wrap(tail, 114)]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m src.analysis",
        description="Turn sweeps, per-sample outputs and evaluation tables into the paper's tables and figures.",
        formatter_class=TopFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an input error")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(subparsers)
    helps = {a.dest: a.help or "" for a in subparsers._choices_actions}
    for sub in subparsers.choices.values():
        sub.formatter_class = MapFormatter
        one_name_per_idea(sub)
    subparsers._choices_actions = []  # the flat list gives way to the grouped map below
    subparsers.help = "one of the commands below"
    parser.epilog = command_map(helps)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A mistake in the input (:class:`InputError`) is one line ``error: ...`` and exit status 2,
    without a traceback (``--debug`` shows it). Called in-process with ``argv`` (tests, notebooks), the error is
    raised instead; :func:`run` with ``raise_errors=False`` gives the command-line behaviour in-process."""
    return run(argv, raise_errors=argv is not None)


# Suffixes that make an --out one file (the readers' evidence tables), not a directory.
FILE_SUFFIXES = (".csv", ".parquet", ".tsv", ".json", ".jsonl")


def _hold_out(args: argparse.Namespace) -> None:
    """Hold the command's ``--out`` (``core/saving.py:out_dir_lock``) for the whole command, so a second analysis
    into the same place is refused instead of leaving a mixed set of files; defaults per input are held where the
    command picks them (``hold_out_dir``)."""
    out = getattr(args, "out", None)
    if out is not None:
        is_file = getattr(args, "out_is_file", False) or Path(out).suffix.lower() in FILE_SUFFIXES
        args.out_locks.hold(out, is_file=is_file)


def run(argv: list[str] | None = None, raise_errors: bool = True) -> int:
    """Parse ``argv`` and run the command with its metric declarations in force and its output dirs held
    (``args.out_locks``: ``--out``, and each default output dir a command picks).
    ``raise_errors``: let an :class:`InputError` propagate (tests, notebooks) instead of printing it and exiting
    with status 2."""
    from src.analysis.core.inputs import declarations
    from src.analysis.core.metrics import declared
    from src.analysis.core.saving import OutDirLocks
    from src.results.errors import InputError

    parser = build_parser()
    args = parser.parse_args(argv)
    args.out_locks = OutDirLocks()
    try:
        with contextlib.closing(args.out_locks), declared(declarations(args)):
            _hold_out(args)
            return int(args.func(args) or 0)
    except InputError as err:
        if raise_errors or args.debug:
            raise
        one_line = str(err).replace("\n  ", "; ").replace("\n", " ")
        parser.exit(2, f"error: {one_line}\n")


if __name__ == "__main__":
    sys.exit(main())
