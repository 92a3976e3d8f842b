"""The one reader registry: every input format an analysis command takes, found by name or by detection.

A reader is ``detect`` + ``read`` (as lm-evaluation-harness registers tasks in ``lm_eval/api/registry.py``):
``detect(path)`` says whether a file or folder is in its format, ``read(paths, options)`` turns the paths into an
:class:`Evidence` (the evidence table and, where the source has per-item outcomes, the items table), in the
evidence vocabulary (:mod:`src.analysis.core.evidence`). Formats register themselves with :func:`register_reader`
in their own module under ``src/analysis/families/readers/`` (imported here on first use), so adding a format
touches one file.

:func:`read_inputs` is what every command calls: each path goes to the reader named by ``--format`` or to the
first reader (highest priority) that detects it; the parts are joined, the metrics' meaning is filled in
(:mod:`src.analysis.core.vocab`), every value is checked against what its metric can be, and the shaping options
(filters, family map, duplicates, task means) are applied, each change counted in ``notices``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from src.results.errors import InputError


@dataclass
class Evidence:
    """What was read: the evidence table (one row per family, model, task, metric[, replicate, checkpoint]), the
    items table (one row per family, model, task, item[, replicate, checkpoint], one column per per-item
    quantity; empty when the source has none) and what the readers and shaping had to say (``notices``).
    ``tables``: further tables a format derives from what it read (repeated sampling's pass@k bootstrap), only
    where a command asks for them (``ReadOptions.extra["tables"]``; ``ingest`` writes them beside the evidence)."""

    table: pd.DataFrame
    items: pd.DataFrame = field(default_factory=pd.DataFrame)
    notices: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # input path -> format name
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class ReadOptions:
    """What a user can tell every reader (each reader uses the fields its format needs).

    ``size_map``: model -> parameters; ``family``: one family name for every model read; ``columns`` /
    ``extra``: reader-specific settings (a generic table's column mapping, pass@k's ``ks``, ...)."""

    size_map: Mapping[str, float] = field(default_factory=dict)
    family: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reader:
    name: str
    help: str
    detect: Callable[[Path], bool]
    read: Callable[[list[Path], ReadOptions], Evidence]
    priority: int = 0  # higher first; the generic table reader is the lowest


_READERS: dict[str, Reader] = {}
_LOADED = False


def register_reader(
    name: str, help: str, detect: Callable[[Path], bool], priority: int = 0
) -> Callable[[Callable], Callable]:
    """Decorator: register ``read(paths, options) -> Evidence`` as format ``name``."""

    def wrap(read: Callable[[list[Path], ReadOptions], Evidence]) -> Callable:
        if name in _READERS and _READERS[name].read is not read:
            raise ValueError(f"reader {name!r} registered twice")
        _READERS[name] = Reader(name, help, detect, read, priority)
        return read

    return wrap


def _load_formats() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import src.analysis.families.readers as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def readers() -> list[Reader]:
    """Every registered reader, highest priority first."""
    _load_formats()
    return sorted(_READERS.values(), key=lambda r: (-r.priority, r.name))


def reader(name: str) -> Reader:
    _load_formats()
    if name not in _READERS:
        raise InputError(f"unknown format {name!r}", fix=f"use one of {', '.join(sorted(_READERS))}")
    return _READERS[name]


def detect_format(path: Path) -> str:
    """The name of the first reader that detects ``path``; an :class:`InputError` naming what was tried."""
    if not path.exists():
        raise InputError("does not exist", path=path, fix="check the path")
    for r in readers():
        try:
            if r.detect(path):
                return r.name
        except (OSError, UnicodeDecodeError, ValueError):
            continue
    raise InputError(
        "is in no format the readers know",
        path=path,
        fix=f"name it with --format ({', '.join(r.name for r in readers())}); "
        "`python -m src.analysis formats` says what each one reads",
    )


def read_inputs(
    paths: Iterable[str | os.PathLike],
    fmt: str | None = None,
    options: ReadOptions | None = None,
    shaping=None,
) -> Evidence:
    """Read every path with its reader and join the parts into one checked :class:`Evidence`: shaped
    (:mod:`src.analysis.core.shaping`), exact duplicates dropped, meaning columns filled and values checked
    (:func:`src.analysis.core.vocab.complete`)."""
    from src.analysis.core import evidence, vocab
    from src.analysis.core.shaping import drop_exact_duplicates, one_model_families, shape

    options = options or ReadOptions()
    paths = [Path(p) for p in paths]
    if not paths:
        raise InputError("no input given", fix="give files or folders to read")
    by_format: dict[str, list[Path]] = {}
    for p in paths:
        name = reader(fmt).name if fmt else detect_format(p)
        by_format.setdefault(name, []).append(p)
    tables, items, notices, formats, derived = [], [], [], {}, {}
    for name, group in by_format.items():
        ev = reader(name).read(group, options)
        spec = options.extra.get("spec")
        if spec is not None and spec.constants and name != "table":  # the table reader sets them itself
            ev.table = ev.table.assign(**spec.constants)  # --set holds for every format: e.g. tokens=1.8e11
            notices.append(
                f"--set {', '.join(f'{k}={v}' for k, v in spec.constants.items())}: on every row read as {name}"
            )
        tables.append(ev.table.assign(format=name))
        if ev.items is not None and not ev.items.empty:
            items.append(ev.items)
        notices += ev.notices
        formats.update({str(p): name for p in group})
        derived.update(ev.tables)
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    items_df = pd.concat(items, ignore_index=True) if items else pd.DataFrame()
    table = drop_exact_duplicates(table, evidence.KEY, notices)
    table, items_df = shape(table, items_df, shaping, notices)
    table = evidence.normalize(table, source="inputs" if len(paths) > 1 else str(paths[0]))
    one_model_families(table, notices)
    return vocab.complete(Evidence(table, items_df, notices, formats, derived))
