"""Per-sample model outputs as JSON Lines: the schema, a validating loader and a writer.

One line per (model, test item), a JSON object with these fields:

=================  ========  =====================================================================================
field              type      meaning
=================  ========  =====================================================================================
model              str       model name, unique within its family (``pythia-70m``, ``arithmetic_2dm/width=8``)
family             str       model family; one curve per (family, task) against num_params
num_params         int > 0   parameter count (the x axis)
task               str       task name (``two_digit_multiplication``, ``four_digit_addition``, ...)
prompt             str       the exact text the model was given
target             str       the correct answer (surrounding whitespace is ignored when scoring)
output             str       the model's answer, already cut where the answer ends (greedy decoding)
item               int >= 0  optional: index of the test item (items are ordered by it; Fig. 4 takes the first n)
subset             str       optional, default ``"test"``: ``"test"`` (the shared test set) or another name such as
                             ``"extra"`` (more generated items, for the resolution analysis of Fig. 4)
target_tokens      [str]     optional: the model's tokens of the target; they must concatenate to the stripped target
target_logprobs    [float]   optional, with target_tokens: log-probability (<= 0) of each target token given the
                             prompt and the target tokens before it (teacher forcing)
=================  ========  =====================================================================================

Other fields are kept as extra columns. The loader validates every line and raises :class:`OutputsError` naming
the file, line number and field of the first bad line; it never returns a partial table.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from src.results.errors import InputError
from src.results.io import atomic_write

OUTPUTS_NAME = "outputs.jsonl"
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "model": str,
    "family": str,
    "num_params": int,
    "task": str,
    "prompt": str,
    "target": str,
    "output": str,
}
OPTIONAL = ("item", "subset", "target_tokens", "target_logprobs")
COLUMNS = [*REQUIRED, *OPTIONAL]


class OutputsError(InputError):
    """A per-sample outputs file that does not follow the schema (names file, line and field)."""


def _fail(path: Path, line_no: int, field: str, why: str) -> OutputsError:
    return OutputsError(
        f"field {field!r} {why}",
        path=path,
        where=line_no,
        fix="each line must be a JSON object with the fields of src/results/outputs.py (docs/arithmetic.md); "
        "fix or regenerate the file",
    )


def validate_row(row: Any, path: Path, line_no: int) -> dict[str, Any]:
    """Check one parsed line against the schema; returns it with defaults filled in."""
    if not isinstance(row, dict):
        raise _fail(path, line_no, "<line>", f"is a JSON {type(row).__name__}, not an object")
    for field, typ in REQUIRED.items():
        if field not in row:
            raise _fail(path, line_no, field, "is missing")
        value = row[field]
        if isinstance(value, bool) or not isinstance(value, typ):
            raise _fail(
                path, line_no, field, f"must be {typ.__name__}, got {type(value).__name__} {value!r:.40}"
            )
    for field in ("model", "family", "task"):
        if not row[field].strip():
            raise _fail(path, line_no, field, "is empty")
    if row["num_params"] <= 0:
        raise _fail(path, line_no, "num_params", f"must be positive, got {row['num_params']}")
    if not row["target"].strip():
        raise _fail(path, line_no, "target", "is empty")
    item = row.get("item")
    if item is not None and (isinstance(item, bool) or not isinstance(item, int) or item < 0):
        raise _fail(path, line_no, "item", f"must be a non-negative integer, got {item!r}")
    subset = row.setdefault("subset", "test")
    if not isinstance(subset, str) or not subset:
        raise _fail(path, line_no, "subset", f"must be a non-empty string, got {subset!r}")
    toks, lps = row.get("target_tokens"), row.get("target_logprobs")
    if (toks is None) != (lps is None):
        missing = "target_logprobs" if lps is None else "target_tokens"
        raise _fail(path, line_no, missing, "is missing (target_tokens and target_logprobs come together)")
    if toks is not None:
        if not isinstance(toks, list) or not all(isinstance(t, str) for t in toks):
            raise _fail(path, line_no, "target_tokens", "must be a list of strings")
        if "".join(toks).strip() != row["target"].strip():
            raise _fail(
                path, line_no, "target_tokens", f"join to {''.join(toks)!r}, not the target {row['target']!r}"
            )
        if not isinstance(lps, list) or len(lps) != len(toks):
            raise _fail(
                path, line_no, "target_logprobs", f"must be a list of {len(toks)} numbers (one per token)"
            )
        for v in lps:
            if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or v > 1e-6:
                raise _fail(path, line_no, "target_logprobs", f"must hold log-probabilities <= 0, got {v!r}")
    return row


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def read_outputs_file(path: str | os.PathLike) -> pd.DataFrame:
    """One validated JSONL file (``.jsonl`` or ``.jsonl.gz``) as a DataFrame with :data:`COLUMNS` (and extras)."""
    path = Path(path)
    if not path.is_file():
        raise OutputsError(
            "no outputs file here",
            path=path,
            fix="write one per the schema in src/results/outputs.py, e.g. with "
            "`python train.py -m experiment=arithmetic_2dm` or scripts/hf_arithmetic_outputs.py",
        )
    rows = []
    with _open(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise _fail(
                    path, line_no, "<line>", f"is not valid JSON ({err.msg} at column {err.colno})"
                ) from None
            rows.append(validate_row(row, path, line_no))
    if not rows:
        raise OutputsError(
            "holds no lines", path=path, fix="an outputs file needs one JSON object per (model, item)"
        )
    df = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["source_file"] = str(path)
    return df


def find_outputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files given directly, plus every ``outputs.jsonl[.gz]`` below each directory given (a sweep dir)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            hits = sorted([*p.rglob(OUTPUTS_NAME), *p.rglob(OUTPUTS_NAME + ".gz")])
            if not hits:
                raise OutputsError(
                    f"no {OUTPUTS_NAME} below this directory",
                    path=p,
                    fix="did the runs finish (they write it after testing)?",
                )
            found += hits
        else:
            found.append(p)
    return found


def load_outputs(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """All outputs below/at ``paths`` in one table; a (family, model, task, subset, item) seen twice is an error."""
    frames = [read_outputs_file(p) for p in find_outputs(paths)]
    df = pd.concat(frames, ignore_index=True)
    keys = ["family", "model", "task", "subset"]
    if df["item"].isna().any():  # no item ids: items are numbered in file order within each model and task
        df["item"] = df.groupby(keys).cumcount()
    df["item"] = df["item"].astype("int64")
    dup = df.duplicated([*keys, "item"], keep=False)
    if dup.any():
        first = df[dup].iloc[0]
        raise OutputsError(
            f"item {first['item']} of model {first['model']!r} (task {first['task']!r}, subset {first['subset']!r}) "
            f"appears more than once (files: {sorted(set(df.loc[dup, 'source_file']))}); pass each file once"
        )
    params = df.groupby(["family", "model"])["num_params"].nunique()
    if (params > 1).any():
        raise OutputsError(f"models with more than one num_params: {list(params[params > 1].index)}")
    return df.sort_values([*keys, "item"]).reset_index(drop=True)


def write_outputs(
    path: str | os.PathLike, rows: Sequence[dict[str, Any]] | dict[str, Sequence[Any]], **common: Any
) -> Path:
    """Write rows (a list of dicts, or a dict of equal-length columns) plus ``common`` fields to every line;
    each line is validated first and the file is replaced atomically."""
    path = Path(path)
    if isinstance(rows, dict):
        n = len(next(iter(rows.values()))) if rows else 0
        rows = [{k: v[i] for k, v in rows.items()} for i in range(n)]
    lines = [
        json.dumps(validate_row({**common, **row}, path, i), ensure_ascii=False) + "\n"
        for i, row in enumerate(rows, start=1)
    ]
    return atomic_write(path, lambda fh: fh.writelines(lines))
