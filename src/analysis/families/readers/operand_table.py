"""Reader of per-operand accuracy tables of the Pythia ``term_frquency_all_shots.csv`` shape (EleutherAI/pythia
``evals/csv/``): ``model, checkpoint, task, fewshot, acc, acc_stderr`` with tasks
``num_reasoning_arithmetic_<op>_<operand>`` (accuracy on the problems whose first operand is ``operand``).

Evidence rows: task ``arithmetic_<op>/<fewshot>shot/op=<operand>``, metric ``acc``, checkpoint ``step<N>``, with the
extra columns ``operation``, ``operand`` and ``fewshot``. Model names are the last path part (``pythia-1.3b-
deduped``); parameters from ``size_map`` or the size in the name (nominal); family = the name without its size.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from src.analysis.core.evidence import normalize
from src.analysis.core.inputs import expand_inputs
from src.analysis.families.readers.lm_eval import family_from_name, size_from_name
from src.results.errors import LINE, InputError, raise_at_first, require_columns

_TASK = r"^(?P<prefix>.*?)_?(?P<op>addition|subtraction|multiplication|division)_(?P<operand>\d+)$"
NEED = ["model", "checkpoint", "task", "fewshot", "acc"]


def read_operand_table(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    size_map: Mapping[str, float] | None = None,
    tokens_per_step: float | None = None,
) -> pd.DataFrame:
    files = expand_inputs(
        paths,
        lambda d: sorted(d.rglob("*.csv")),
        none_in_folder=None,  # checked over all inputs below
        fix_folder="",
        fix_missing="give per-operand CSV files or their folder",
    )
    if not files:
        raise InputError("no CSV found", path=str(paths), fix="give per-operand CSV files or their folder")
    size_map = dict(size_map or {})
    parts = []
    for f in files:
        try:
            df = pd.read_csv(f)
        except pd.errors.EmptyDataError:
            raise InputError(
                "is empty", path=f, fix="give model,checkpoint,task,fewshot,acc[,acc_stderr]"
            ) from None
        require_columns(df.columns, NEED, path=f, fix="give model,checkpoint,task,fewshot,acc[,acc_stderr]")
        m = df["task"].astype(str).str.extract(_TASK)
        bad = m["op"].isna()
        raise_at_first(
            bad,
            lambda i, df=df: f"task {df['task'].iloc[i]!s} is not <name>_<operation>_<operand>",
            path=f,
            where=LINE,
            fix="name tasks like num_reasoning_arithmetic_addition_12",
        )
        num = df[["checkpoint", "fewshot", "acc"]].apply(pd.to_numeric, errors="coerce")
        badn = num.isna().any(axis=1)
        raise_at_first(
            badn,
            "checkpoint, fewshot and acc must be numbers",
            path=f,
            where=LINE,
            fix="give the step as a number (13000), the shots and the accuracy",
        )
        model = df["model"].astype(str).str.rstrip("/").str.split("/").str[-1]
        scale = model.map(lambda x: size_map.get(x, size_from_name(x)))
        raise_at_first(
            scale.isna(),
            lambda i, model=model: f"model {model.iloc[i]!r} has no size in its name",
            path=f,
            where=LINE,
            fix=lambda i, model=model: f"give it in a size map ({model.iloc[i]}: <parameters>)",
        )
        step = num["checkpoint"].astype(float)
        shots = num["fewshot"].astype(int)
        parts.append(
            pd.DataFrame(
                {
                    "family": model.map(family_from_name),
                    "model": model,
                    "scale": scale,
                    "task": "arithmetic_" + m["op"] + "/" + shots.astype(str) + "shot/op=" + m["operand"],
                    "metric": "acc",
                    "value": num["acc"],
                    "checkpoint": "step" + step.astype(np.int64).astype(str),
                    "step": step,
                    "tokens": step * tokens_per_step if tokens_per_step else np.nan,
                    "stderr": pd.to_numeric(df.get("acc_stderr"), errors="coerce")
                    if "acc_stderr" in df
                    else np.nan,
                    "source": str(f),
                    "operation": m["op"],
                    "operand": m["operand"].astype(int),
                    "fewshot": shots,
                }
            )  # fmt: skip
        )
    return normalize(pd.concat(parts, ignore_index=True), source=str(files[0]))
