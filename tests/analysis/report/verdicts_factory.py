"""A synthetic verdict-engine output with the attributes the report reads (the engine's contract), built without
importing the engine: families of few and many models, shares and continuous metrics, pass@k and K-of-K names that
sort wrongly as strings, tasks with 2 and 4 choices, zeros below resolution, and any number of tasks."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

PYTHIA = [("70m", 7e7), ("160m", 1.6e8), ("410m", 4.1e8), ("1b", 1e9), ("1.4b", 1.4e9), ("2.8b", 2.8e9)]
CODE = [("code-350M", 3.5e8), ("code-2B", 2e9), ("code-6B", 6e9), ("code-16B", 1.6e10)]
TOY = [(f"w{w}", float(w**2 * 1e4)) for w in (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _curve_rows(
    family,
    task,
    metric,
    models,
    values,
    *,
    level,
    hib,
    kind,
    chance,
    n_items,
    n_trials,
    emergent,
    source="items",
    label=None,
):
    values = np.asarray(values, float)
    half = np.where(
        np.isfinite(values), 1.96 * np.sqrt(np.clip(values * (1 - values), 1e-4, None) / n_trials), np.nan
    )
    if kind != "share":
        half = np.full(len(values), 0.03 * (np.nanmax(values) - np.nanmin(values) + 0.1))
    if source == "none":  # no interval in the data: none per point either
        half = np.full(len(values), np.nan)
    pts = pd.DataFrame(
        {
            "family": family,
            "task": task,
            "metric": metric,
            "model": [m for m, _ in models],
            "scale": [s for _, s in models],
            "value": values,
            "lo": values - half,
            "hi": values + half,
            "n_replicates": 1,
            "n_items": n_items,
        }
    )
    sign = 1.0 if hib else -1.0
    change = float(sign * (values[-1] - values[0]))
    e = 14.0 if emergent else 2.0
    resolution = 1.0 / n_trials if kind == "share" else 0.0
    if change <= 0.02:
        verdict, reason = (
            ("worsens" if change < -0.02 else "no real rise"),
            (
                f"{label or metric} moves from {values[0]:.2f} to {values[-1]:.2f}: the change {change:+.2f} is not a real rise."
            ),
        )
    elif emergent:
        verdict, reason = (
            "emergent",
            (
                f"{label or metric} rises from {values[0]:.2f} to {values[-1]:.2f} (change {change:.2f} [{change - 0.05:.2f}, "
                f"{change + 0.05:.2f}]) and E's lower bound {e * 0.8:.1f} is at least 10."
            ),
        )
    else:
        verdict, reason = (
            "not emergent",
            (
                f"{label or metric} rises from {values[0]:.2f} to {values[-1]:.2f} gradually: E's upper bound {e * 1.5:.1f} is below 10."
            ),
        )
    if source == "none":
        verdict, reason = (
            "not supported by the data",
            f"{label or metric}: no interval can be drawn from these data (one run per model, no items, no stderr).",
        )
    curve = {
        "family": family,
        "task": task,
        "metric": metric,
        "label": label or metric,
        "level": level,
        "higher_is_better": hib,
        "value_kind": kind,
        "chance": chance,
        "n_sizes": len(models),
        "models": ";".join(m for m, _ in models),
        "scales": ";".join(f"{s:g}" for _, s in models),
        "n_items": float(n_items),
        "n_trials": float(n_trials),
        "n_replicates": 1,
        "resolution": resolution,
        "interval_source": source,
        "n_resamples": 1000,
        "start": values[0],
        "end": values[-1],
        "change": change,
        "change_lo": change - 0.05,
        "change_hi": change + 0.05,
        "E": e,
        "E_lo": e * 0.8,
        "E_hi": e * 1.5,
        "step_share": 0.6 if emergent else 0.3,
        "step_share_lo": 0.5,
        "step_share_hi": 0.7,
        "width": 0.2,
        "width_lo": 0.1,
        "width_hi": 0.3,
        "threshold_status": "above" if emergent else "below",
        "verdict": verdict,
        "reason": reason,
        "strength": (e * 0.8 if verdict == "emergent" else 0.0) + abs(change),
    }
    return curve, pts


def make_verdicts(n_extra_tasks: int = 0, premise: bool = True, backtest: bool = True) -> SimpleNamespace:
    """Three families (pythia: 6 models, 4 tasks + ``n_extra_tasks``; codegen: 4 models, pass@k; toy: 10 widths,
    K-of-K), with pairs, unpaired metrics, premise and backtest tables."""
    curves, points, pairs, unpaired = [], [], [], []

    def add(*args, **kw):
        c, p = _curve_rows(*args, **kw)
        curves.append(c)
        points.append(p)

    x = np.linspace(-3, 3, len(PYTHIA))
    tasks = [("hellaswag", 0.25), ("piqa", 0.5), ("arc_easy", 0.25), ("winogrande", 0.5)]
    tasks += [(f"bbh_subtask_{i:03d}", 0.25 if i % 2 else 0.5) for i in range(n_extra_tasks)]
    for i, (task, chance) in enumerate(tasks):
        steep = i % 3 == 0
        acc = chance + (1 - chance) * _sigmoid((x - 1.5) * (4 if steep else 0.7))
        brier = 0.75 - 0.35 * _sigmoid(x * 0.7)
        add(
            "pythia",
            task,
            "acc",
            PYTHIA,
            acc,
            level=1,
            hib=True,
            kind="share",
            chance=chance,
            n_items=500,
            n_trials=500,
            emergent=steep,
            source="items" if i != 2 else "none",
            label="accuracy",
        )
        add(
            "pythia",
            task,
            "brier",
            PYTHIA,
            brier,
            level=0,
            hib=False,
            kind="continuous",
            chance=np.nan,
            n_items=500,
            n_trials=500,
            emergent=False,
            label="Brier score",
        )
        pairs.append(
            {
                "family": "pythia",
                "task": task,
                "sharp": "acc",
                "smooth": "brier",
                "basis": "Eq. 1",
                "paired": True,
                "diff": 10.0 if steep else 0.5,
                "diff_lo": 4.0 if steep else -1.0,
                "diff_hi": 16.0 if steep else 2.0,
                "verdict": "sharp above smooth" if steep else "no difference",
                "reason": f"E(accuracy) minus E(Brier) is {10.0 if steep else 0.5:.1f} on {task}.",
            }
        )
        if i == 1:
            add(
                "pythia",
                task,
                "acc_norm",
                PYTHIA,
                acc * 0.98,
                level=1,
                hib=True,
                kind="share",
                chance=chance,
                n_items=500,
                n_trials=500,
                emergent=False,
                label="normalised accuracy",
            )
            unpaired.append(
                {
                    "family": "pythia",
                    "task": task,
                    "metric": "acc_norm",
                    "note": "no smooth partner in a results file: rerun lm-eval with --log_samples",
                }
            )
    # the flat curve: 0.52 -> 0.54 with an infinite Eq. 1 (all its change in one step); no real rise
    add(
        "pythia",
        "triviaqa",
        "exact_match",
        PYTHIA,
        [0.52, 0.52, 0.52, 0.52, 0.52, 0.54],
        level=1,
        hib=True,
        kind="share",
        chance=np.nan,
        n_items=500,
        n_trials=500,
        emergent=False,
        label="exact match",
    )
    curves[-1].update(
        E=np.inf,
        E_lo=np.inf,
        E_hi=np.inf,
        verdict="no real rise",
        strength=0.02,
        reason="exact match moves from 0.52 to 0.54: the change 0.02 [-0.04, 0.08] includes 0.",
    )
    xc = np.linspace(-2, 1, len(CODE))
    for k in (1, 16, 100, 128):
        rate = 1e-4 * np.exp(3 * (xc + 2))
        pk = 1 - (1 - rate) ** k
        pk[0] = 0.0  # read 0 of n trials: below resolution
        add(
            "codegen",
            "humaneval",
            f"pass@{k}",
            CODE,
            pk,
            level=1 if k == 1 else 2,
            hib=True,
            kind="share",
            chance=np.nan,
            n_items=164,
            n_trials=164 * 200,
            emergent=k >= 100,
            source="items x seeds",
        )
        pairs.append(
            {
                "family": "codegen",
                "task": "humaneval",
                "sharp": f"pass@{k}",
                "smooth": "neg_log_pass",
                "basis": "logistic width",
                "paired": True,
                "diff": 0.1 * k**0.5,
                "diff_lo": -0.2,
                "diff_hi": 0.3 * k**0.5,
                "verdict": "no difference",
                "reason": f"the logistic widths of pass@{k} and -log pass@1 differ by less than their interval.",
            }
        )
    add(
        "codegen",
        "humaneval",
        "neg_log_pass",
        CODE,
        9.2 - 3 * (xc + 2),
        level=0,
        hib=False,
        kind="continuous",
        chance=np.nan,
        n_items=164,
        n_trials=164 * 200,
        emergent=False,
        source="items x seeds",
        label="-log pass@1",
    )
    xt = np.linspace(-3, 3, len(TOY))
    tok = 0.1 + 0.89 * _sigmoid(xt)
    for k in range(1, 11):
        add(
            "toy",
            "subset",
            f"K={k}",
            TOY,
            tok**k,
            level=1 if k == 1 else 2,
            hib=True,
            kind="share",
            chance=0.1**k,
            n_items=2000,
            n_trials=2000,
            emergent=k >= 5,
            source="items x seeds",
            label=f"K-of-K subset accuracy, K={k}",
        )
        pairs.append(
            {
                "family": "toy",
                "task": "subset",
                "sharp": f"K={k}",
                "smooth": "token_acc",
                "basis": "Eq. 1",
                "paired": True,
                "diff": float(k),
                "diff_lo": k - 3.0,
                "diff_hi": k + 3.0,
                "verdict": "sharp above smooth" if k > 3 else "no difference",
                "reason": f"E(K={k}) minus E(token accuracy) is {k:.1f} [{k - 3:.1f}, {k + 3:.1f}].",
            }
        )
    add(
        "toy",
        "subset",
        "token_acc",
        TOY,
        tok,
        level=1,
        hib=True,
        kind="share",
        chance=0.1,
        n_items=2000,
        n_trials=20000,
        emergent=False,
        source="items x seeds",
        label="per-token accuracy",
    )
    curves = pd.DataFrame(curves)
    points = pd.concat(points, ignore_index=True)
    read = []
    for fam, g in curves.groupby("family", sort=False):
        p = points[points.family == fam].drop_duplicates("model").sort_values("scale")
        read.append(
            {
                "family": fam,
                "format": {
                    "pythia": "lm-eval results",
                    "codegen": "repeated-sampling counts",
                    "toy": "sweep dirs",
                }[fam],
                "n_models": len(p),
                "models": ";".join(p.model),
                "scale_min": p.scale.min(),
                "scale_max": p.scale.max(),
                "n_tasks": g.task.nunique(),
                "metrics": ";".join(g.metric.unique()),
                "n_items": float(g.n_items.median()),
                "n_replicates": int(g.n_replicates.max()),
                "interval_sources": ";".join(g.interval_source.unique()),
            }
        )
    v = SimpleNamespace(
        curves=curves,
        pairs=pd.DataFrame(pairs),
        unpaired=pd.DataFrame(unpaired),
        points=points,
        read=pd.DataFrame(read),
        notices=["3 exact duplicate rows dropped", "pythia/acc_norm has no smooth partner in a results file"],
        settings={"threshold": 10.0, "level": 0.95, "n_resamples": 1000, "seed": 0, "min_rise": 0.05},
        premise=None,
        backtest=None,
    )
    if premise:
        v.premise = pd.DataFrame(
            [
                {
                    "family": "toy",
                    "task": "subset",
                    "metric": "token_loss",
                    "alpha": 0.34,
                    "E_floor": 0.02,
                    "r2_log": 0.991,
                    "passes": True,
                    "note": "the per-token loss falls as a power law (R^2 on log axes 0.991)",
                },
                {
                    "family": "pythia",
                    "task": "hellaswag",
                    "metric": "brier",
                    "alpha": 0.12,
                    "E_floor": 0.31,
                    "r2_log": 0.84,
                    "passes": False,
                    "note": "the Brier score bends: R^2 0.84 < 0.95",
                },
            ]
        )
    if backtest:
        v.backtest = pd.DataFrame(
            [
                {
                    "family": "toy",
                    "task": "subset",
                    "metric": "K=5",
                    "target_model": "w2048",
                    "predicted": 0.81,
                    "lo": 0.70,
                    "hi": 0.88,
                    "actual": 0.86,
                    "covers": True,
                    "note": "fit on the 7 smallest widths",
                },
                {
                    "family": "codegen",
                    "task": "humaneval",
                    "metric": "pass@1",
                    "target_model": "code-16B",
                    "predicted": np.nan,
                    "lo": np.nan,
                    "hi": np.nan,
                    "actual": 0.02,
                    "covers": np.nan,
                    "note": "too few sizes below the target to fit",
                },
            ]
        )
    return v
