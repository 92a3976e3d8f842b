"""The input flags every evidence-reading command shares, and the one loader behind them.

An input is a sweep directory (our own runs: converted to evidence, per-item files reachable through ``run_dir``)
or a table file (CSV, TSV, Parquet, JSON, JSONL: ingested with the flags below). Metric declarations (YAML file or
globs) are put in force by ``python -m src.analysis`` around the command (:func:`declarations`).
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from pathlib import Path

import pandas as pd

from src.analysis.core import evidence
from src.analysis.core.ingest import IngestSpec, ingest_table, parse_mapping
from src.analysis.core.metrics import Declaration, declarations_from_flags, load_declarations
from src.results.errors import InputError


def expand_inputs(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    find: Callable[[Path], list[Path]],
    *,
    none_in_folder: str | None,
    fix_folder: str,
    fix_missing: str,
) -> list[Path]:
    """Files given directly, plus ``find(folder)`` for each folder given (the readers' one way to take inputs).

    A path that does not exist is an :class:`InputError` (``fix_missing``); so is a folder where ``find`` finds
    nothing (``holds no <none_in_folder>``, ``fix_folder``), unless ``none_in_folder`` is None.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = find(p)
            if not found and none_in_folder is not None:
                raise InputError(f"holds no {none_in_folder}", path=p, fix=fix_folder)
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise InputError("does not exist", path=p, fix=fix_missing)
    return files


def add_ingest_args(p: argparse.ArgumentParser) -> None:
    """Flags that shape a table file into the evidence table (docs/design.md "Evidence table")."""
    g = p.add_argument_group("table inputs (CSV, TSV, Parquet, JSON, JSONL; docs/design.md 'Evidence table')")
    g.add_argument("--column", action="append", default=[], metavar="CANONICAL=YOURS",
                   help="map an evidence column to yours, e.g. --column family=model_family --column scale=params "
                        "(without it: family, model, scale|size|num_params|params, task, metric, value|score, "
                        "replicate|seed, n_items, stderr, step, tokens, compute are taken by name)")  # fmt: skip
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CANONICAL=VALUE",
        dest="constants",
        help="one value for every row read, in any format, e.g. --set family=OLMo, or --set tokens=1.8e11 for "
        "results files without a token count",
    )
    g.add_argument("--wide", action="append", default=[], metavar="GLOBS",
                   help="the table is wide: these columns (names or globs, comma-separated) hold metric values; "
                        "each becomes rows metric=<column>, value=<cell>")  # fmt: skip
    g.add_argument(
        "--wide-regex",
        default=None,
        metavar="REGEX",
        help="split wide column names with named groups, e.g. '(?P<task>.+)_(?P<shots>\\d+)_(?P<metric>.+)'",
    )
    g.add_argument(
        "--task-columns",
        default=None,
        metavar="A,B,...",
        help="build the task key from several columns joined with '/' (e.g. task,prompt_type,shots)",
    )
    g.add_argument(
        "--replicate-column",
        default=None,
        metavar="NAME",
        help="column of the seed / replicate id (kept as bands); same as --column replicate=NAME",
    )
    g.add_argument(
        "--na-values",
        action="append",
        default=[],
        metavar="VALUE",
        help="cells meaning 'missing' (repeatable or comma-separated: -100, inf, n/a); dropped",
    )
    g.add_argument(
        "--size-map",
        default=None,
        metavar="FILE",
        help="file mapping model -> scale (table with model and scale|size columns, or YAML model: size)",
    )
    g.add_argument("--size-map-column", action="append", default=[], metavar="CANONICAL=YOURS",
                   help="map the size map's columns, e.g. --size-map-column model=Model --size-map-column "
                        "'scale=Model Size (B)' --size-map-column 'family=Model Family'")  # fmt: skip
    g.add_argument(
        "--size-scale", type=float, default=1.0, help="multiply scale (1e9 when sizes are in billions)"
    )
    g.add_argument("--sizes-from-names", action="store_true",
                   help="no scale column: read nominal sizes from model names (pythia-1.4b -> 1.4e9, opt-125m -> "
                        "1.25e8), and the family from the name without its size where no family column is given")  # fmt: skip


def add_declaration_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("metric declarations (names or globs; for metrics the registry does not know)")
    g.add_argument("--metrics-file", default=None, metavar="YAML",
                   help="YAML mapping metric (glob) -> {direction: higher|lower, kind: sharp|smooth, chance: x, "
                        "bounds: [lo, hi], label: text}")  # fmt: skip
    g.add_argument(
        "--lower-is-better", action="append", default=[], metavar="GLOBS", help="e.g. 'edit_*,brier*'"
    )
    g.add_argument(
        "--higher-is-better", action="append", default=[], metavar="GLOBS", help="e.g. 'bertscore*'"
    )
    g.add_argument(
        "--sharp",
        action="append",
        default=[],
        metavar="GLOBS",
        help="nonlinear/discontinuous in the per-item error rate (exact match, pass@k, ...)",
    )
    g.add_argument(
        "--smooth",
        action="append",
        default=[],
        metavar="GLOBS",
        help="continuous, about linear in it (token edit distance, Brier, BERTScore, ...)",
    )
    g.add_argument(
        "--chance", action="append", default=[], metavar="GLOB=VALUE", help="chance level of a metric"
    )
    g.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="GLOBS",
        help="use only these metrics (others in the inputs are ignored)",
    )


def declarations(args: argparse.Namespace) -> list[Declaration]:
    """The declarations a parsed command line makes (file first, flags after: flags win)."""
    out: list[Declaration] = []
    if getattr(args, "metrics_file", None):
        out += load_declarations(args.metrics_file)
    out += declarations_from_flags(
        lower_is_better=getattr(args, "lower_is_better", []) or [],
        higher_is_better=getattr(args, "higher_is_better", []) or [],
        sharp=getattr(args, "sharp", []) or [],
        smooth=getattr(args, "smooth", []) or [],
        chance=getattr(args, "chance", []) or [],
    )
    return out


def ingest_spec(args: argparse.Namespace) -> IngestSpec:
    columns = parse_mapping(args.column, "--column")
    if args.replicate_column:
        columns["replicate"] = args.replicate_column
    return IngestSpec(
        columns=columns,
        constants=parse_mapping(args.constants, "--set"),
        wide=list(args.wide),
        wide_regex=args.wide_regex,
        task_columns=[c.strip() for c in args.task_columns.split(",")] if args.task_columns else [],
        na_values=[v.strip() for item in args.na_values for v in str(item).split(",") if v.strip()],
        size_map=args.size_map,
        size_map_columns=parse_mapping(args.size_map_column, "--size-map-column", canonical_only=False),
        size_scale=args.size_scale,
        sizes_from_names=bool(getattr(args, "sizes_from_names", False)),
    )


def load_evidence(
    inputs: list[Path],
    args: argparse.Namespace,
    allow_incomplete: bool = False,
    allow_missing: bool = False,
    split: str | None = None,
) -> pd.DataFrame:
    """Sweep dirs and table files as one evidence table (dirs through :mod:`src.analysis.sweeps.loading`); the
    extra column ``input`` says which input each row came from (a sweep's label or the file's path). Only the
    metrics the command uses (``split``'s and those named without a split, narrowed by ``--metric``) must be
    logged by every run of a sweep; a gap in a metric it ignores is no error."""
    from src.analysis.core.ingest import is_table_file

    files = [Path(p) for p in inputs if is_table_file(p)]
    dirs = [Path(p) for p in inputs if not is_table_file(p)]  # an absent path without a table suffix: a sweep
    parts = []
    if dirs:
        from src.analysis.sweeps.loading import load_sweeps, require_complete_metrics

        ev = load_sweeps(dirs, allow_incomplete=allow_incomplete)
        globs = [g.strip() for v in getattr(args, "metric", []) or [] for g in str(v).split(",") if g.strip()]
        used = [
            m
            for m in ev["metric"].unique()
            if (split is None or (m.partition("/")[0] if "/" in m else "") in ("", split))
            and (not globs or any(fnmatchcase(m, g) for g in globs))
        ]
        require_complete_metrics(ev, metrics=used, allow=allow_missing)
        parts.append(ev.assign(input=ev["source"]))
    if files:
        spec = ingest_spec(args)
        tables = [ingest_table(f, spec).assign(input=str(f)) for f in files]
        ev = pd.concat(tables, ignore_index=True)
        n_missing = sum(t.attrs.get("n_missing_dropped", 0) for t in tables)
        print(f"read {len(ev)} evidence rows from {len(files)} table(s)"
              + (f"; {n_missing} missing value(s) dropped" if n_missing else ""))  # fmt: skip
        parts.append(ev)
    if not parts:
        raise InputError("no input given", fix="give sweep dirs or table files")
    ev = (
        evidence.normalize(pd.concat(parts, ignore_index=True), source="inputs")
        if len(parts) > 1
        else parts[0]
    )
    return select_metrics(ev, getattr(args, "metric", []) or [])


def select_metrics(ev: pd.DataFrame, globs: list[str]) -> pd.DataFrame:
    """Rows whose metric matches one of ``globs`` (all rows when none is given); a glob matching nothing warns."""
    globs = [g.strip() for v in globs for g in str(v).split(",") if g.strip()]
    if not globs:
        return ev
    names = ev["metric"].unique()
    unused = [g for g in globs if not any(fnmatchcase(m, g) for m in names)]
    if unused:
        warnings.warn(f"--metric {unused} match no metric of the inputs", stacklevel=2)
    keep = ev["metric"].map(lambda m: any(fnmatchcase(m, g) for g in globs))
    if not keep.any():
        raise InputError(
            f"--metric {globs} match no metric (the inputs have {sorted(names)[:20]})", fix="fix the globs"
        )
    return ev[keep].reset_index(drop=True)


# ---- the one way every command reads its inputs: the reader registry, shaping and the verdict settings ----
def add_shaping_args(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The row-shaping flags (:class:`src.analysis.core.shaping.Shaping`) every reading command takes; returns the
    group (``add_reader_args`` adds ``--task-mean`` to it)."""
    s = p.add_argument_group("shaping (docs/design.md 'Shaping'; every change is counted in the notices)")
    s.add_argument("--where", action="append", default=[], metavar="COL=GLOB",
                   help="keep rows whose column matches (COL!=GLOB drops them), e.g. --where 'task=arc_*'")  # fmt: skip
    s.add_argument("--drop-model", action="append", default=[], metavar="GLOB", help="leave models out")
    s.add_argument("--family-map", default=None, metavar="FILE",
                   help="YAML model-glob: family (or [families]: a model may sit in several), or a model,family table")  # fmt: skip
    return s


def shaping_of(args: argparse.Namespace):
    """The :class:`src.analysis.core.shaping.Shaping` the shaping flags give (none given on a command without them)."""
    from src.analysis.core.shaping import Shaping

    return Shaping(where=getattr(args, "where", None) or [], drop_models=getattr(args, "drop_model", None) or [],
                   family_map=getattr(args, "family_map", None), task_means=getattr(args, "task_mean", None) or [])  # fmt: skip


def add_reader_args(p: argparse.ArgumentParser, settings: bool = True) -> None:
    """Flags of :func:`read_evidence`: the format, what readers need, shaping, declarations and (``settings``)
    the verdict engine's numbers. Table-shaping flags (--column, --wide, ...) come with them."""
    g = p.add_argument_group("reading (any format the readers know: `python -m src.analysis formats`)")
    g.add_argument("--format", default=None, metavar="NAME",
                   help="read every input in this format instead of detecting it (see `formats`)")  # fmt: skip
    g.add_argument("--family", default=None, metavar="NAME",
                   help="one family name for every model read (else from the source: model names, folders)")  # fmt: skip
    g.add_argument("--k", default=None, nargs="+", metavar="K",
                   help="repeated-sampling counts: the k of pass@k, e.g. --k 1 10 or --k 1,10 (default 1 10 100 up "
                        "to the samples drawn)")  # fmt: skip
    g.add_argument("--tokens-per-step", type=float, default=None, metavar="T",
                   help="lm-eval checkpoints: training tokens per optimizer step (fills the tokens column)")  # fmt: skip
    g.add_argument("--replicate-from-folder", action="store_true",
                   help="lm-eval results: each file's folder is a replicate (repeated evaluations of one model)")  # fmt: skip
    g.add_argument("--allow-incomplete", action="store_true", help="sweep dirs: use the finished runs of an unfinished sweep")  # fmt: skip
    g.add_argument("--allow-missing", action="store_true", help="sweep dirs: go on when runs lack metrics their mates log")  # fmt: skip
    from src.analysis.families.readers.generations import add_generation_args

    add_generation_args(p)  # --target-rule, --model-from-name, ... of format generations
    s = add_shaping_args(p)
    s.add_argument("--task-mean", action="append", default=[], metavar="NAME=GLOB",
                   help="add task NAME, the mean over the tasks matching GLOB (weighted by items), e.g. 'mmlu=mmlu_*'")  # fmt: skip
    if settings:
        v = p.add_argument_group(
            "verdict settings (defaults: docs/analysis.md 'Verdict rules'; a YAML file with --settings)"
        )
        v.add_argument("--settings", default=None, metavar="YAML",
                       help="threshold, level, n_resamples, n_width_resamples, seed, min_rise, min_ratio")  # fmt: skip
        v.add_argument(
            "--n-resamples", type=int, default=None, metavar="B", help="resamples per curve (default 1000)"
        )
        v.add_argument("--seed", type=int, default=None, help="resampling seed (default 0)")
        v.add_argument(
            "--threshold", type=float, default=None, help="Eq. 1 threshold of 'emergent' (default 10)"
        )
        v.add_argument("--min-rise", type=float, default=None,
                       help="a real rise exceeds this share of the metric's range (default 0.05)")  # fmt: skip
        v.add_argument("--min-ratio", type=float, default=None,
                       help="... or, on a metric with floor 0 and no chance level, at least this factor (default 2)")  # fmt: skip
    add_ingest_args(p)
    add_declaration_args(p)


def read_size_map_file(
    path: str | os.PathLike | None, columns: dict[str, str] | None = None, size_scale: float = 1.0
) -> dict[str, float]:
    """model -> parameters, by the one size-map reader (:func:`src.analysis.core.ingest.read_size_table`: a YAML
    mapping or a table with model and scale columns under any name the table reader recognises, or mapped by
    ``columns``, i.e. ``--size-map-column``), in parameters (``size_scale``: the unit of a plain size column)."""
    if not path:
        return {}
    from src.analysis.core.ingest import read_size_table

    sizes = read_size_table(path, columns, size_scale)
    params = sizes["scale"] * size_scale  # --size-scale: the unit of the table's plain size column
    return dict(zip(sizes["model"], params, strict=True))


def read_evidence(args: argparse.Namespace):
    """The inputs of a command (``args.inputs``) through the reader registry, shaped as its flags say
    (:func:`shaping_of`; a command without the shaping flags reads unshaped)."""
    from src.analysis.core.readers import ReadOptions, read_inputs
    from src.analysis.families.readers.generations import generation_options

    ks = None
    if getattr(args, "k", None):
        given = args.k if isinstance(args.k, list | tuple) else [args.k]
        try:
            ks = tuple(int(k) for item in given for k in str(item).split(",") if k.strip())
        except ValueError:
            raise InputError(
                f"--k expects whole numbers separated by commas, got {args.k!r}", fix="e.g. --k 1,10,100"
            ) from None
    spec = ingest_spec(args)
    options = ReadOptions(
        size_map=read_size_map_file(spec.size_map, spec.size_map_columns, spec.size_scale),
        family=getattr(args, "family", None),
        extra={"spec": spec, "ks": ks, "tokens_per_step": getattr(args, "tokens_per_step", None),
               "replicate_from_folder": getattr(args, "replicate_from_folder", False),
               "allow_incomplete": getattr(args, "allow_incomplete", False),
               "allow_missing": getattr(args, "allow_missing", False), **generation_options(args),
               "tables": getattr(args, "derived_tables", None)},
    )  # fmt: skip
    ev = read_inputs(args.inputs, getattr(args, "format", None), options, shaping_of(args))
    globs = [g.strip() for v in getattr(args, "metric", []) or [] for g in str(v).split(",") if g.strip()]
    if globs:
        ev.table = select_metrics(ev.table, globs)
    return ev


def settings_from_args(args: argparse.Namespace):
    from src.analysis.stats.engine import Settings

    return Settings.from_yaml(getattr(args, "settings", None), n_resamples=getattr(args, "n_resamples", None),
                              seed=getattr(args, "seed", None), threshold=getattr(args, "threshold", None),
                              min_rise=getattr(args, "min_rise", None),
                              min_ratio=getattr(args, "min_ratio", None))  # fmt: skip
