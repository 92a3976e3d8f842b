"""The premise check and a held-out backtest on the engine's points, for any family (the audit page's sections).

- **Premise** (paper Sec. 2): the smooth per-item loss of the family falls as a power law with a floor,
  L(N) = E + A N^-alpha (:func:`src.analysis.sweeps.premise.fit_power_law_with_floor`), checked on every level-0,
  lower-is-better curve with positive values and 4+ sizes: it passes when R^2 of log L >= 0.95 and every size is
  within a factor exp(0.2) of the fit (the sweeps' rule, ``R2_PASS`` / ``RESID_PASS``).
- **Backtest**: the same law fitted without the largest model predicts it (5+ sizes); the interval is the spread
  of the predictions when each of the smaller models is left out in turn (a jackknife over the fit set), and
  ``covers`` says whether the actual value lies in it. A reading of how far the smooth loss can be extrapolated,
  not a calibrated interval (``backtest`` / ``ladder-backtest`` calibrate theirs inside the ladder).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from src.analysis.sweeps.premise import R2_PASS, RESID_PASS, fit_power_law_with_floor

PREMISE_COLUMNS = [
    "family",
    "task",
    "metric",
    "alpha",
    "E_floor",
    "r2_log",
    "max_abs_resid_log",
    "passes",
    "note",
]
BACKTEST_COLUMNS = [
    "family",
    "task",
    "metric",
    "target_model",
    "predicted",
    "lo",
    "hi",
    "actual",
    "covers",
    "note",
]


def _loss_curves(curves: pd.DataFrame, points: pd.DataFrame, min_sizes: int):
    for _, c in curves.iterrows():
        if c["level"] != 0 or c["higher_is_better"] or c["n_sizes"] < min_sizes:
            continue
        p = points[
            (points["family"] == c["family"])
            & (points["task"] == c["task"])
            & (points["metric"] == c["metric"])
        ]
        p = p.sort_values("scale")
        x, y = p["scale"].to_numpy(float), p["value"].to_numpy(float)
        if (y > 0).all() and np.isfinite(y).all() and np.unique(x).size >= min_sizes:
            yield c, p, x, y


def _progress(items: list, desc: str):
    """``items`` with a progress bar on a terminal (a table of many families fits for minutes), none in logs."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="curve", disable=None if len(items) >= 20 else True)


def premise_rows(curves: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for c, _, x, y in _progress(list(_loss_curves(curves, points, 4)), "premise: power-law fits"):
        try:
            fit = fit_power_law_with_floor(x, y)
        except ValueError as err:
            rows.append({"family": c["family"], "task": c["task"], "metric": c["metric"], "passes": False,
                         "note": str(err)})  # fmt: skip
            continue
        resid = np.abs(np.log(y) - np.log(fit(x)))
        passes = bool(fit.r2_log >= R2_PASS and resid.max() <= RESID_PASS)
        note = (f"every size within exp({resid.max():.2f}) of the power law" if passes else
                f"R^2 (log) {fit.r2_log:.3f}, largest residual exp({resid.max():.2f}) at "
                f"{x[int(np.argmax(resid))]:.3g} parameters: not a power law at the rule's tolerance")  # fmt: skip
        rows.append({"family": c["family"], "task": c["task"], "metric": c["metric"], "alpha": fit.alpha,
                     "E_floor": fit.E, "r2_log": fit.r2_log, "max_abs_resid_log": float(resid.max()),
                     "passes": passes, "note": note})  # fmt: skip
    return pd.DataFrame(rows, columns=PREMISE_COLUMNS)


def backtest_rows(curves: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for c, p, x, y in _progress(
        list(_loss_curves(curves, points, 5)), "premise: backtests of the largest model"
    ):
        base = {"family": c["family"], "task": c["task"], "metric": c["metric"], "target_model": p["model"].iloc[-1],
                "actual": float(y[-1])}  # fmt: skip
        try:
            pred = float(fit_power_law_with_floor(x[:-1], y[:-1])(x[-1:])[0])
            jack = []
            for i in range(len(x) - 1):
                keep = np.arange(len(x) - 1) != i
                if np.unique(x[:-1][keep]).size >= 4:
                    jack.append(float(fit_power_law_with_floor(x[:-1][keep], y[:-1][keep])(x[-1:])[0]))
        except ValueError as err:
            rows.append({**base, "predicted": math.nan, "lo": math.nan, "hi": math.nan, "covers": math.nan,
                         "note": str(err)})  # fmt: skip
            continue
        lo, hi = (min(jack + [pred]), max(jack + [pred])) if jack else (math.nan, math.nan)
        covers = bool(lo <= y[-1] <= hi) if jack else math.nan
        rel = abs(pred - y[-1]) / abs(y[-1])
        rows.append({**base, "predicted": pred, "lo": lo, "hi": hi, "covers": covers,
                     "note": f"relative error {rel:.1%} from the {len(x) - 1} smaller models"})  # fmt: skip
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
