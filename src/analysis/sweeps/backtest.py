"""Predictability backtest: fit each metric's curve on the smaller half of a model family, predict the larger half.

Two ways for a sharp metric:
- ``direct``: fit the sharp curve itself with a two-parameter power law in N and extrapolate;
- ``via_smooth``: fit its smooth companion the same way, extrapolate it, and map it through the paper's model
  (all K of K right = acc^K; a sequence of L right = per-token accuracy^L; Reconstruction_c = P(sq_err < c) with
  per-image squared errors Gamma-distributed, shape taken from the small models' per-item errors);
- ``via_smooth_measured``: the same map applied to the *measured* smooth metric at the large sizes: no
  extrapolation, so it checks the model identity alone.

The power law: for a bounded higher-is-better metric y in [0, 1], ``1 - y = A * N^-b``; for a lower-is-better
metric, ``y = A * N^-b``. Fits are ``scipy.optimize.curve_fit`` in log space, on seed means.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.stats import gamma as gamma_dist

from src.analysis.core.curves import curve_table
from src.analysis.core.metrics import classify
from src.analysis.stats.backtest import fit_saturating
from src.results.errors import InputError

_EPS = 1e-6


@dataclass(frozen=True)
class ModelMap:
    """A sharp family predicted from a smooth metric of the same split: ``sharp = fn(smooth, param, ctx)``.

    ``calibrate`` (optional) reads the per-item arrays of the *fitted* (smaller) runs only and returns ``ctx``;
    a map that needs it is skipped where those runs saved no ``per_item.npz``.
    """

    smooth_name: str
    fn: Callable[[np.ndarray, float, dict], np.ndarray]
    formula: str
    calibrate: Callable[[list[dict[str, np.ndarray]]], dict | None] | None = None


def _gamma_shape(per_items: list[dict[str, np.ndarray]]) -> dict | None:
    """Shape k of a Gamma fitted by moments to each run's per-image squared errors (median over runs)."""
    ks = []
    for a in per_items:
        if "sq_err" in a:
            x = np.asarray(a["sq_err"], dtype=np.float64)
            if x.var() > 0:
                ks.append(x.mean() ** 2 / x.var())
    return {"k": float(np.median(ks))} if ks else None


def _recon_from_sq_err(mean_sq_err: np.ndarray, c: float, ctx: dict) -> np.ndarray:
    # per-image squared error ~ Gamma(k, mean / k) with the shape of the small models: P(sq_err < c)
    k = ctx["k"]
    return gamma_dist.cdf(c, a=k, scale=np.clip(mean_sq_err, _EPS, None) / k)


_MODEL_MAPS: dict[str, ModelMap] = {}
_FORMULA = {"direct": "power law in N", "saturating": "gap = E + A N^-alpha"}


def register_model_map(sharp_family: str, model_map: ModelMap) -> None:
    """Let the backtest predict ``sharp_family`` from a smooth metric through the mathematical model."""
    _MODEL_MAPS[sharp_family] = model_map


register_model_map("subset_acc", ModelMap("acc", lambda acc, k, ctx: np.clip(acc, 0, 1) ** k, "acc^K"))
register_model_map("seq_acc", ModelMap("acc", lambda acc, n, ctx: np.clip(acc, 0, 1) ** n, "acc^L"))
register_model_map(
    "recon", ModelMap("sq_err", _recon_from_sq_err, "GammaCDF(c; k, sq_err/k)", calibrate=_gamma_shape)
)
register_model_map(
    "exact_match", ModelMap("token_acc", lambda acc, n, ctx: np.clip(acc, 0, 1) ** n, "token_acc^L")
)


def fit_power_law(
    x: np.ndarray, y: np.ndarray, higher_is_better: bool, upper: float = 1.0
) -> Callable[[np.ndarray], np.ndarray]:
    """Fit the two-parameter power law (see module doc) to (x, y); returns the fitted curve y(N). A
    higher-is-better metric approaches ``upper`` (1 for accuracies; a declared bound otherwise, 100 for BLEU)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    gap = np.clip(upper - y, _EPS, None) if higher_is_better else np.clip(y, _EPS, None)
    logx, loggap = np.log(x), np.log(gap)

    def line(lx, log_a, b):
        return log_a - b * lx

    slope, intercept = np.polyfit(logx, loggap, 1) if x.size >= 2 else (0.0, loggap.mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)  # exact fits through 2 points have no covariance
        (log_a, b), _ = curve_fit(line, logx, loggap, p0=(intercept, -slope))

    def predict(n: np.ndarray) -> np.ndarray:
        g = np.exp(line(np.log(np.asarray(n, dtype=float)), log_a, b))
        return upper - g if higher_is_better else g

    return predict


def _calibrate(
    mm: ModelMap, table: pd.DataFrame, sweep: str, task: str, fit_sizes: np.ndarray, family: str | None = None
) -> dict | None:
    """Run ``mm.calibrate`` on the per-item arrays of the fitted (smaller) runs of one task."""
    from src.analysis.sweeps.bootstrap import load_per_item
    from src.analysis.sweeps.loading import per_item_path

    runs = table[
        (table["source"] == sweep)
        & (table["task"] == task)
        & table["scale"].isin(fit_sizes)
        & ((table["family"] == family) if family is not None else True)
    ]
    arrays = []
    for run in runs[["sweep_dir", "run_dir"]].drop_duplicates().itertuples(index=False):
        path = per_item_path(run.sweep_dir, run.run_dir)
        if path.is_file():
            arrays.append(load_per_item(path))
    return mm.calibrate(arrays) if arrays else None


def backtest(
    table: pd.DataFrame, split: str = "test", fit_fraction: float = 0.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest every metric of every task; returns (summary per task x metric x method, predictions per point).

    The smallest ``fit_fraction`` of the distinct sizes (at least 2) are fitted, the rest predicted. Errors are on
    seed means: mean and max absolute error over the predicted sizes.
    """
    curves = curve_table(table, split)
    points, rows, skipped, too_few, unbounded = [], [], [], [], []
    for (sweep, task, family), g in curves.groupby(["source", "task", "family"]):
        sizes = np.sort(g["scale"].unique())
        n_fit = max(2, int(np.floor(len(sizes) * fit_fraction)))
        if len(sizes) - n_fit < 1:
            too_few.append(f"{sweep}/{task} ({family}): {len(sizes)}")
            continue
        fit_sizes, pred_sizes = sizes[:n_fit], sizes[n_fit:]
        means = {m: c.set_index("scale")["mean"] for m, c in g.groupby("metric")}
        contexts: dict[str, dict | None] = {}
        for metric, y in means.items():
            # a metric missing at some sizes (--allow-missing) is fitted and predicted where it exists
            fit_m, pred_m = fit_sizes[np.isin(fit_sizes, y.index)], pred_sizes[np.isin(pred_sizes, y.index)]
            if len(fit_m) < 2 or len(pred_m) < 1:
                skipped.append(
                    f"{sweep}/{task}: {metric} ({len(fit_m)} fitted, {len(pred_m)} predicted sizes)"
                )
                continue
            info = classify(metric)
            hib = info.kind.higher_is_better
            upper = 1.0 if info.kind.upper is None else float(info.kind.upper)
            if hib and float(y.max()) > upper:
                unbounded.append(metric)
                continue
            preds = {"direct": (pred_m, fit_power_law(fit_m, y.loc[fit_m], hib, upper)(pred_m))}
            if (
                len(fit_m) >= 3
            ):  # with an irreducible term: gap = E + A N^-alpha (src/analysis/stats/backtest.py)
                gap = upper - y.loc[fit_m].to_numpy(float) if hib else y.loc[fit_m].to_numpy(float)
                if (gap > 0).all():
                    gp = fit_saturating(fit_m, gap).predict(pred_m)
                    preds["saturating"] = (pred_m, upper - gp if hib else gp)
            mm = _MODEL_MAPS.get(info.kind.family) if info.sharpness == "sharp" and info.param else None
            smooth_key = (f"{info.split}/{mm.smooth_name}" if info.split else mm.smooth_name) if mm else None
            ctx: dict | None = {}
            if mm and mm.calibrate is not None:
                ctx = contexts.setdefault(
                    info.kind.family, _calibrate(mm, table, sweep, task, fit_sizes, family)
                )
            if mm and smooth_key in means and ctx is not None:
                s = means[smooth_key]
                fit_s, pred_s = fit_m[np.isin(fit_m, s.index)], pred_m[np.isin(pred_m, s.index)]
                if len(fit_s) >= 2 and len(pred_s) >= 1:
                    s_info = classify(smooth_key)
                    s_pred = fit_power_law(fit_s, s.loc[fit_s], s_info.kind.higher_is_better)(pred_s)
                    k = float(info.param)
                    preds["via_smooth"] = (pred_s, mm.fn(s_pred, k, ctx))
                    preds["via_smooth_measured"] = (pred_s, mm.fn(s.loc[pred_s].to_numpy(float), k, ctx))
            for method, (at, pred) in preds.items():
                actual = y.loc[at].to_numpy(float)
                err = np.abs(pred - actual)
                span = float(y.max() - y.min())
                rows.append({
                    "source": sweep, "task": task, "family": family, "metric": metric, "sharpness": info.sharpness,
                    "method": method, "formula": _FORMULA.get(method, mm.formula if mm else ""),
                    "n_fit": len(fit_m), "n_pred": len(at), "mae": float(err.mean()), "max_abs_err": float(err.max()),
                    "mean_rel_err": float(np.mean(err / np.abs(actual))) if (actual != 0).all() else np.nan,
                    "range_share": float(err.mean() / span) if span > 0 else np.nan,
                })  # fmt: skip
                for n, p, a in zip(at, pred, actual, strict=True):
                    points.append((sweep, task, family, metric, method, float(n), float(p), float(a)))
    if too_few and not rows:
        raise InputError(
            "backtest needs at least 3 model sizes (2 to fit, 1 to predict) in a (task, family); sizes: "
            + "; ".join(too_few[:10]),
            fix="add model sizes, or lower --fit-fraction",
        )
    if too_few:
        warnings.warn(
            f"{len(too_few)} (task, family) group(s) with fewer than 3 sizes not backtested: "
            + "; ".join(too_few[:10]),
            stacklevel=2,
        )
    if unbounded:
        warnings.warn(
            f"not backtested: {sorted(set(unbounded))} exceed 1, the bound the power law approaches; declare their "
            "upper bound (YAML: 'bleu: {bounds: [0, 100]}') to backtest them",
            stacklevel=2,
        )
    if skipped:
        warnings.warn(
            "not backtested (fewer than 2 fitted or no predicted size where the metric exists): "
            + "; ".join(skipped[:10]),
            stacklevel=2,
        )
    summary = pd.DataFrame(rows)
    cols = ["source", "task", "family", "metric", "method", "scale", "predicted", "actual"]
    return summary, pd.DataFrame(points, columns=cols)


_METHOD_STYLE = {
    "direct": dict(ls="--", marker="x", label="fit on small half, extrapolated"),
    "via_smooth": dict(ls=":", marker="+", label="smooth metric extrapolated, mapped by the model"),
}


def backtest_figure(table: pd.DataFrame, points: pd.DataFrame, split: str = "test"):
    """One task's backtest: measured seed means (solid) and the two predictions of the larger half (dashed,
    dotted), smooth families left, sharp right; the grey line separates fitted from predicted sizes."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from src.analysis.core.metrics import param_sort_key
    from src.analysis.core.plotting import colors, grid, log_x, panel_order

    curves = curve_table(table, split)
    if curves[["source", "task"]].drop_duplicates().shape[0] != 1:
        raise ValueError("backtest_figure draws one task; split the table by (source, task) first")
    panels = panel_order(curves)
    rows, cols = grid(len(panels))
    fig = Figure(figsize=(4.0 * cols, 3.9 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for ax in axes[len(panels) :]:
        ax.remove()
    first_pred = points["scale"].min()
    last_fit = curves.loc[curves["scale"] < first_pred, "scale"].max()
    for ax, (sharpness, family) in zip(axes, panels, strict=False):
        panel = curves[(curves["metric_family"] == family) & (curves["sharpness"] == sharpness)]
        metrics = sorted(panel["metric"].unique(), key=lambda m: param_sort_key(classify(m)))
        for color, metric in zip(colors(len(metrics)), metrics, strict=True):
            c = panel[panel["metric"] == metric].sort_values("scale")
            ax.plot(
                c["scale"],
                c["mean"],
                "o-",
                color=color,
                ms=3.5,
                lw=1.4,
                label=classify(metric).curve_label,
            )
            for method, style in _METHOD_STYLE.items():
                p = points[(points["metric"] == metric) & (points["method"] == method)].sort_values("scale")
                if not p.empty:
                    ax.plot(
                        p["scale"],
                        p["predicted"],
                        color=color,
                        lw=1.2,
                        ms=6,
                        ls=style["ls"],
                        marker=style["marker"],
                    )
        ax.axvline(np.sqrt(first_pred * last_fit), color="0.5", lw=1)
        info = classify(metrics[0])
        log_x(ax)
        ax.set_xlabel("number of parameters")
        ax.set_ylabel(info.kind.label)
        ax.set_title(f"{sharpness} metric: {family}", fontsize=10)
        ax.grid(True, alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        handles += [
            Line2D([], [], color="0.3", ls=s["ls"], marker=s["marker"], label=s["label"])
            for s in _METHOD_STYLE.values()
        ]
        ax.legend(handles=handles, fontsize=6.5, frameon=False)
    task = curves["task"].iloc[0]
    fig.suptitle(f"{task}: predict the larger models from the smaller ones (left of the grey line: fitted)")
    return fig
