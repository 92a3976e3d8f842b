"""Predictors of a large model's task accuracy from a ladder of small runs, each a function of the fit set's runs
(final values), their checkpoints and the task's chance level, returning a predictor of (N, D).

Step 1 of the two-step methods: the task loss of the runs' final checkpoints fitted with
``L(N, D) = E + A N^-alpha + B D^-beta``, by least squares (:func:`fit_loss_nd`) or by Bhagia et al. 2024's
objective (:func:`fit_loss_nd_huber`: a Huber loss with delta 1e-3 on the log residuals, nearly least absolute
relative deviations). ``step1_kind``: ``auto`` (default: the paper's objective for ``two_step_paper``, least
squares for the others), ``lsq`` or ``huber`` (every two-step method). Step 2 maps loss to accuracy:

- ``two_step_paper``: Bhagia et al. 2024's method as their code fits it, both steps: step 1 by their Huber
  objective (under ``step1_kind="auto"``), step 2 the sigmoid ``acc = b + a / (1 + exp(-k (L - L0)))`` (a in [-1, 0], b in [0, 1]: ``b`` the
  ceiling, ``a + b`` the floor) fitted on the checkpoints and one ideal point (L = 0, accuracy 1) that pulls the
  ceiling towards 1 (:func:`fit_sigmoid_paper`).
- ``two_step_ceiling``: the floor fixed at chance, the ceiling fitted (this project's first step 2; its ceiling
  stops near the ladder's best accuracy).
- ``two_step_anchored``: floor at chance, ceiling at 1 (2 parameters): a sigmoid in L.
- ``two_step_loglogistic``: ``acc = chance + (1 - chance) / (1 + (L/L0)^k)``: floor at chance as L grows, and
  exactly 1 at L = 0 (a loss of 0 bits is the correct answer with certainty); 2 parameters.
- ``two_step_joint``: step 1 and the log-logistic step 2 fitted as one least-squares problem (final losses, final
  accuracies through ``g(L(N, D))``, checkpoints), so the accuracies also inform the loss law.
- ``direct``: ``1 - acc = E + A C^-alpha`` in compute ``C = 6ND`` on the final values.
- ``ensemble``: the mean of ``direct`` and ``two_step_loglogistic``.

Each prediction carries a ``guard``: empty when the fit supports it, else why not (the fitted data do not rise
above their noise, or the target lies further beyond the fitted range than the range is wide).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from src.analysis.stats.backtest import Fit, _best, fit_chance_logistic, fit_loss_nd, fit_saturating

#: How far beyond the fitted range a prediction may go: its compute at most this factor above the largest fitted
#: (every method), and the predicted loss at most this many fitted loss spans below the lowest fitted (two-step).
MAX_LOSS_SPANS = 1.0
MAX_COMPUTE_RATIO = 1000.0
#: A fit whose curve rises less than this many residual standard deviations over the fitted data has no signal.
MIN_RISE_SD = 3.0
#: A two-step prediction for the target whose step 2 climbs more than this many times steeper between the lowest
#: fitted loss and the predicted one than across the fitted losses is "outside": its rise comes from the curve's
#: form (a pin at accuracy 1), not from the data. On the OLMo ladder's inner backtests (1,205 two-step predictions
#: below the fitted losses) a ratio <= 10 went with a mean relative error of 4.5%, 10-20 with 31%, above 20 with
#: 73-97%; the 7B's predictions reach 8. Applied to the target only: the method choice sees every extrapolation.
MAX_STEEP = 10.0


#: Bhagia et al.'s step 1: Huber loss on log residuals with this delta, started from their point.
HUBER_DELTA = 1e-3
HUBER_START = (3.0, 6.0, 0.1, 0.2, 1.0)  # log A, log B, alpha, beta, E


def fit_loss_nd_huber(n, d, loss, warm: Fit | None = None) -> Fit:
    """``L(N, D) = exp(a - alpha ln N) + exp(b - beta ln D) + E`` (all parameters >= 0) minimising
    ``sum huber(ln L_pred - ln L, delta=1e-3)`` by L-BFGS-B with the analytic gradient: Bhagia et al. 2024's
    step 1 (their start, plus two others; the lowest objective wins). On the OLMo ladder their start reaches the
    minimum a 432-start grid finds on every one of the 8 tasks, e.g. ARC-Challenge's 7B bpb 0.7941 (paper 0.794)."""
    from scipy.optimize import minimize

    n, d, loss = (np.asarray(v, dtype=float) for v in (n, d, loss))
    if n.size < 6:
        raise ValueError(f"L(N, D) has 5 parameters; got {n.size} points (give more runs)")
    if np.any(loss <= 0):
        raise ValueError("the log-residual fit of L(N, D) needs a positive loss")
    ln, ld, ly = np.log(n), np.log(d), np.log(loss)

    def terms(p):
        return np.exp(np.minimum(p[0] - ln * p[2], 700)), np.exp(np.minimum(p[1] - ld * p[3], 700))

    def obj(p):
        ta, tb = terms(p)
        pred = ta + tb + p[4]
        u = np.log(pred) - ly
        a = np.abs(u)
        h = np.where(a < HUBER_DELTA, 0.5 * u * u, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))
        gu = np.where(a < HUBER_DELTA, u, HUBER_DELTA * np.sign(u)) / pred
        grad = [np.sum(gu * ta), np.sum(gu * tb), -np.sum(gu * ta * ln), -np.sum(gu * tb * ld), np.sum(gu)]
        return float(h.sum()), np.array(grad)

    starts = [HUBER_START, (3.0, 6.0, 0.3, 0.3, 0.5 * float(loss.min())), (10.0, 10.0, 0.5, 0.5, 0.0)]
    if warm is not None:
        starts = [warm.params["_x"]]
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for p0 in starts:
            r = minimize(obj, np.asarray(p0, float), jac=True, bounds=[(0, None)] * 5, method="L-BFGS-B",
                         tol=0.0, options={"ftol": 0.0, "gtol": 1e-10, "maxiter": 100000})  # fmt: skip
            if np.isfinite(r.fun) and (best is None or r.fun < best.fun):
                best = r
    if best is None:
        raise ValueError("the Huber fit of L(N, D) did not converge")
    p = best.x.copy()

    def predict(nn, dd):
        return np.exp(p[0] - np.log(nn) * p[2]) + np.exp(p[1] - np.log(dd) * p[3]) + p[4]

    return Fit("loss_nd_huber", {"A": float(np.exp(p[0])), "alpha": float(p[2]), "B": float(np.exp(p[1])),
               "beta": float(p[3]), "E": float(p[4]), "_x": p}, float(best.fun), n.size, predict)  # fmt: skip


def step1_of(method: str, kind: str) -> str:
    """The step-1 objective of ``method`` under the setting ``kind``: ``auto`` gives the paper's method its own
    (``huber``) and every other method least squares; ``lsq`` / ``huber`` give every method that one."""
    if kind == "auto":
        return "huber" if method == "two_step_paper" else "lsq"
    return kind


def fit_step1(kind: str, n, d, loss, warm: Fit | None = None) -> Fit:
    """Step 1 by ``kind``: ``huber`` (:func:`fit_loss_nd_huber`, the paper's) or ``lsq`` (:func:`fit_loss_nd`)."""
    if kind == "huber":
        return fit_loss_nd_huber(n, d, loss, warm=warm)
    if kind == "lsq":
        return fit_loss_nd(n, d, loss, warm=warm)
    raise ValueError(f"unknown step 1 {kind!r} (huber or lsq)")


#: The ideal point Bhagia et al. add to step 2's data: a loss of 0 has the task's maximum accuracy.
PAPER_IDEAL = (0.0, 1.0)


def fit_sigmoid_paper(loss, acc, chance: float = 0.25, warm: Fit | None = None) -> Fit:
    """Bhagia et al. 2024's step 2 as their code fits it: ``acc = b + a / (1 + exp(-k (L - L0)))`` with
    a in [-1, 0], L0 >= 0, k >= 0, b in [0, 1], least squares over the checkpoints plus the ideal point
    (L = 0, accuracy 1), from their start (a = chance - 1, L0 = 0.9, k = 3, b = 1) and two others."""
    loss, acc = np.asarray(loss, float), np.asarray(acc, float)
    if loss.size < 4:
        raise ValueError(f"the paper's sigmoid has 4 parameters; got {loss.size} points")
    x, y = np.append(loss, PAPER_IDEAL[0]), np.append(acc, PAPER_IDEAL[1])

    def f(p, lv):
        return p[3] + p[0] * expit(p[2] * (lv - p[1]))

    lb, ub = [-1.0, 0.0, 0.0, 0.0], [0.0, 10.0 * float(loss.max()), 1e3, 1.0]
    starts = [(chance - 1.0, 0.9, 3.0, 1.0), (chance - 1.0, float(np.median(loss)), 5.0, 1.0),
              (-0.5, float(loss.min()), 10.0, float(acc.max()))]  # fmt: skip
    r = _best(lambda p: f(p, x) - y, [warm.params["_x"]] if warm else starts, lb, ub)
    p = r.x.copy()
    return Fit("sigmoid_paper", {"a": float(p[0]), "L0": float(p[1]), "k": float(p[2]), "b": float(p[3]), "_x": p},
               float(2 * r.cost), x.size, lambda lv: f(p, lv))  # fmt: skip


def fit_loglogistic(loss, acc, chance: float, warm: Fit | None = None) -> Fit:
    """``acc = chance + (1 - chance) / (1 + (L/L0)^k)`` (L0 > 0, k > 0): 1 at L = 0, chance as L grows."""
    loss, acc = np.asarray(loss, float), np.asarray(acc, float)
    if np.any(loss <= 0):
        raise ValueError("the log-logistic step 2 needs a positive loss")

    def f(p, lv):
        return chance + (1 - chance) * expit(-np.exp(p[1]) * (np.log(lv) - p[0]))

    ll = np.log(loss)
    lb, ub = [float(ll.min()) - 5, math.log(0.05)], [float(ll.max()) + 5, math.log(200.0)]
    starts = [(l0, math.log(k)) for l0 in np.quantile(ll, [0.1, 0.5, 0.9]) for k in (1.0, 4.0, 15.0)]
    r = _best(lambda p: f(p, loss) - acc, [warm.params["_x"]] if warm else starts, lb, ub)
    p = r.x.copy()
    return Fit("loglogistic", {"L0": float(np.exp(p[0])), "k": float(np.exp(p[1])), "chance": chance, "_x": p},
               float(2 * r.cost), loss.size, lambda lv: f(p, lv))  # fmt: skip


def fit_anchored(loss, acc, chance: float, warm: Fit | None = None) -> Fit:
    """``acc = chance + (1 - chance) expit(-(L - L0)/s)``: the chance logistic with its ceiling pinned at 1."""
    loss, acc = np.asarray(loss, float), np.asarray(acc, float)

    def f(p, lv):
        return chance + (1 - chance) * expit(-(lv - p[0]) / np.exp(p[1]))

    span = float(np.ptp(loss)) or 1.0
    lb = [float(loss.min()) - 5 * span, math.log(1e-3 * span)]
    ub = [float(loss.max()) + 5 * span, math.log(100 * span)]
    starts = [(l0, math.log(s * span)) for l0 in np.quantile(loss, [0.1, 0.5, 0.9]) for s in (0.1, 0.5)]
    r = _best(lambda p: f(p, loss) - acc, [warm.params["_x"]] if warm else starts, lb, ub)
    p = r.x.copy()
    return Fit("anchored", {"L0": float(p[0]), "s": float(np.exp(p[1])), "chance": chance, "_x": p},
               float(2 * r.cost), loss.size, lambda lv: f(p, lv))  # fmt: skip


def _ceiling(loss, acc, chance, warm=None):
    return fit_chance_logistic(loss, acc, chance, warm=warm)


STEP2: dict[str, Callable] = {
    "two_step_paper": fit_sigmoid_paper,
    "two_step_ceiling": _ceiling,
    "two_step_anchored": fit_anchored,
    "two_step_loglogistic": fit_loglogistic,
}
METHODS = ["direct", *STEP2, "two_step_joint", "ensemble"]
#: The two-step method the ensemble averages with the direct fit.
ENSEMBLE_OF = ("direct", "two_step_loglogistic")


@dataclass
class Prediction:
    acc: float
    loss: float = np.nan
    guard: str = ""
    params: dict = field(default_factory=dict)
    #: step 2's mean slope from the lowest fitted loss to the predicted one over its slope across the fitted
    #: losses (NaN: no step 2, or a loss inside the fitted range)
    steep: float = np.nan


def steep_guard(steep: float) -> str:
    """The guard of a target prediction whose step 2 climbs too steeply beyond the fitted losses (:data:`MAX_STEEP`)."""
    if steep > MAX_STEEP:  # NaN (no step 2, or inside the fitted losses) never is
        return (f"outside: step 2 climbs {steep:.3g} x steeper beyond the fitted losses than across them "
                f"(the curve's form, not the data; at most {MAX_STEEP:g})")  # fmt: skip
    return ""


def _rise_guard(curve_hi: float, curve_lo: float, resid: np.ndarray) -> str:
    sd = float(np.std(resid)) if resid.size > 1 else 0.0
    if abs(curve_hi - curve_lo) < MIN_RISE_SD * max(sd, 1e-4):
        return f"flat: the fitted data rise {abs(curve_hi - curve_lo):.3g}, under {MIN_RISE_SD:g} noise sd ({sd:.2g})"
    return ""


def fit_joint(runs: pd.DataFrame, ck: pd.DataFrame, chance: float, warm=None) -> tuple[Fit, Fit]:
    """Step 1 and the log-logistic step 2 fitted together: one least-squares problem over the final losses, the
    final accuracies predicted through ``g(L(N, D))`` and the checkpoints' (loss, accuracy) pairs, each block
    scaled by its residual sd in the separate fits; started from the separate fits. Returns (step 1, step 2)."""
    n, d = runs["scale"].to_numpy(float), runs["tokens"].to_numpy(float)
    loss, acc = runs["loss"].to_numpy(float), runs["acc"].to_numpy(float)
    cl, ca = ck["loss"].to_numpy(float), ck["acc"].to_numpy(float)
    w1, w2 = warm or (None, None)
    s1, s2 = fit_loss_nd(n, d, loss, warm=w1), fit_loglogistic(cl, ca, chance, warm=w2)
    n0, d0 = s1.params["N0"], s1.params["D0"]
    ln, ld = np.log(n / n0), np.log(d / d0)
    sd_l = max(float(np.std(loss - s1.predict(n, d))), 1e-4)
    sd_a = max(float(np.std(ca - s2.predict(cl))), 1e-4)

    def l_nd(p, ln_, ld_):
        return p[0] + p[1] * np.exp(-p[2] * ln_) + p[3] * np.exp(-p[4] * ld_)

    def g(p, lv):
        return chance + (1 - chance) * expit(-np.exp(p[6]) * (np.log(np.maximum(lv, 1e-9)) - p[5]))

    def resid(p):
        lp = l_nd(p, ln, ld)
        return np.concatenate([(lp - loss) / sd_l, (g(p, lp) - acc) / sd_a, (g(p, cl) - ca) / sd_a])

    q, r = s1.params, s2.params
    p0 = [q["E"], q["A"], q["alpha"], q["B"], q["beta"], math.log(r["L0"]), math.log(r["k"])]
    lb = [0.0, 0.0, 1e-4, 0.0, 1e-4, math.log(float(cl.min())) - 5, math.log(0.05)]
    ub = [float(loss.min()), 10 * float(loss.max()), 2.0, 10 * float(loss.max()), 2.0, math.log(float(cl.max())) + 5,
          math.log(200.0)]  # fmt: skip
    p = _best(resid, [p0], lb, ub).x.copy()
    j1 = Fit("loss_nd_joint", dict(zip(["E", "A", "alpha", "B", "beta"], map(float, p[:5]), strict=True)) | {"N0": n0, "D0": d0},
             float("nan"), n.size, lambda nn, dd: l_nd(p, np.log(nn / n0), np.log(dd / d0)))  # fmt: skip
    j2 = Fit("loglogistic_joint", {"L0": float(np.exp(p[5])), "k": float(np.exp(p[6])), "chance": chance, "_x": p[5:]},
             float("nan"), cl.size, lambda lv: g(p, lv))  # fmt: skip
    return j1, j2


class Predictor:
    """``predict(N, D) -> Prediction`` of a fitted method; ``fits`` restarts a refit (bootstrap) from this one."""

    def __init__(self, fn, fits):
        self._fn, self.fits = fn, fits

    def __call__(self, n, d) -> Prediction:
        return self._fn(n, d)


def fit_method(
    method: str,
    runs: pd.DataFrame,
    ck: pd.DataFrame,
    chance: float,
    warm=None,
    step1: Callable | None = None,
    step1_kind: str = "auto",
) -> Predictor:
    """Fit ``method`` on the fit set's final values ``runs`` and checkpoints ``ck``; ``warm``: a fitted
    predictor's ``fits`` to start from (one start instead of many: the bootstrap's refits); ``step1``: a function
    of ``warm`` and the step-1 kind returning the step-1 fit of these runs (shared by the two-step methods, fitted
    once per kind); ``step1_kind``: the objective of step 1 (:func:`step1_of`)."""
    if method == "ensemble":
        parts = [
            fit_method(m, runs, ck, chance, warm[i] if warm else None, step1=step1, step1_kind=step1_kind)
            for i, m in enumerate(ENSEMBLE_OF)
        ]

        def predict_ens(n, d):
            ps = [p(n, d) for p in parts]
            return Prediction(
                float(np.mean([p.acc for p in ps])),
                ps[1].loss,
                "; ".join(p.guard for p in ps if p.guard),
                steep=ps[1].steep,
            )

        return Predictor(predict_ens, [p.fits for p in parts])
    if method == "direct":
        c = 6.0 * runs["scale"].to_numpy() * runs["tokens"].to_numpy()
        err = 1.0 - runs["acc"].to_numpy()
        fit = fit_saturating(c, err, warm=warm)
        resid = err - fit.predict(c)
        flat = _rise_guard(float(fit.predict(c.min())), float(fit.predict(c.max())), resid)

        def predict_direct(n, d):
            ct = 6.0 * n * d
            guard = flat or (
                f"outside: compute {ct / c.max():.3g} x the largest fitted"
                if ct > MAX_COMPUTE_RATIO * c.max()
                else ""
            )
            return Prediction(float(1.0 - fit.predict(ct)), guard=guard, params=fit.params)

        return Predictor(predict_direct, fit)
    w1, w2 = warm or (None, None)
    if method == "two_step_joint":
        s1, s2 = fit_joint(runs, ck, chance, warm)
    elif method in STEP2:
        kind = step1_of(method, step1_kind)
        s1 = (
            step1(w1, kind)
            if step1
            else fit_step1(kind, runs["scale"], runs["tokens"], runs["loss"], warm=w1)
        )
        s2 = STEP2[method](ck["loss"].to_numpy(), ck["acc"].to_numpy(), chance, warm=w2)
    else:
        raise ValueError(f"unknown method {method!r}")
    lo_l, hi_l = float(ck["loss"].min()), float(ck["loss"].max())
    acc_lo, acc_hi = float(s2.predict(lo_l)), float(s2.predict(hi_l))  # step 2 at the fitted losses' ends
    resid = ck["acc"].to_numpy() - s2.predict(ck["loss"].to_numpy())
    flat = _rise_guard(acc_lo, acc_hi, resid)
    across = abs(acc_lo - acc_hi) / max(hi_l - lo_l, 1e-12)  # step 2's mean slope across the fitted losses

    cmax = float((6.0 * runs["scale"] * runs["tokens"]).max())

    def predict_two(n, d):
        lp = float(s1.predict(n, d))
        guard = flat
        if not guard and 6.0 * n * d > MAX_COMPUTE_RATIO * cmax:
            guard = f"outside: compute {6.0 * n * d / cmax:.3g} x the largest fitted"
        if not guard and lp < lo_l - MAX_LOSS_SPANS * (hi_l - lo_l):
            guard = f"outside: predicted loss {lp:.3g} is beyond the fitted {lo_l:.3g}..{hi_l:.3g} by more than its span"
        params = {**s1.params, **{f"s2_{k}": v for k, v in s2.params.items() if k != "_x"}}
        acc = float(s2.predict(lp))
        steep = np.nan
        if lp < lo_l:
            beyond = abs(acc - acc_lo) / (lo_l - lp)
            steep = beyond / across if across > 0 else np.inf
        return Prediction(acc, lp, guard, params, steep)

    return Predictor(predict_two, (s1, s2))
