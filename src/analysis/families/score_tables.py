"""Read any lab's evaluation table (one row per model x task x metric) into the meta-analysis' long format.

The long format has the columns ``task, metric, family, model, size, score`` (``size``: parameters). Other column
names are mapped with ``columns={"family": "model_family", ...}``; a size in billions is rescaled with
``size_scale=1e9``. Readers for the two open-model stand-in tables of ``$DATA_DIR/llm/standins`` sit on top.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from src.results.errors import InputError

CANONICAL = ("task", "metric", "family", "model", "size", "score")
STANDINS = "llm/standins"
EXPEMERGENCE = f"{STANDINS}/expemergence_mc_accuracy_vs_brier_open_models.csv"
OBSSCALING_EMERGENT = f"{STANDINS}/obsscaling_base_llm_emergent_capability_eval.csv"
OBSSCALING_BENCHMARK = f"{STANDINS}/obsscaling_base_llm_benchmark_eval.csv"
EXPEMERGENCE_COLUMNS = {"family": "model_family", "size": "n_params_billion"}


class ScoreTableError(InputError):
    """An evaluation table cannot be read into the long format."""


def _read_any(path: Path) -> pd.DataFrame:
    """The one table reader (:func:`src.analysis.core.ingest.read_any`), formats named by suffix."""
    from src.analysis.core.ingest import TABLE_SUFFIXES, read_any

    suffix = path.suffix.lower()
    if path.is_file() and suffix not in (*TABLE_SUFFIXES, ".gz"):
        raise ScoreTableError(
            f"{path}: unknown table format {suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}"
        )
    return read_any(path)


def validate_long(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check a long table (types, positive finite sizes, one score per model x task x metric); return it clean."""
    missing = [c for c in CANONICAL if c not in df.columns]
    if missing:
        raise ScoreTableError(
            f"{source}: missing column(s) {missing}; present: {list(df.columns)}. Map your names with "
            f"columns={{canonical: yours}} (CLI: --column canonical=yours)"
        )
    out = df.copy()
    for col in ("task", "metric", "family", "model"):
        if out[col].isna().any():
            row = int(np.flatnonzero(out[col].isna().to_numpy())[0])
            raise ScoreTableError(f"{source}: column {col!r} is empty in data row {row + 1}")
        out[col] = out[col].astype(str)
    for col in ("size", "score"):
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna() & out[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ScoreTableError(
                f"{source}: column {col!r} is not numeric in data row {row + 1} ({out[col].iloc[row]!r})"
            )
        out[col] = values.astype(float)
    sizes = out["size"].to_numpy()
    if not (np.isfinite(sizes) & (sizes > 0)).all():
        row = int(np.flatnonzero(~(np.isfinite(sizes) & (sizes > 0)))[0])
        raise ScoreTableError(
            f"{source}: size must be a positive number, data row {row + 1} has {sizes[row]}"
        )
    dup = out.duplicated(["task", "metric", "family", "model"], keep=False)
    if dup.any():
        first = out[dup].iloc[0]
        raise ScoreTableError(
            f"{source}: more than one score for task={first.task!r} metric={first.metric!r} "
            f"family={first.family!r} model={first.model!r}; keep one row per model x task x metric"
        )
    # Rows with a missing score are models not evaluated on that task: dropped, not imputed.
    return out[out["score"].notna()].reset_index(drop=True)


def read_long_table(
    path: str | os.PathLike,
    columns: Mapping[str, str] | None = None,
    size_scale: float = 1.0,
    source: str | None = None,
) -> pd.DataFrame:
    """Long table (``CANONICAL`` columns first, extra columns kept) from a CSV/TSV/Parquet file.

    ``columns`` maps canonical names to the file's names; ``size_scale`` multiplies the size column (1e9 for
    billions). ``source`` (default: the file name) fills a ``source`` column so tables can be pooled.
    """
    path = Path(path)
    raw = _read_any(path)
    columns = dict(columns or {})
    unknown = [k for k in columns if k not in CANONICAL]
    if unknown:
        raise ScoreTableError(f"column mapping names {unknown}, which are not canonical columns {CANONICAL}")
    absent = [v for v in columns.values() if v not in raw.columns]
    if absent:
        raise ScoreTableError(
            f"{path}: mapped column(s) {absent} not in the file; present: {list(raw.columns)}"
        )
    # A canonical name that is mapped from another column replaces the file's own column of that name.
    clashes = [c for c, v in columns.items() if c in raw.columns and v != c and c not in columns.values()]
    renamed = raw.drop(columns=clashes).rename(columns={v: k for k, v in columns.items()})
    out = validate_long(renamed, str(path))
    out["size"] = out["size"] * size_scale
    out.insert(0, "source", source or path.stem)
    return out[["source", *CANONICAL, *[c for c in out.columns if c not in ("source", *CANONICAL)]]]


def data_path(relative: str, data_dir: str | os.PathLike | None = None) -> Path:
    """``$DATA_DIR/<relative>`` (or under ``data_dir``), with an error that says what to set when it is absent."""
    base = data_dir if data_dir is not None else os.environ.get("DATA_DIR")
    if base is None:
        raise InputError(
            f"DATA_DIR is not set, so {relative} cannot be found",
            fix=f"export DATA_DIR=<dir holding {relative}>, or give the file(s) explicitly",
        )
    path = Path(base) / relative
    if not path.exists():
        raise InputError(
            "does not exist", path=path, fix=f"DATA_DIR={base} should hold {relative} (see its PROVENANCE.md)"
        )
    return path


def read_expemergence(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The ExpEmergence stand-in: MC grade and target-only Brier scores of open model families (size: params)."""
    path = Path(path) if path is not None else data_path(EXPEMERGENCE)
    return read_long_table(path, columns=EXPEMERGENCE_COLUMNS, size_scale=1e9, source="expemergence")


_WIDE = re.compile(r"^(?P<task>.+)_(?P<shots>\d+)_(?P<metric>acc|exact_match|bleu)$")


def read_obsscaling_emergent(
    emergent: str | os.PathLike | None = None, benchmark: str | os.PathLike | None = None
) -> pd.DataFrame:
    """ObsScaling's 2-shot scores on Wei et al.'s emergent tasks, melted to long format.

    Its wide columns ``<task>_<shots>_<metric>`` become rows; family and size (billions) come from joining the
    benchmark table on ``Model``. A model missing from that table is an error, not a silent drop.
    """
    emergent = Path(emergent) if emergent is not None else data_path(OBSSCALING_EMERGENT)
    benchmark = Path(benchmark) if benchmark is not None else data_path(OBSSCALING_BENCHMARK)
    wide, meta = _read_any(emergent), _read_any(benchmark)
    for df, path, need in (
        (wide, emergent, ["Model"]),
        (meta, benchmark, ["Model", "Model Family", "Model Size (B)"]),
    ):
        miss = [c for c in need if c not in df.columns]
        if miss:
            raise ScoreTableError(f"{path}: missing column(s) {miss}; present: {list(df.columns)}")
    score_cols = [c for c in wide.columns if c != "Model"]
    odd = [c for c in score_cols if not _WIDE.match(c)]
    if odd:
        raise ScoreTableError(
            f"{emergent}: column(s) {odd} are not of the form <task>_<shots>_<acc|exact_match|bleu>"
        )
    unknown = sorted(set(wide.Model) - set(meta.Model))
    if unknown:
        raise ScoreTableError(f"{emergent}: model(s) {unknown[:5]} have no family/size row in {benchmark}")
    long = wide.melt(id_vars="Model", value_vars=score_cols, var_name="column", value_name="score")
    parts = long["column"].str.extract(_WIDE)
    long = long.assign(task=parts["task"], metric=parts["metric"], shots=parts["shots"].astype(int))
    long = long.merge(meta[["Model", "Model Family", "Model Size (B)"]], on="Model", how="left")
    long = long.rename(columns={"Model": "model", "Model Family": "family", "Model Size (B)": "size"})
    out = validate_long(long[[*CANONICAL, "shots"]], str(emergent))
    out["size"] = out["size"] * 1e9
    out.insert(0, "source", "obsscaling")
    return out


def read_standins(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Both stand-in tables pooled (``source`` says which), from ``$DATA_DIR`` or ``data_dir``."""
    return pd.concat(
        [
            read_expemergence(data_path(EXPEMERGENCE, data_dir)),
            read_obsscaling_emergent(
                data_path(OBSSCALING_EMERGENT, data_dir), data_path(OBSSCALING_BENCHMARK, data_dir)
            ),
        ],
        ignore_index=True,
    )
