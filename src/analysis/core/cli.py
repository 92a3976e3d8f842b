"""Command ``ingest``: any inputs (sweep dirs, lab tables) into one evidence table, written as Parquet and CSV.

    python -m src.analysis ingest scores.csv --wide 'exact_match,bertscore*' --task-columns task,prompt_type \
        --replicate-column seed --na-values -100 --out evidence

writes ``evidence.parquet`` and ``evidence.csv`` (and, for sweep dirs whose runs saved ``per_item.npz``, the items
table ``evidence.items.parquet`` / ``.csv``: one row per test item with its 1-D per-item quantities). Every other
command reads the same inputs directly; ``ingest`` shows what they become and lets one table be shared.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.inputs import add_declaration_args, add_ingest_args, load_evidence
from src.analysis.core.saving import save_table


def items_table(ev: pd.DataFrame) -> pd.DataFrame:
    """Per-item outcomes of the evidence's sweep runs (``per_item.npz``): one row per (run, item), one column per
    1-D array (``correct``, ``ce``, ``sq_err``) and per column of a 2-D one (``correct[0]``, ``correct[1]``, ...)."""
    from src.analysis.sweeps.loading import per_item_path
    from src.results.per_item import load_per_item

    if "run_dir" not in ev.columns:
        return pd.DataFrame()
    frames = []
    runs = ev[["family", "model", "scale", "task", "replicate", "checkpoint", "sweep_dir", "run_dir"]]
    for run in runs.drop_duplicates(["sweep_dir", "run_dir"]).itertuples(index=False):
        path = per_item_path(run.sweep_dir, run.run_dir)
        if not path.is_file():
            continue
        arrays = load_per_item(path)
        cols = {}
        for name, a in arrays.items():
            if a.ndim == 1:
                cols[name] = a
            elif a.ndim == 2:
                cols |= {f"{name}[{j}]": a[:, j] for j in range(a.shape[1])}
        n = len(next(iter(arrays.values())))
        ids = {k: getattr(run, k) for k in ("family", "model", "scale", "task", "replicate", "checkpoint")}
        frames.append(pd.DataFrame({**ids, "item": np.arange(n), **cols}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def cmd_ingest(args: argparse.Namespace) -> int:
    ev = load_evidence(args.inputs, args, args.allow_incomplete, args.allow_missing).drop(columns="input")
    out = Path(args.out)
    stem = out.parent / out.name.removesuffix(".parquet").removesuffix(".csv")
    for suffix in (".parquet", ".csv"):
        print(save_table(ev, stem.with_name(stem.name + suffix)))
    items = items_table(ev)
    if not items.empty:
        for suffix in (".items.parquet", ".items.csv"):
            print(save_table(items, stem.with_name(stem.name + suffix)))
    n_rep = ev.loc[ev["replicate"] != "", "replicate"].nunique()
    print(f"{len(ev)} rows: {ev['family'].nunique()} families, {ev['model'].nunique()} models, "
          f"{ev['task'].nunique()} tasks, {ev['metric'].nunique()} metrics ({', '.join(sorted(ev['metric'].unique())[:12])}"
          f"{' ...' if ev['metric'].nunique() > 12 else ''}), {n_rep} replicate ids"
          + (f", {len(items)} item rows" if not items.empty else ""))  # fmt: skip
    return 0


def add_command(
    subparsers: argparse._SubParsersAction, name: str, *, func, help: str, description: str | None = None
) -> argparse.ArgumentParser:
    """One subcommand: its parser (help, description) with ``func`` as what it runs; add its flags to the result.
    The one way the analysis streams declare a command, so none can be left without a function."""
    p = subparsers.add_parser(name, help=help, description=description)
    p.set_defaults(func=func)
    return p


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="sweep dirs or lab tables -> one evidence table (Parquet + CSV), the input of every command",
        description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[-1].strip(),
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="sweep dir(s) and/or table file(s)")
    p.add_argument("--out", required=True, help="output path without suffix (writes .parquet and .csv)")
    p.add_argument(
        "--allow-incomplete", action="store_true", help="use the finished runs of unfinished sweeps"
    )
    p.add_argument(
        "--allow-missing", action="store_true", help="go on when runs lack metrics their mates log"
    )
    add_ingest_args(p)
    add_declaration_args(p)
    p.set_defaults(func=cmd_ingest, out_is_file=True)  # --out is a stem: lock <dir>/.<stem>.lock
