"""Per-place error rates: which digit of the answer a family learns at which scale.

The per-token error rate that the premise check fits is an average over the answer's digits, and the digits of an
arithmetic answer are different sub-tasks: the units digit of a product needs only the operands' units digits (a
10 x 10 table), the tens digit needs the cross terms and a carry. If each place is learnt over its own range of
scale, the average is a sum of curves with different onsets and need not be a power law even where every place is
smooth; if one place is learnt abruptly, the per-token loss inherits a step. This module scores each place value
(digits aligned from the right: place 1 = units) so the two can be told apart:

- :func:`place_items`: one row per item, ``place_err_<k>`` = 1 where the output's digit at place k differs from
  the target's (an output with fewer digits errs there), NaN where the target has no place k;
- :func:`place_table`: per model and place, the error rate and the items scored, in the sweep-table layout
  (means and seeds from :func:`.scoring.model_means`, as for :func:`.scoring.model_table`);
- :func:`place_fits`: per (family, task, place), the power law with floor of the premise check on the seed means
  (R^2 in log space, largest log residual) and the steepest local log-log slope between adjacent sizes against
  the fitted alpha, which is where an abrupt place shows;
- :func:`place_figure`: error rate per place against parameters (seed means, one dot per seed), with the whole
  answer's per-token error rate for comparison.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.analysis.arithmetic.scoring import MODEL_KEYS, as_scaled, model_means
from src.analysis.core.plotting import log_x
from src.metrics.text import code_matrix


def place_items(outputs: pd.DataFrame, max_places: int = 5) -> pd.DataFrame:
    """Per item of ``outputs`` (columns of :func:`src.results.outputs.load_outputs`): the model/task/item columns
    plus ``place_err_<k>`` for k = 1..max_places (1 = units digit; NaN where the target has fewer than k digits)."""
    if max_places < 1:
        raise ValueError(f"max_places must be >= 1, got {max_places}")
    outputs = as_scaled(outputs)
    # answers are a few characters: reversing them in Python is not a hot loop
    rev_out = [str(s).strip()[::-1] for s in outputs["output"]]
    rev_tgt = [str(s).strip()[::-1] for s in outputs["target"]]
    out, tgt = code_matrix(rev_out, width=max_places), code_matrix(rev_tgt, width=max_places)
    n_tgt = np.array([len(s) for s in rev_tgt])
    cols = {}
    for k in range(1, max_places + 1):
        wrong = (out[:, k - 1] != tgt[:, k - 1]).astype(float)
        cols[f"place_err_{k}"] = np.where(n_tgt >= k, wrong, np.nan)
    base = outputs[[*MODEL_KEYS, "subset", "item"]].reset_index(drop=True)
    return pd.concat([base, pd.DataFrame(cols)], axis=1)


def place_table(items: pd.DataFrame, subset: str = "test") -> pd.DataFrame:
    """Per (model, place): ``value`` = error rate over the items of ``subset`` whose target has that place,
    ``n_items`` = those items; columns ``source`` (= family), ``task``, ``family``, ``model``, ``scale``,
    ``replicate``, ``place``, ``value``, ``n_items``. Places no item of a model has are left out."""
    long = model_means(items, [c for c in items.columns if c.startswith("place_err_")], subset)
    return pd.DataFrame({
        "source": long["family"], "task": long["task"], "family": long["family"],
        "model": long["model"], "scale": long["scale"].astype(float), "replicate": long["replicate"],
        "place": long["column"].str.slice(len("place_err_")).astype(int), "value": long["value"].astype(float),
        "n_items": long["n_items"].astype(float),
    }).sort_values(["source", "task", "place", "scale", "replicate"], ignore_index=True)  # fmt: skip


def place_fits(table: pd.DataFrame) -> pd.DataFrame:
    """Per (sweep, task, place): seed-mean error rate by size, the premise check's power law with floor on the
    sizes above 0 (``alpha``, ``r2_log``, ``max_abs_resid_log``; NaN with fewer than 4 such sizes), and
    ``steepest_slope`` = the largest -d log(error) / d log(N) between adjacent sizes (both above 0) with
    ``steepest_at`` = the pair of sizes, ``slope_ratio`` = steepest_slope / alpha (near 1: no step beyond the law)."""
    from src.analysis.sweeps.premise import fit_power_law_with_floor

    rows = []
    for (sweep, task, place), g in table.groupby(["source", "task", "place"], sort=True):
        m = g.groupby("scale")["value"].agg(["mean", "count"]).sort_index()
        n, y = m.index.to_numpy(float), m["mean"].to_numpy(float)
        row = {"source": sweep, "task": task, "place": int(place), "n_sizes": len(n),
               "n_zero": int((y <= 0).sum()), "error_smallest": y[0], "error_largest": y[-1]}  # fmt: skip
        pos = y > 0
        fit = None
        if np.unique(n[pos]).size >= 4:
            try:
                fit = fit_power_law_with_floor(n[pos], y[pos])
            except ValueError:
                fit = None
        if fit is not None:
            resid = np.log(y[pos]) - np.log(fit(n[pos]))
            row.update(
                E=fit.E, alpha=fit.alpha, r2_log=fit.r2_log, max_abs_resid_log=float(np.abs(resid).max())
            )
        else:
            row.update(E=np.nan, alpha=np.nan, r2_log=np.nan, max_abs_resid_log=np.nan)
        both = pos[:-1] & pos[1:]
        if both.any():
            slopes = -np.diff(np.log(np.where(pos, y, 1.0))) / np.diff(np.log(n))
            slopes = np.where(both, slopes, -np.inf)
            i = int(np.argmax(slopes))
            row.update(steepest_slope=float(slopes[i]), steepest_at=f"{int(n[i])}-{int(n[i + 1])}")
        else:
            row.update(steepest_slope=np.nan, steepest_at="")
        row["slope_ratio"] = row["steepest_slope"] / row["alpha"] if np.isfinite(row["alpha"]) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def place_figure(
    table: pd.DataFrame, per_token: pd.DataFrame | None = None, title: str | None = None
) -> Figure:
    """Error rate per place against parameters on log-log axes: seed means (lines), one dot per seed; a run with
    no error at a place is drawn as a cross on the axis floor. ``per_token``: rows of the sweep table for the
    whole answer's per-token accuracy (``test/token_acc``), drawn as 1 - value in grey."""
    from matplotlib import colormaps

    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.subplots()
    places = sorted(table["place"].unique())
    colors = colormaps["viridis"](np.linspace(0.0, 0.85, max(len(places), 2)))
    zeros = []
    for color, k in zip(colors, places, strict=False):
        g = table[table["place"] == k]
        mean = g.groupby("scale")["value"].mean()
        pos = mean[mean > 0]
        ax.plot(pos.index, pos.to_numpy(), "o-", color=color, lw=1.4, ms=4, label=f"place {k}" + (
            " (units)" if k == 1 else ""))  # fmt: skip
        ax.plot(g["scale"][g["value"] > 0], g["value"][g["value"] > 0], ".", color=color, alpha=0.35)
        zeros.append((g["scale"][g["value"] <= 0], color))
    if per_token is not None and len(per_token):
        m = (1.0 - per_token.groupby("scale")["value"].mean()).sort_index()
        m = m[m > 0]
        ax.plot(m.index, m.to_numpy(), "s--", color="0.4", ms=3, lw=1.0, label="per-token (whole answer)")
    ax.set_yscale("log")
    floor = ax.get_ylim()[0]
    for x, color in zeros:
        if len(x):
            ax.plot(x, np.full(len(x), floor), "x", color=color, ms=5, clip_on=False)
    ax.set_ylim(bottom=floor)
    log_x(ax)
    ax.set_xlabel("number of parameters")
    ax.set_ylabel("error rate at the place (test)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(title or "Error rate per digit place (1 = units); dots: seeds, crosses: runs without error",
                 fontsize=9)  # fmt: skip
    return fig
