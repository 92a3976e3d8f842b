"""One error family for every input a user can get wrong (files, tables, run records, flags).

``python -m src.analysis`` prints one line, ``error: <file>[:<line or row>]: <what is wrong>; <how to fix>``, and
exits with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os


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
