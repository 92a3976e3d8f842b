"""Read BIG-Bench's official results tree into one tidy table, validating every file against the schema.

The tree is ``bigbench/benchmark_tasks/<task>/results/scores_<model>.json`` (google/BIG-bench). Each file holds a
``model`` object (``model_family``, ``model_name``, ``total_params``, ``non_embedding_params``,
``flop_matched_non_embedding_params``) and a ``scores`` list whose entries hold ``subtask_description``,
``number_of_shots``, ``preferred_score``, ``high_score``, ``low_score`` and ``score_dict`` (metric -> value).
A file that breaks the schema raises :class:`BigBenchSchemaError` naming the file and the field: a silently
skipped file would bias every count downstream.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from src.results.errors import InputError

MODEL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "model_family": str,
    "model_name": str,
    "total_params": (int, float),
    "non_embedding_params": (int, float),
    "flop_matched_non_embedding_params": (int, float),
}
SCORE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "subtask_description": str,
    "number_of_shots": int,
    "preferred_score": str,
    "high_score": (int, float),
    "low_score": (int, float),
    "score_dict": dict,
}
PARAM_FIELDS = ("total_params", "non_embedding_params", "flop_matched_non_embedding_params")
COLUMNS = [
    "task",
    "subtask",
    "family",
    "model",
    "params",
    "total_params",
    "non_embedding_params",
    "flop_matched_non_embedding_params",
    "shots",
    "metric",
    "score",
    "preferred",
    "high_score",
    "low_score",
    "file",
]
AGGREGATE_METRIC = "normalized_aggregate_score"
GET_IT = "clone https://github.com/google/BIG-bench (the score files live in its benchmark_tasks/*/results/)"


class BigBenchSchemaError(InputError):
    """A BIG-Bench score file does not follow the official results schema."""


def _type_name(t: type | tuple[type, ...]) -> str:
    return " or ".join(x.__name__ for x in t) if isinstance(t, tuple) else t.__name__


def _check_fields(obj: object, spec: dict, where: str, path: Path) -> None:
    if not isinstance(obj, dict):
        raise BigBenchSchemaError(f"{path}: {where} must be a JSON object, got {type(obj).__name__}")
    missing = [k for k in spec if k not in obj]
    if missing:
        raise BigBenchSchemaError(f"{path}: {where} lacks field(s) {missing}; present: {sorted(obj)}")
    for key, typ in spec.items():
        value = obj[key]
        # bool is an int subclass in Python; a true/false where a number belongs is a broken file.
        if isinstance(value, bool) or not isinstance(value, typ):
            raise BigBenchSchemaError(
                f"{path}: {where}.{key} must be {_type_name(typ)}, got {type(value).__name__} ({value!r})"
            )


def _subtask(description: str, task: str, path: Path, i: int) -> str:
    """'' for the task-level entry (description == task), else the part after 'task:'."""
    if description == task:
        return ""
    prefix = f"{task}:"
    if not description.startswith(prefix) or len(description) == len(prefix):
        raise BigBenchSchemaError(
            f"{path}: scores[{i}].subtask_description is {description!r}; expected {task!r} or "
            f"'{task}:<subtask>' (the task name comes from the directory benchmark_tasks/{task}/)"
        )
    return description[len(prefix) :]


def read_scores_file(
    path: str | os.PathLike, task: str | None = None, params: str = "non_embedding_params"
) -> list[dict]:
    """Rows (one per score entry x metric) of one ``scores_*.json``; ``task`` defaults to the directory name.

    ``params`` picks which model size field fills the ``params`` column (all three are kept as columns).
    """
    path = Path(path)
    if params not in PARAM_FIELDS:
        raise ValueError(f"params must be one of {PARAM_FIELDS}, got {params!r}")
    task = task if task is not None else path.parent.parent.name
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BigBenchSchemaError(f"{path}: not valid JSON ({err}); re-download this score file") from err
    _check_fields(data, {"model": dict, "scores": list}, "top level", path)
    model = data["model"]
    _check_fields(model, MODEL_FIELDS, "model", path)
    if not data["scores"]:
        raise BigBenchSchemaError(
            f"{path}: scores is an empty list; a score file must hold at least one entry"
        )
    rows = []
    for i, entry in enumerate(data["scores"]):
        where = f"scores[{i}]"
        _check_fields(entry, SCORE_FIELDS, where, path)
        subtask = _subtask(entry["subtask_description"], task, path, i)
        score_dict = entry["score_dict"]
        if not score_dict:
            raise BigBenchSchemaError(f"{path}: {where}.score_dict is empty")
        if entry["preferred_score"] not in score_dict:
            raise BigBenchSchemaError(
                f"{path}: {where}.preferred_score {entry['preferred_score']!r} is not a key of score_dict "
                f"({sorted(score_dict)})"
            )
        for metric, value in score_dict.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BigBenchSchemaError(
                    f"{path}: {where}.score_dict[{metric!r}] must be a number, got {type(value).__name__} ({value!r})"
                )
            rows.append(
                {
                    "task": task,
                    "subtask": subtask,
                    "family": model["model_family"],
                    "model": model["model_name"],
                    "params": float(model[params]),
                    **{f: float(model[f]) for f in PARAM_FIELDS},
                    "shots": entry["number_of_shots"],
                    "metric": metric,
                    "score": float(value),
                    "preferred": metric == entry["preferred_score"],
                    "high_score": float(entry["high_score"]),
                    "low_score": float(entry["low_score"]),
                    "file": str(path),
                }
            )
    return rows


def find_benchmark_tasks(root: str | os.PathLike) -> Path:
    """The ``benchmark_tasks`` directory given the repo root, ``bigbench/`` or ``benchmark_tasks/`` itself."""
    root = Path(root)
    for candidate in (root, root / "benchmark_tasks", root / "bigbench" / "benchmark_tasks"):
        if candidate.name == "benchmark_tasks" and candidate.is_dir():
            return candidate
    raise InputError(
        f"no BIG-Bench results tree at {root}: expected {root}/bigbench/benchmark_tasks/<task>/results/"
        f"scores_<model>.json (pass the repo root, its bigbench/ or benchmark_tasks/ dir); to get it, {GET_IT}"
    )


def read_results_tree(root: str | os.PathLike, params: str = "non_embedding_params") -> pd.DataFrame:
    """One tidy table (columns :data:`COLUMNS`) of every ``<task>/results/scores_*.json`` below the tree.

    Other files in ``results/`` (full logs, transcripts) are ignored; any score file that breaks the schema raises.
    """
    tasks_dir = find_benchmark_tasks(root)
    files = sorted(tasks_dir.glob("*/results/scores_*.json"))
    if not files:
        raise InputError(
            f"{tasks_dir} holds no <task>/results/scores_*.json files; PyPI's bigbench package ships no results. "
            f"To get them, {GET_IT}"
        )
    rows = [row for f in files for row in read_scores_file(f, params=params)]
    table = pd.DataFrame(rows, columns=COLUMNS)
    dup = table.duplicated(["task", "subtask", "family", "model", "shots", "metric"], keep=False)
    if dup.any():
        first = table[dup].iloc[0]
        clash = sorted(set(table[dup & (table.task == first.task) & (table.model == first.model)].file))
        raise BigBenchSchemaError(
            f"duplicate scores for task={first.task!r} subtask={first.subtask!r} family={first.family!r} "
            f"model={first.model!r} shots={first.shots} metric={first.metric!r} in {clash}; remove the stale file"
        )
    return table


def to_evidence(
    table: pd.DataFrame,
    shots: int | None = 0,
    task_level: bool = True,
    drop_aggregate: bool = True,
) -> pd.DataFrame:
    """The BIG-Bench table as an evidence table (:mod:`src.analysis.core.evidence`; ``scale``: the chosen params
    field, ``source``: ``bigbench``).

    A (task, metric, family) triplet needs one value per model, so we keep one shot count (``shots``; ``None``
    makes ``task`` read ``<task>@<shots>shot`` instead) and, by default, the task-level entries only (the
    ones BIG-Bench reports for the whole task; subtasks become ``<task>:<subtask>`` when ``task_level`` is False).
    """
    from src.analysis.core.evidence import normalize

    df = table.copy()
    if drop_aggregate:
        df = df[df.metric != AGGREGATE_METRIC]
    if task_level:
        df = df[df.subtask == ""]
    else:
        df = df.assign(task=[t if s == "" else f"{t}:{s}" for t, s in zip(df.task, df.subtask, strict=True)])
    if shots is None:
        df = df.assign(task=[f"{t}@{s}shot" for t, s in zip(df.task, df.shots, strict=True)])
    else:
        available = sorted(set(df.shots))
        df = df[df.shots == shots]
        if df.empty:
            raise InputError(f"no BIG-Bench scores with number_of_shots={shots}; available: {available}")
    bad = [not (math.isfinite(s) and s > 0) for s in df["params"]]
    if any(bad):
        row = df[bad].iloc[0]
        raise InputError(
            f"model {row.family}/{row.model} has no positive parameter count ({row['params']}) in the chosen "
            f"field; read the tree with another params field ({', '.join(PARAM_FIELDS)})"
        )
    ev = df.rename(columns={"params": "scale", "score": "value"})[
        ["family", "model", "scale", "task", "metric", "value"]
    ]
    return normalize(ev.assign(source="bigbench"), source="BIG-Bench results")
