"""The one way to save a figure and a table, and to print a table: every command goes through these."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.results.io import write_table

FLOAT_FMT = "{:.3g}".format


def save_figure(fig: Figure, out_dir: str | os.PathLike, stem: str, dpi: int = 200) -> list[Path]:
    """Write ``fig`` as ``<out_dir>/<stem>.png`` and ``.pdf``; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    for p in paths:
        fig.savefig(p, dpi=dpi)
    import matplotlib.pyplot as plt

    plt.close(fig)  # a pyplot figure is released; a bare Figure is unaffected
    return paths


def save_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """A table as CSV (``.csv``) or Parquet (``.parquet``), atomically; the suffix decides."""
    return write_table(df, path)


def print_table(title: str, df: pd.DataFrame) -> None:
    print(f"\n{title}")
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 30):
        print(df.to_string(index=False, float_format=FLOAT_FMT))


TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".jsonl")


def out_file(out: str | os.PathLike, name: str) -> Path:
    """Where a command writes its table: ``--out`` is a directory (``<out>/<name>``, created); a path ending in a
    table suffix (.csv, .parquet, ...) is still taken as the file itself, as older commands used it."""
    out = Path(out)
    if out.suffix.lower() in TABLE_SUFFIXES:
        out.parent.mkdir(parents=True, exist_ok=True)
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out / name
