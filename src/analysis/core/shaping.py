"""Shaping an evidence table without scripts: row filters, models left out, a family map (a model may sit in
several families), exact duplicates dropped, named means over tasks. Every change is counted in a notice.

    --where 'task=arc_*' --where 'metric!=acc_norm'   keep / drop rows by a column glob
    --drop-model 'pythia-*-deduped'                    leave models out
    --family-map families.yaml                         model (glob) -> family or [families]
    --task-mean 'mmlu=mmlu_*'                          add task "mmlu": the mean over the matching tasks
                                                       (weighted by n_items where every part has it)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pandas as pd

from src.results.errors import InputError


@dataclass
class Shaping:
    where: list[str] = field(default_factory=list)
    drop_models: list[str] = field(default_factory=list)
    family_map: str | os.PathLike | None = None
    task_means: list[str] = field(default_factory=list)


def _filters(where: list[str]) -> list[tuple[str, bool, list[str]]]:
    out = []
    for item in where:
        neg = "!=" in item
        col, sep, globs = item.partition("!=" if neg else "=")
        if not sep or not col.strip() or not globs.strip():
            raise InputError(
                f"--where expects COLUMN=GLOB or COLUMN!=GLOB, got {item!r}", fix="e.g. --where 'task=arc_*'"
            )
        out.append((col.strip(), neg, [g.strip() for g in globs.split(",") if g.strip()]))
    return out


def load_family_map(path: str | os.PathLike) -> dict[str, list[str]]:
    """A YAML ``model-glob: family`` or ``model-glob: [family, ...]`` mapping, or a table with model, family
    columns (several rows per model allowed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("family map does not exist", path=path, fix="check the path")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise InputError(
                f"not valid YAML ({type(err).__name__})", path=path, fix="model: family"
            ) from err
        if not isinstance(data, dict) or not data:
            raise InputError("must map model names (globs) to a family or a list of families", path=path,
                             fix="e.g. pythia-1.4b: [pythia, pythia-ablation]")  # fmt: skip
        return {
            str(k): [str(v)] if isinstance(v, str | int | float) else [str(x) for x in v]
            for k, v in data.items()
        }
    from src.analysis.core.ingest import read_any

    df = read_any(path)
    if not {"model", "family"} <= set(df.columns):
        raise InputError("family map table needs columns model and family", path=path, fix="rename them")
    out: dict[str, list[str]] = {}
    for m, f in zip(df["model"].astype(str), df["family"].astype(str), strict=True):
        out.setdefault(m, []).append(f)
    return out


def _apply_family_map(df: pd.DataFrame, fmap: dict[str, list[str]], notices: list[str]) -> pd.DataFrame:
    if df.empty:
        return df
    parts, n_multi = [], 0
    for model, g in df.groupby("model", sort=False):
        fams = next((f for glob, f in fmap.items() if fnmatchcase(str(model), glob)), None)
        if fams is None:
            parts.append(g)
            continue
        n_multi += len(fams) > 1
        parts += [g.assign(family=f) for f in fams]
    if n_multi:
        notices.append(
            f"family map: {n_multi} model(s) sit in several families (their rows are read once per family)"
        )
    return pd.concat(parts, ignore_index=True)


def _task_means(df: pd.DataFrame, specs: list[str], notices: list[str]) -> pd.DataFrame:
    new = []
    for spec in specs:
        name, sep, globs = spec.partition("=")
        if not sep or not name.strip() or not globs.strip():
            raise InputError(
                f"--task-mean expects NAME=GLOB[,GLOB], got {spec!r}", fix="e.g. --task-mean 'mmlu=mmlu_*'"
            )
        gl = [g.strip() for g in globs.split(",") if g.strip()]
        part = df[df["task"].map(lambda t, gl=gl: any(fnmatchcase(str(t), g) for g in gl))]
        if part.empty:
            raise InputError(
                f"--task-mean {spec!r} matches no task", fix=f"tasks read: {sorted(df['task'].unique())[:10]}"
            )
        keys = ["family", "model", "metric", "replicate", "checkpoint"]
        n_tasks = part["task"].nunique()
        for k, g in part.groupby(keys, sort=False, dropna=False):
            if g["task"].nunique() != n_tasks:
                continue  # a model without every part would be averaged over a different set of tasks
            n = g["n_items"].to_numpy(float)
            w = n if np.isfinite(n).all() and (n > 0).all() else np.ones(len(g))
            w = w / w.sum()
            se = g["stderr"].to_numpy(float)
            first = g.iloc[0]
            new.append({**dict(zip(keys, k, strict=True)), "task": name.strip(), "scale": first["scale"],
                        "value": float(w @ g["value"].to_numpy(float)),
                        "n_items": float(n.sum()) if np.isfinite(n).all() else math.nan,
                        "stderr": float(np.sqrt((w**2) @ se**2)) if np.isfinite(se).all() else math.nan,
                        "step": first.get("step", math.nan), "tokens": first.get("tokens", math.nan),
                        "source": f"mean of {n_tasks} tasks ({','.join(gl)})"})  # fmt: skip
        notices.append(f"task mean {name.strip()!r}: mean of {n_tasks} task(s) matching {gl}"
                       + (", weighted by items" if "n_items" in part and part["n_items"].notna().all() else ""))  # fmt: skip
    return pd.concat([df, pd.DataFrame(new)], ignore_index=True) if new else df


def shape(
    df: pd.DataFrame, items: pd.DataFrame, s: Shaping | None, notices: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the shaping to the evidence rows (and the items rows they key)."""
    if s is None:
        return df, items
    n0 = len(df)
    for col, neg, globs in _filters(s.where):
        if col not in df.columns:
            raise InputError(f"--where names column {col!r}, which the evidence does not have",
                             fix=f"use one of {', '.join(map(str, df.columns[:20]))}")  # fmt: skip
        hit = df[col].astype(str).map(lambda v, globs=globs: any(fnmatchcase(v, g) for g in globs))
        df = df[~hit] if neg else df[hit]
        if not items.empty and col in items.columns:
            ih = items[col].astype(str).map(lambda v, globs=globs: any(fnmatchcase(v, g) for g in globs))
            items = items[~ih] if neg else items[ih]
    if s.drop_models:
        hit = df["model"].astype(str).map(lambda v: any(fnmatchcase(v, g) for g in s.drop_models))
        if not hit.any():
            notices.append(f"--drop-model {s.drop_models} matched no model")
        df = df[~hit]
        if not items.empty:
            items = items[
                ~items["model"].astype(str).map(lambda v: any(fnmatchcase(v, g) for g in s.drop_models))
            ]
    if len(df) < n0:
        notices.append(f"filters left {len(df)} of {n0} rows")
    if df.empty:
        raise InputError("the filters leave no row", fix="loosen --where / --drop-model")
    if s.family_map:
        fmap = load_family_map(s.family_map)
        df = _apply_family_map(df, fmap, notices)
        if not items.empty:
            items = _apply_family_map(items, fmap, [])
    if s.task_means:
        df = _task_means(df, s.task_means, notices)
    return df.reset_index(drop=True), items.reset_index(drop=True)


def drop_exact_duplicates(df: pd.DataFrame, key: list[str], notices: list[str]) -> pd.DataFrame:
    """Rows repeated with the same key and value are one row (counted); the same key with two values stays an
    error for :func:`src.analysis.core.evidence.normalize` to name."""
    cols = [c for c in [*key, "value"] if c in df.columns]
    dup = df.duplicated(cols, keep="first")
    if dup.any():
        notices.append(f"{int(dup.sum())} exact duplicate row(s) dropped")
    return df[~dup]


def one_model_families(df: pd.DataFrame, notices: list[str]) -> None:
    n = df.groupby("family")["model"].nunique()
    lone = sorted(n[n == 1].index)
    if lone:
        notices.append(
            f"{len(lone)} famil{'y has' if len(lone) == 1 else 'ies have'} one model only, so no curve: "
            f"{', '.join(map(str, lone[:8]))}{' ...' if len(lone) > 8 else ''}; put models of one family together "
            "with --family NAME or --family-map FILE"
        )
