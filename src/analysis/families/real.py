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

from src.analysis.core.emergence import largest_step_share

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


def oriented(metric: str, y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=float) * (1.0 if METRICS[metric][1] else -1.0)


def emergence_rows(y: np.ndarray) -> np.ndarray:
    """Eq. 1 for every row of ``y`` [curves, points] (points already sorted by scale): vectorised twin of
    :func:`src.analysis.core.emergence.emergence_score` (same edge cases: flat -> 0, zero median step -> +-inf)."""
    y = np.atleast_2d(np.asarray(y, dtype=float))
    if y.shape[1] < 3:
        return np.full(y.shape[0], np.nan)
    total = y.max(axis=1) - y.min(axis=1)
    sign = np.sign(np.argmax(y, axis=1) - np.argmin(y, axis=1)).astype(float)
    med = np.median(np.diff(y, axis=1) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = sign * total / np.sqrt(med)
        e = np.where(med == 0.0, sign * np.inf, e)
    return np.where(total == 0.0, 0.0, e)


def _interval(boot: np.ndarray, level: float = 0.9) -> tuple[float, float]:
    finite = boot[np.isfinite(boot)]
    if finite.size < boot.size * 0.5:  # mostly infinite: report the infinite end
        return float(np.nanmin(boot)), float(np.nanmax(boot))
    a = (1 - level) / 2
    return tuple(float(v) for v in np.quantile(boot, [a, 1 - a], method="inverted_cdf"))


# ------------------------------------------------------------------------------------------------- Fig. 6 real
FIG6_QUANTITIES = {"mcg": "correct", "brier": "brier", "logprob": "logprob"}


def fig6_real(items: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, level: float = 0.9) -> pd.DataFrame:
    """One row per (family, task, metric): the metric per model (sorted by scale), Eq. 1 of the oriented curve,
    its item-bootstrap interval (items resampled with replacement, the same items for every model: the items all
    models were scored on) and the largest step share. Metrics: MCG (per-item ``correct``), the exact multi-class
    Brier score and the target log-probability; a metric with an unknown per-item value (3 options, no
    ``correct``) is left out for that task."""
    rng = np.random.default_rng(seed)
    rows = []
    for (fam, task), g in items.groupby(["family", "task"], sort=True):
        models = g.groupby("model")["scale"].first().sort_values()
        if len(models) < 3:
            continue
        for metric, col in FIG6_QUANTITIES.items():
            if col not in g or g[col].isna().any():  # unknown for some item (K > 2 without `correct`)
                continue
            mat = g.pivot_table(index="model", columns="item", values=col, aggfunc="first").loc[models.index]
            mat = mat.dropna(axis=1)  # items every model has
            if mat.shape[1] < 2 or mat.isna().any().any():
                continue
            x = mat.to_numpy(float)  # [models, items]
            y = oriented(metric, x.mean(axis=1))
            idx = rng.integers(0, x.shape[1], size=(n_boot, x.shape[1]))
            boot_y = oriented(metric, x[:, idx].mean(axis=2).T)  # [boot, models]
            boot_e = emergence_rows(boot_y)
            lo, hi = _interval(boot_e, level)
            rows.append({
                "family": fam, "task": task, "metric": metric, "sharpness": METRICS[metric][0],
                "n_models": len(models), "n_items": x.shape[1],
                "emergence_score": float(emergence_rows(y[None])[0]), "e_lo": lo, "e_hi": hi,
                "largest_step_share": largest_step_share(models.to_numpy(), y),
                **{f"value@{m}": float(v) for m, v in zip(models.index, x.mean(axis=1), strict=True)},
            })  # fmt: skip
    return pd.DataFrame(rows)


def fig6_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (family, task): E(MCG), E(Brier), E(log p) side by side; ``mcg_emergent`` = the MCG interval excludes
    the Brier interval from above (E_lo(MCG) > E_hi(Brier))."""
    wide = table.pivot_table(
        index=["family", "task"],
        columns="metric",
        values=["emergence_score", "e_lo", "e_hi"],
        aggfunc="first",
    )
    out = pd.DataFrame(index=wide.index)
    for m in ("mcg", "brier", "logprob"):
        if ("emergence_score", m) in wide:
            out[f"E_{m}"] = wide[("emergence_score", m)]
            out[f"E_{m}_lo"] = wide[("e_lo", m)]
            out[f"E_{m}_hi"] = wide[("e_hi", m)]
    if {"E_mcg_lo", "E_brier_hi"} <= set(out.columns):
        out["mcg_above_brier"] = out["E_mcg_lo"] > out["E_brier_hi"]
    return out.reset_index()


# ---------------------------------------------------------------------------------------------- resolution
def resolution_real(
    items: pd.DataFrame,
    *,
    sizes=(10, 20, 50, 100, 200, 500),
    n_subsets: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """Per (family, task, subset size n, model): accuracy (MCG) and mean p_target on ``n_subsets`` random item
    subsets of size n (without replacement, the same subset for every model, as a smaller benchmark would be),
    summarised by mean and 5-95% range; plus the spread of Eq. 1 of each curve over the subsets. ``n = all``
    (the whole task) is the last row of each group."""
    rng = np.random.default_rng(seed)
    rows = []
    for (fam, task), g in items.groupby(["family", "task"], sort=True):
        if g["correct"].isna().any() or g["n_options"].max() != 2:
            continue
        models = g.groupby("model")["scale"].first().sort_values()
        acc = g.pivot_table(index="model", columns="item", values="correct").loc[models.index].dropna(axis=1)
        prob = g.pivot_table(index="model", columns="item", values="p_target").loc[models.index][acc.columns]
        a, p = acc.to_numpy(float), prob.to_numpy(float)
        total = a.shape[1]
        for n in [s for s in sizes if s < total] + [total]:
            if n == total:
                pick = np.arange(total)[None, :]
            else:
                pick = np.argsort(rng.random((n_subsets, total)), axis=1)[:, :n]
            acc_s = a[:, pick].mean(axis=2)  # [models, subsets]
            prob_s = p[:, pick].mean(axis=2)
            e_acc = emergence_rows(acc_s.T)
            e_prob = emergence_rows(prob_s.T)
            for j, (model, scale) in enumerate(models.items()):
                rows.append({
                    "family": fam, "task": task, "n": n, "is_all": n == total, "model": model, "scale": scale,
                    "acc_mean": acc_s[j].mean(), "acc_lo": np.quantile(acc_s[j], 0.05),
                    "acc_hi": np.quantile(acc_s[j], 0.95), "acc_share_zero": float((acc_s[j] == 0).mean()),
                    "p_mean": prob_s[j].mean(),
                    "p_lo": np.quantile(prob_s[j], 0.05), "p_hi": np.quantile(prob_s[j], 0.95),
                    "E_acc_lo": np.quantile(e_acc, 0.05, method="inverted_cdf"), "E_acc_hi": np.quantile(e_acc, 0.95, method="inverted_cdf"),
                    "E_p_lo": np.quantile(e_prob, 0.05, method="inverted_cdf"), "E_p_hi": np.quantile(e_prob, 0.95, method="inverted_cdf"),
                    "E_acc_median": np.median(e_acc), "E_p_median": np.median(e_prob),
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


def scale_time_olmo(ev: pd.DataFrame) -> pd.DataFrame:
    """Eq. 1 and largest step share of each (task, metric) curve along two axes, each with 5 final models:
    over parameters (5 sizes at one token budget k x Chinchilla) and over training tokens (5 budgets at one size).
    The ladder's 7B runs are not part of either axis."""
    ev = olmo_accuracy(ev[ev["chinchilla_multiplier"].notna()])
    fin = _final(ev)
    rows = []
    for (task, metric), g in fin.groupby(["task", "metric"]):
        for axis, fixed_col, x_col in (
            ("params", "chinchilla_multiplier", "scale"),
            ("tokens", "size", "tokens"),
        ):
            for fixed, c in g.groupby(fixed_col):
                c = c.sort_values(x_col)
                if len(c) < 3:
                    continue
                y = oriented(metric, c["value"].to_numpy())
                rows.append({
                    "family": "OLMo-ladder", "task": task, "metric": metric, "sharpness": METRICS[metric][0],
                    "axis": axis, "fixed": f"{fixed:g}xC" if axis == "params" else str(fixed),
                    "n_points": len(c), "emergence_score": float(emergence_rows(y[None])[0]),
                    "largest_step_share": largest_step_share(c[x_col].to_numpy(), y),
                    "start": float(c["value"].iloc[0]), "end": float(c["value"].iloc[-1]),
                })  # fmt: skip
    return pd.DataFrame(rows)


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


def scale_time_pythia(lam: pd.DataFrame, *, n_points: int | None = None, min_step: int = 1) -> pd.DataFrame:
    """Eq. 1 of LAMBADA accuracy and log perplexity over parameters (final checkpoint of each size) and over
    training steps (each size's checkpoints from ``min_step`` on, ``n_points`` of them nearest a geometric grid, by
    default as many as there are sizes, so that both axes have equally many points)."""
    final_step = lam["step"].max()
    rows = []
    sizes = lam.groupby("model")["scale"].first().sort_values()
    n_points = n_points or len(sizes)
    for metric, g in lam.groupby("metric"):
        fin = g[g["step"] == final_step].sort_values("scale")
        y = oriented(metric, fin["value"].to_numpy())
        rows.append({
            "family": str(fin["family"].iloc[0]), "task": "lambada_openai", "metric": metric,
            "sharpness": METRICS[metric][0], "axis": "params", "fixed": f"step{int(final_step)}",
            "n_points": len(fin), "emergence_score": float(emergence_rows(y[None])[0]),
            "largest_step_share": largest_step_share(fin["scale"].to_numpy(), y),
            "start": float(fin["value"].iloc[0]), "end": float(fin["value"].iloc[-1]),
        })  # fmt: skip
        for model, c in g.groupby("model"):
            c = c[c["step"] >= min_step].sort_values("step")
            if len(c) < 3:
                continue
            grid = np.geomspace(c["step"].min(), c["step"].max(), n_points)
            pick = sorted({int(np.argmin(np.abs(np.log(c["step"].to_numpy()) - np.log(s)))) for s in grid})
            c = c.iloc[pick]
            y = oriented(metric, c["value"].to_numpy())
            rows.append({
                "family": str(c["family"].iloc[0]), "task": "lambada_openai", "metric": metric,
                "sharpness": METRICS[metric][0], "axis": "tokens", "fixed": model, "n_points": len(c),
                "emergence_score": float(emergence_rows(y[None])[0]),
                "largest_step_share": largest_step_share(c["step"].to_numpy(), y),
                "start": float(c["value"].iloc[0]), "end": float(c["value"].iloc[-1]),
            })  # fmt: skip
    return pd.DataFrame(rows)


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
                     "n_points": len(g), "emergence_score": float(emergence_rows(y[None])[0]),
                     "largest_step_share": largest_step_share(g["scale"].to_numpy(), y),
                     "start": y[0], "end": y[-1]})  # fmt: skip
    for (op, model), g in mean.groupby(["operation", "model"]):
        g = g.sort_values("step")
        y = g["acc"].to_numpy()
        rows.append({"task": f"arithmetic_{op}/{shots}shot", "axis": "tokens", "fixed": model,
                     "n_points": len(g), "emergence_score": float(emergence_rows(y[None])[0]),
                     "largest_step_share": largest_step_share(g["step"].to_numpy(), y),
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
