"""Premise check: does the family's smooth per-item loss fall as a power law in scale?

The paper's argument assumes that a model family's per-token (here: per-item) loss falls smoothly and predictably
with the number of parameters N, so that any jump in a downstream metric comes from the metric. This module tests
that premise per sweep by fitting

    L(N) = E + A * N^(-alpha)        (E >= 0 irreducible loss, A > 0, alpha > 0)

to the seed-mean curve of each smooth loss-like quantity the family logs (cross-entropy, per-image squared error,
per-item error rate 1 - accuracy), by least squares on log L, and reporting the fit, R^2 in log space and the
log residual at every size. A family passes when R^2 (log space) >= ``R2_PASS`` and every log residual is within
+-``RESID_PASS`` (R^2 alone forgives a systematic S-shaped misfit when the loss spans decades).

An error rate can read exactly 0: every seed of a size got every scored item right (a family that solves its task).
That is a censored value, not a loss of 0, and what it bounds depends on what the curve estimates: the seed mean
estimates the family's error rate in expectation over initialisations, and the runs, not the items, are the
independent units (a run that did not learn the task errs on most items, one that did errs on none). With S runs of
n items each and no error in any, :func:`censored_upper` gives the one-sided 95% bound

    mu < q + t,   t = -ln(0.05) / n  (rule of three within a run),   q = (1 - 0.05^(1/S)) / 0.95

(a run with rate above t reads 0 with probability below 0.05; if mu exceeded q + t, more than a share q of runs
would have rate above t, and all S reading 0 would have probability below 0.05). With few seeds q dominates (0.41
for 6 seeds, 0.78 for 2): zeros from a handful of seeds cannot refute a power law, and the bound says so instead of
the 3 / (n S) that pooling the item-trials of all seeds would give (valid only if errors did not cluster by run).
Such sizes are left out of the fit (log 0 has no residual) and the curve passes only if, besides the rule above on
the other sizes, the fit at each censored size lies below that bound. The residual table also carries ``se_log``,
the seed-to-seed standard error of each log seed mean (delta method, sd / (mean sqrt(S))), for reading a residual
against the noise of its size.

Pure functions of the long sweep table of :func:`src.analysis.loading.load_sweeps` (columns ``sweep``,
``task``, ``family``, ``metric``, ``scale``, ``replicate``, ``value``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

R2_PASS = 0.95  # R^2 of log L on log fit at or above which the premise counts as met ...
RESID_PASS = 0.2  # ... and every size's measured loss within a factor exp(0.2) = 1.22 of the fit
LEVEL = 0.05  # one-sided: the bound of a rate read as 0 holds with probability 0.95
RATES = ("acc", "token_acc")  # quantities that are error rates over the scored items (a 0 there is censored)

# metric name (after the split) -> (label of the fitted quantity, transform of the logged value into a loss)
PREMISE_QUANTITIES: dict[str, tuple[str, object]] = {
    "ce": ("cross-entropy (nats)", lambda v: v),
    "sq_err": ("squared error per image", lambda v: v),
    "acc": ("error rate 1 - accuracy", lambda v: 1.0 - v),
    "token_acc": ("per-token error rate 1 - per-token accuracy", lambda v: 1.0 - v),  # arithmetic outputs
    "loss": ("loss", lambda v: v),
}


def censored_upper(n_items: np.ndarray, n_seeds: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """One-sided (1 - level) upper bound of a family's expected error rate where all ``n_seeds`` runs of
    ``n_items`` items each read 0 errors: ``q + t`` with ``t = -ln(level) / n_items`` and
    ``q = (1 - level^(1/n_seeds)) / (1 - level)`` (module docstring), capped at 1."""
    n_items, n_seeds = np.asarray(n_items, dtype=float), np.asarray(n_seeds, dtype=float)
    if (n_items <= 0).any() or (n_seeds < 1).any():
        raise ValueError(f"need n_items > 0 and n_seeds >= 1, got {n_items.tolist()} and {n_seeds.tolist()}")
    q = (1.0 - level ** (1.0 / n_seeds)) / (1.0 - level)
    return np.minimum(q - np.log(level) / n_items, 1.0)


@dataclass(frozen=True)
class PowerLawFit:
    """L(N) = E + A N^-alpha fitted on log L; ``r2_log`` = 1 - SS_res / SS_tot of log L."""

    E: float
    A: float
    alpha: float
    r2_log: float
    rmse_log: float

    def __call__(self, n: np.ndarray) -> np.ndarray:
        return self.E + self.A * np.asarray(n, dtype=float) ** (-self.alpha)


def fit_power_law_with_floor(n: np.ndarray, loss: np.ndarray) -> PowerLawFit:
    """Least-squares fit of log L = log(E + A N^-alpha) over (N, L) pairs (L > 0, at least 4 distinct N).

    Parametrised as E = exp(e), A = exp(a) (both positive) and alpha in [1e-4, 5]; started from several alphas
    (a power law's fit has local minima) and the best is kept.
    """
    n, loss = np.asarray(n, dtype=float), np.asarray(loss, dtype=float)
    if n.shape != loss.shape or n.ndim != 1:
        raise ValueError(
            f"num_params and loss must be 1-d arrays of one length, got {n.shape} and {loss.shape}"
        )
    ok = np.isfinite(n) & np.isfinite(loss)
    if not ok.all():
        raise ValueError(
            f"num_params/loss hold non-finite values at positions {np.flatnonzero(~ok).tolist()}"
        )
    if (n <= 0).any() or (loss <= 0).any():
        raise ValueError("num_params and the loss must be positive for a fit in log space")
    if np.unique(n).size < 4:
        raise ValueError(f"a 3-parameter power law needs at least 4 distinct sizes, got {np.unique(n).size}")
    log_n, log_y = np.log(n), np.log(loss)
    y_min, y_max = float(loss.min()), float(loss.max())

    def resid(theta: np.ndarray) -> np.ndarray:
        e, a, alpha = theta
        return np.logaddexp(e, a - alpha * log_n) - log_y

    best = None
    for alpha0 in (0.05, 0.2, 0.5, 1.0, 2.0):
        for floor_share in (0.01, 0.5, 0.9):
            e0 = np.log(floor_share * y_min)
            # A from the largest-loss point given E and alpha
            a0 = np.log(max(y_max - floor_share * y_min, 1e-12 * y_max)) + alpha0 * float(log_n.min())
            res = least_squares(
                resid,
                x0=[e0, a0, alpha0],
                bounds=([np.log(y_min) - 40.0, -np.inf, 1e-4], [np.log(y_max) + 1.0, np.inf, 5.0]),
                method="trf",
            )
            if best is None or res.cost < best.cost:
                best = res
    e, a, alpha = best.x
    r = resid(best.x)
    ss_tot = float(((log_y - log_y.mean()) ** 2).sum())
    r2 = 1.0 - float((r**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return PowerLawFit(
        E=float(np.exp(e)),
        A=float(np.exp(a)),
        alpha=float(alpha),
        r2_log=r2,
        rmse_log=float(np.sqrt((r**2).mean())),
    )


def _premise_curves(table: pd.DataFrame, split: str) -> pd.DataFrame:
    """Seed-mean loss per (source, task, family, metric, scale) for the premise quantities of ``split``."""
    need = {"source", "task", "family", "metric", "scale", "replicate", "value"}
    missing = need - set(table.columns)
    if missing:
        raise ValueError(
            f"evidence table lacks column(s) {sorted(missing)}; load it with load_sweeps or ingest"
        )
    prefix = f"{split}/"
    names = table["metric"].str.slice(len(prefix))
    rows = table[table["metric"].str.startswith(prefix) & names.isin(list(PREMISE_QUANTITIES))].copy()
    rows["quantity"] = rows["metric"].str.slice(len(prefix))
    rows["loss"] = [
        float(PREMISE_QUANTITIES[q][1](v)) for q, v in zip(rows["quantity"], rows["value"], strict=True)
    ]
    if "n_items" not in rows.columns:
        rows["n_items"] = np.nan
    keys = ["source", "task", "family", "metric", "quantity", "scale"]
    return (
        rows.groupby(keys, as_index=False)
        .agg(
            loss=("loss", "mean"),
            loss_sd=("loss", "std"),
            n_seeds=("replicate", "nunique"),
            n_items=("n_items", lambda u: u.min() if u.notna().all() else np.nan),  # per run, fewest
        )  # fmt: skip
        .sort_values(keys)
    )


def premise_check(table: pd.DataFrame, split: str = "test") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit L(N) = E + A N^-alpha per (sweep, task, smooth loss) on seed means.

    Returns ``(fits, residuals)``: ``fits`` one row per curve (E, A, alpha, r2_log, rmse_log, max_abs_resid_log,
    n_sizes, n_censored, passes, note); ``residuals`` one row per (curve, size) with the measured and fitted loss,
    the log residual and, for an error rate read as 0 (censored), ``upper95`` (NaN elsewhere). A curve with fewer
    than 4 sizes above 0, or a 0 that is not an error rate over counted items, gets NaNs and ``passes`` False, with
    the reason in ``note``.
    """
    curves = _premise_curves(table, split)
    fits, resids = [], []
    nan_fit = dict.fromkeys(["E", "A", "alpha", "r2_log", "rmse_log", "max_abs_resid_log"], np.nan)
    for key, c in curves.groupby(["source", "task", "family", "metric", "quantity"], sort=False):
        sweep, task, family, metric, quantity = key
        n, y = c["scale"].to_numpy(float), c["loss"].to_numpy(float)
        zero = y <= 0
        base = {"source": sweep, "task": task, "family": family, "metric": metric,
                "quantity": PREMISE_QUANTITIES[quantity][0], "n_sizes": len(c), "n_censored": int(zero.sum())}  # fmt: skip
        n_items = c["n_items"].to_numpy(float)
        upper = np.full(len(y), np.nan)
        ok = zero & np.isfinite(n_items)
        upper[ok] = censored_upper(n_items[ok], c["n_seeds"].to_numpy(float)[ok])
        if zero.any() and (quantity not in RATES or not np.isfinite(upper[zero]).all()):
            why = (f"{quantity} is not an error rate" if quantity not in RATES
                   else "the table has no n_items (items scored) to bound it by")  # fmt: skip
            note = (f"loss 0 at {n[zero].astype(int).tolist()} parameters and {why}: a power law in log space "
                    "cannot be fitted through it")  # fmt: skip
            fits.append({**base, **nan_fit, "passes": False, "note": note})
            continue
        try:
            fit = fit_power_law_with_floor(n[~zero], y[~zero])
        except ValueError as err:
            fits.append({**base, **nan_fit, "passes": False, "note": str(err)})
            continue
        fitted = fit(n)
        r = np.full(len(y), np.nan)
        r[~zero] = np.log(y[~zero]) - np.log(fitted[~zero])
        max_resid = float(np.nanmax(np.abs(r)))
        below = bool((fitted[zero] <= upper[zero]).all())
        passes = bool(fit.r2_log >= R2_PASS and max_resid <= RESID_PASS and fit.alpha > 0 and below)
        note = ""
        if zero.any():
            worst = int(np.argmax(np.where(zero, fitted / upper, -np.inf)))
            s_worst = int(c["n_seeds"].iloc[worst])
            note = (f"{int(zero.sum())} size(s) with no error on any item of any seed (censored; the bound counts "
                    f"runs, not item-trials) left out of the fit; the fit there "
                    f"{'stays below' if below else 'exceeds'} the bound (at {int(n[worst])} parameters, "
                    f"{s_worst} seed(s): {fitted[worst]:.2g} vs < {upper[worst]:.2g})")  # fmt: skip
        fits.append({**base, "E": fit.E, "A": fit.A, "alpha": fit.alpha, "r2_log": fit.r2_log,
                     "rmse_log": fit.rmse_log, "max_abs_resid_log": max_resid, "passes": passes, "note": note})  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = np.where(y > 0, c["loss_sd"].to_numpy(float) / (y * np.sqrt(c["n_seeds"])), np.nan)
        rows = zip(n, y, c["loss_sd"], c["n_seeds"], fitted, r, se_log, upper, strict=True)
        for ni, yi, sd, si, fi, ri, sei, ui in rows:
            resids.append({"source": sweep, "task": task, "metric": metric, "scale": ni, "loss": yi,
                           "loss_sd": sd, "n_seeds": si, "fitted": fi, "resid_log": ri, "se_log": sei,
                           "upper95": ui})  # fmt: skip
    resid_cols = ["source", "task", "metric", "scale", "loss", "loss_sd", "n_seeds", "fitted",
                  "resid_log", "se_log", "upper95"]  # fmt: skip
    return pd.DataFrame(fits), pd.DataFrame(resids, columns=resid_cols)


def premise_figure(
    table: pd.DataFrame,
    split: str = "test",
    check: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    unit: str = "seed",
):
    """One column per premise quantity of one (sweep, task): seed points, seed mean and the fitted power law
    (top, log-log), log residuals (bottom). ``check``: :func:`premise_check`'s ``(fits, residuals)`` of a table
    holding this one, when the caller has them (the rows of this table's sweeps and tasks are drawn). ``unit``:
    ``"model"`` where every size is one model (no seeds): the legend and title say so."""
    import matplotlib.pyplot as plt

    if check is None:
        fits, resids = premise_check(table, split)
    else:
        keys = ["source", "task"]
        mine = table[keys].drop_duplicates()
        fits, resids = (c.merge(mine, on=keys) for c in check)
    curves = _premise_curves(table, split)
    pts = table[table["metric"].isin(fits["metric"])]
    n_col = max(1, len(fits))
    fig, axes = plt.subplots(
        2,
        n_col,
        figsize=(max(4.2 * n_col, 7.0), 6.0),
        squeeze=False,
        height_ratios=[2.2, 1],
        layout="constrained",
    )
    for j, f in enumerate(fits.itertuples(index=False)):
        top, bottom = axes[0, j], axes[1, j]
        quantity = f.metric.split("/", 1)[1]
        transform = PREMISE_QUANTITIES[quantity][1]
        p = pts[pts["metric"] == f.metric]
        loss = np.array([transform(v) for v in p["value"]], dtype=float)
        if unit == "seed":  # one model per size: the points are the line's own markers
            top.scatter(p["scale"][loss > 0], loss[loss > 0], s=10, alpha=0.4, color="C0",
                        label="one seed")  # fmt: skip
        c = curves[curves["metric"] == f.metric]
        r = resids[resids["metric"] == f.metric]
        pos = c[c["loss"] > 0]
        top.plot(
            pos["scale"], pos["loss"], "o-", color="C0", label="seed mean" if unit == "seed" else "model"
        )
        cens = r[r["upper95"].notna()]
        if len(cens):
            top.scatter(cens["scale"], cens["upper95"], marker="v", s=40, color="C0", zorder=3,
                        label="no error on any item: 95% upper bound")  # fmt: skip
        if np.isfinite(f.alpha):
            grid = np.geomspace(c["scale"].min(), c["scale"].max(), 200)
            fit = PowerLawFit(f.E, f.A, f.alpha, f.r2_log, f.rmse_log)
            top.plot(grid, fit(grid), "--", color="C3",
                     label=f"E + A N^-α: E={f.E:.3g}, α={f.alpha:.2f}\nR² (log) = {f.r2_log:.3f}")  # fmt: skip
            if f.E >= 0.3 * pos["loss"].min():  # the floor, where it is within the plotted range
                top.axhline(f.E, color="C3", lw=0.6, ls=":")
        top.set(xscale="log", yscale="log", title=f"{f.task}: {f.quantity}", ylabel=f"{split} (measured)")
        # runs without an error: on the axis floor, so that solved and stuck runs both show
        if (loss <= 0).any():
            floor = top.get_ylim()[0]
            top.scatter(p["scale"][loss <= 0], np.full(int((loss <= 0).sum()), floor), marker="x", s=14,
                        color="C0", alpha=0.6, clip_on=False, label=f"one {unit}, no error (on the axis)")  # fmt: skip
            top.set_ylim(bottom=floor)
        top.legend(fontsize=7)
        bottom.axhline(0, color="0.5", lw=0.8)
        for bound in (-RESID_PASS, RESID_PASS):
            bottom.axhline(bound, color="0.5", lw=0.6, ls=":")
        bottom.plot(r["scale"], r["resid_log"], "o-", color="C3")
        bottom.set(xscale="log", xlim=top.get_xlim(), xlabel="parameters N", ylabel="log(measured / fit)")
    on = "seed means" if unit == "seed" else "the models"
    fig.suptitle(f"Premise check: smooth per-item loss vs parameters, fit E + A N^-α on {on}\n"
                 f"passes: R² (log) >= {R2_PASS}, every log residual within ±{RESID_PASS} (dotted),\n"
                 "and where an error rate reads 0, the fit below its bound", fontsize=10)  # fmt: skip
    return fig
