"""The paper's Sec. 3 analyses on any family's per-sample outputs (``outputs.jsonl``, see :mod:`.outputs`).

- :func:`score_items`: every item scored for L = 1..max_len (exact match, token edit distance, per-token accuracy,
  probability of the exact target where log-probabilities exist), tokens = characters (digits) of the answer;
- :func:`model_table`: per-model means as a tidy table in the sweep-table format, so the sweep figure (Fig. 3) and
  the claim table (emergence scores) of :mod:`.figures` and :mod:`.claims` read it unchanged;
- :func:`resolution_table` / :func:`resolution_figure`: accuracy on growing test sets on a log axis (Fig. 4);
- :func:`prediction3_table`: accuracy(L) against p^L and edit distance(L) against L(1 - p), p from L = 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from src.analysis.core.plotting import grid, log_x
from src.metrics.text import exact_target_logprob, score_strings

MODEL_KEYS = ["family", "model", "scale", "task"]
SCORES = ("exact_match", "edit_distance", "token_acc", "target_prob")


def as_scaled(outputs: pd.DataFrame) -> pd.DataFrame:
    """The outputs table (``num_params``, docs/arithmetic.md) with its size in the evidence column ``scale``."""
    return outputs.rename(columns={"num_params": "scale"}) if "scale" not in outputs.columns else outputs


def score_items(outputs: pd.DataFrame, max_len: int = 5) -> pd.DataFrame:
    """One row per item: the outputs' model/task/item columns plus ``<score>_l=<L>`` (and whole-answer ``<score>``).

    Scores are NaN where the target is shorter than L; ``target_prob`` is NaN without log-probabilities (or where
    no model-token boundary falls at L).
    """
    outputs = as_scaled(outputs)
    s = score_strings(outputs["output"].tolist(), outputs["target"].tolist(), max_len)
    s["target_prob"] = np.full_like(s["exact_match"], np.nan)
    has_lp = outputs["target_logprobs"].notna().to_numpy()
    if has_lp.any():
        lp = exact_target_logprob(
            outputs.loc[has_lp, "target_tokens"].tolist(),
            outputs.loc[has_lp, "target_logprobs"].tolist(),
            max_len,
        )
        s["target_prob"][has_lp] = np.exp(lp)
    cols = {}
    for name in SCORES:
        cols[name] = s[name][:, 0]
        for L in range(1, max_len + 1):
            cols[f"{name}_l={L}"] = s[name][:, L]
    cols["n_target_tokens"] = s["n_target_tokens"]
    base = outputs[[*MODEL_KEYS, "subset", "item"]].reset_index(drop=True)
    return pd.concat([base, pd.DataFrame(cols)], axis=1)


def model_means(items: pd.DataFrame, columns: Sequence[str], subset: str = "test") -> pd.DataFrame:
    """Long table of per-model means of the per-item ``columns`` over the items of ``subset``: ``MODEL_KEYS``,
    ``column``, ``value`` (mean over non-NaN items), ``n_items`` (those items; pairs with none left out) and
    ``replicate`` (0, 1, ... for the models of one family, task and size, in model order)."""
    part = items[items["subset"] == subset]
    if part.empty:
        raise ValueError(
            f"no items of subset {subset!r}; subsets present: {sorted(items['subset'].unique())}"
        )
    grouped = part.groupby(MODEL_KEYS, sort=True)[list(columns)]
    long = grouped.mean().stack(future_stack=True).rename("value").to_frame()
    long["n_items"] = grouped.count().stack(future_stack=True)
    long = long.reset_index().rename(columns={f"level_{len(MODEL_KEYS)}": "column"})
    long = long[long["n_items"] > 0]
    models = long[MODEL_KEYS].drop_duplicates().sort_values(MODEL_KEYS)
    models["replicate"] = models.groupby(["family", "task", "scale"]).cumcount()
    return long.merge(models, on=MODEL_KEYS)


def model_table(items: pd.DataFrame, subset: str = "test", split: str = "test") -> pd.DataFrame:
    """Per (model, metric) means over the items of ``subset``, as an evidence table (:mod:`src.analysis.core.evidence`).

    ``replicate`` is 0, 1, ... for the models of one family, task and size (several models of one size are drawn as
    one point's replicates), ``metric`` ``test/exact_match_l=3``, ``n_items`` the items scored for that metric
    (those with at least L target tokens), ``source`` the family (one set of outputs per family).
    """
    from src.analysis.core import evidence

    long = model_means(items, [c for c in items.columns if c.split("_l=")[0] in SCORES], subset)
    ev = pd.DataFrame({
        "family": long["family"], "model": long["model"], "scale": long["scale"].astype(float),
        "task": long["task"], "metric": f"{split}/" + long["column"], "value": long["value"].astype(float),
        "replicate": long["replicate"], "n_items": long["n_items"].astype(float), "source": long["family"],
    })  # fmt: skip
    return evidence.normalize(ev, source="scored outputs")


def _ordered(items: pd.DataFrame) -> pd.DataFrame:
    """Items of each model in resolution order: the shared test set first, then other subsets, each by item."""
    rank = (items["subset"] != "test").astype(int)
    return items.assign(_r=rank).sort_values([*MODEL_KEYS, "_r", "subset", "item"]).drop(columns="_r")


def resolution_table(items: pd.DataFrame, sizes: Sequence[int], max_len: int = 5) -> pd.DataFrame:
    """Accuracy (exact match at L) of each model on its first n items, for every n in ``sizes`` (paper Fig. 4).

    Columns: model keys, ``n_items`` (n asked), ``L``, ``n_scored`` (items among them with >= L target tokens),
    ``n_correct``, ``accuracy`` and ``upper95`` (one-sided 95% Clopper-Pearson upper bound; for a zero reading,
    the largest accuracy the test set could have missed). Sizes larger than a model's items are skipped.
    """
    from scipy.stats import beta

    rows = []
    for keys, g in _ordered(items).groupby(MODEL_KEYS, sort=True):
        for n in sorted(set(int(s) for s in sizes)):
            if n > len(g):
                continue
            head = g.iloc[:n]
            for L in range(1, max_len + 1):
                col = head[f"exact_match_l={L}"].dropna()
                if col.empty:
                    continue
                k, m = int(col.sum()), len(col)
                upper = float(beta.ppf(0.95, k + 1, m - k)) if k < m else 1.0
                rows.append({**dict(zip(MODEL_KEYS, keys, strict=True)), "n_items": n, "L": L, "n_scored": m,
                             "n_correct": k, "accuracy": k / m, "upper95": upper})  # fmt: skip
    return pd.DataFrame(rows)


def resolution_summary(res: pd.DataFrame) -> pd.DataFrame:
    """Per (family, task, n_items): how many (model, L) cells read exactly 0, and the smallest non-zero accuracy."""
    g = res.groupby(["family", "task", "n_items"])
    out = g.agg(cells=("accuracy", "size"), zero_readings=("accuracy", lambda a: int((a == 0).sum())))
    out["min_nonzero_accuracy"] = g["accuracy"].agg(lambda a: a[a > 0].min() if (a > 0).any() else np.nan)
    return out.reset_index()


def resolution_figure(res: pd.DataFrame, title: str | None = None) -> Figure:
    """One panel per test-set size: accuracy against scale on log-log axes, one line per L.

    A zero reading cannot be drawn on a log axis: it is drawn as an open marker at 1/(2 n_scored), below the test
    set's resolution 1/n_scored, so the reader sees where the small set read 0 and the large one resolved it.
    Several models of one size (seeds): a marker per model, the line through their mean.
    """
    sizes = sorted(res["n_items"].unique())
    rows, cols = grid(len(sizes))
    fig = Figure(figsize=(4.0 * cols, 3.8 * rows + 0.3), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True).flatten()
    for ax in axes[len(sizes) :]:
        ax.remove()
    axes = axes[: len(sizes)]
    from matplotlib import colormaps

    lengths = sorted(res["L"].unique())
    colors = colormaps["viridis"](np.linspace(0.0, 0.85, max(len(lengths), 2)))
    for ax, n in zip(axes, sizes, strict=True):
        part = res[res["n_items"] == n]
        for color, L in zip(colors, lengths, strict=False):
            c = part[part["L"] == L].sort_values("scale")
            if c.empty:
                continue
            x = c["scale"].to_numpy(float)
            y = c["accuracy"].to_numpy(float)
            floor = 0.5 / c["n_scored"].to_numpy(float)
            mean = c.groupby("scale").agg(y=("accuracy", "mean"), n=("n_scored", "min"))
            line_floor = 0.5 / mean["n"].to_numpy(float)
            line = np.where(mean["y"] > 0, mean["y"], line_floor)
            ax.plot(mean.index.to_numpy(float), line, "-", color=color, lw=1.4, label=f"L={L}")
            ax.plot(x[y > 0], y[y > 0], "o", color=color, ms=4)
            ax.plot(x[y == 0], floor[y == 0], "o", mfc="white", color=color, ms=5)
        zeros = int((part["accuracy"] == 0).sum())
        ax.set_yscale("log")
        log_x(ax)
        ax.set_title(f"{n} test items: {zeros} zero reading(s)", fontsize=10)
        ax.set_xlabel("number of parameters")
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[::cols]:
        ax.set_ylabel("accuracy (exact match of the first L digits)")
    axes[-1].legend(fontsize=7, frameon=False, loc="lower right")
    fig.suptitle(title or "Resolution: accuracy on growing test sets (open markers: read 0, drawn at 1/(2n))",
                 fontsize=10)  # fmt: skip
    return fig


def _r2(obs: np.ndarray, pred: np.ndarray) -> float:
    ss_tot = float(((obs - obs.mean()) ** 2).sum())
    ss_res = float(((obs - pred) ** 2).sum())
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else float("nan")
    return 1.0 - ss_res / ss_tot


def prediction3_table(table: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Per model: accuracy(L) against p^L and token edit distance(L) against L(1 - p), p = accuracy at L = 1.

    ``r2_acc`` / ``r2_ed``: R^2 of the parameter-free predictions over L = 1..max; ``q_fit`` / ``r2_acc_fit``: the
    per-token accuracy q that fits accuracy(L) = q^L best (least squares) and its R^2; ``slope_fit`` /
    ``r2_ed_fit``: edit distance(L) = slope * L. The paper's prediction 3 holds where these R^2 are near 1.
    """
    from scipy.optimize import curve_fit

    rows = []
    keys = ["source", "task", "family", "model", "scale"]
    for key, g in table.groupby(keys, sort=True):
        vals = dict(zip(g["metric"], g["value"], strict=True))
        Ls, acc, ed = [], [], []
        for L in range(1, 100):
            a, e = vals.get(f"{split}/exact_match_l={L}"), vals.get(f"{split}/edit_distance_l={L}")
            if a is None or e is None:
                break
            Ls.append(L)
            acc.append(a)
            ed.append(e)
        if len(Ls) < 2:
            continue
        Ls, acc, ed = np.array(Ls, float), np.array(acc), np.array(ed)
        p = acc[0]
        (q,), _ = curve_fit(lambda L, q: q**L, Ls, acc, p0=[min(max(p, 1e-3), 0.999)], bounds=(0.0, 1.0))
        slope = float((Ls * ed).sum() / (Ls * Ls).sum())
        rows.append({**dict(zip(keys, key, strict=True)), "p_l1": p, "max_L": int(Ls[-1]),
                     "acc_obs": ";".join(f"{v:.3g}" for v in acc), "r2_acc": _r2(acc, p**Ls),
                     "q_fit": float(q), "r2_acc_fit": _r2(acc, q**Ls),
                     "ed_obs": ";".join(f"{v:.3g}" for v in ed), "r2_ed": _r2(ed, Ls * (1 - p)),
                     "slope_fit": slope, "r2_ed_fit": _r2(ed, slope * Ls)})  # fmt: skip
    return pd.DataFrame(rows)
