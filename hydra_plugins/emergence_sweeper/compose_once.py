"""Hydra's basic sweeper, validating each *kind* of job once instead of every job.

Hydra's ``BasicSweeper`` composes every job of a batch before launching it ("catches composition errors early"),
and the launcher composes each job again, so a sweep of short jobs pays the composition twice (~0.06 s a job,
measured idle; ``scripts/benchmark_multirun_overhead.py``). Whether composing fails does not depend on a plain
value set at a key that is not a config group: ``model.width=2`` composes exactly when ``model.width=3`` does. So
the jobs are grouped by their *shape* (every override's key, and its value where the key names a config group or
the value is not a plain int/float/bool/string/null, or a string with an interpolation), and one job of each shape
is composed before any runs. A sweep ``experiment=lenet_mnist model.width=1,2,4 seed=0,1,2`` validates one job;
``model=lenet,nosuch`` still fails before the first job starts. Everything else is the basic sweeper's.

Selected by ``configs/train.yaml`` (``override hydra/sweeper: compose_once``); ``hydra/sweeper=basic`` gives
Hydra's own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

log = logging.getLogger(__name__)

_PLAIN = (int, float, bool, str, type(None))


def job_shape(overrides: Sequence[str], is_group: Any, parser: OverridesParser | None = None) -> tuple:
    """What decides whether a job's config composes: each override's key (with its +/++/~ and @package), and its
    value where ``is_group(key)`` or the value is not plain; a plain value stands for its type only."""
    parser = parser or OverridesParser.create()
    shape = []
    for o in parser.parse_overrides(list(overrides)):
        value = o.value()
        plain = type(value) in _PLAIN and not (isinstance(value, str) and "${" in value)
        key = (o.get_key_element(), o.type.name)
        shape.append(
            key + ((type(value).__name__,) if plain and not is_group(o.key_or_group) else (repr(value),))
        )
    return tuple(shape)


def representatives(batch: Sequence[Sequence[str]], is_group: Any) -> list[Sequence[str]]:
    """The first job of each shape in ``batch``, in order."""
    parser = OverridesParser.create()
    seen: dict[tuple, Sequence[str]] = {}
    for overrides in batch:
        seen.setdefault(job_shape(overrides, is_group, parser), overrides)
    return list(seen.values())


class ComposeOnceSweeper(BasicSweeper):
    """``BasicSweeper`` whose early validation composes one job of each shape (see the module docstring)."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        loader = self.hydra_context.config_loader if self.hydra_context is not None else None
        repository = getattr(loader, "repository", None)
        if repository is None or not hasattr(repository, "group_exists"):
            return super().validate_batch_is_legal(batch)  # another loader: Hydra's own check, every job

        def is_group(key: str) -> bool:
            return repository.group_exists(key)

        chosen = representatives(batch, is_group)
        log.debug(f"validating {len(chosen)} of {len(batch)} jobs (one of each shape)")
        super().validate_batch_is_legal(chosen)
