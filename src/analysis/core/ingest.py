"""Any lab's evaluation table into the evidence table (:mod:`src.analysis.core.evidence`), without code.

A table is read from CSV, TSV, Parquet, JSON or JSON Lines (by suffix; ``.gz`` allowed for text formats) and
shaped by an :class:`IngestSpec`:

- ``columns``: canonical name -> your column (``family=model_family``); without it a canonical name is taken
  as is, and a few common names are recognised (``size``/``num_params``/``params`` for ``scale``, ``score`` for
  ``value``, ``seed`` for ``replicate``, ``model_family`` for ``family``; in any case: ``Model``), as are sizes,
  tokens and compute whose column name carries the unit (``n_params_billion``, ``pretrain_tokens_trillion``,
  ``train_flops_1e21``);
- ``constants``: canonical name -> one value for every row (``family=OLMo``, ``metric=acc``);
- ``wide``: globs of metric columns (``'exact_match,bertscore_*'``): each matched column becomes rows
  ``metric=<column>, value=<cell>``; ``wide_regex`` splits the column name instead, with named groups ``task``,
  ``metric`` and any others (kept as columns, usable in ``task_columns``);
- ``task_columns``: several columns joined with ``/`` into one task key (``task,prompt_type,shots``);
- ``na_values``: sentinel cells that mean "missing" (``-100``, ``inf``): they become NaN and are dropped;
- ``size_map``: a file mapping ``model`` (and optionally ``family``) to ``scale`` (CSV/Parquet/JSON table, or a YAML
  mapping ``model: size``), joined on the model; ``size_map_columns`` maps its columns like ``columns``;
- ``size_scale``: multiply scale (``1e9`` for sizes in billions).

Every problem is an :class:`InputError` naming the file (and the row or column) and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core import evidence
from src.results.errors import ROW, InputError, raise_at_first, require_columns

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl", ".ndjson")
ALIASES = {
    "scale": ("size", "num_params", "params", "n_params"),
    "value": ("score",),
    "replicate": ("seed",),
    "family": ("model_family",),
}
# Columns whose name carries the unit (n_params_billion, "Model Size (B)", pretrain_tokens_trillion,
# "FLOPs (1E21)"): read as scale / tokens / compute times the unit, where the table has no such column of its own.
# Names are compared lower-case with every run of other characters as one "_" ("Model Size (B)" -> model_size_b).
_UNIT = r"(?:_in)?_?(?P<unit>thousands?|millions?|billions?|trillions?|[kmbt]|1?e\d+)"
UNIT_COLUMNS = {
    "scale": re.compile(r"(?:n_|num_)?(?:params|parameters|param_count|size|model_size)" + _UNIT),
    "tokens": re.compile(r"(?:(?:pre)?train(?:ing)?_)?(?:tokens?|data_size|data_tokens)" + _UNIT),
    "compute": re.compile(r"(?:(?:pre)?train(?:ing)?_)?(?:flops|compute)" + _UNIT),
}
_UNITS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9, "t": 1e12,
          "trillion": 1e12}  # fmt: skip


def _plain(name: object) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def _unit_factor(unit: str) -> float:
    unit = unit.rstrip("s") if len(unit) > 1 else unit
    return float("1" + unit) if unit.startswith("e") else float(unit) if unit[:1].isdigit() else _UNITS[unit]


def recognise_columns(df: pd.DataFrame, taken=(), size_scale: float = 1.0) -> pd.DataFrame:
    """The table's own names for the canonical columns the table lacks (and ``taken``, the ones the user mapped,
    do not name): an alias (``score`` for ``value``; ALIASES), then the canonical name or an alias written
    otherwise (``Model``, ``Model Family``), then a size, tokens or compute column whose name carries the unit
    (UNIT_COLUMNS; with ``size_scale`` given the scale column is renamed only, the flag being the unit). A name that
    two columns could be is left to ``--column``."""
    for canon, aliases in ALIASES.items():
        if canon not in df.columns and canon not in taken:
            for a in aliases:
                if a in df.columns:
                    df = df.rename(columns={a: canon})
                    break
    for canon in CANONICAL:
        if canon in df.columns or canon in taken:
            continue
        accepted = {canon, *ALIASES.get(canon, ())}
        found = [c for c in df.columns if _plain(c) in accepted]
        if len(found) == 1:
            df = df.rename(columns={found[0]: canon})
    for canon, pattern in UNIT_COLUMNS.items():
        if canon in df.columns or canon in taken:
            continue
        found = [c for c in df.columns if pattern.fullmatch(_plain(c))]
        if len(found) != 1:
            continue
        (col,) = found
        factor = _unit_factor(pattern.fullmatch(_plain(col)).group("unit"))
        if canon == "scale" and size_scale != 1.0:
            factor = 1.0
        numbers = pd.to_numeric(df[col], errors="coerce")
        df = df.drop(columns=[col]).assign(**{canon: numbers * factor if numbers.notna().any() else df[col]})
    return df


CANONICAL = [*evidence.COLUMNS]
COUNT_COLUMNS = ["problem", "n", "c"]  # per-problem repeated-sampling counts


@dataclass
class IngestSpec:
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    wide: list[str] = field(default_factory=list)
    wide_regex: str | None = None
    task_columns: list[str] = field(default_factory=list)
    na_values: list[str] = field(default_factory=list)
    size_map: str | os.PathLike | None = None
    size_map_columns: dict[str, str] = field(default_factory=dict)
    size_scale: float = 1.0
    sizes_from_names: bool = False  # scale (and family, where absent) from model names: pythia-1.4b -> 1.4e9


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def read_any(path: str | os.PathLike, na_values: Iterable[str] = ()) -> pd.DataFrame:
    """A table file as a DataFrame: CSV/TSV/Parquet/JSON/JSONL by suffix; every failure an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("table file does not exist", path=path, fix="check the path")
    suffix = _suffix(path)
    na = [str(v) for v in na_values]
    try:
        if suffix in (".csv", ".tsv"):
            # low_memory=False: types per whole column, not per chunk (a replicate column with ids in some rows
            # only read as mixed types and printed a DtypeWarning)
            df = pd.read_csv(
                path, sep="\t" if suffix == ".tsv" else ",", na_values=na or None, low_memory=False
            )
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson"):
            df = pd.read_json(path, lines=True)
        elif suffix == ".json":
            try:
                df = pd.read_json(path)
            except ValueError:
                df = pd.read_json(path, lines=True)
        else:
            raise InputError(
                f"unknown table format {suffix or '(no suffix)'!r}",
                path=path,
                fix=f"use one of {', '.join(TABLE_SUFFIXES)}",
            )
    except pd.errors.EmptyDataError as err:
        raise InputError("table file is empty", path=path, fix="give a header row and data rows") from err
    except pd.errors.ParserError as err:
        line = re.search(r"line (\d+)", str(err))
        raise InputError(
            f"cannot parse the table ({str(err).strip().splitlines()[-1]})",
            path=path,
            where=f"line {line.group(1)}" if line else None,
            fix="check the separator and quoting of that line",
        ) from err
    except ImportError as err:  # pyarrow is a dependency; a broken install still gets one line
        raise InputError(
            f"reading needs {err.name or 'pyarrow'}", path=path, fix="pip install pyarrow"
        ) from err
    except (ValueError, OSError, UnicodeDecodeError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(
            f"cannot read the table ({type(err).__name__}: {str(err).strip().splitlines()[0][:200]})",
            path=path,
            fix="check that the file is complete and in the format its suffix says",
        ) from err
    if df.empty:
        raise InputError("table has no data rows", path=path, fix="give at least one row")
    if suffix in (".csv", ".tsv"):
        check_last_line(path, "\t" if suffix == ".tsv" else ",")
    df.columns = [str(c) for c in df.columns]
    if na:
        df = _sentinels_to_nan(df, na)
    return df


def check_last_line(path: Path, sep: str) -> None:
    """A text table cut short (a copy or download that stopped) ends in a line with fewer fields than the header
    and no line end: an :class:`InputError` naming that line, instead of a last row read with missing cells. (A
    cut inside the last number of a whole line cannot be told from a file written without a final newline, as some
    upstream files are; compressed files are checked by their decompressor.)"""
    import csv

    if path.suffix.lower() == ".gz":
        return
    with open(path, "rb") as fh:
        head = fh.readline()
        size = fh.seek(0, 2)
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    lines = [ln for ln in tail.split(b"\n") if ln.strip()]
    if not lines or not head.strip() or tail.endswith(b"\n"):
        return
    try:
        header = next(csv.reader([head.decode("utf-8", "replace")], delimiter=sep))
        last = next(csv.reader([lines[-1].decode("utf-8", "replace")], delimiter=sep))
    except (csv.Error, StopIteration):
        return
    if len(last) < len(header):
        with open(path, "rb") as fh:
            n_lines = sum(1 for _ in fh)
        raise InputError(
            f"the last line has {len(last)} of the header's {len(header)} fields and no line end: the file looks "
            "cut short (an interrupted copy or download)",
            path=path,
            where=f"line {n_lines}",
            fix="copy the file again in full",
        )


def _sentinels_to_nan(df: pd.DataFrame, na_values: list[str]) -> pd.DataFrame:
    """Cells equal to a sentinel (as a number, or as text) become NaN, in every column."""
    numbers = []
    for v in na_values:
        try:
            numbers.append(float(v))
        except ValueError:
            pass
    out = df.copy()
    for col in out.columns:
        s = out[col]
        mask = s.astype(str).str.strip().isin(na_values)
        if numbers and pd.api.types.is_numeric_dtype(s):
            mask |= s.isin(numbers)
        if mask.any():
            out[col] = s.mask(mask)
    return out


def _mapping_items(items: Iterable[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key or not value:
            raise InputError(
                f"{flag} expects NAME=VALUE, got {item!r}", fix=f"e.g. {flag} family=model_family"
            )
        out[key.strip()] = value
    return out


def parse_mapping(items: Iterable[str], flag: str, canonical_only: bool = True) -> dict[str, str]:
    """``['family=model_family', ...]`` as a dict, checking the left sides are evidence columns (or the per-problem
    counts' ``problem``, ``n``, ``c``, which the repeated-sampling reader maps the same way)."""
    out = _mapping_items(items, flag)
    if canonical_only:
        known = [*CANONICAL, *COUNT_COLUMNS]
        bad = [k for k in out if k not in known and k != "size" and k != "score"]
        if bad:
            raise InputError(f"{flag} names {bad}, which are not evidence columns", fix=f"use {known}")
    return {("scale" if k == "size" else "value" if k == "score" else k): v for k, v in out.items()}


def _split_globs(values: Iterable[str]) -> list[str]:
    return [g.strip() for v in values for g in str(v).split(",") if g.strip()]


def _rename(df: pd.DataFrame, columns: Mapping[str, str], path: Path, what: str = "column") -> pd.DataFrame:
    absent = [v for v in columns.values() if v not in df.columns]
    if absent:
        raise InputError(
            f"mapped {what}(s) {absent} not in the table (it has {list(df.columns)})",
            path=path,
            fix="fix the --column mapping",
        )
    # a canonical name mapped from another column replaces the table's own column of that name
    clashes = [c for c, v in columns.items() if c in df.columns and v != c and c not in columns.values()]
    out = df.drop(columns=clashes)
    return out.rename(columns={v: k for k, v in columns.items()})


def _melt_wide(df: pd.DataFrame, spec: IngestSpec, path: Path) -> pd.DataFrame:
    globs = _split_globs(spec.wide)
    value_cols = [c for c in df.columns if any(fnmatchcase(c, g) for g in globs)]
    unmatched = [g for g in globs if not any(fnmatchcase(c, g) for c in df.columns)]
    if unmatched:
        raise InputError(
            f"--wide glob(s) {unmatched} match no column (columns: {list(df.columns)})",
            path=path,
            fix="name the metric columns (globs allowed, e.g. 'acc_*')",
        )
    ids = [c for c in df.columns if c not in value_cols]
    long = df.melt(id_vars=ids, value_vars=value_cols, var_name="_column", value_name="value")
    if spec.wide_regex:
        try:
            rx = re.compile(spec.wide_regex)
        except re.error as err:
            raise InputError(
                f"--wide-regex is not a regular expression ({err})", fix="fix the pattern"
            ) from err
        parts = long["_column"].str.extract(rx)
        odd = sorted(set(long.loc[parts.isna().all(axis=1), "_column"]))
        if odd:
            raise InputError(
                f"column(s) {odd[:10]} do not match --wide-regex {spec.wide_regex!r}",
                path=path,
                fix="narrow --wide to the columns the pattern describes, or fix the pattern",
            )
        for name in rx.groupindex:
            long[name] = parts[name]
    if "metric" not in long.columns:
        long["metric"] = long["_column"]
    return long.drop(columns="_column")


def read_size_table(
    path: str | os.PathLike, columns: Mapping[str, str] | None = None, size_scale: float = 1.0
) -> pd.DataFrame:
    """The size map, the one reader every command uses: ``model``, ``scale`` (and ``family``, ``tokens``,
    ``compute`` where the table has them) from a YAML/JSON mapping ``model: size`` or a table whose columns are named
    as any table's may be (:func:`recognise_columns`: size, params, Model, "Model Size (B)" ...; ``columns`` maps
    others, as ``--size-map-column``; a two-column table without such names is read as model, scale). Every size a
    positive finite number, else one error naming the model."""
    map_path = Path(path)
    if not map_path.is_file():
        raise InputError("size map does not exist", path=map_path, fix="check the path")
    columns = dict(columns or {})
    if _suffix(map_path) in (".yaml", ".yml", ".json"):
        import yaml

        try:
            data = yaml.safe_load(map_path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise InputError(
                "size map is not valid YAML", path=map_path, fix="write model: size lines"
            ) from err
        if not isinstance(data, dict):
            raise InputError(
                "size map must be a YAML mapping model: size", path=map_path, fix="write model: size lines"
            )
        sizes = pd.DataFrame({"model": [str(k) for k in data], "scale": list(data.values())})
    else:
        raw = read_any(map_path)
        sizes = recognise_columns(_rename(raw, columns, map_path), columns, size_scale)
        if not {"model", "scale"} <= set(sizes.columns) and raw.shape[1] == 2 and not columns:
            sizes = raw.set_axis(["model", "scale"], axis=1)  # model, parameters by position
    missing = [c for c in ("model", "scale") if c not in sizes.columns]
    if missing:
        raise InputError(
            f"size map lacks column(s) {missing} (has {list(sizes.columns)})",
            path=map_path,
            fix="map them with --size-map-column model=YOURS --size-map-column scale=YOURS",
        )
    scale = pd.to_numeric(sizes["scale"], errors="coerce")
    bad = ~((scale > 0) & (scale < 1e16))
    if bad.any():
        k, v = sizes.loc[bad, "model"].iloc[0], sizes.loc[bad, "scale"].iloc[0]
        what = "is not a number" if pd.isna(scale[bad].iloc[0]) else "must be a positive finite number, got"
        raise InputError(f"size of {str(k)!r} {what}{':' if what.endswith('number') else ''} {v!r}",
                         path=map_path, fix="give parameters")  # fmt: skip
    keep = ["model", "scale"] + [c for c in ("family", "tokens", "compute") if c in sizes.columns]
    return sizes.assign(model=sizes["model"].astype(str), scale=scale.astype(float))[keep].drop_duplicates(
        "model"
    )


def _apply_size_map(df: pd.DataFrame, spec: IngestSpec, path: Path) -> pd.DataFrame:
    map_path = Path(spec.size_map)
    sizes = read_size_table(map_path, spec.size_map_columns, spec.size_scale)
    keep = list(sizes.columns)
    if "model" not in df.columns:
        raise InputError(
            "table has no model column to join the size map on",
            path=path,
            fix="map one with --column model=YOURS",
        )
    df = df.assign(model=df["model"].astype(str))
    unknown = sorted(set(df["model"]) - set(sizes["model"]))
    if unknown:
        raise InputError(
            f"model(s) {unknown[:5]}{' ...' if len(unknown) > 5 else ''} have no size in the size map",
            path=map_path,
            fix="add a row for each model",
        )
    joined = [c for c in keep[1:] if c in df.columns]
    return df.drop(columns=joined).merge(sizes, on="model", how="left")


def ingest_table(
    path: str | os.PathLike, spec: IngestSpec | None = None, df: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One table file as an evidence table (checked by :func:`src.analysis.core.evidence.normalize`).
    Rows whose value is missing (empty, NaN or a sentinel) are dropped; ``source`` is the file's path. ``df``:
    the file already read (a reader that reshaped it first)."""
    spec = spec or IngestSpec()
    path = Path(path)
    df = read_any(path, spec.na_values) if df is None else df
    df = _rename(df, spec.columns, path)
    if spec.wide:
        df = _melt_wide(df, spec, path)
    df = recognise_columns(df, spec.columns, spec.size_scale)
    for key, value in spec.constants.items():
        df[key] = value
    if spec.task_columns:
        absent = [c for c in spec.task_columns if c not in df.columns]
        if absent:
            raise InputError(
                f"--task-columns {absent} not in the table (it has {list(df.columns)})",
                path=path,
                fix="name existing columns",
            )
        parts = df[spec.task_columns].astype(str).where(df[spec.task_columns].notna(), "")
        df["task"] = parts.agg("/".join, axis=1)
    if spec.size_map is not None:
        df = _apply_size_map(df, spec, path)
    if spec.sizes_from_names and "model" in df.columns:
        from src.analysis.families.readers.lm_eval import sizes_and_families

        sizes, families = sizes_and_families(df["model"])
        if "scale" not in df.columns:
            raise_at_first(sizes.isna(), lambda i: f"model {df['model'].iloc[i]!r} has no size in its name", path=path,
                           where=ROW, fix="give a --size-map for it")  # fmt: skip
            df["scale"] = sizes
        if "family" not in df.columns:
            df["family"] = families
    hints = {"scale": "--column scale=YOURS or --size-map FILE", "metric": "--wide GLOB (metric columns)",
             "value": "--column value=YOURS or --wide GLOB", "task": "--column task=YOURS or --task-columns A,B",
             "family": "--column family=YOURS or --set family=NAME", "model": "--column model=YOURS"}  # fmt: skip
    if spec.wide and not spec.wide_regex:  # wide columns that are tasks (ARC, HellaSwag, MMLU), one metric
        hints["task"] += " (if the --wide columns are tasks: --wide-regex '(?P<task>.+)' --set metric=NAME)"
    if "model" not in df.columns and {"family", "scale"} <= set(df.columns):
        # one model per family and size is what a per-size table means: name it so, and say so
        df["model"] = df["family"].astype(str) + "-" + df["scale"].astype(str)
        df.attrs["model_from_family_and_scale"] = True
    counts_like = [
        c for c in df.columns if re.search(r"(?i)correct|success|samples|attempts|num_right", str(c))
    ]
    also = (f"; if these are per-problem counts of samples ({', '.join(map(str, counts_like[:3]))}): --format "
            "repeated-sampling --column n=SAMPLES --column c=CORRECT --column problem=ID" if counts_like else "")  # fmt: skip
    require_columns(
        df.columns, evidence.REQUIRED, path=path,
        fix=lambda miss: "; ".join(f"{c}: {hints[c]}" for c in miss) + also,
    )  # fmt: skip
    value = _numbers(df, "value", path, fix="declare it as missing with --na-values (e.g. --na-values -100)")
    df = df.assign(value=value)
    raise_at_first(
        np.isinf(df["value"]),
        lambda i: f"value is infinite ({df['value'].iloc[i]})",
        path=path,
        where=ROW,
        fix="declare it missing with --na-values inf, or drop the row",
    )
    n_missing = int(df["value"].isna().sum())
    df = df[df["value"].notna()]
    if df.empty:
        raise InputError("every value is missing", path=path, fix="check --na-values and the value column")
    df = df.assign(scale=_sizes_with_units(df["scale"]))
    scale = _numbers(
        df,
        "scale",
        path,
        fix="give parameter counts (numbers, or with a unit: 125M, 1.3B; --size-scale 1e9 for billions) or a "
        "--size-map file",
    )
    df = df.assign(scale=scale * spec.size_scale)
    if "source" not in df.columns:
        df["source"] = str(path)
    # a row repeated with the same key and value is one row (counted); the same key with two values is an error
    key = [c for c in [*evidence.KEY, "value"] if c in df.columns]
    keyed = df[key].astype(str).fillna("")
    dup = keyed.duplicated(keep="first").to_numpy()
    df = df[~dup]
    out = evidence.normalize(df.reset_index(drop=True), source=str(path))
    out.attrs["n_missing_dropped"] = n_missing
    out.attrs["n_duplicates_dropped"] = int(dup.sum())
    out.attrs["model_from_family_and_scale"] = bool(df.attrs.get("model_from_family_and_scale"))
    return out


def _sizes_with_units(col: pd.Series) -> pd.Series:
    """Sizes written with a unit (``125M``, ``1.3B``, ``7b``, ``70k``) as parameter counts; anything else as it is
    (numbers stay numbers; a cell that is neither is reported by the number check after this)."""
    if pd.api.types.is_numeric_dtype(col):
        return col
    from src.analysis.families.readers.lm_eval import size_from_name

    text = col.astype(str).str.strip()
    m = text.str.fullmatch(r"(?i)\d+(?:\.\d+)?\s*[kmbt]")
    if not m.any():
        return col
    out = col.astype(object).copy()
    out[m] = text[m].str.replace(r"\s+", "", regex=True).map(size_from_name)
    return out


def _numbers(df: pd.DataFrame, column: str, path: Path, fix: str) -> pd.Series:
    """``df[column]`` as numbers (blank cells and NaN stay NaN); the first cell that is not a number is an error."""
    numbers = pd.to_numeric(df[column], errors="coerce")
    bad = numbers.isna() & df[column].notna() & (df[column].astype(str).str.strip() != "")
    raise_at_first(
        bad, lambda i: f"{column} {df[column].iloc[i]!r} is not a number", path=path, where=ROW, fix=fix
    )
    return numbers


def ingest_tables(paths: Iterable[str | os.PathLike], spec: IngestSpec | None = None) -> pd.DataFrame:
    """Several table files as one evidence table (``source`` = each row's file)."""
    paths = list(paths)
    frames = [ingest_table(p, spec) for p in paths]
    out = evidence.normalize(pd.concat(frames, ignore_index=True), source=", ".join(map(str, paths)))
    out.attrs["n_missing_dropped"] = sum(f.attrs.get("n_missing_dropped", 0) for f in frames)
    return out


def is_table_file(path: str | os.PathLike) -> bool:
    """A file, or an absent path whose suffix names a table format (so its error says "table file")."""
    path = Path(path)
    return path.is_file() or (not path.is_dir() and _suffix(path) in TABLE_SUFFIXES)
