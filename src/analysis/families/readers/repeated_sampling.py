"""Repeated-sampling counts (per problem: ``n`` samples drawn, ``c`` of them correct) into pass@k.

pass@k of one problem is the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)``: the chance that
k of the n samples, drawn without replacement, hold at least one correct one. It is computed as
``-expm1(sum_{i=n-c+1}^{n} log1p(-k/i))`` (the product form of the ratio, one cumulative sum per distinct n), so n
in the thousands neither overflows nor loses the small values. ``k > n`` is refused: the estimator is undefined there (a naive ``1 - (1 - c/n)^k`` or a clipped
``C(n-c,k) = 0`` reads 1.0 even with zero correct samples).

Input: a CSV / Parquet / JSON-lines table with one row per (model, problem): columns ``model``, ``problem``, ``n``,
``c`` and optionally ``family``, ``task``, ``scale`` (else from ``size_map``); other names are mapped with
``columns`` (``{"c": "num_correct"}``).

What m samples per problem would read (:func:`resolution_view`): with m of the n samples, a problem reads solved
with probability pass@m; the aggregate pass@1 estimate is still unbiased but moves in steps of ``1/(m * problems)``,
and reads exactly 0 with probability ``prod_i (1 - pass@m_i)``: the resolution argument of the paper with real
counts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from src.analysis.core.evidence import normalize
from src.analysis.core.ingest import read_any
from src.results.errors import InputError, raise_at_first, require_columns


def pass_at_k(n, c, k: int) -> np.ndarray:
    """Unbiased pass@k per problem, ``1 - C(n-c,k)/C(n,k)``, vectorised and stable. Raises ValueError for k > n,
    c > n, negative counts or k < 1 (callers that know the file turn it into an InputError)."""
    n = np.asarray(n, dtype=float)
    c = np.asarray(c, dtype=float)
    if k < 1 or int(k) != k:
        raise ValueError(f"k must be a positive integer, got {k}")
    if (n < 0).any() or (c < 0).any() or (c > n).any():
        raise ValueError("counts must satisfy 0 <= c <= n")
    if (k > n).any():
        raise ValueError(f"k={k} exceeds n={int(n[k > n].min())} samples of a problem")
    # C(n-c,k)/C(n,k) = prod_{i=n-c+1}^{n} (1 - k/i): for each distinct n one cumulative sum of log1p(-k/i) over
    # i = n, n-1, ... gives the log-ratio of every c at once, to about 1e-15 relative (no large-number cancellation)
    out = np.ones_like(n)
    some_fail_set = (n - c) >= k  # else every k-subset holds a correct sample: pass@k = 1
    for nn in np.unique(n[some_fail_set]):
        rows = some_fail_set & (n == nn)
        cmax = int(c[rows].max())
        i = nn - np.arange(cmax)  # n, n-1, ..., n-cmax+1 (all > k here)
        log_ratio = np.concatenate([[0.0], np.cumsum(np.log1p(-k / i))])
        out[rows] = -np.expm1(log_ratio[c[rows].astype(np.int64)])
    return out


MAX_SAMPLES = 10_000_000  # samples of one problem: pass@k's product form needs memory in n


def read_repeated_sampling(
    path: str | os.PathLike,
    *,
    ks: Sequence[int] = (1, 10, 100),
    columns: Mapping[str, str] | None = None,
    size_map: Mapping[str, float] | None = None,
    family: str | None = None,
    task: str | None = None,
    ks_up_to_samples: bool = False,
    sizes_from_names: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evidence table, items table) of a per-problem counts table: pass@k per problem for each k in ``ks`` (items)
    and its mean over problems per (family, model, task) (evidence, ``metric = pass@k``, ``n_items`` = problems,
    ``stderr`` = SD over problems / sqrt(problems)). ``ks_up_to_samples``: leave out the k (default ones) above
    the fewest samples any problem drew, instead of refusing them. ``sizes_from_names``: a model without a scale
    column or a size-map entry takes its size (and, without a family column, its family) from its name, as the
    table reader's ``--sizes-from-names`` does (pythia-1.4b -> 1.4e9)."""
    path = Path(path)
    df = read_any(path)  # the one table reader: CSV/TSV/Parquet/JSON/JSONL, every failure one line
    rename = {theirs: ours for ours, theirs in (columns or {}).items()}
    df = df.rename(columns=rename)
    require_columns(
        df.columns,
        ["model", "problem", "n", "c"],
        path=path,
        fix="name them model, problem, n, c or map yours (--column c=num_correct)",
    )
    line = lambda i: f"line {i + 2}" if path.suffix == ".csv" else f"row {i + 1}"  # noqa: E731
    counts = df[["n", "c"]].apply(pd.to_numeric, errors="coerce")
    bad = (
        counts.isna().any(axis=1) | ~np.isfinite(counts).all(axis=1) | (counts != counts.round()).any(axis=1)
    )
    bad |= (counts < 0).any(axis=1) | (counts > MAX_SAMPLES).any(axis=1)
    bad |= counts["c"] > counts["n"]
    raise_at_first(
        bad,
        lambda i: (
            f"n={df['n'].iloc[i]!s}, c={df['c'].iloc[i]!s}: expected whole numbers with 0 <= c <= n <= {MAX_SAMPLES:.0e}"
        ),
        path=path,
        where=lambda i: line(i),
        fix="give per problem the samples drawn (n) and how many were correct (c)",
    )
    n, c = counts["n"].to_numpy(float), counts["c"].to_numpy(float)
    if ks_up_to_samples:
        ks = [k for k in ks if k <= n.min()]
    for k in ks:
        over = n < k
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise InputError(
                f"pass@{k} needs at least {k} samples but problem {df['problem'].iloc[i]!s} of {df['model'].iloc[i]!s} "
                f"has n={int(n[i])} (the unbiased estimator is undefined for k > n)",
                path=path,
                where=line(i),
                fix=f"ask for k <= {int(n.min())} (--k), or draw more samples",
            )
    if "scale" not in df.columns:
        sizes = dict(size_map or {})
        if sizes_from_names:
            from src.analysis.families.readers.lm_eval import sizes_and_families

            from_names, families = sizes_and_families(df["model"])
            for m, n_params in zip(df["model"].astype(str), from_names, strict=True):
                if m not in sizes and np.isfinite(n_params):
                    sizes[m] = float(n_params)
            if "family" not in df.columns and family is None:
                df["family"] = families
        unknown = sorted(set(df["model"].astype(str)) - set(sizes))
        if unknown:
            raise InputError(
                f"no scale column and no size for model(s) {unknown[:5]}",
                path=path,
                fix="add a scale column, give a size map (model: parameters), or --sizes-from-names if the names carry "
                "sizes (pythia-1.4b)",
            )
        df["scale"] = df["model"].astype(str).map(sizes)
    scale = pd.to_numeric(df["scale"], errors="coerce")
    raise_at_first(
        ~(np.isfinite(scale) & (scale > 0)),
        lambda i: f"scale of {df['model'].iloc[i]!s} is {df['scale'].iloc[i]!r}, not a positive number",
        path=path,
        where=lambda i: line(i),
        fix="give each model's parameter count",
    )
    df["family"] = family or (df["family"].astype(str) if "family" in df.columns else path.stem)
    df["task"] = task or (df["task"].astype(str) if "task" in df.columns else path.stem)
    dup = df.duplicated(["family", "model", "task", "problem"], keep=False)
    raise_at_first(
        dup,
        lambda i: f"problem {df['problem'].iloc[i]!s} of {df['model'].iloc[i]!s} appears twice",
        path=path,
        where=lambda i: line(i),
        fix="give one row per (model, problem); add the counts of repeated runs",
    )
    items = pd.DataFrame({
        "family": df["family"].astype(str), "model": df["model"].astype(str),
        "scale": pd.to_numeric(df["scale"], errors="coerce"), "task": df["task"].astype(str),
        "item": df["problem"].astype(str), "replicate": "", "checkpoint": "", "n": n, "c": c,
    })  # fmt: skip
    for k in ks:
        items[f"pass@{k}"] = pass_at_k(n, c, int(k))
    rows = []
    for (fam, model, scale, tsk), g in items.groupby(["family", "model", "scale", "task"], sort=False):
        for k in ks:
            v = g[f"pass@{k}"].to_numpy()
            rows.append({
                "family": fam, "model": model, "scale": scale, "task": tsk, "metric": f"pass@{k}",
                "value": float(v.mean()), "n_items": float(v.size),
                "stderr": float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan,
                "source": str(path), "samples_per_problem": float(g["n"].median()),
            })  # fmt: skip
    return normalize(pd.DataFrame(rows), source=str(path)), items


def bootstrap_pass_at_k(
    items: pd.DataFrame, ks: Sequence[int], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Percentile intervals of the mean pass@k over problems, resampling problems with replacement (one row per
    (family, model, task, k): ``value``, ``lo``, ``hi``)."""
    rng = np.random.default_rng(seed)
    a = (1.0 - level) / 2.0
    rows = []
    for (fam, model, scale, task), g in items.groupby(["family", "model", "scale", "task"], sort=False):
        idx = rng.integers(0, len(g), size=(n_boot, len(g)))
        for k in ks:
            v = pass_at_k(g["n"].to_numpy(), g["c"].to_numpy(), int(k))
            boots = v[idx].mean(axis=1)
            lo, hi = np.quantile(boots, [a, 1.0 - a])
            rows.append({
                "family": fam, "model": model, "scale": scale, "task": task, "k": int(k),
                "value": float(v.mean()), "lo": float(lo), "hi": float(hi), "problems": len(g),
            })  # fmt: skip
    return pd.DataFrame(rows)


def resolution_view(items: pd.DataFrame, ms: Sequence[int]) -> pd.DataFrame:
    """What m samples per problem would read, from the real counts (m <= each problem's n): the expected share of
    problems read as solved (mean pass@m), the resolution ``1/(m * problems)`` of the aggregate pass@1 estimate and
    the probability that it reads exactly 0 (no correct sample among m for any problem)."""
    rows = []
    for (fam, model, scale, task), g in items.groupby(["family", "model", "scale", "task"], sort=False):
        n, c = g["n"].to_numpy(float), g["c"].to_numpy(float)
        for m in ms:
            if m > n.min():
                continue
            p = pass_at_k(n, c, int(m))
            log_p_zero = np.log1p(-np.clip(p, 0.0, 1.0)).sum() if (p < 1).all() else -np.inf
            rows.append({
                "family": fam, "model": model, "scale": scale, "task": task, "m": int(m),
                "pass@1": float((c / n).mean()), "share_solved": float(p.mean()),
                "resolution": 1.0 / (m * len(g)), "p_reads_zero": float(np.exp(log_p_zero)),
            })  # fmt: skip
    return pd.DataFrame(rows)
