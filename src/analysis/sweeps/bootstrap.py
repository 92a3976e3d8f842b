"""Bootstrap confidence intervals over test items, from each run's ``per_item.npz``.

A metric's value on a test set of n items is an estimate; resampling the items (with replacement) shows how much it
would move on another test set of the same size. For each (task, metric, scale) the interval is that of the
*seed mean*: every seed's items are resampled independently, the B replicates are averaged across seeds, and the
percentile interval is taken. It measures test-set sampling noise only; the seed band shows training noise.

Which per-item arrays give which metric is a small registry by metric family (:func:`register_item_estimator`).
Every estimator is checked against the run record on the full test set before it is trusted: a metric whose
per-item rescoring does not reproduce the logged value gets no interval and a warning naming it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from src.analysis.core.metrics import MetricInfo, classify
from src.analysis.sweeps.loading import per_item_path
from src.results import per_item as results_per_item
from src.results.errors import InputError

PerItem = dict[str, np.ndarray]
Estimator = Callable[
    [np.ndarray], np.ndarray
]  # resample counts [B, n] (times each item drawn) -> replicates [B]
EstimatorFactory = Callable[[MetricInfo, PerItem], Estimator | None]

_ESTIMATORS: dict[str, EstimatorFactory] = {}


def register_item_estimator(family: str, factory: EstimatorFactory) -> None:
    """Tell the bootstrap how to rescore metric family ``family`` from per-item arrays (None: cannot)."""
    _ESTIMATORS[family] = factory


def _mean_of(x: np.ndarray) -> Estimator:
    """Mean over items (and over any trailing per-item axes) as a weighted sum: counts @ per-item means / n."""
    x = np.asarray(x, dtype=np.float64)
    per_item = x.reshape(x.shape[0], -1).mean(axis=1)
    return lambda counts: counts @ per_item / per_item.shape[0]


def subset_accuracy_from_count(m: np.ndarray, n: int, k: int) -> np.ndarray:
    """C(m, k) / C(n, k): the exact probability that k distinct random items out of n, m of them right, are all right."""
    m = np.asarray(m, dtype=np.float64)
    out = np.ones_like(m)
    for j in range(k):
        out *= np.clip(m - j, 0.0, None) / (n - j)
    return out


def _acc(info: MetricInfo, a: PerItem) -> Estimator | None:
    return _mean_of(a["correct"]) if "correct" in a else None


def _ce(info: MetricInfo, a: PerItem) -> Estimator | None:
    return _mean_of(a["ce"]) if "ce" in a else None


def _subset_acc(info: MetricInfo, a: PerItem) -> Estimator | None:
    # correct [n] or [n_seq, L]: every answer is an item; resampling is over the first axis (whole sequences)
    if "correct" not in a or a["correct"].ndim not in (1, 2):
        return None
    correct = a["correct"].reshape(a["correct"].shape[0], -1).astype(np.float64)
    per_row, n, k = correct.sum(axis=1), correct.size, int(float(info.param))
    return lambda counts: subset_accuracy_from_count(counts @ per_row, n, k)


def _recon(info: MetricInfo, a: PerItem) -> Estimator | None:
    return _mean_of(a["sq_err"] < float(info.param)) if "sq_err" in a else None


def _mse(info: MetricInfo, a: PerItem) -> Estimator | None:
    # per_item sq_err is summed over the image; mse divides by a size the npz does not carry. The ratio
    # boot_mean / full_mean is scale free, so the record's value times it is the exact bootstrap of mse.
    if "sq_err" not in a:
        return None
    sq = np.asarray(a["sq_err"], dtype=np.float64)
    full = sq.mean()
    return None if full == 0 else (lambda counts: counts @ sq / (sq.shape[0] * full))


def _seq_acc(info: MetricInfo, a: PerItem) -> Estimator | None:
    # correct [n_seq, L]: a sequence counts when its first l items are all right
    if "correct" not in a or a["correct"].ndim != 2:
        return None
    return _mean_of(a["correct"][:, : int(float(info.param))].all(axis=1))


for _family, _factory in (
    ("acc", _acc),
    ("ce", _ce),
    ("subset_acc", _subset_acc),
    ("recon", _recon),
    ("mse", _mse),
    ("sq_err", lambda info, a: _mean_of(a["sq_err"]) if "sq_err" in a else None),
    ("seq_acc", _seq_acc),
):
    register_item_estimator(_family, _factory)

_RATIO_FAMILIES = {"mse"}  # estimators returning boot/full ratios, scaled by the record's value


def run_replicates(
    metrics: dict[str, float], arrays: PerItem, n_boot: int, rng: np.random.Generator, chunk: int = 200
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Bootstrap replicates [n_boot] of every metric of one run that its per-item arrays can rescore.

    Returns (replicates by metric key, keys skipped because their rescoring does not match the record). All
    metrics share the same resampled item indices, so their replicates are paired.
    """
    n = next(iter(arrays.values())).shape[0]
    ests: dict[str, Estimator] = {}
    mismatched: list[str] = []
    full_counts = np.ones((1, n))
    for key, value in metrics.items():
        info = classify(key)
        if info is None or info.split != "test" or info.kind.family not in _ESTIMATORS:
            continue
        est = _ESTIMATORS[info.kind.family](info, arrays)
        if est is None:
            continue
        full = float(est(full_counts)[0]) * (value if info.kind.family in _RATIO_FAMILIES else 1.0)
        if not np.isclose(full, value, rtol=1e-4, atol=1e-6):
            mismatched.append(f"{key} (record {value:.6g}, per-item rescoring {full:.6g})")
            continue
        ests[key] = est
    out = {k: np.empty(n_boot) for k in ests}
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        # resampling n items with replacement = multinomial counts; drawn as indices then counted (fast, exact)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        for key, est in ests.items():
            scale = metrics[key] if classify(key).kind.family in _RATIO_FAMILIES else 1.0
            out[key][start : start + b] = est(counts) * scale
    return out, mismatched


def load_per_item(path) -> PerItem:
    """Arrays of one ``per_item.npz`` (first axis = test item), naming the file if it is unreadable."""
    arrays = results_per_item.load_per_item(path)
    lengths = {k: v.shape[0] for k, v in arrays.items()}
    if not arrays or len(set(lengths.values())) != 1:
        raise InputError(
            f"per-item arrays must share their first (item) axis, got {lengths}",
            path=path,
            fix="rerun that job (force=true) to rewrite it",
        )
    return arrays


def bootstrap_replicates(
    table: pd.DataFrame, n_boot: int = 1000, seed: int = 0, progress: bool = True
) -> dict[tuple, list[np.ndarray]]:
    """Per (source, task, metric, scale): one array of ``n_boot`` item-bootstrap replicates per run
    (seed) that saved ``per_item.npz``. Within a run every metric shares the resampled items (paired)."""
    rng = np.random.default_rng(seed)
    reps: dict[tuple, list[np.ndarray]] = {}
    mismatched: set[str] = set()
    runs = table[["source", "sweep_dir", "task", "run_dir", "scale"]].drop_duplicates()
    runs = runs[
        (runs["run_dir"].astype(str) != "") & (runs["sweep_dir"].astype(str) != "")
    ]  # sweep runs only
    for row in tqdm(
        list(runs.itertuples(index=False)), desc="bootstrap over test items", disable=not progress
    ):
        path = per_item_path(row.sweep_dir, row.run_dir)
        if not path.is_file():
            continue
        run = table[(table["source"] == row.source) & (table["run_dir"] == row.run_dir)]
        metrics = dict(zip(run["metric"], run["value"].astype(float), strict=True))
        out, bad = run_replicates(metrics, load_per_item(path), n_boot, rng)
        mismatched.update(bad)
        for key, r in out.items():
            reps.setdefault((row.source, row.task, key, row.scale), []).append(r)
    if mismatched:
        warnings.warn(
            "no bootstrap interval for metric(s) whose per-item rescoring does not reproduce the run record: "
            + "; ".join(sorted(mismatched)[:10]),
            stacklevel=3,
        )
    return reps


def bootstrap_table(
    table: pd.DataFrame, n_boot: int = 1000, level: float = 0.95, seed: int = 0, progress: bool = True
) -> pd.DataFrame:
    """Percentile intervals of the seed mean over test items, for every rescorable test metric of ``table``.

    ``table``: evidence table of :func:`src.analysis.sweeps.loading.load_sweeps`. Returns one row per
    (source, task, metric, scale) with ``ci_lo, ci_hi, n_boot, n_runs``; runs without ``per_item.npz``
    contribute nothing (a point whose runs all lack it gets no row). Seeded: the same table gives the same intervals.
    """
    reps = bootstrap_replicates(table, n_boot, seed, progress)
    alpha = (1.0 - level) / 2.0
    rows = []
    for (sweep, task, metric, num_params), rs in reps.items():
        seed_mean = np.mean(rs, axis=0)
        lo, hi = np.quantile(seed_mean, [alpha, 1.0 - alpha])
        rows.append((sweep, task, metric, num_params, float(lo), float(hi), n_boot, len(rs)))
    cols = ["source", "task", "metric", "scale", "ci_lo", "ci_hi", "n_boot", "n_runs"]
    return pd.DataFrame(rows, columns=cols)
