"""Reader of wide per-checkpoint CSVs of the OLMo-ladder shape (Bhagia et al. 2024, allenai/OLMo-ladder
``src/scripts/paper/data/ladder-runs/``) into the evidence table.

One file per run, one row per evaluated training step (``_step``), one column per metric of that checkpoint:

==================================================  =================  ==============================================
column                                              evidence task      evidence metric
==================================================  =================  ==============================================
``eval/<set>/CrossEntropyLoss``                     ``<set>``          ``ce_loss`` (nats per token, lower better)
``eval/downstream/<task>_len_norm``                 ``<task>``         ``acc_len_norm`` (length-normalised accuracy)
``eval/downstream/<task>_acc``                      ``<task>``         ``acc``
``eval/downstream_soft/<task>_soft``                ``<task>``         ``p_correct`` (mean prob. of correct answer)
``eval/downstream_soft_log/<task>_soft_log``        ``<task>``         ``logp_correct`` (mean log of that prob.)
``eval/downstream_bpb/<task>_bpb``                  ``<task>``         ``bpb`` (correct answer's bits per byte)
any other ``eval/<group>/<name>``                   ``<name>``         ``<group>``
==================================================  =================  ==============================================

Other columns are run settings (``optim/...``, ``learning_rate_peak``) or the checkpoint's position:
``throughput/total_tokens`` gives ``tokens`` (else ``_step * batch_size_in_tokens`` where both are present) and
``throughput/total_training_Gflops`` gives ``compute`` (FLOPs). A file without ``_step`` (the 7B anneal file) is one
checkpoint named by the file (``checkpoint = "anneal"``) and must then give ``throughput/total_tokens``.

The file name gives the model: ``<size>-<k>xC[-<replicate>].csv`` (``1B-5xC.csv``, ``1B-1xC-rerun.csv``: model
``1B-5xC``, replicate ``rerun``, extra columns ``size`` and ``chinchilla_multiplier``) or ``peteish<N>[_<variant>]_
eval_<part>.csv`` (the ladder's 7B target run: model ``peteish7`` / ``peteish7_medlr``; several files that cover parts
of one run are merged, and a step two of them both hold must agree). Parameters: the ladder's own counts
(:data:`OLMO_LADDER_PARAMS`, from OLMo-ladder ``src/scaling/utils.py`` ``MODEL_PARAMS``), else the size label read as
a number (``600M`` -> 6e8), overridden by ``size_map`` (model or size label -> parameters).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.evidence import final_checkpoints as final_checkpoints  # the one rule, re-exported
from src.analysis.core.evidence import normalize
from src.analysis.core.ingest import check_last_line
from src.analysis.core.inputs import expand_inputs
from src.results.errors import LINE, InputError, raise_at_first, raise_at_first_cell

FAMILY = "OLMo-ladder"

#: Parameter counts of the ladder sizes (OLMo-ladder ``src/scaling/utils.py`` ``MODEL_PARAMS``).
OLMO_LADDER_PARAMS: dict[str, float] = {
    "190M": 190354176,
    "370M": 371262464,
    "600M": 597382464,
    "760M": 758220288,
    "1B": 1279395840,
    "3B": 3169537280,
    "7B": 6887575552,
    "13B": 13202396160,
}

#: Direction of every metric this reader writes (True: higher is better).
HIGHER_IS_BETTER = {
    "acc": True,
    "acc_len_norm": True,
    "p_correct": True,
    "logp_correct": True,
    "bpb": False,
    "ce_loss": False,
}

_LADDER_NAME = re.compile(r"(?P<size>\d+(?:\.\d+)?[KMBT])-(?P<mult>\d+(?:\.\d+)?)xC(?:-(?P<rep>.+))?")
_PETEISH_NAME = re.compile(r"peteish(?P<size>\d+)(?P<variant>_[A-Za-z0-9]+?)?_eval_(?P<part>.+)")
_UNIT = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}

_STEP, _TOKENS, _GFLOPS, _BATCH = (
    "_step",
    "throughput/total_tokens",
    "throughput/total_training_Gflops",
    "batch_size_in_tokens",
)


def is_ladder_file(path: str | os.PathLike) -> bool:
    """A CSV named like an OLMo-ladder run (``<size>-<k>xC[-rerun].csv`` or ``peteish<N>..._eval_<part>.csv``)."""
    p = Path(path)
    return p.suffix == ".csv" and bool(_LADDER_NAME.fullmatch(p.stem) or _PETEISH_NAME.fullmatch(p.stem))


def _column_metric(col: str) -> tuple[str, str] | None:
    """(task, metric) of one wide column, or None for a column that is not a metric."""
    parts = col.split("/")
    if len(parts) != 3 or parts[0] != "eval":
        return None
    _, group, name = parts
    if name == "CrossEntropyLoss":
        return group, "ce_loss"
    suffixes = {
        "downstream": [("_len_norm", "acc_len_norm"), ("_acc", "acc")],
        "downstream_soft": [("_soft", "p_correct")],
        "downstream_soft_log": [("_soft_log", "logp_correct")],
        "downstream_bpb": [("_bpb", "bpb")],
    }
    for suffix, metric in suffixes.get(group, []):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], metric
    return name, group


def _size_number(label: str) -> float:
    return float(label[:-1]) * _UNIT[label[-1].upper()]


def _parse_name(path: Path, size_map: Mapping[str, float]) -> dict:
    stem = path.stem
    m = _LADDER_NAME.fullmatch(stem)
    if m:
        size, model = m["size"], f"{m['size']}-{m['mult']}xC"
        info = {
            "model": model,
            "size": size,
            "mult": float(m["mult"]),
            "replicate": m["rep"] or "",
            "part": "",
        }
    else:
        m = _PETEISH_NAME.fullmatch(stem)
        if not m:
            raise InputError(
                f"file name {path.name!r} is not of the OLMo-ladder shape",
                path=path,
                fix="name it <size>-<k>xC[-rerun].csv (e.g. 1B-5xC.csv) or peteish<N>[_<variant>]_eval_<part>.csv",
            )
        size = f"{m['size']}B"
        model = f"peteish{m['size']}{m['variant'] or ''}"
        info = {"model": model, "size": size, "mult": np.nan, "replicate": "", "part": m["part"]}
    if model in size_map:
        scale = float(size_map[model])
    elif size in size_map:
        scale = float(size_map[size])
    elif size in OLMO_LADDER_PARAMS:
        scale = float(OLMO_LADDER_PARAMS[size])
    else:
        scale = _size_number(size)
    info["scale"] = scale
    return info


def _numeric(df: pd.DataFrame, cols: list[str], path: Path) -> pd.DataFrame:
    """The columns as floats; a cell that is not a number is one error naming its line and column."""
    out = df[cols].apply(pd.to_numeric, errors="coerce")
    bad = out.isna() & df[cols].notna()
    raise_at_first_cell(
        bad,
        lambda r, c: f"column {cols[c]!r} holds {df[cols[c]].iloc[r]!r}, expected a number",
        path=path,
        where=LINE,
        fix="give numbers (leave the cell empty where a metric was not evaluated)",
    )
    return out


def _read_one(path: Path, size_map: Mapping[str, float]) -> pd.DataFrame:
    info = _parse_name(path, size_map)
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputError(
            "is empty", path=path, fix="give a CSV with a header row and one row per step"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(
            f"is not a readable CSV ({str(err).splitlines()[0]})",
            path=path,
            fix="give a comma-separated file",
        ) from None
    check_last_line(path, ",")
    metric_cols = {c: tm for c in df.columns if (tm := _column_metric(str(c))) is not None}
    if not metric_cols:
        raise InputError(
            f"has no metric column (eval/<group>/<name>); columns are {list(df.columns)[:8]}",
            path=path,
            fix="give an OLMo-ladder wide CSV (eval/downstream/<task>_acc, eval/<set>/CrossEntropyLoss, ...)",
        )
    if df.empty:
        raise InputError("has a header but no rows", path=path, fix="give one row per evaluated step")
    pos_cols = [c for c in (_STEP, _TOKENS, _GFLOPS, _BATCH) if c in df.columns]
    num = _numeric(df, [*pos_cols, *metric_cols], path)

    if _STEP in num:
        step = num[_STEP]
        if step.isna().any():
            i = int(np.flatnonzero(step.isna().to_numpy())[0])
            raise InputError(
                "_step is empty", path=path, where=f"line {i + 2}", fix="give every row its step"
            )
        checkpoint = "step" + step.astype(np.int64).astype(str)
        dup = step.duplicated(keep=False)
        raise_at_first(
            dup,
            lambda i: f"step {int(step.iloc[i])} appears twice",
            path=path,
            where=LINE,
            fix="keep one row per evaluated step",
        )
    else:
        if _TOKENS not in num:
            raise InputError(
                "has neither _step nor throughput/total_tokens",
                path=path,
                fix="give the training step (_step) or the tokens seen (throughput/total_tokens) of each row",
            )
        if len(num) != 1:
            raise InputError(
                f"has {len(num)} rows but no _step to tell them apart",
                path=path,
                fix="give a _step column (one row per evaluated step)",
            )
        step = pd.Series([np.nan])
        checkpoint = pd.Series([info["part"] or path.stem])
    if _TOKENS in num:
        tokens = num[_TOKENS]
    elif _BATCH in num and _STEP in num:
        tokens = num[_STEP] * num[_BATCH]
    else:
        tokens = pd.Series(np.nan, index=num.index)
    compute = num[_GFLOPS] * 1e9 if _GFLOPS in num else pd.Series(np.nan, index=num.index)

    cols = list(metric_cols)
    n_rows = len(num)
    values = num[cols].to_numpy(dtype=float)  # [rows, metrics]
    task = np.array([metric_cols[c][0] for c in cols], dtype=object)
    metric = np.array([metric_cols[c][1] for c in cols], dtype=object)
    long = pd.DataFrame(
        {
            "family": FAMILY,
            "model": info["model"],
            "scale": info["scale"],
            "task": np.tile(task, n_rows),
            "metric": np.tile(metric, n_rows),
            "value": values.reshape(-1),
            "replicate": info["replicate"],
            "checkpoint": np.repeat(checkpoint.to_numpy(dtype=object), len(cols)),
            "step": np.repeat(step.to_numpy(dtype=float), len(cols)),
            "tokens": np.repeat(tokens.to_numpy(dtype=float), len(cols)),
            "compute": np.repeat(compute.to_numpy(dtype=float), len(cols)),
            "source": str(path),
            "size": info["size"],
            "chinchilla_multiplier": info["mult"],
            "_line": np.repeat(np.arange(n_rows) + 2, len(cols)),
        }
    )
    out = long[long["value"].notna()]
    out.attrs["n_empty"] = int(len(long) - len(out))
    return out


def _expand(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    files = expand_inputs(
        paths,
        lambda d: sorted(d.glob("*.csv")),
        none_in_folder="*.csv file",
        fix_folder="point at the ladder-runs folder or its CSVs",
        fix_missing="give existing OLMo-ladder CSV files or their folder",
    )
    if not files:
        raise InputError("no OLMo-ladder CSV given", fix="pass one or more files or a folder")
    return files


def read_olmo_ladder(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    size_map: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Evidence table of OLMo-ladder wide CSVs (files, or folders of ``*.csv``): one row per (model, replicate,
    checkpoint, task, metric) with ``step``, ``tokens``, ``compute`` and the extra columns ``size`` and
    ``chinchilla_multiplier``. Rows two files both hold (parts of one run) are kept once when they agree."""
    files = _expand(paths)
    size_map = dict(size_map or {})
    parts = [_read_one(f, size_map) for f in files]
    n_empty = sum(p.attrs.get("n_empty", 0) for p in parts)
    long = pd.concat(parts, ignore_index=True)
    key = ["model", "replicate", "checkpoint", "task", "metric"]
    dup = long.duplicated(key, keep=False)
    if dup.any():
        groups = long[dup].groupby(key, sort=False)["value"]
        spread = groups.transform("max") - groups.transform("min")
        tol = 1e-9 * np.maximum(1.0, long.loc[dup, "value"].abs())
        conflict = spread > tol
        if conflict.any():
            row = long[dup][conflict.to_numpy()].iloc[0]
            other = long[dup & (long[key] == row[key]).all(axis=1)]
            a, b = other.iloc[0], other.iloc[1]
            raise InputError(
                f"{row['model']} {row['checkpoint']} {row['task']} {row['metric']} is {float(a['value']):.6g} here but "
                f"{float(b['value']):.6g} in {b['source']}:line {b['_line']}",
                path=a["source"],
                where=f"line {a['_line']}",
                fix="give each step of a run once, or name reruns <size>-<k>xC-<replicate>.csv",
            )
        long = long.drop_duplicates(key, keep="first")
    long = long.drop(columns="_line")
    long = long.sort_values(["model", "replicate", "step", "tokens", "task", "metric"], kind="stable")
    out = normalize(long, source=str(files[0].parent if len(files) > 1 else files[0]))
    out.attrs["n_empty"] = n_empty  # cells of steps where that evaluation did not run
    return out
