"""The paper's LLM predictions tested on real model families (the shared ``llm/families`` data or a user's own).

- :func:`fig6_real`: per task, the emergence score (Eq. 1) of Multiple Choice Grade vs the exact multi-class Brier
  score and the target log-probability of the same per-item outputs, with intervals from resampling items.
- :func:`resolution_real`: accuracy on growing random item subsets vs the mean per-item probability (Fig. 4 analogue).
- :func:`scale_time_olmo` / :func:`scale_time_pythia`: sharp and smooth metrics of the same runs across parameters
  and across training tokens.
- :func:`operand_arithmetic`: Pythia's arithmetic accuracy by first operand across sizes and checkpoints.

Scores are oriented so that improvement is positive (lower-is-better metrics are negated first). Sharp here means
discontinuous in the per-item probability (an argmax: MCG / accuracy, exact match); smooth means continuous in it
(Brier score, probability and log-probability of the right answer, bits per byte, cross-entropy, log perplexity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.analysis.stats.intervals import DEFAULT_LEVEL, interval, item_counts, resample_parametric
from src.analysis.stats.nulls import (
    bh,
    binomial_null,
    null_pvalues,
    orientation_status,
    paired_difference,
    permutation_pvalue,
)
from src.analysis.stats.sharpness import emergence_rows, largest_step_share
from src.analysis.stats.verdicts import curve_summary, paired_verdicts, permutation_table

THRESHOLD = 10.0  # Eq. 1's threshold for "emergent" (applied only where N makes it reachable)
MIN_WIDTH_SIZES = 6  # the logistic has up to 4 free parameters: its width is identified only with more sizes

#: metric -> (sharpness, higher is better, plot label)
METRICS: dict[str, tuple[str, bool, str]] = {
    "mcg": ("sharp", True, "Multiple Choice Grade"),
    "acc": ("sharp", True, "accuracy"),
    "acc_len_norm": ("sharp", True, "accuracy (length-normalised)"),
    "exact_match": ("sharp", True, "exact match"),
    "brier": ("smooth", False, "multi-class Brier score"),
    "p_target": ("smooth", True, "probability of the right option"),
    "logprob": ("smooth", True, "log-probability of the right option"),
    "p_correct": ("smooth", True, "probability of the correct answer"),
    "logp_correct": ("smooth", True, "log-probability of the correct answer"),
    "bpb": ("smooth", False, "bits per byte of the correct answer"),
    "log_ppl": ("smooth", False, "log perplexity (nats per token)"),
    "ce_loss": ("smooth", False, "cross-entropy (nats per token)"),
}
#: the sharp metrics here are shares of items: their measurement resolution is 1/n_items
SHARE_OF_ITEMS = {m for m, (kind, _, _) in METRICS.items() if kind == "sharp"}


def oriented(metric: str, y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=float) * (1.0 if METRICS[metric][1] else -1.0)


def resolution(metric: str, n_items: float | None) -> float:
    """Tie tolerance of Eq. 1 for ``metric``: 1/n_items for a share of items where n_items is known, else 0
    (float tolerance only; :func:`src.analysis.stats.sharpness.tie_tolerance`)."""
    if metric in SHARE_OF_ITEMS and n_items is not None and np.isfinite(n_items) and n_items > 0:
        return 1.0 / float(n_items)
    return 0.0


def _summary_row(s: dict) -> dict:
    """A :func:`curve_summary` as table columns (the paper's names: ``emergence_score``, ``e_lo``, ``e_hi``)."""
    row = {k: v for k, v in s.items() if not k.startswith("_")}
    row["emergence_score"] = row.pop("E")
    row["largest_step_share"] = row.pop("step_share")
    if "E_lo" in row:
        row["e_lo"], row["e_hi"] = row.pop("E_lo"), row.pop("E_hi")
    return row


def _pairs(summaries: dict[str, dict], level: float) -> pd.DataFrame:
    sharp = [m for m in summaries if METRICS[m][0] == "sharp"]
    smooth = [m for m in summaries if METRICS[m][0] == "smooth"]
    pv = paired_verdicts(summaries, [(a, b) for a in sharp for b in smooth], level)
    if pv.empty:
        return pv
    # the verdict: on the width where it is identified with an interval, else on Eq. 1's paired difference
    on_width = pv["verdict_width"].isin(["sharp above smooth", "smooth above sharp", "no difference"]) | pv[
        "verdict_width"
    ].str.startswith("worsens")
    pv["verdict"] = np.where(on_width, pv["verdict_width"], pv["verdict_E"])
    pv["verdict_on"] = np.where(on_width, "logistic width", "Eq. 1")
    return pv


# ------------------------------------------------------------------------------------------------- Fig. 6 real
FIG6_QUANTITIES = {"mcg": "correct", "brier": "brier", "logprob": "logprob"}


def fig6_verdicts(
    items: pd.DataFrame,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
    threshold: float = THRESHOLD,
    nulls: tuple[str, ...] = (),
    n_draws: int = 10000,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, pairs). Scores: one row per (family, task, metric), the metric per model (sorted by scale), Eq. 1
    of the oriented curve with ties at 1/n_items for MCG, its item-bootstrap interval, the largest step share, the
    threshold status at N, the direction and the emergent verdict (:func:`curve_summary`). Items are resampled
    with replacement, the same items for every model and every metric (the items all were scored on), so the
    pairs are paired. Pairs: MCG against each smooth metric, the paired direction-aware verdict. ``nulls``:
    ``permutation`` (exact) and/or ``binomial`` (MCG only: smooth truth measured on n_items items), p and BH q
    per metric. A metric with an unknown per-item value (3 options, no ``correct``) is left out for that task."""
    rng = np.random.default_rng(seed)
    null_rng = np.random.default_rng(seed + 1)
    rows, pair_rows = [], []
    for (fam, task), g in items.groupby(["family", "task"], sort=True):
        models = g.groupby("model")["scale"].first().sort_values()
        if len(models) < 3:
            continue
        mats = {}
        for metric, col in FIG6_QUANTITIES.items():
            if col not in g or g[col].isna().any():  # unknown for some item (K > 2 without `correct`)
                continue
            mat = g.pivot_table(index="model", columns="item", values=col, aggfunc="first").loc[models.index]
            mats[metric] = mat.dropna(axis=1)  # items every model has
        if not mats:
            continue
        common = sorted(set.intersection(*(set(m.columns) for m in mats.values())))
        if len(common) < 2:
            continue
        n = len(common)
        counts = item_counts(n, n_boot, rng)  # [boot, items], shared by every model and metric: paired
        scale = models.to_numpy(float)
        summaries = {}
        for metric, mat in mats.items():
            x = mat[common].to_numpy(float)  # [models, items]
            y = oriented(metric, x.mean(axis=1))
            reps = oriented(metric, counts @ x.T / n)  # [boot, models]
            res = resolution(metric, n)
            s = curve_summary(scale, y, reps, threshold, res, level, widths=len(models) >= MIN_WIDTH_SIZES)
            summaries[metric] = s
            row = {"family": fam, "task": task, "metric": metric, "sharpness": METRICS[metric][0],
                   "n_models": len(models), "n_items": n, "interval_source": "items", "resolution": res,
                   **_summary_row(s)}  # fmt: skip
            row.update(_null_columns(scale, y, metric, n, nulls, n_draws, res, null_rng))
            row.update({f"value@{m}": float(v) for m, v in zip(models.index, x.mean(axis=1), strict=True)})
            rows.append(row)
        pv = _pairs(summaries, level)
        if not pv.empty:
            pair_rows.append(pv.assign(family=fam, task=task))
    table = _bh_per_metric(pd.DataFrame(rows), nulls)
    pairs = pd.concat(pair_rows, ignore_index=True) if pair_rows else pd.DataFrame()
    return table, pairs


def fig6_real(items: pd.DataFrame, **kw) -> pd.DataFrame:
    """The scores table of :func:`fig6_verdicts`."""
    return fig6_verdicts(items, **kw)[0]


def _null_columns(x, y, metric, n_items, nulls, n_draws, res, rng) -> dict:
    """p-values of Eq. 1 of one oriented curve under the chosen nulls: ``permutation`` (all orders of the sizes
    up to 8, exact) and ``binomial`` (a share of items with known n_items: smooth truth, a line in log N, each size
    re-measured on n_items items; NaN for a metric that is not a share of items or without n_items)."""
    out = {}
    for kind in nulls:
        if kind == "permutation":
            out["p_permutation"], _ = permutation_pvalue(
                y, stat=lambda r: emergence_rows(r, res), n_draws=n_draws, rng=rng
            )
        elif kind == "binomial":
            if metric not in SHARE_OF_ITEMS or not (n_items and np.isfinite(n_items)):
                out["p_binomial"] = np.nan
                continue
            hib = METRICS[metric][1]
            raw = y if hib else -y
            draws = binomial_null(x, raw, int(n_items), n_draws, rng, higher_is_better=hib)
            obs = emergence_rows(y, res)
            out["p_binomial"] = float(null_pvalues([obs], emergence_rows(draws, res)[None, :])[0])
        else:
            raise ValueError(f"null must be 'permutation' or 'binomial', got {kind!r}")
    return out


def _bh_per_metric(table: pd.DataFrame, nulls) -> pd.DataFrame:
    """BH q-values of every null's p, within each metric (a per-metric family of tests, not pooled)."""
    for kind in nulls:
        col = f"p_{kind}"
        if table.empty or col not in table:
            continue
        table[f"q_{kind}"] = np.nan
        for _, idx in table.groupby("metric").groups.items():
            table.loc[idx, f"q_{kind}"] = bh(table.loc[idx, col])
    return table


def fig6_summary(table: pd.DataFrame, pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (family, task): E(MCG), E(Brier), E(log p) with their 95% item-bootstrap intervals side by side, the
    emergent verdict of MCG, and (given ``pairs``) the paired verdict of MCG against each smooth metric;
    ``mcg_above_brier``: the paired verdict is "sharp above smooth"."""
    wide = table.pivot_table(
        index=["family", "task"],
        columns="metric",
        values=["emergence_score", "e_lo", "e_hi", "emergent"],
        aggfunc="first",
    )
    out = pd.DataFrame(index=wide.index)
    for m in ("mcg", "brier", "logprob"):
        if ("emergence_score", m) in wide:
            out[f"E_{m}"] = wide[("emergence_score", m)].astype(float)
            out[f"E_{m}_lo"] = wide[("e_lo", m)].astype(float)
            out[f"E_{m}_hi"] = wide[("e_hi", m)].astype(float)
            out[f"emergent_{m}"] = wide[("emergent", m)]
    out = out.reset_index()
    if pairs is not None and not pairs.empty:
        for smooth in ("brier", "logprob"):
            p = pairs[(pairs["sharp"] == "mcg") & (pairs["smooth"] == smooth)]
            p = p[["family", "task", "verdict", "diff_E", "diff_lo_E", "diff_hi_E"]].rename(
                columns={
                    "verdict": f"mcg_vs_{smooth}",
                    "diff_E": f"dE_{smooth}",
                    "diff_lo_E": f"dE_{smooth}_lo",
                    "diff_hi_E": f"dE_{smooth}_hi",
                }  # fmt: skip
            )
            out = out.merge(p, on=["family", "task"], how="left")
    if "mcg_vs_brier" in out:
        out["mcg_above_brier"] = out["mcg_vs_brier"] == "sharp above smooth"
    elif {"E_mcg_lo", "E_brier_hi"} <= set(out.columns):
        out["mcg_above_brier"] = out["E_mcg_lo"] > out["E_brier_hi"]
    return out


# ---------------------------------------------------------------------------------------------- resolution
def resolution_real(
    items: pd.DataFrame,
    *,
    sizes=(10, 20, 50, 100, 200, 500),
    n_subsets: int = 500,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
    threshold: float = THRESHOLD,
) -> pd.DataFrame:
    """Per (family, task, subset size n, model): accuracy (MCG) and mean p_target on ``n_subsets`` random item
    subsets of size n (without replacement, the same subset for every model, as a smaller benchmark would be),
    summarised by mean and the central ``level`` range; Eq. 1 of each subset's curves with ties at the subset's
    resolution 1/n for accuracy: its central range, median, the share of subsets whose accuracy curve reaches the
    threshold (a threshold that N makes unreachable is reported as such), and the paired direction-aware verdict
    of accuracy against mean probability over the subsets (the same subset for both). ``n = all`` (the whole
    task) is the last row of each group."""
    rng = np.random.default_rng(seed)
    a_lo, a_hi = (1 - level) / 2, 1 - (1 - level) / 2
    rows = []
    for (fam, task), g in items.groupby(["family", "task"], sort=True):
        if g["correct"].isna().any() or g["n_options"].max() != 2:
            continue
        models = g.groupby("model")["scale"].first().sort_values()
        acc = g.pivot_table(index="model", columns="item", values="correct").loc[models.index].dropna(axis=1)
        prob = g.pivot_table(index="model", columns="item", values="p_target").loc[models.index][acc.columns]
        a, p = acc.to_numpy(float), prob.to_numpy(float)
        total = a.shape[1]
        status = curve_summary(models.to_numpy(float), a.mean(axis=1), None, threshold, widths=False)
        for n in [s for s in sizes if s < total] + [total]:
            if n == total:
                pick = np.arange(total)[None, :]
            else:
                pick = np.argsort(rng.random((n_subsets, total)), axis=1)[:, :n]
            acc_s = a[:, pick].mean(axis=2)  # [models, subsets]
            prob_s = p[:, pick].mean(axis=2)
            e_acc = emergence_rows(acc_s.T, resolution("acc", n))
            e_prob = emergence_rows(prob_s.T)
            e_acc_lo, e_acc_hi = (float(v) for v in interval(e_acc, level))
            e_p_lo, e_p_hi = (float(v) for v in interval(e_prob, level))
            full_acc = emergence_rows(a.mean(axis=1), resolution("acc", n))
            full_p = emergence_rows(p.mean(axis=1))
            d = paired_difference(
                e_acc, e_prob, full_acc, full_p,
                orientation_status(acc_s.T, a.mean(axis=1), level), orientation_status(prob_s.T, p.mean(axis=1), level),
                level,
            ) if n < total else {"verdict": "whole task (no subsets)", "diff_lo": np.nan, "diff_hi": np.nan}  # fmt: skip
            reach = status["threshold_status"]
            share_em = float(np.mean(e_acc >= threshold)) if reach == "ok" else np.nan
            for j, (model, scale) in enumerate(models.items()):
                rows.append({
                    "family": fam, "task": task, "n": n, "is_all": n == total, "model": model, "scale": scale,
                    "acc_mean": acc_s[j].mean(), "acc_lo": np.quantile(acc_s[j], a_lo),
                    "acc_hi": np.quantile(acc_s[j], a_hi), "acc_share_zero": float((acc_s[j] == 0).mean()),
                    "p_mean": prob_s[j].mean(),
                    "p_lo": np.quantile(prob_s[j], a_lo), "p_hi": np.quantile(prob_s[j], a_hi),
                    "E_acc_lo": e_acc_lo, "E_acc_hi": e_acc_hi, "E_p_lo": e_p_lo, "E_p_hi": e_p_hi,
                    "E_acc_median": np.median(e_acc), "E_p_median": np.median(e_prob),
                    "threshold_status": reach, "share_subsets_acc_emergent": share_em,
                    "verdict_acc_vs_p": d["verdict"], "dE_lo": d["diff_lo"], "dE_hi": d["diff_hi"],
                })  # fmt: skip
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------ scale and time
def olmo_accuracy(ev: pd.DataFrame) -> pd.DataFrame:
    """OLMo-ladder rows with one accuracy per task: ``acc_len_norm`` where the task has it, else ``acc``
    (BoolQ), renamed ``acc``; plus ``p_correct`` and ``bpb``. Reruns (replicate != "") left out."""
    ev = ev[(ev["replicate"] == "") & ev["task"].str.contains("_rc_")]
    has_norm = set(ev.loc[ev["metric"] == "acc_len_norm", "task"])
    acc = ev[
        ((ev["metric"] == "acc_len_norm") & ev["task"].isin(has_norm))
        | ((ev["metric"] == "acc") & ~ev["task"].isin(has_norm))
    ].assign(metric="acc")
    return pd.concat([acc, ev[ev["metric"].isin(["p_correct", "bpb"])]], ignore_index=True)


def _final(ev: pd.DataFrame) -> pd.DataFrame:
    last = ev.sort_values(["tokens", "step"]).groupby(["model", "replicate"])["checkpoint"].last()
    key = pd.MultiIndex.from_frame(ev[["model", "replicate", "checkpoint"]])
    return ev[key.isin(pd.MultiIndex.from_frame(last.reset_index()[["model", "replicate", "checkpoint"]]))]


def score_curves(
    curves: list[tuple[dict, str, np.ndarray, np.ndarray, np.ndarray | None, float | None, str]],
    *,
    level: float = DEFAULT_LEVEL,
    threshold: float = THRESHOLD,
    nulls: tuple[str, ...] = (),
    n_draws: int = 10000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, pairs) of curves ``(key, metric, x, raw y, raw replicate rows [B, n] or None, n_items or None,
    interval source)`` by the rules of :mod:`src.analysis.stats.verdicts`: one :func:`curve_summary` per curve
    (ties at 1/n_items for a share of items where n_items is known); a curve without an interval source is
    called emergent only if E >= threshold and its exact permutation test survives BH over those curves; the
    sharp and smooth metrics of one key are paired (direction-aware; without replicates: "no interval")."""
    rng = np.random.default_rng(seed)
    rows, by_key, plain = [], {}, []
    for key, metric, x, y, reps, n_items, source in curves:
        x, yo = np.asarray(x, dtype=float), oriented(metric, y)
        ro = oriented(metric, reps) if reps is not None else None
        res = resolution(metric, n_items)
        s = curve_summary(x, yo, ro, threshold, res, level, widths=len(x) >= MIN_WIDTH_SIZES)
        by_key.setdefault(tuple(key.items()), {})[metric] = s
        if ro is None:
            plain.append(((len(rows),), x, yo))
        rows.append({**key, "metric": metric, "sharpness": METRICS[metric][0], "n_points": len(x),
                     "interval_source": source, "resolution": res, **_summary_row(s),
                     **_null_columns(x, yo, metric, n_items, nulls, n_draws, res, rng),
                     "start": float(y[0]), "end": float(y[-1])})  # fmt: skip
    table = _bh_per_metric(pd.DataFrame(rows), nulls)
    if plain:
        perm = permutation_table(plain, ["_row"], threshold, seed=seed, progress=False).set_index("_row")
        table.loc[perm.index, "p_exact_permutation"] = perm["p"]
        table.loc[perm.index, "q_exact_permutation"] = perm["q"]
        table.loc[perm.index, "emergent"] = perm["emergent"]
    pair_rows = []
    for key, summaries in by_key.items():
        pv = _pairs(summaries, level)
        if not pv.empty:
            pair_rows.append(pv.assign(**dict(key)))
    pairs = pd.concat(pair_rows, ignore_index=True) if pair_rows else pd.DataFrame()
    return table, pairs


def scale_time_olmo(ev: pd.DataFrame, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and pairs (:func:`score_curves`) of each (task, metric) curve along two axes, each with 5 final
    models: over parameters (5 sizes at one token budget k x Chinchilla) and over training tokens (5 budgets at
    one size). The ladder's 7B runs are not part of either axis. The ladder's CSVs give one score per checkpoint
    (no items, seeds or stderr): no interval, so the verdicts are the exact-permutation rule."""
    ev = olmo_accuracy(ev[ev["chinchilla_multiplier"].notna()])
    fin = _final(ev)
    curves = []
    for (task, metric), g in fin.groupby(["task", "metric"]):
        for axis, fixed_col, x_col in (
            ("params", "chinchilla_multiplier", "scale"),
            ("tokens", "size", "tokens"),
        ):
            for fixed, c in g.groupby(fixed_col):
                c = c.sort_values(x_col)
                if len(c) < 3:
                    continue
                key = {"family": "OLMo-ladder", "task": task, "axis": axis,
                       "fixed": f"{fixed:g}xC" if axis == "params" else str(fixed)}  # fmt: skip
                n_items = float(c["n_items"].min()) if "n_items" in c and c["n_items"].notna().all() else None
                reps, source = _stderr_reps(c, metric, kw.get("n_boot", 1000), kw.get("seed", 0))
                curves.append((key, metric, c[x_col].to_numpy(float), c["value"].to_numpy(float), reps,
                               n_items, source))  # fmt: skip
    kw.pop("n_boot", None)
    return score_curves(curves, **kw)


def _stderr_reps(c: pd.DataFrame, metric: str, n_boot: int, seed: int) -> tuple[np.ndarray | None, str]:
    """Parametric replicate curves Normal(value, stderr) where every point has a stderr (shares of items clipped
    to [0, 1]), else none."""
    if "stderr" not in c or c["stderr"].isna().any():
        return None, "none"
    bounds = (0.0, 1.0) if metric in SHARE_OF_ITEMS else None
    rng = np.random.default_rng(seed)
    return resample_parametric(c["value"], c["stderr"], n_boot, rng, bounds), "stderr (parametric)"


def pythia_lambada(ev: pd.DataFrame) -> pd.DataFrame:
    """LAMBADA accuracy and log perplexity (``log ppl`` = mean nats per target token, the smooth companion) of a
    Pythia results evidence table."""
    lam = ev[ev["task"].str.startswith("lambada_openai")]
    acc = lam[lam["metric"] == "acc"]
    ppl = lam[lam["metric"] == "ppl"].copy()
    ppl["value"] = np.log(ppl["value"])
    ppl["stderr"] = ppl["stderr"] / np.exp(ppl["value"])  # delta method
    ppl["metric"] = "log_ppl"
    return pd.concat([acc, ppl], ignore_index=True)


def scale_time_pythia(
    lam: pd.DataFrame, *, n_points: int | None = None, min_step: int = 1, n_boot: int = 1000, **kw
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores and pairs (:func:`score_curves`) of LAMBADA accuracy and log perplexity over parameters (final
    checkpoint of each size) and over training steps (each size's checkpoints from ``min_step`` on, ``n_points``
    of them nearest a geometric grid, by default as many as there are sizes, so that both axes have equally many
    points). Intervals: parametric from the harness's stderr (each metric drawn on its own, not paired)."""
    final_step = lam["step"].max()
    sizes = lam.groupby("model")["scale"].first().sort_values()
    n_points = n_points or len(sizes)
    seed = kw.get("seed", 0)
    curves = []

    def add(key, metric, c, x_col):
        n_items = float(c["n_items"].min()) if "n_items" in c and c["n_items"].notna().all() else None
        reps, source = _stderr_reps(c, metric, n_boot, seed + len(curves))
        curves.append((key, metric, c[x_col].to_numpy(float), c["value"].to_numpy(float), reps, n_items,
                       source))  # fmt: skip

    for metric, g in lam.groupby("metric"):
        fin = g[g["step"] == final_step].sort_values("scale")
        add({"family": str(fin["family"].iloc[0]), "task": "lambada_openai", "axis": "params",
             "fixed": f"step{int(final_step)}"}, metric, fin, "scale")  # fmt: skip
        for model, c in g.groupby("model"):
            c = c[c["step"] >= min_step].sort_values("step")
            if len(c) < 3:
                continue
            grid = np.geomspace(c["step"].min(), c["step"].max(), n_points)
            pick = sorted({int(np.argmin(np.abs(np.log(c["step"].to_numpy()) - np.log(s)))) for s in grid})
            c = c.iloc[pick]
            add({"family": str(c["family"].iloc[0]), "task": "lambada_openai", "axis": "tokens", "fixed": model},
                metric, c, "step")  # fmt: skip
    return score_curves(curves, **kw)


# ------------------------------------------------------------------------------------------------ arithmetic
def operand_arithmetic(ev: pd.DataFrame, *, fewshot: int | None = None) -> pd.DataFrame:
    """Mean accuracy over first operands per (operation, model, checkpoint) at ``fewshot`` shots (default: the
    most), and Eq. 1 over parameters at each checkpoint and over checkpoints for each size."""
    shots = fewshot if fewshot is not None else int(ev["fewshot"].max())
    ev = ev[ev["fewshot"] == shots]
    mean = (
        ev.groupby(["operation", "family", "model", "scale", "step"])["value"]
        .agg(["mean", "size", lambda v: (v > 0).mean()])
        .reset_index()
        .rename(columns={"mean": "acc", "size": "n_operands", "<lambda_0>": "share_operands_above_0"})
    )
    mean["fewshot"] = shots
    rows = []
    for (op, step), g in mean.groupby(["operation", "step"]):
        g = g.sort_values("scale")
        y = g["acc"].to_numpy()
        rows.append({"task": f"arithmetic_{op}/{shots}shot", "axis": "params", "fixed": f"step{int(step)}",
                     "n_points": len(g), "emergence_score": emergence_rows(y), "largest_step_share": largest_step_share(y),
                     "start": y[0], "end": y[-1]})  # fmt: skip
    for (op, model), g in mean.groupby(["operation", "model"]):
        g = g.sort_values("step")
        y = g["acc"].to_numpy()
        rows.append({"task": f"arithmetic_{op}/{shots}shot", "axis": "tokens", "fixed": model,
                     "n_points": len(g), "emergence_score": emergence_rows(y), "largest_step_share": largest_step_share(y),
                     "start": y[0], "end": y[-1]})  # fmt: skip
    scores = pd.DataFrame(rows).assign(family=str(ev["family"].iloc[0]), metric="acc", sharpness="sharp")
    return mean, scores


# ---------------------------------------------------------------------------------------------- claim table
def claim_rows(analysis: str, table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the claim-table shape of :func:`src.analysis.sweeps.claims.claim_verdicts`: ``sweep`` names the
    analysis, family and axis, ``task_name`` the task (and the fixed size or budget of a scale/time curve)."""
    t = table.copy()
    axis = t["axis"] if "axis" in t else pd.Series("params", index=t.index)
    fixed = t["fixed"] if "fixed" in t else pd.Series("", index=t.index)
    out = pd.DataFrame({
        "sweep": analysis + "/" + t["family"].astype(str) + "/" + axis.astype(str),
        "task_name": t["task"].astype(str) + np.where(fixed.astype(str) != "", " @" + fixed.astype(str), ""),
        "model_family": t["family"].astype(str), "metric": t["metric"], "sharpness": t["sharpness"],
        "identity": False, "emergence_score": t["emergence_score"],
        "largest_step_share": t["largest_step_share"],
        "e_lo": t["e_lo"] if "e_lo" in t else np.nan, "e_hi": t["e_hi"] if "e_hi" in t else np.nan,
        "n_sizes": t["n_points"] if "n_points" in t else t.get("n_models", np.nan),
    })  # fmt: skip
    return out
