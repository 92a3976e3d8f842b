"""One error family for every input a user can get wrong (files, tables, run records, flags).

``python -m src.analysis`` prints one line, ``error: <file>[:<line or row>]: <what is wrong>; <how to fix>``, and
exits with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np


class InputError(ValueError):
    """Input that cannot be used as given. ``str(err)`` is the whole one-line message."""

    def __init__(
        self,
        what: str,
        *,
        path: str | os.PathLike | None = None,
        where: int | str | None = None,
        fix: str | None = None,
    ):
        self.what, self.path, self.where, self.fix = what, path, where, fix
        place = ""
        if path is not None:
            place = f"{path}:{where}: " if where is not None else f"{path}: "
        super().__init__(f"{place}{what}" + (f"; {fix}" if fix else ""))


def LINE(i: int) -> str:
    """Where row i of a CSV with a header row is: ``line i + 2``."""
    return f"line {i + 2}"


def ROW(i: int) -> str:
    """Where row i of a table is, counted from 1: ``row i + 1``."""
    return f"row {i + 1}"


def raise_at_first(
    bad,
    what: str | Callable[[int], str],
    *,
    path: str | os.PathLike | None = None,
    where: Callable[[int], str] = LINE,
    fix: str | Callable[[int], str] | None = None,
) -> None:
    """Raise :class:`InputError` for the first flagged row of the boolean mask ``bad`` (one per table row), with
    ``what(i)``, ``where(i)`` and ``fix(i)`` of that row (``what`` and ``fix`` may be plain strings); nothing when
    no row is flagged. The one form of every reader's "this row is wrong" check; the callables are called at
    once, never later."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            what(i) if callable(what) else what,
            path=path,
            where=where(i),
            fix=fix(i) if callable(fix) else fix,
        )


def raise_at_first_cell(
    bad,
    what: Callable[[int, int], str],
    *,
    path: str | os.PathLike | None = None,
    where: Callable[[int], str] = LINE,
    fix: str | None = None,
) -> None:
    """As :func:`raise_at_first` for a ``[rows, columns]`` mask: the first flagged cell in row order, ``what(r, c)``."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        r, c = (int(x[0]) for x in np.nonzero(bad))
        raise InputError(what(r, c), path=path, where=where(r), fix=fix)


def require_columns(
    columns, need, *, path: str | os.PathLike | None = None, fix: str | Callable[[list[str]], str]
) -> None:
    """Raise :class:`InputError` ``lacks column(s) [...] (has [...])`` when any of ``need`` is not in
    ``columns``; ``fix`` may be a function of the missing names. The one form of every table's column check."""
    have = [str(c) for c in columns]
    missing = [c for c in need if c not in have]
    if missing:
        raise InputError(
            f"lacks column(s) {missing} (has {have})", path=path, fix=fix(missing) if callable(fix) else fix
        )
