"""Files of format ``generations`` (:mod:`.generations`): which tables are generation tables, and reading them as
text (UTF-8, else Latin-1 with a notice naming the file and the byte: never silently)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from src.results.errors import InputError

OUTPUT_COLUMNS = ("completion", "output", "response", "generation")
TARGET_COLUMNS = ("target", "answer")
OPERANDS = ("a", "b")
SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".parquet")
_SCAN = 50  # files looked at when detecting the format of a folder


def _decode(path: Path, notices: list[str] | None) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        if notices is not None:
            notices.append(f"{path}: not UTF-8 (byte 0x{raw[err.start]:02x} on line {line}); read as Latin-1")
        return raw.decode("latin-1")


def read_table(path: Path, notices: list[str] | None = None) -> pd.DataFrame:
    """One generation table with every cell as text (empty cells stay ``""``, never NaN)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson"):
            df = pd.read_json(io.StringIO(_decode(path, notices)), lines=True, dtype=False)
        else:
            sep = "\t" if suffix == ".tsv" else ","
            return pd.read_csv(io.StringIO(_decode(path, notices)), sep=sep, dtype=str, keep_default_na=False,
                               na_filter=False)  # fmt: skip
    except (ValueError, pd.errors.ParserError, OSError) as err:
        raise InputError(f"cannot be read as a table ({type(err).__name__}: {err})".split("\n")[0], path=path,
                         fix="give a CSV, TSV, JSONL or Parquet table of generations") from None  # fmt: skip
    return df.astype(object).where(df.notna(), "").astype(str)


def header(path: Path) -> set[str]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return set(pq.read_schema(path).names)
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    if suffix in (".jsonl", ".ndjson"):
        try:
            row = json.loads(first)
        except json.JSONDecodeError:
            return set()
        return set(row) if isinstance(row, dict) else set()
    sep = "\t" if suffix == ".tsv" else ","
    return {c.strip().strip('"') for c in first.rstrip("\r\n").split(sep)}


def is_generation_table(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() not in SUFFIXES:
        return False
    h = header(path)
    return bool(h & set(OUTPUT_COLUMNS)) and (bool(h & set(TARGET_COLUMNS)) or set(OPERANDS) <= h)


def detect(path: Path) -> bool:
    if path.is_dir():
        files = [f for f in sorted(path.iterdir()) if f.suffix.lower() in SUFFIXES][:_SCAN]
        return any(is_generation_table(f) for f in files)
    return is_generation_table(path)


def files_of(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            found = [f for f in sorted(p.iterdir()) if is_generation_table(f)]
            if not found:
                raise InputError("holds no generation table", path=p,
                                 fix="give tables with an output column and a target or operand columns a, b")  # fmt: skip
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise InputError("does not exist", path=p, fix="check the path")
    return out
