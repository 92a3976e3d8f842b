"""Command-line entry to the analysis module: ``python -m src.analysis <command> --help``.

``core/cli.py`` holds ``ingest``; each stream (``sweeps``, ``mathmodel``, ``arithmetic``, ``families``) has a ``<stream>/cli.py`` module with ``register(subparsers)``: it adds its sub-parser(s) and sets
``func`` (called with the parsed namespace). Commands never import the training stack.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import sys
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m src.analysis",
        description="Turn sweeps, per-sample outputs and evaluation tables into the paper's tables and figures.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an input error")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(subparsers)
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
