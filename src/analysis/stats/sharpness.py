"""Sharpness of a curve y(N): Eq. 1 with ties, N-aware thresholds, the largest-step share and the logistic width.

All functions take curves already *oriented* (improvement positive: a lower-is-better metric is negated first) and
sorted by scale, either one curve ``y [n]`` or many ``y [B, n]`` (bootstrap replicates, null draws) at once.

- :func:`emergence_rows`: the paper's Eq. 1 (BIG-Bench's emergence score) on every row, with steps no larger than
  a tolerance treated as ties (exactly 0): the measurement resolution (``1/n_items``, a seed spread) and float
  noise (``rtol`` of the curve's magnitude). Without it two accuracies equal up to a rounding bit after averaging
  seeds make a median step of 1e-17 and E = 1e15 instead of a one-step curve (E = inf).
- :func:`max_emergence`, :func:`threshold_status`, :func:`null_threshold`: with 3 sizes Eq. 1 lies in [-2, 2]
  (two steps: the median of the squared steps is their mean), so a threshold above 2 is unreachable; with 2 sizes
  it is undefined. A threshold is applied only where it is reachable, and the threshold that chance alone passes
  with probability 1 - level (scores unrelated to scale) is reported per N beside it.
- :func:`largest_step_share`: the largest absolute step over the summed absolute steps (1 = one step).
- :func:`logistic_width`: the width in decades of N over which a logistic in log10 N, with a floor (chance) and a
  ceiling, goes from 10% to 90% of its rise; tied to the curve, not to the grid's density.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import least_squares
from scipy.special import expit

FLOAT_RTOL = (
    1e-9  # steps below this share of the curve's magnitude are float noise (averaging, summation order)
)
WIDTH_FACTOR = 2.0 * math.log(9.0)  # logistic: 10% -> 90% of the rise spans 2 ln 9 scale units


def _rows(y) -> tuple[np.ndarray, bool]:
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        return y[None, :], True
    if y.ndim != 2:
        raise ValueError(f"y must be [n] or [B, n], got shape {y.shape}")
    return y, False


def tie_tolerance(y, resolution: float = 0.0, rtol: float = FLOAT_RTOL) -> float:
    """Steps with ``|step| <= tol`` are ties: ``tol = max(resolution, rtol * max(1, max |y|))``."""
    y = np.asarray(y, dtype=float)
    mag = float(np.nanmax(np.abs(y))) if y.size else 0.0
    return max(float(resolution), rtol * max(1.0, mag))


def emergence_rows(y, resolution: float = 0.0, rtol: float = FLOAT_RTOL) -> np.ndarray | float:
    """Eq. 1 of every row of ``y`` (sorted by scale, oriented), steps within the tie tolerance set to 0.

    ``sign(argmax - argmin) * (max - min) / sqrt(median(step^2))``; NaN with fewer than 3 points; 0 for a curve
    whose total change is within the tolerance; +-inf where the median step is a tie but the change is not.
    """
    y, single = _rows(y)
    n = y.shape[1]
    if n < 3:
        out = np.full(y.shape[0], np.nan)
        return float(out[0]) if single else out
    tol = tie_tolerance(y, resolution, rtol)
    d = np.diff(y, axis=1)
    d = np.where(np.abs(d) <= tol, 0.0, d)
    total = y.max(axis=1) - y.min(axis=1)
    sign = np.sign(np.argmax(y, axis=1) - np.argmin(y, axis=1)).astype(float)
    med = np.median(d**2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = sign * total / np.sqrt(med)
    with np.errstate(invalid="ignore"):
        e = np.where(med == 0.0, sign * np.inf, e)
    e = np.where(total <= tol, 0.0, e)
    return float(e[0]) if single else e


def largest_step_share(y, resolution: float = 0.0, rtol: float = FLOAT_RTOL) -> np.ndarray | float:
    """Largest absolute step / summed absolute steps per row (ties set to 0); NaN for a flat curve or n < 2."""
    y, single = _rows(y)
    if y.shape[1] < 2:
        out = np.full(y.shape[0], np.nan)
    else:
        tol = tie_tolerance(y, resolution, rtol)
        d = np.abs(np.diff(y, axis=1))
        d = np.where(d <= tol, 0.0, d)
        s = d.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(s > 0, d.max(axis=1) / s, np.nan)
    return float(out[0]) if single else out


def max_emergence(n: int) -> float:
    """Largest |Eq. 1| a curve of n sizes can reach: NaN below 3, 2 at 3 (two steps), inf from 4 on."""
    if n < 3:
        return math.nan
    return 2.0 if n == 3 else math.inf


def threshold_status(n: int, threshold: float) -> str:
    """``"not scorable"`` (n < 3), ``"unreachable"`` (no curve of n sizes reaches ``threshold``) or ``"ok"``."""
    if n < 3:
        return "not scorable"
    return "unreachable" if max_emergence(n) < threshold else "ok"


@lru_cache(maxsize=64)
def null_threshold(n: int, level: float = 0.95, draws: int = 20000, seed: int = 0) -> float:
    """The (level) quantile of Eq. 1 for n scores unrelated to scale (i.i.d. continuous values: every order of
    the sizes equally likely; Eq. 1 is invariant to shift and scale, so Gaussian draws stand for any continuous
    score). A curve must beat this to be sharper than chance at its N; seeded, cached."""
    if n < 3:
        return math.nan
    y = np.random.default_rng(seed).standard_normal((draws, n))
    return float(np.quantile(emergence_rows(y, rtol=0.0), level))


@dataclass(frozen=True)
class LogisticFit:
    """``y = floor + (ceiling - floor) * expit((log10 N - mid) / s)``; ``width = 2 ln 9 * s`` decades (10%->90%)."""

    floor: float
    ceiling: float
    mid: float  # log10 N at half the rise
    s: float
    rss: float
    identified: bool  # midpoint inside the measured range and the rise positive

    @property
    def width(self) -> float:
        return WIDTH_FACTOR * self.s

    def predict(self, n) -> np.ndarray:
        lx = np.log10(np.asarray(n, dtype=float))
        return self.floor + (self.ceiling - self.floor) * expit((lx - self.mid) / self.s)


def _fit_logistic(lx, y, floor, ceiling, upper, s_min, s_max, starts):
    free_floor, free_ceil = floor is None, ceiling is None
    lo_y, hi_y = float(np.min(y)), float(np.max(y))

    def unpack(p):
        i = 2
        f = p[i] if free_floor else floor
        i += free_floor
        c = p[i] if free_ceil else ceiling
        return p[0], p[1], f, c

    def resid(p):
        mid, log_s, f, c = unpack(p)
        return f + (c - f) * expit((lx - mid) / np.exp(log_s)) - y

    span = lx[-1] - lx[0]
    lb = [lx[0] - span, math.log(s_min)]
    ub = [lx[-1] + span, math.log(s_max)]
    if free_floor:
        lb.append(lo_y - abs(hi_y - lo_y) - 1e-9)
        ub.append(hi_y)
    if free_ceil:
        lb.append(lo_y if floor is None else floor)
        ub.append(upper)
    best = None
    for mid0, s0 in starts:
        p0 = [mid0, math.log(s0)]
        if free_floor:
            p0.append(lo_y)
        if free_ceil:
            p0.append(min(max(hi_y, lb[-1] + 1e-9), upper))
        p0 = np.clip(p0, np.array(lb) + 1e-12, np.array(ub) - 1e-12)
        r = least_squares(resid, p0, bounds=(lb, ub))
        if best is None or r.cost < best.cost:
            best = r
    mid, log_s, f, c = unpack(best.x)
    return float(mid), float(np.exp(log_s)), float(f), float(c), float(2 * best.cost)


def _starts(lx: np.ndarray, warm: LogisticFit | None) -> list[tuple[float, float]]:
    if warm is not None:
        return [(warm.mid, warm.s)]
    return [(m, s) for m in np.linspace(lx[0], lx[-1], 5) for s in (0.05, 0.3, 1.5)]


def _sorted_log(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    order = np.argsort(x)
    lx = np.log10(x[order])
    if lx.size < 3:
        raise ValueError(f"a logistic needs at least 3 sizes, got {lx.size}")
    return lx, y[..., order]


def _careful_width(
    x, y, floor=None, ceiling=None, upper=1.0, s_min=1e-3, s_max=100.0, warm=None
) -> LogisticFit:
    """The per-curve fit (one ``least_squares`` call per start, finite-difference Jacobian): the reference the
    batched fit is tested against, and its fallback for rows it cannot follow (a non-finite value)."""
    lx, y = _sorted_log(x, y)
    mid, s, f, c, rss = _fit_logistic(lx, y, floor, ceiling, upper, s_min, s_max, _starts(lx, warm))
    ok = bool(lx[0] <= mid <= lx[-1] and c - f > tie_tolerance(y))
    return LogisticFit(f, c, mid, s, rss, ok)


def _fit_block(lx, ys, floor, ceiling, upper, s_min, s_max, mid0, s0) -> np.ndarray:
    """Best fit over the starts ``(mid0[i, j], s0[i, j])`` of every row ``ys[i]`` (over ``lx`` [n] or [B, n]; floor,
    ceiling: None, a scalar or [B]; upper: scalar or [B]), all rows and starts in one batched run
    (:func:`src.analysis.stats.logistic_batch.fit_rows`). A row whose batched run met a non-finite value is
    refitted with the careful per-row fit. Returns [B, 5]: mid, s, floor, ceiling, rss."""
    from src.analysis.stats.logistic_batch import fit_rows

    b, k = mid0.shape
    lx = np.broadcast_to(lx, ys.shape)

    def rep(v):
        return v if v is None or np.ndim(v) == 0 else np.repeat(np.asarray(v, dtype=float), k)

    r = fit_rows(np.repeat(lx, k, axis=0), np.repeat(ys, k, axis=0), rep(floor), rep(ceiling), rep(upper),
                 s_min, s_max, mid0.ravel(), s0.ravel())  # fmt: skip
    best = np.argmin(r.rss.reshape(b, k), axis=1) + np.arange(b) * k  # the first of equal costs, as the loop
    out = np.stack([r.mid[best], r.s[best], r.floor[best], r.ceiling[best], r.rss[best]], axis=1)

    def at(v, i):
        return v if v is None or np.ndim(v) == 0 else float(np.asarray(v)[i])

    # status -1: a non-finite residual, where scipy shrinks the step and the port stops: refit that row per row.
    # Status 0 (the 100 x P evaluation budget spent) is kept: the per-row fit takes the same path to the same point.
    for i in np.flatnonzero((r.status < 0).reshape(b, k).any(axis=1)):
        starts = list(zip(mid0[i].tolist(), s0[i].tolist(), strict=True))
        out[i] = _fit_logistic(lx[i], ys[i], at(floor, i), at(ceiling, i), at(upper, i), s_min, s_max, starts)
    return out


def _start_arrays(lx, warm, b: int) -> tuple[np.ndarray, np.ndarray]:
    st = np.array(_starts(lx, warm), dtype=float)
    return np.tile(st[:, 0], (b, 1)), np.tile(st[:, 1], (b, 1))


def logistic_width(
    x,
    y,
    floor: float | None = None,
    ceiling: float | None = None,
    upper: float = 1.0,
    s_min: float = 1e-3,
    s_max: float = 100.0,
    warm: LogisticFit | None = None,
) -> LogisticFit:
    """Least-squares logistic in log10 N through (x, y) (oriented, higher = better).

    ``floor``: the chance level (fixed) or None (fitted); ``ceiling``: fixed, or None: fitted in [floor, ``upper``].
    ``identified`` is False where the fitted midpoint lies outside the measured sizes (the rise is not observed,
    so its width is an extrapolation) or the fitted rise is not positive. ``warm``: start from a previous fit
    (bootstrap refits); otherwise the best of 15 starts (5 midpoints x 3 scales), all fitted at once.
    """
    lx, y = _sorted_log(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mid0, s0 = _start_arrays(lx, warm, 1)
        best = _fit_block(lx, y[None, :], floor, ceiling, upper, s_min, s_max, mid0, s0)[0]
    mid, s, f, c, rss = (float(v) for v in best)
    ok = bool(lx[0] <= mid <= lx[-1] and c - f > tie_tolerance(y))
    return LogisticFit(f, c, mid, s, rss, ok)


def logistic_width_rows(x, ys, fit: LogisticFit, floor, ceiling, upper: float = 1.0) -> np.ndarray:
    """Widths (decades) of each row of ``ys [B, n]`` (bootstrap or null curves), refitted from ``fit``, all rows
    at once; NaN where the refit is not identified. Equal to refitting each row with
    ``logistic_width(x, row, floor, ceiling, upper, warm=fit)``."""
    ys = np.asarray(ys, dtype=float)
    if len(ys) == 0:
        return np.empty(0)
    lx, ys = _sorted_log(x, ys)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mid0, s0 = _start_arrays(lx, fit, len(ys))
        fits = _fit_block(lx, ys, floor, ceiling, upper, 1e-3, 100.0, mid0, s0)
    mid, s, f, c = fits[:, 0], fits[:, 1], fits[:, 2], fits[:, 3]
    tol = FLOAT_RTOL * np.maximum(1.0, np.abs(ys).max(axis=1))  # tie_tolerance of each row
    ok = (lx[0] <= mid) & (mid <= lx[-1]) & (c - f > tol)
    return np.where(ok, WIDTH_FACTOR * s, np.nan)


def logistic_width_many(curves) -> list[tuple[LogisticFit, np.ndarray | None]]:
    """:func:`logistic_width` and :func:`logistic_width_rows` of many curves at once, as ``verdicts.curve_summary``
    uses them: per curve ``(x, y, reps, floor, upper)`` (``reps`` [B, n] or None; the ceiling fitted), the point
    fit and, where it is identified and ``reps`` is given, the resample widths (NaN where not identified); else
    None. Curves with the same number of sizes and the same kind of floor share one batched fit, so a table of
    curves costs about what its slowest curve does alone. Same results as the per-curve functions."""
    out: list = [None] * len(curves)
    groups: dict[tuple[int, bool], list[int]] = {}
    prepared = []
    for i, (x, y, reps, floor, upper) in enumerate(curves):
        lx, y = _sorted_log(x, y)
        reps = None if reps is None else _sorted_log(x, np.asarray(reps, dtype=float))[1]
        prepared.append((lx, y, reps, floor, float(upper)))
        groups.setdefault((lx.size, floor is None), []).append(i)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for (_, free_floor), idx in groups.items():
            lx = np.stack([prepared[i][0] for i in idx])
            ys = np.stack([prepared[i][1] for i in idx])
            floor = None if free_floor else np.array([prepared[i][3] for i in idx], dtype=float)
            upper = np.array([prepared[i][4] for i in idx])
            mid0, s0 = _start_arrays(lx[0], None, len(idx))
            fits = _fit_block(lx, ys, floor, None, upper, 1e-3, 100.0, mid0, s0)
            tol = FLOAT_RTOL * np.maximum(1.0, np.abs(ys).max(axis=1))
            ok = (lx[:, 0] <= fits[:, 0]) & (fits[:, 0] <= lx[:, -1]) & (fits[:, 3] - fits[:, 2] > tol)
            point = {}
            for j, i in enumerate(idx):
                mid, s, f, c, rss = (float(v) for v in fits[j])
                point[i] = LogisticFit(f, c, mid, s, rss, bool(ok[j]))
                out[i] = (point[i], None)
            refit = [
                i for i in idx if point[i].identified and prepared[i][2] is not None and len(prepared[i][2])
            ]
            if not refit:
                continue
            sizes = [len(prepared[i][2]) for i in refit]
            rows = np.concatenate([prepared[i][2] for i in refit])
            owner = np.repeat(np.arange(len(refit)), sizes)
            lx_r = np.stack([prepared[i][0] for i in refit])[owner]
            floor_r = None if free_floor else np.array([prepared[i][3] for i in refit], dtype=float)[owner]
            upper_r = np.array([prepared[i][4] for i in refit])[owner]
            mid0 = np.array([point[i].mid for i in refit])[owner][:, None]
            s0 = np.array([point[i].s for i in refit])[owner][:, None]
            fits = _fit_block(lx_r, rows, floor_r, None, upper_r, 1e-3, 100.0, mid0, s0)
            tol = FLOAT_RTOL * np.maximum(1.0, np.abs(rows).max(axis=1))
            ok = (lx_r[:, 0] <= fits[:, 0]) & (fits[:, 0] <= lx_r[:, -1]) & (fits[:, 3] - fits[:, 2] > tol)
            w = np.where(ok, WIDTH_FACTOR * fits[:, 1], np.nan)
            for i, part in zip(refit, np.split(w, np.cumsum(sizes)[:-1]), strict=True):
                out[i] = (point[i], part)
    return out
