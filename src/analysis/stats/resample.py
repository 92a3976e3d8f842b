"""Resampled curves ``[B, n_sizes]`` of one (family, task) from whatever the data carry, in one documented order.

Per size (model) of a curve, the first source that applies:

1. **items**: the run's per-item outcomes (items table): items resampled with replacement; when every model of the
   family was scored on the same items, the *same* resample is used for every model and every metric (paired
   across sizes and metrics). Repeated-sampling counts (``n`` samples, ``c`` correct per problem) are resampled as
   clusters: problems with replacement, and each problem's success rate drawn from its Beta(c + 1/(2P), n - c + 1/2)
   posterior (Jeffreys' half success spread over the P problems), so 0 of a million samples gives an upper end
   near 3 / million, not [0, 0].
2. **seeds** (replicates of the model *within its family*): runs drawn with replacement, each run's value
   jittered by its own measurement noise where the data give one (3 or 4: ``seeds+stderr``, ``seeds+binomial``);
   runs with per-item outcomes bring their item resamples (``items x seeds``).
3. **stderr**: the source's standard error, Normal(value, stderr) clipped to the metric's bounds.
4. **binomial**: a share of ``n_items`` (or of ``n_trials`` samples): Beta(k + 1/2, n - k + 1/2) draws.
5. **range bound**: a continuous score of known range [lo, hi] averaged over ``n_items`` (a Brier score, p(right)):
   no item can vary more than the range allows, so its per-item variance is at most (value - lo)(hi - value)
   (Bhatia-Davis) and Normal(value, sqrt of that / n) is a conservative interval (exact for scores at the ends).

A size with none of these has no interval: the curve's source is then ``partial`` (or ``none``) and its verdict
"not supported by the data". Seeded per (family, task), so a family's result does not depend on what else was read.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

CHUNK = 4_000_000  # elements of one [B, n] count block


def group_rng(seed: int, family: str, task: str) -> np.random.Generator:
    """The one generator of a (family, task): the same draws whatever other families were read with it."""
    return np.random.default_rng([int(seed), zlib.crc32(family.encode()), zlib.crc32(task.encode())])


def item_count_blocks(n: int, B: int, rng: np.random.Generator):
    """Yield ``(start, counts [b, n])`` blocks of bootstrap counts (times each of n items is drawn)."""
    step = max(1, min(B, CHUNK // max(n, 1)))
    for start in range(0, B, step):
        b = min(step, B - start)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield start, np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def _pass_at_k_draws(counts: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """Mean over resampled problems of 1 - (1 - p)^k, ``counts``/``p`` [b, P]."""
    return (counts * -np.expm1(k * np.log1p(-np.clip(p, 0.0, 1.0 - 1e-300)))).sum(axis=1) / counts.shape[1]


def _arrays(r: pd.DataFrame) -> dict[str, np.ndarray]:
    """The run's per-item columns as arrays: ``name`` 1-D, and ``name[0]``, ``name[1]``, ... as one 2-D ``name``."""
    out, wide = {}, {}
    for col in r.columns:
        if not pd.api.types.is_numeric_dtype(r[col]) or col in ("scale", "item"):
            continue
        base, sep, j = col.partition("[")
        if sep and j.rstrip("]").isdigit():
            wide.setdefault(base, []).append((int(j.rstrip("]")), r[col].to_numpy()))
        else:
            out[col] = r[col].to_numpy()
    for base, cols in wide.items():
        out[base] = np.stack([c for _, c in sorted(cols)], axis=1)
    return out


def _estimators(r: pd.DataFrame, metrics: list[str], values: dict[str, float]) -> dict:
    """Per metric the estimator ``counts [b, n] -> [b]`` the run's items give: the mean of the item column named
    like the metric, else the rescoring registered for the metric's family (K-of-K from per-item correctness,
    Reconstruction_c from squared errors: :mod:`src.analysis.sweeps.bootstrap`)."""
    from src.analysis.core.metrics import classify, target_length
    from src.analysis.sweeps import bootstrap as sb

    arrays = _arrays(r)
    out = {}
    for m in metrics:
        if m in arrays and arrays[m].ndim == 1:
            v = arrays[m].astype(float)
            present = ~np.isnan(v)
            if present.all():
                out[m] = lambda w, v=v: w @ v / v.size
            elif present.any() and target_length(m) is not None:
                # a metric of the first L tokens is one of the items with at least L (NaN for the others): the
                # mean over the resampled items that have a value. Elsewhere a NaN is an item the reader could not
                # score (inverse scaling's unknown correctness), and the items do not give the metric.
                v0, pm = np.where(present, v, 0.0), present.astype(float)
                out[m] = lambda w, v0=v0, pm=pm: (w @ v0) / np.where((d := w @ pm) > 0, d, np.nan)
            continue
        info = classify(m)
        factory = sb._ESTIMATORS.get(info.kind.family) if info is not None else None
        est = factory(info, arrays) if factory is not None else None
        if est is None:
            continue
        scale = values.get(m, 1.0) if info.kind.family in sb._RATIO_FAMILIES else 1.0
        out[m] = lambda w, est=est, scale=scale: est(w) * scale
    return out


def item_replicates(
    runs: list[pd.DataFrame],
    metrics: list[str],
    B: int,
    rng: np.random.Generator,
    values: list[dict[str, float]] | None = None,
) -> list[dict[str, np.ndarray]]:
    """Per run (its items, sorted by item id): bootstrap replicates ``[B]`` of every metric its items can give
    (:func:`_estimators`; pass@k from ``n``/``c`` counts). Runs scored on the same item ids share one resample of
    items (paired across sizes); all metrics of a run share it (paired across metrics). ``values``: each run's
    reported values (the scale of ratio estimators)."""
    out: list[dict[str, np.ndarray]] = [{} for _ in runs]
    first = runs[0]["item"].to_numpy()
    shared = all(len(r) == len(first) and np.array_equal(r["item"].to_numpy(), first) for r in runs)
    ids = [0 if shared else i for i in range(len(runs))]  # the resample plan each run uses
    if shared and len(runs) > 1:
        # one test set: every run's plain item means in one matrix product per block ([b, n] @ [n, runs])
        plain = [m for m in metrics if all(m in r.columns and pd.api.types.is_numeric_dtype(r[m]) for r in runs)
                 and not m.startswith("pass@")]  # fmt: skip
        mats = {m: np.stack([r[m].to_numpy(float) for r in runs], axis=1) for m in plain}
        mats = {m: v for m, v in mats.items() if not np.isnan(v).any()}
        if mats:
            n = len(runs[0])
            res = {m: np.empty((B, len(runs))) for m in mats}
            blocks = list(item_count_blocks(n, B, rng))
            for start, w in blocks:
                for m, v in mats.items():
                    res[m][start : start + w.shape[0]] = w @ v / n
            for i in range(len(runs)):
                out[i].update({m: res[m][:, i] for m in mats})
            rest = [m for m in metrics if m not in mats]
            if rest:
                more = _item_replicates_per_run(runs, rest, B, rng, values, {ids[0]: blocks}, ids, shared)
                for i in range(len(runs)):
                    out[i].update(more[i])
            return out
    return _item_replicates_per_run(runs, metrics, B, rng, values, {}, ids, shared)


def _item_replicates_per_run(
    runs, metrics, B, rng, values, plans, ids, shared
) -> list[dict[str, np.ndarray]]:
    out: list[dict[str, np.ndarray]] = [{} for _ in runs]
    for i, r in enumerate(runs):
        key = ids[i]
        if key not in plans:
            plans[key] = list(item_count_blocks(len(r), B, rng))
        has_counts = {"n", "c"} <= set(r.columns)
        ks = (
            {m: int(m[5:]) for m in metrics if m.startswith("pass@") and m[5:].isdigit()}
            if has_counts
            else {}
        )
        ests = _estimators(r, [m for m in metrics if m not in ks], (values or [{}] * len(runs))[i])
        for m in [*ests, *ks]:
            out[i][m] = np.empty(B)
        n_draw, c_draw = (r["n"].to_numpy(float), r["c"].to_numpy(float)) if has_counts else (None, None)
        for start, w in plans[key]:
            b = w.shape[0]
            for m, est in ests.items():
                out[i][m][start : start + b] = est(w)
            if ks:
                # Jeffreys' half success spread over the problems: 0 of N samples in all gives about 0.5 / N
                p = rng.beta(c_draw + 0.5 / len(r), n_draw - c_draw + 0.5, size=(b, len(r)))
                for m, k in ks.items():
                    out[i][m][start : start + b] = _pass_at_k_draws(w, p, k)
    return out


def parametric(value: float, stderr: float, n: float, kind: str, bounds: tuple[float, float], B: int,
               rng: np.random.Generator) -> tuple[np.ndarray | None, str]:  # fmt: skip
    """Draws of one run's value from its own measurement noise: Normal(value, stderr), a share's Beta posterior, or
    the range bound of a continuous score of n items;
    (None, "none") when the data give neither."""
    lo, hi = bounds
    if np.isfinite(stderr) and stderr > 0:
        d = rng.normal(value, stderr, size=B)
        return np.clip(d, lo if np.isfinite(lo) else -np.inf, hi if np.isfinite(hi) else np.inf), "stderr"
    # a stderr of exactly 0 says nothing (the binomial formula at 0 or 1 right, or a value with no noise model):
    # it is no interval; a share's item count still gives one below
    if kind in ("share", "counts") and np.isfinite(n) and n > 0 and 0.0 <= value <= 1.0:
        k = value * n
        return rng.beta(k + 0.5, n - k + 0.5, size=B), "binomial"
    if (
        kind == "continuous"
        and np.isfinite(n)
        and n > 0
        and np.isfinite(lo)
        and np.isfinite(hi)
        and lo <= value <= hi
    ):
        sd = float(np.sqrt((value - lo) * (hi - value) / n))
        if sd > 0:
            return np.clip(rng.normal(value, sd, size=B), lo, hi), "range bound"
    return None, "none"


def size_replicates(
    values: np.ndarray,
    noise: list[np.ndarray | None],
    noise_src: list[str],
    item_reps: list[np.ndarray | None],
    B: int,
    rng_picks: np.ndarray | None,
) -> tuple[np.ndarray | None, str]:
    """Replicates ``[B]`` of one size's mean over its runs (values [R]) and the name of their source."""
    R = len(values)
    # every item at 0 (or at 1): the item bootstrap can only say [0, 0]; the share's binomial says how small
    degenerate = [r is not None and np.ptp(r) == 0 for r in item_reps]
    if any(degenerate) and all(d is not None for d, g in zip(noise, degenerate, strict=True) if g):
        item_reps = [d if g else r for r, d, g in zip(item_reps, noise, degenerate, strict=True)]
        if R == 1:
            return item_reps[0], "binomial"
    if all(r is not None for r in item_reps):
        if R == 1:
            return item_reps[0], "items"
        stack = np.stack(item_reps)  # [R, B]
        return stack[rng_picks, np.arange(B)[:, None]].mean(axis=1), "items x seeds"
    if R >= 2:
        if all(d is not None for d in noise):
            stack = np.stack(noise)
            src = noise_src[0] if len(set(noise_src)) == 1 else "mixed"
            return stack[rng_picks, np.arange(B)[:, None]].mean(axis=1), f"seeds+{src}"
        return values[rng_picks].mean(axis=1), "seeds"
    if noise[0] is not None:
        return noise[0], noise_src[0]
    return None, "none"
