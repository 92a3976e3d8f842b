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

from src.analysis.core.saving import save_table


def _scored_outputs(path: Path, metrics: set[str]) -> dict[str, np.ndarray] | None:
    """A generating run's per-item scores from its ``outputs.jsonl`` (test items, in item order), under the run
    record's metric names (``test/exact_match``, ``test/exact_match_l=3``, ``test/edit_distance_l=3``: the same
    scoring as training's, :func:`src.analysis.arithmetic.scoring.score_items`); None when it scores none of
    ``metrics``."""
    from src.analysis.arithmetic.scoring import score_items
    from src.analysis.core.metrics import target_length
    from src.results.outputs import read_outputs_file

    lengths = [L for m in metrics if (L := target_length(m)) is not None]
    outputs = read_outputs_file(path)
    outputs = outputs[outputs["subset"] == "test"].sort_values("item")
    if outputs.empty:
        return None
    scored = score_items(outputs, max_len=max(lengths, default=1))
    cols = {f"test/{c}": scored[c].to_numpy(float) for c in scored.columns if f"test/{c}" in metrics}
    return {"item": outputs["item"].to_numpy(), **cols} if cols else None


def items_table(ev: pd.DataFrame) -> pd.DataFrame:
    """Per-item outcomes of the evidence's sweep runs: one row per (run, item). From ``per_item.npz``, one column
    per 1-D array (``correct``, ``ce``, ``sq_err``) and per column of a 2-D one (``correct[0]``, ...); from a
    generating run's ``outputs.jsonl`` (no ``per_item.npz``), its test items scored under the record's metric
    names, so the arithmetic sweeps' intervals come from their items like every other sweep's."""
    from src.analysis.sweeps.loading import per_item_path
    from src.results.outputs import OUTPUTS_NAME
    from src.results.per_item import load_per_item

    if "run_dir" not in ev.columns:
        return pd.DataFrame()
    frames = []
    runs = ev[["family", "model", "scale", "task", "replicate", "checkpoint", "sweep_dir", "run_dir"]]
    metrics_of = ev.groupby("run_dir")["metric"].agg(set).to_dict()
    for run in runs.drop_duplicates(["sweep_dir", "run_dir"]).itertuples(index=False):
        if not isinstance(run.run_dir, str) or not isinstance(run.sweep_dir, str) or not run.run_dir:
            continue  # a row of a table file beside the sweeps: no per-item file
        path = per_item_path(run.sweep_dir, run.run_dir)
        ids = {k: getattr(run, k) for k in ("family", "model", "scale", "task", "replicate", "checkpoint")}
        if not path.is_file():
            outputs = path.parent / OUTPUTS_NAME
            scored = _scored_outputs(outputs, metrics_of[run.run_dir]) if outputs.is_file() else None
            if scored is not None:
                frames.append(pd.DataFrame({**ids, **scored}))
            continue
        arrays = load_per_item(path)
        cols = {}
        for name, a in arrays.items():
            if a.ndim == 1:
                cols[name] = a
            elif a.ndim == 2:
                cols |= {f"{name}[{j}]": a[:, j] for j in range(a.shape[1])}
        n = len(next(iter(arrays.values())))
        frames.append(pd.DataFrame({**ids, "item": np.arange(n), **cols}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def cmd_ingest(args: argparse.Namespace) -> int:
    """``ingest`` and its ``ingest-<format>`` spellings: the inputs through the reader registry, written as
    ``<stem>.parquet`` / ``.csv`` (``--out DIR``: ``DIR/evidence.*``), the items table beside them (or at
    ``--items-out``) and any table the format derives (repeated sampling: the pass@k bootstrap)."""
    from src.analysis.core.inputs import read_evidence

    args.derived_tables = {"m": args.m, "n_resamples": args.n_resamples, "seed": args.seed}
    ev = read_evidence(args)
    out = Path(args.out)
    if out.suffix in (".parquet", ".csv"):  # the old form: a stem or a file name
        out = out.parent / out.name.removesuffix(".parquet").removesuffix(".csv")
        stem = out
        beside = lambda name: stem.with_name(f"{stem.name}.{name}.csv")  # noqa: E731
    else:
        out.mkdir(parents=True, exist_ok=True)
        stem = out / "evidence"
        beside = lambda name: out / f"{name}.csv"  # noqa: E731
    table = ev.table.drop(columns=[c for c in ("input",) if c in ev.table.columns])
    for suffix in (".parquet", ".csv"):
        print(save_table(table, stem.with_name(stem.name + suffix)))
    items = ev.items
    if not items.empty:
        paths = [args.items_out] if args.items_out else [stem.with_name(stem.name + s)
                                                         for s in (".items.parquet", ".items.csv")]  # fmt: skip
        for path in paths:
            print(save_table(items, path))
    for name, derived in ev.tables.items():
        print(save_table(derived, beside(name)))
    n_rep = table.loc[table["replicate"] != "", "replicate"].nunique()
    print(f"{len(table)} rows: {table['family'].nunique()} families, {table['model'].nunique()} models, "
          f"{table['task'].nunique()} tasks, {table['metric'].nunique()} metrics ({', '.join(sorted(table['metric'].unique())[:12])}"
          f"{' ...' if table['metric'].nunique() > 12 else ''}), {n_rep} replicate ids"
          + (f", {len(items)} item rows" if not items.empty else "")
          + f"; formats: {', '.join(sorted(set(ev.formats.values())))}")  # fmt: skip
    for n in ev.notices:
        print(f"note: {n}")
    return 0


def cmd_formats(args: argparse.Namespace) -> int:
    from src.analysis.core.readers import readers

    for r in readers():
        print(f"{r.name:18s} {r.help}")
    return 0


def write_verdicts(v, out: Path) -> list[Path]:
    """The engine's tables as CSVs in ``out`` (curves, pairs, unpaired, points, read) and the notices."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        save_table(getattr(v, n), out / f"{n}.csv") for n in ("curves", "pairs", "unpaired", "points", "read")
    ]
    (out / "notices.txt").write_text("".join(f"{n}\n" for n in v.notices), encoding="utf-8")
    return [*paths, out / "notices.txt"]


def print_verdicts(v, top: int = 25) -> None:
    from src.analysis.core.saving import print_table

    c = v.curves
    print("\ncurves: " + ", ".join(f"{n} {k}" for k, n in c["verdict"].value_counts().items()))
    if not v.pairs.empty:
        print("pairs:  " + ", ".join(f"{n} {k}" for k, n in v.pairs["verdict"].value_counts().items()))
    cols = [
        "family",
        "task",
        "metric",
        "n_sizes",
        "interval_source",
        "start",
        "end",
        "change_lo",
        "E",
        "E_lo",
        "verdict",
    ]
    print_table(
        f"strongest curves (of {len(c)}; ranked by the lower end of Eq. 1 among real rises):",
        c[cols].head(top),
    )
    if not v.pairs.empty:
        pcols = ["family", "task", "sharp", "smooth", "basis", "diff", "diff_lo", "diff_hi", "verdict"]
        print_table("sharp vs smooth (same outputs):", v.pairs[pcols].head(top))
    if not v.unpaired.empty:
        print(
            f"\n{len(v.unpaired)} sharp curve(s) without a smooth partner in the data: {v.unpaired['note'].iloc[0]}"
        )
    for n in v.notices:
        print(f"note: {n}")


def cmd_verdicts(args: argparse.Namespace) -> int:
    from src.analysis.core.inputs import read_evidence, settings_from_args
    from src.analysis.stats.engine import run_engine

    settings = settings_from_args(args)
    v = run_engine(read_evidence(args), settings)
    for p in write_verdicts(v, Path(args.out)):
        print(p)
    if args.wandb:
        from src.analysis.report.wandb_log import log_analysis

        print(log_analysis(v, name=Path(args.out).name, out_dir=Path(args.out)))
    print_verdicts(v)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from src.analysis.core.inputs import read_evidence, settings_from_args
    from src.analysis.report.audit import write_audit
    from src.analysis.stats.engine import run_engine
    from src.analysis.stats.premise_view import backtest_rows, premise_rows

    ev = read_evidence(args)
    v = run_engine(ev, settings_from_args(args))
    v.premise = premise_rows(v.curves, v.points)
    v.backtest = backtest_rows(v.curves, v.points)
    out = Path(args.out)
    tables = write_verdicts(v, out)
    for name in ("premise", "backtest"):
        tables.append(save_table(getattr(v, name), out / f"{name}.csv"))
    title = args.title or "Emergence audit: " + ", ".join(sorted(v.read["family"].astype(str))[:4]) + (
        " ..." if len(v.read) > 4 else "")  # fmt: skip
    paths = write_audit(v, out, title)
    for p in [*tables, *paths.values()]:
        print(p)
    if args.wandb:
        from src.analysis.report.wandb_log import log_analysis

        print(log_analysis(v, name=out.name, out_dir=out))
    print_verdicts(v, top=10)
    print(f"\nthe page: {paths['html']} (and {paths['pdf'].name}); open it in a browser, no server needed")
    return 0


def add_command(
    subparsers: argparse._SubParsersAction, name: str, *, func, help: str, description: str | None = None
) -> argparse.ArgumentParser:
    """One subcommand: its parser (help, description) with ``func`` as what it runs; add its flags to the result.
    The one way the analysis streams declare a command, so none can be left without a function."""
    p = subparsers.add_parser(name, help=help, description=description)
    p.set_defaults(func=func)
    return p


def _engine_args(p: argparse.ArgumentParser) -> None:
    """The inputs, --out, the W&B switch and the reader, shaping and settings flags of an engine command."""
    from src.analysis.core.inputs import add_reader_args

    p.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="files or folders in any known format"
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    p.add_argument(
        "--wandb", action="store_true", help="also log one W&B run with the tables and per-size values"
    )
    p.add_argument("--no-wandb", dest="wandb", action="store_false", help=argparse.SUPPRESS)
    add_reader_args(p)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "formats", func=cmd_formats,
        help="list the input formats the readers know (what --format takes)",
    )  # fmt: skip
    p = add_command(
        subparsers, "verdicts", func=cmd_verdicts,
        help="any inputs -> verdicts with intervals: emergent or not, sharp above smooth or not (the one engine)",
        description="Read any inputs (formats detected or --format), then per family, task and metric: the total "
        "change, Eq. 1 and the logistic width with intervals from what the data carry (items, seeds within the "
        "family, the source's stderr, the binomial of a share), the curve verdict, and per sharp metric and its "
        "smooth partner of the same outputs the paired verdict. Writes curves.csv, pairs.csv, unpaired.csv, "
        "points.csv, read.csv and notices.txt into --out (docs/analysis.md 'Verdict rules').",
    )  # fmt: skip
    _engine_args(p)

    p = add_command(
        subparsers, "audit", func=cmd_audit,
        help="any inputs -> one page (HTML + PDF) answering the paper's questions per family and task, with intervals",
        description="Read any inputs the readers know, run the one verdict engine, and write a self-contained "
        "audit.html (figures embedded, opens from disk) and audit.pdf: what was read, the verdict table (ranked by "
        "the strength of evidence), per family the sharp metrics beside their smooth partners with interval bars, "
        "chance and resolution lines, the premise check and a held-out backtest where a smooth loss exists, "
        "resolution warnings, one sentence per task; plus the CSVs of `verdicts`.",
    )  # fmt: skip
    _engine_args(p)
    p.add_argument("--title", default=None, help="the page's title (default: the families read)")

    p = add_command(
        subparsers, "ingest", func=cmd_ingest,
        help="any inputs -> one evidence table (Parquet + CSV; items table too), the input of every command",
        description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[-1].strip(),
    )  # fmt: skip
    _ingest_args(p)
    for name, (fmt, help_text) in FORMAT_COMMANDS.items():
        p = add_command(
            subparsers, name, func=cmd_ingest, help=f"{help_text} (= ingest --format {fmt})",
            description=f"The same as `ingest --format {fmt}` (its flags below; the old spellings of flags are "
            "accepted).",
        )  # fmt: skip
        _ingest_args(p)
        p.set_defaults(format=fmt)
        if name == "ingest-lm-eval":
            p.add_argument("--samples", dest="format", action="store_const", const="lm-eval-samples",
                           help="= --format lm-eval-samples: the samples_<task>_*.jsonl files (per item)")  # fmt: skip
        if name == "ingest-repeated-sampling":
            p.add_argument("--task", action=_SetTask, metavar="NAME",
                           help="= --set task=NAME: the task of every row (default: the file's stem)")  # fmt: skip


# The ingest-* commands are formats of ingest: the old name runs ``ingest --format <format>``.
FORMAT_COMMANDS: dict[str, tuple[str, str]] = {
    "ingest-lm-eval": ("lm-eval-results", "lm-evaluation-harness results JSON / --samples files -> evidence"),
    "ingest-olmo-ladder": ("olmo-ladder", "OLMo-ladder wide per-checkpoint CSVs -> evidence"),
    "ingest-inverse-scaling": ("inverse-scaling", "inverse-scaling per-item score folders -> evidence"),
    "ingest-repeated-sampling": ("repeated-sampling", "per-problem (n, c) counts -> pass@k"),
}


class _SetTask(argparse.Action):
    """``--task NAME``: the old spelling of ``--set task=NAME``."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.constants = [*(getattr(namespace, "constants", None) or []), f"task={values}"]


def _ingest_args(p: argparse.ArgumentParser) -> None:
    """The flags of ``ingest`` (and so of every ``ingest-<format>``)."""
    from src.analysis.core.inputs import add_reader_args

    p.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="files or folders in any known format"
    )
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output directory (writes evidence.parquet/.csv there; a name ending .csv/.parquet is a stem)")  # fmt: skip
    p.add_argument("--items-out", default=None, metavar="FILE",
                   help="write the items table (per-item inputs) to FILE instead of <stem>.items.parquet/.csv")  # fmt: skip
    add_reader_args(p, settings=False)
    g = p.add_argument_group("repeated-sampling counts: the tables written beside the evidence")
    g.add_argument("--m", type=int, nargs="+", default=[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
                   help="samples per problem of the 'what m samples would read' table (default 1 2 5 ... 1000)")  # fmt: skip
    g.add_argument("--n-resamples", "--n-boot", dest="n_resamples", type=int, default=2000,
                   help="bootstrap resamples of the problems for the pass@k intervals (default 2000)")  # fmt: skip
    g.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
