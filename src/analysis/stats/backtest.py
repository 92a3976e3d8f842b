"""Predictability backtests the modern way: fit smooth quantities with an irreducible term, map them to the task
metric through a chance-aware link, predict a larger model, and report errors that compare across metrics.

- :func:`fit_saturating`: ``y = E + A (x/x0)^-alpha`` (E >= 0 the irreducible part; x = parameters, tokens or
  compute). :func:`fit_loss_nd`: ``L(N, D) = E + A (N/N0)^-alpha + B (D/D0)^-beta`` (Hoffmann et al. 2022's form,
  the OLMo ladder's step 1).
- :func:`fit_chance_logistic`: ``acc = chance + (ceiling - chance) * expit(-(L - L0) / s)``, falling in the loss
  L from the ceiling to the chance floor (the OLMo ladder's step 2 with its floor fixed at chance).
- :func:`fit_power_link`: ``acc = chance + (1 - chance) * exp(-k L)`` (the paper's p^L: the probability of an
  answer of L bits is 2^-L; one parameter).
- :func:`ladder_backtest`: the OLMo ladder's two-step predictor (Bhagia et al. 2024) and a direct fit of the
  accuracy, for one target model, on an evidence table with ``tokens``; bootstrap prediction intervals over the
  fitted runs.
- errors: :func:`relative_error` ``|pred - actual| / actual`` and :func:`range_share`
  ``|pred - actual| / (ceiling - chance)``: the share of the metric's usable range, comparable across metrics.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import expit

from src.analysis.stats.intervals import DEFAULT_LEVEL, interval
from src.results.errors import InputError


@dataclass(frozen=True)
class Fit:
    """A fitted curve: ``params`` by name, ``predict(*xs)``, residual sum of squares and the number of points."""

    name: str
    params: dict
    rss: float
    n: int
    _fn: object

    def predict(self, *xs) -> np.ndarray:
        return self._fn(*[np.asarray(x, dtype=float) for x in xs])


def _best(resid, starts, lb, ub, jac="2-point"):
    best = None
    for p0 in starts:
        p0 = np.clip(np.asarray(p0, dtype=float), np.asarray(lb) + 1e-9, np.asarray(ub) - 1e-9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = least_squares(resid, p0, jac=jac, bounds=(lb, ub), x_scale="jac")
        if best is None or r.cost < best.cost:
            best = r
    return best


def fit_saturating(x, y, alpha_max: float = 3.0, warm: Fit | None = None) -> Fit:
    """``y = E + A (x/x0)^-alpha`` with E in [0, min y], A >= 0, alpha in (0, alpha_max]; x0 = min x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3:
        raise ValueError(f"a saturating power law has 3 parameters; got {x.size} points")
    x0 = float(x.min())
    lx = np.log(x / x0)

    def resid(p):
        return p[0] + p[1] * np.exp(-p[2] * lx) - y

    ymin = float(y.min())
    lb, ub = [0.0, 0.0, 1e-4], [max(ymin, 1e-12), max(10 * float(y.max()), 1e-9), alpha_max]
    starts = [
        (f * ymin, max(float(y[np.argmin(x)]) - f * ymin, 1e-6), a)
        for f in (0.0, 0.5, 0.9)
        for a in (0.05, 0.3, 1.0)
    ]
    if warm is not None:
        q = warm.params
        starts = [(min(q["E"], ymin), q["A"] * (x0 / q["x0"]) ** -q["alpha"], q["alpha"])]
    r = _best(resid, starts, lb, ub)
    e, a, al = (float(v) for v in r.x)
    return Fit("saturating", {"E": e, "A": a, "alpha": al, "x0": x0}, float(2 * r.cost), x.size,
               lambda n: e + a * np.exp(-al * np.log(n / x0)))  # fmt: skip


def fit_loss_nd(n, d, loss, exp_max: float = 2.0, warm: Fit | None = None) -> Fit:
    """``L(N, D) = E + A (N/N0)^-alpha + B (D/D0)^-beta`` (5 parameters); N0, D0 = the smallest N, D."""
    n, d, loss = (np.asarray(v, dtype=float) for v in (n, d, loss))
    if n.size < 6:
        raise ValueError(f"L(N, D) has 5 parameters; got {n.size} points (give more runs)")
    n0, d0 = float(n.min()), float(d.min())
    ln, ld = np.log(n / n0), np.log(d / d0)

    def resid(p):
        return p[0] + p[1] * np.exp(-p[2] * ln) + p[3] * np.exp(-p[4] * ld) - loss

    def jac(p):  # analytic: the bootstrap refits this law hundreds of times
        en, ed = np.exp(-p[2] * ln), np.exp(-p[4] * ld)
        return np.column_stack([np.ones_like(ln), en, -p[1] * ln * en, ed, -p[3] * ld * ed])

    lmin, lmax = float(loss.min()), float(loss.max())
    lb = [0.0, 0.0, 1e-4, 0.0, 1e-4]
    ub = [lmin, 10 * lmax, exp_max, 10 * lmax, exp_max]
    starts = [(f * lmin, (lmax - f * lmin) / 2, a, (lmax - f * lmin) / 2, b)
              for f in (0.3, 0.7, 0.9) for a in (0.1, 0.5) for b in (0.1, 0.5)]  # fmt: skip
    if warm is not None:  # bootstrap refits: start from the full-data fit (same N0, D0 not assumed)
        q = warm.params
        starts = [(q["E"], q["A"] * (n0 / q["N0"]) ** -q["alpha"], q["alpha"],
                   q["B"] * (d0 / q["D0"]) ** -q["beta"], q["beta"])]  # fmt: skip
    r = _best(resid, starts, lb, ub, jac)
    e, a, al, b, be = (float(v) for v in r.x)

    def predict(nn, dd):
        return e + a * np.exp(-al * np.log(nn / n0)) + b * np.exp(-be * np.log(dd / d0))

    return Fit("loss_nd", {"E": e, "A": a, "alpha": al, "B": b, "beta": be, "N0": n0, "D0": d0},
               float(2 * r.cost), n.size, predict)  # fmt: skip


def fit_chance_logistic(loss, acc, chance: float, upper: float = 1.0, warm: Fit | None = None) -> Fit:
    """``acc = chance + (ceiling - chance) * expit(-(L - L0) / s)``; ceiling in [chance, upper]."""
    loss, acc = np.asarray(loss, dtype=float), np.asarray(acc, dtype=float)
    if loss.size < 3:
        raise ValueError(f"the chance logistic has 3 parameters; got {loss.size} points")

    def f(p, lv):
        return chance + (p[2] - chance) * expit(-(lv - p[0]) / np.exp(p[1]))

    span = float(np.ptp(loss)) or 1.0
    lb = [float(loss.min()) - 5 * span, math.log(1e-3 * span), chance]
    ub = [float(loss.max()) + 5 * span, math.log(100 * span), upper]
    starts = [(l0, math.log(s * span), c) for l0 in np.quantile(loss, [0.1, 0.5, 0.9])
              for s in (0.1, 0.5) for c in (min(float(acc.max()) + 0.05, upper), upper)]  # fmt: skip
    if warm is not None:
        starts = [(warm.params["L0"], math.log(warm.params["s"]), warm.params["ceiling"])]
    r = _best(lambda p: f(p, loss) - acc, starts, lb, ub)
    p = r.x.copy()
    return Fit("chance_logistic", {"L0": float(p[0]), "s": float(np.exp(p[1])), "ceiling": float(p[2]),
               "chance": chance}, float(2 * r.cost), loss.size, lambda lv: f(p, lv))  # fmt: skip


def fit_power_link(loss, acc, chance: float) -> Fit:
    """``acc = chance + (1 - chance) exp(-k L)`` (one parameter k >= 0)."""
    loss, acc = np.asarray(loss, dtype=float), np.asarray(acc, dtype=float)

    def f(k, lv):
        return chance + (1 - chance) * np.exp(-k * lv)

    r = _best(lambda p: f(p[0], loss) - acc, [(0.1,), (1.0,), (5.0,)], [0.0], [100.0])
    k = float(r.x[0])
    return Fit("power_link", {"k": k, "chance": chance}, float(2 * r.cost), loss.size, lambda lv: f(k, lv))


def relative_error(pred, actual) -> np.ndarray:
    """``|pred - actual| / |actual|``."""
    pred, actual = np.asarray(pred, dtype=float), np.asarray(actual, dtype=float)
    return np.abs(pred - actual) / np.abs(actual)


def range_share(pred, actual, chance: float, ceiling: float = 1.0) -> np.ndarray:
    """``|pred - actual| / (ceiling - chance)``: the error as a share of the metric's usable range."""
    return np.abs(np.asarray(pred, float) - np.asarray(actual, float)) / (ceiling - chance)


# ---------------------------------------------------------------- the OLMo-ladder benchmark on an evidence table


def _final(ev: pd.DataFrame) -> pd.DataFrame:
    """Each (model, replicate)'s last checkpoint (most tokens, then highest step)."""
    o = ev.assign(_t=ev["tokens"].fillna(-1.0), _s=ev["step"].fillna(-1.0)).sort_values(["_t", "_s"])
    last = o.groupby(["model", "replicate"])["checkpoint"].last().rename("_last").reset_index()
    m = ev.merge(last, on=["model", "replicate"])
    return m[m["checkpoint"] == m["_last"]].drop(columns="_last")


def _wide(ev: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    cols = ["model", "replicate", "checkpoint", "scale", "tokens", "step"]
    sub = ev[ev["metric"].isin(metrics)]
    w = sub.set_index([*cols, "metric"])["value"].unstack("metric")
    return w.dropna(subset=metrics).reset_index()


def ladder_backtest(
    ev: pd.DataFrame,
    task: str,
    target: str,
    max_scale: float,
    acc_metric: str,
    loss_metric: str = "bpb",
    chance: float = 0.25,
    n_boot: int = 200,
    level: float = DEFAULT_LEVEL,
    skip_early: float = 0.1,
    seed: int = 0,
    exclude: tuple[str, ...] = (),
    target_checkpoint: str | None = "last-step",
) -> dict:
    """Predict ``target``'s final ``acc_metric`` on ``task`` from the models with ``scale <= max_scale``.

    ``two_step``: step 1 fits the final checkpoints' ``loss_metric`` with ``L(N, D)`` (:func:`fit_loss_nd`);
    step 2 fits accuracy against that loss over every checkpoint of the fitted models past the first
    ``skip_early`` share of each run's steps (:func:`fit_chance_logistic`); the target's loss is predicted from
    its N and D, then mapped. ``direct``: the final checkpoints' error ``1 - acc`` fitted by a saturating power
    law in compute ``C = 6 N D`` (:func:`fit_saturating`) and extrapolated. Intervals: the fits redone on runs
    (models) resampled with replacement, ``n_boot`` times; ``two_step`` also adds a resampled step-2 residual
    (a prediction interval for one model's accuracy, not only for the curve).

    ``target_checkpoint``: ``"last-step"`` (the target's highest training step: the end of the main run, on the
    ladder's data), None (its last checkpoint by tokens, e.g. an anneal on other data) or a checkpoint label.
    """
    t = ev[(ev["task"] == task)]
    if t.empty:
        raise InputError(f"task {task!r} is not in the evidence table", fix="give a task the table holds")
    for m in (acc_metric, loss_metric):
        if not (t["metric"] == m).any():
            raise InputError(f"task {task!r} has no metric {m!r}; it has {sorted(t['metric'].unique())}",
                             fix="name the accuracy and loss metrics the table holds")  # fmt: skip
    if t["tokens"].isna().all():
        raise InputError("the evidence table has no tokens column values", fix="give tokens per checkpoint")
    w = _wide(t, [acc_metric, loss_metric])
    w = w[~w["model"].isin(exclude)]
    tgt = _final(w.assign(task=task).melt(id_vars=["model", "replicate", "checkpoint", "scale", "tokens", "step"],
                                           value_vars=[acc_metric]).rename(columns={"variable": "metric"}))  # fmt: skip
    tgt_all = w[w["model"] == target].rename(columns={acc_metric: "value"})
    if target_checkpoint == "last-step":
        stepped = tgt_all[tgt_all["step"].notna()]
        tgt = stepped[stepped["step"] == stepped["step"].max()] if not stepped.empty else stepped
    elif target_checkpoint is not None:
        tgt = tgt_all[tgt_all["checkpoint"] == target_checkpoint]
    else:
        tgt = tgt[tgt["model"] == target]
    if tgt.empty:
        raise InputError(
            f"target model {target!r} has no {acc_metric} on {task!r}", fix="name a model of the table"
        )
    n_t, d_t, y_t = (float(tgt[c].iloc[0]) for c in ("scale", "tokens", "value"))
    fit_rows = w[(w["scale"] <= max_scale) & (w["model"] != target)].copy()
    runs = fit_rows[["model", "replicate"]].drop_duplicates().to_numpy()
    if len(runs) < 6:
        raise InputError(f"{len(runs)} runs up to scale {max_scale:g}; the two-step fit needs at least 6")
    smax = fit_rows.groupby(["model", "replicate"])["step"].transform("max")
    fit_rows["_late"] = fit_rows["step"].isna() | (fit_rows["step"] >= skip_early * smax)
    final = _final(fit_rows)

    fin_by = {k: g for k, g in final.groupby(["model", "replicate"])}
    late_by = {k: g for k, g in fit_rows[fit_rows["_late"]].groupby(["model", "replicate"])}
    keys = [tuple(r) for r in runs]

    def predict(run_idx, warm=(None, None, None)):
        fin = pd.concat([fin_by[keys[i]] for i in run_idx])
        allck = pd.concat([late_by[keys[i]] for i in run_idx])
        s1 = fit_loss_nd(fin["scale"], fin["tokens"], fin[loss_metric], warm=warm[0])
        s2 = fit_chance_logistic(allck[loss_metric], allck[acc_metric], chance, warm=warm[1])
        l_pred = float(s1.predict(n_t, d_t))
        two = float(s2.predict(l_pred))
        res2 = allck[acc_metric].to_numpy() - s2.predict(allck[loss_metric].to_numpy())
        c = 6.0 * fin["scale"].to_numpy() * fin["tokens"].to_numpy()
        d = fit_saturating(c, 1.0 - fin[acc_metric].to_numpy(), warm=warm[2])
        direct = float(1.0 - d.predict(6.0 * n_t * d_t))
        return l_pred, two, direct, res2, (s1, s2, d)

    l_pred, two, direct, _, fits = predict(np.arange(len(runs)))
    rng = np.random.default_rng(seed)
    reps = np.full((n_boot, 3), np.nan)
    for b in range(n_boot):
        idx = rng.integers(0, len(runs), len(runs))
        if len(np.unique(idx)) < 6:
            continue
        try:
            lp, tw, di, res2, _ = predict(idx, fits)
        except ValueError:
            continue
        reps[b] = (lp, tw + rng.choice(res2), di)
    ok = ~np.isnan(reps[:, 0])
    lo, hi = interval(reps[ok], level) if ok.any() else (np.full(3, np.nan), np.full(3, np.nan))
    tgt_loss = tgt_all.loc[tgt_all["checkpoint"] == tgt["checkpoint"].iloc[0], loss_metric]
    out = {
        "task": task, "target": target, "target_checkpoint": str(tgt["checkpoint"].iloc[0]),
        "target_tokens": d_t, "max_scale": max_scale, "acc_metric": acc_metric, "chance": chance,
        "n_runs": len(runs), "actual": y_t,
        "loss_actual": float(tgt_loss.iloc[0]) if len(tgt_loss) else np.nan, "loss_pred": l_pred,
        "loss_lo": float(lo[0]), "loss_hi": float(hi[0]),
        "two_step": two, "two_step_lo": float(lo[1]), "two_step_hi": float(hi[1]),
        "direct": direct, "direct_lo": float(lo[2]), "direct_hi": float(hi[2]),
        "n_boot_ok": int((~np.isnan(reps[:, 0])).sum()),
    }  # fmt: skip
    for k in ("two_step", "direct"):
        out[f"{k}_rel_err"] = float(relative_error(out[k], y_t))
        out[f"{k}_range_share"] = float(range_share(out[k], y_t, chance))
        has = out["n_boot_ok"] > 0 and np.isfinite(
            out[f"{k}_lo"]
        )  # no bootstrap succeeded: no interval, not "no"
        out[f"{k}_covers"] = bool(out[f"{k}_lo"] <= y_t <= out[f"{k}_hi"]) if has else None
    out["step1_E"], out["step2_ceiling"], out["step2_L0"] = (
        fits[0].params["E"],
        fits[1].params["ceiling"],
        fits[1].params["L0"],
    )
    out["_fits"] = fits
    return out
