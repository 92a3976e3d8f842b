"""The job's ``train.log`` handler: the job writes its log only once it holds its job dir's lock.

Hydra opens ``<job>/train.log`` before the job starts, so a second process on a running job (then refused by the
job lock) appended its lines, "Error executing job ..." among them, to the running job's log. This handler opens
the file on the first line it writes, keeps the lines logged before the lock in memory and writes them when the
lock is taken (``src/results/jobs.py:job_lock``); a process that never holds the lock writes nothing there. DDP
ranks other than 0 (which do not take the lock) write as before.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from src.results.jobs import holds_job_lock

MAX_PENDING = 10_000  # lines kept before the lock is taken (a job logs a handful there)
RANK_VARS = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")  # as lightning's _get_rank


def _other_rank() -> bool:
    return any(os.environ.get(k, "0") not in ("", "0") for k in RANK_VARS)


class JobLogHandler(logging.FileHandler):
    def __init__(
        self, filename: str, mode: str = "a", encoding: str | None = None, errors: str | None = None
    ):
        super().__init__(filename, mode, encoding, delay=True, errors=errors)
        self._job_dir = Path(self.baseFilename).parent
        self._owned = _other_rank()
        self._pending: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not self._owned and holds_job_lock(self._job_dir):
            self._owned = True
            for pending in self._pending:
                super().emit(pending)
            self._pending.clear()
        if self._owned:
            super().emit(record)
        elif len(self._pending) < MAX_PENDING:
            self._pending.append(record)
