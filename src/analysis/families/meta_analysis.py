"""Emergence by metric, not by task (paper Sec. 4): emergence scores of (task, metric, family) triplets.

Input is an evidence table (:mod:`src.analysis.core.evidence`: ``family, model, scale, task, metric, value`` and
``source``, ``n_items``) with one value per model (replicates averaged:
:func:`src.analysis.core.evidence.mean_over_replicates`). Every curve is scored with :func:`src.analysis.core.emergence.emergence_score` after orienting
it so that higher is better: a lower-is-better metric (Brier, calibration error, losses) is negated first, which
flips the sign of the score and nothing else (Eq. 1 is odd in y). A positive score is then always an improvement
with scale, and "emergent" means ``score >= threshold`` for every metric alike.

Default threshold 10: a curve of N sizes whose N-1 steps are equal scores exactly N-1, so 10 is above every
evenly stepped curve of up to 10 sizes (the stand-in families have at most 8); a curve passes only if its total
change is at least 10 median steps. The paper states no threshold; it is a parameter everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from src.analysis.core import metrics as metrics_registry
from src.analysis.core.emergence import emergence_score, largest_step_share
from src.analysis.stats.nulls import bh, binomial_null
from src.analysis.stats.sharpness import emergence_rows
from src.results.errors import InputError

DEFAULT_THRESHOLD = 10.0
MCG = "multiple_choice_grade"
EXACT = "exact_str_match"
THRESHOLD_GRID = (2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0)


def higher_is_better(metric: str, lower_is_better: Iterable[str] = ()) -> bool:
    """The direction of ``metric`` by the one registry (:func:`src.analysis.core.metrics.higher_is_better`):
    ``lower_is_better`` globs first, then the registry (Brier, calibration error, loss, perplexity, edit distance,
    cross-entropy are recognised by name); a name it does not know counts as higher-is-better."""
    return metrics_registry.higher_is_better(metric, lower_is_better)


def triplet_keys(ev: pd.DataFrame) -> list[str]:
    return [c for c in ("source", "task", "metric", "family") if c in ev.columns]


def curves(
    ev: pd.DataFrame, min_sizes: int = 3, ties: str = "mean"
) -> list[tuple[tuple, np.ndarray, np.ndarray, int]]:
    """(key, scales, values, n_models) per triplet with at least ``min_sizes`` distinct scales, sorted by scale.

    Two models of one family at the same size (e.g. a v1 and a v2 at 7B) make the curve ambiguous: ``ties="mean"``
    averages them (the table keeps ``n_models`` next to ``n_sizes``), ``ties="error"`` refuses.
    """
    if min_sizes < 3:
        raise ValueError(
            f"min_sizes must be >= 3 (the emergence score is undefined below 3 points), got {min_sizes}"
        )
    if ties not in ("mean", "error"):
        raise ValueError(f"ties must be 'mean' or 'error', got {ties!r}")
    keys = triplet_keys(ev)
    out = []
    for key, group in ev.groupby(keys, sort=True):
        by_size = group.groupby("scale")["value"]
        if ties == "error" and (by_size.size() > 1).any():
            size = by_size.size().idxmax()
            raise InputError(
                f"triplet {dict(zip(keys, key, strict=True))} has several models at size {size:g}"
            )
        agg = by_size.mean()
        if len(agg) >= min_sizes:
            out.append((key, agg.index.to_numpy(float), agg.to_numpy(float), len(group)))
    return out


def _oriented(
    key: tuple, keys: list[str], y: np.ndarray, lower_is_better: Iterable[str]
) -> tuple[np.ndarray, bool]:
    hib = higher_is_better(key[keys.index("metric")], lower_is_better)
    return (y if hib else -y), hib


def triplet_scores(
    ev: pd.DataFrame,
    threshold: float = DEFAULT_THRESHOLD,
    min_sizes: int = 3,
    ties: str = "mean",
    lower_is_better: Iterable[str] = (),
) -> pd.DataFrame:
    """One row per triplet: oriented emergence score (``emergence``), the raw Eq. 1 value, and ``emergent``.

    ``largest_step_share`` (formula-free: share of the total change taken by the largest single step) and
    ``total_change`` sit next to it, so a +inf score from a curve that is flat but for one tiny step is visible.
    """
    keys = triplet_keys(ev)
    rows = []
    for key, x, y, n_models in curves(ev, min_sizes, ties):
        yo, hib = _oriented(key, keys, y, lower_is_better)
        score = emergence_score(x, yo)
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "n_models": n_models,
                "n_sizes": len(x),
                "min_size": x.min(),
                "max_size": x.max(),
                "higher_is_better": hib,
                "emergence": score,
                "emergence_raw": emergence_score(x, y),
                "largest_step_share": largest_step_share(x, y),
                "total_change": float(y.max() - y.min()),
                "emergent": bool(score >= threshold),
            }
        )
    if not rows:
        raise InputError(f"no (task, metric, family) triplet has {min_sizes} or more model sizes")
    return pd.DataFrame(rows)


def metric_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per metric (and source): triplets scored, how many pass the threshold, and how many score +inf."""
    keys = [c for c in ("source", "metric") if c in scores.columns]
    g = scores.groupby(keys)
    out = pd.DataFrame(
        {
            "n_triplets": g.size(),
            "n_emergent": g["emergent"].sum(),
            "n_inf": g["emergence"].apply(lambda s: int(np.isinf(s).sum())),
            "median_emergence": g["emergence"].median(),
        }
    ).reset_index()
    out["share_emergent"] = out.n_emergent / out.n_triplets
    return out


def mcg_vs_brier(
    scores: pd.DataFrame, mcg: str = MCG, brier: str = "brier_score_target_prob_renormalized"
) -> pd.DataFrame:
    """Per (task, family) scored under both metrics: both emergence scores and whether MCG emergence disappears.

    ``disappears``: emergent under ``mcg`` and not under ``brier`` (scores are oriented, so a Brier that falls
    with scale has a positive score).
    """
    keys = [c for c in ("source", "task", "family") if c in scores.columns]
    cols = [*keys, "emergence", "emergent", "n_sizes"]
    a = scores.loc[scores.metric == mcg, cols]
    b = scores.loc[scores.metric == brier, cols]
    for metric, part in ((mcg, a), (brier, b)):
        if part.empty:
            raise InputError(
                f"no triplet scored under metric {metric!r}; metrics present: {sorted(set(scores.metric))}"
            )
    both = a.merge(b, on=keys, suffixes=("_mcg", "_brier"))
    if both.empty:
        raise InputError(
            f"no (task, family) has both {mcg!r} and {brier!r} with enough sizes",
            fix="choose a --mcg-metric and a --brier-metric scored on the same tasks",
        )
    both["disappears"] = both.emergent_mcg & ~both.emergent_brier
    return both.sort_values([*keys]).reset_index(drop=True)


def _null_draws(
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    n_draws: int,
    rng: np.random.Generator,
    n_items: np.ndarray | None = None,
    higher: bool = True,
) -> np.ndarray:
    """Oriented Eq. 1 of ``n_draws`` curves under the null ``kind`` (``y`` oriented; ``n_items`` per size for
    the binomial null, whose draws are proportions re-measured on that many items). NaN draws: the null does
    not apply (binomial on a metric that is not a share of items, or n_items unknown)."""
    if kind == "permutation":
        return np.array([emergence_score(x, rng.permutation(y)) for _ in range(n_draws)])
    if kind == "noise":
        # Smooth truth (a line in log size) plus Gaussian noise as large as the curve's own residual scatter.
        design = np.column_stack([np.ones_like(x), np.log10(x)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        fit = design @ coef
        sd = float(np.sqrt(np.sum((y - fit) ** 2) / max(len(y) - 2, 1)))
        return np.array([emergence_score(x, fit + sd * rng.standard_normal(len(y))) for _ in range(n_draws)])
    if kind == "binomial":
        if n_items is None or not np.isfinite(n_items).all() or (n_items < 1).any():
            return np.full(n_draws, np.nan)
        raw = y if higher else -y
        draws = binomial_null(x, raw, n_items.astype(np.int64), n_draws, rng, higher_is_better=higher)
        return emergence_rows(draws, resolution=1.0 / float(n_items.min()))
    raise ValueError(f"null kind must be 'permutation', 'noise' or 'binomial', got {kind!r}")


def null_scores(
    ev: pd.DataFrame,
    kind: str = "permutation",
    n_draws: int = 500,
    seed: int = 0,
    min_sizes: int = 3,
    ties: str = "mean",
    lower_is_better: Iterable[str] = (),
) -> tuple[pd.DataFrame, np.ndarray]:
    """Emergence scores of every triplet under a null: a (triplets x draws) matrix, rows in the order of the keys.

    ``permutation``: the scores of a family are shuffled across its sizes (scale carries no information).
    ``noise``: the curve is a straight line in log size (fitted) plus Gaussian noise with the fit's residual SD
    (smooth truth, noisy measurement; the spacing of the family's sizes is kept, which matters to Eq. 1).
    ``binomial``: for shares of items (MCG, exact match, accuracy) with an ``n_items`` column: smooth truth (a
    line in log size) re-measured on each size's n_items items (:func:`src.analysis.stats.nulls.binomial_null`);
    rows of other metrics are NaN (the null does not apply). A table without ``n_items`` is an error.
    """
    keys = triplet_keys(ev)
    if kind == "binomial" and ("n_items" not in ev.columns or ev["n_items"].isna().all()):
        raise InputError(
            "the binomial null needs the number of items each score was computed on, and the table has none",
            fix="add an n_items column to the table (or choose --nulls permutation noise)",
        )
    n_items = ev.groupby([*keys, "scale"])["n_items"].min() if kind == "binomial" else None
    rng = np.random.default_rng(seed)
    rows, mats = [], []
    for key, x, y, _ in curves(ev, min_sizes, ties):
        yo, hib = _oriented(key, keys, y, lower_is_better)
        rows.append(dict(zip(keys, key, strict=True)))
        ni = None
        if kind == "binomial" and metrics_registry.is_share_of_items(key[keys.index("metric")]):
            ni = np.array([n_items.get((*key, s), np.nan) for s in x], dtype=float)
        mats.append(_null_draws(x, yo, kind, n_draws, rng, ni, hib))
    return pd.DataFrame(rows), np.vstack(mats)


def add_null_pvalues(
    scores: pd.DataFrame, null_keys: pd.DataFrame, null: np.ndarray, name: str
) -> pd.DataFrame:
    """Per-triplet p-value (share of null draws at least as high, +1 smoothed) and Benjamini-Hochberg q-value."""
    obs = scores["emergence"].to_numpy(float)
    keys = list(null_keys.columns)
    if null.shape[0] != len(obs) or not scores[keys].reset_index(drop=True).equals(
        null_keys.reset_index(drop=True)
    ):
        raise ValueError(
            "null draws and scores are not for the same triplets in the same order; build both from one table"
        )
    p = (1 + (null >= obs[:, None]).sum(axis=1)) / (1 + null.shape[1])
    p = np.where(np.isnan(null).all(axis=1), np.nan, p)  # the null does not apply to this triplet
    out = scores.assign(**{f"p_{name}": p, f"q_{name}": bh(p)})
    # BH within each metric as well (a per-metric family of tests; the pooled q mixes metrics)
    q_metric = np.full(len(out), np.nan)
    for _, idx in out.groupby("metric").indices.items():
        q_metric[idx] = bh(p[idx])
    return out.assign(**{f"q_{name}_per_metric": q_metric})


def null_summary(
    scores: pd.DataFrame, nulls: dict[str, np.ndarray], thresholds: Sequence[float] = THRESHOLD_GRID
) -> pd.DataFrame:
    """Observed vs by-chance number of 'emergent' triplets at each threshold, per null.

    For each null draw the count of triplets at or above the threshold is one sample of "how many emergent
    abilities chance alone finds"; we report its mean (the expected count), a 95% interval and the share of
    draws with at least the observed count.
    """
    obs_scores = scores["emergence"].to_numpy(float)
    rows = []
    for thr in thresholds:
        for name, null in nulls.items():
            tested = ~np.isnan(null).all(axis=1)  # triplets the null applies to (binomial: shares of items)
            observed = int((obs_scores[tested] >= thr).sum())
            counts = (null[tested] >= thr).sum(axis=0)
            rows.append(
                {
                    "threshold": float(thr),
                    "null": name,
                    "n_triplets": int(tested.sum()),
                    "observed": observed,
                    "expected_by_chance": float(counts.mean()),
                    "chance_lo95": float(np.percentile(counts, 2.5)),
                    "chance_hi95": float(np.percentile(counts, 97.5)),
                    "p_at_least_observed": float((counts >= observed).mean()),
                }
            )
    return pd.DataFrame(rows)


def wei_metric_table(annotations: pd.DataFrame, metadata: pd.DataFrame) -> pd.DataFrame:
    """Wei et al.'s annotated tasks joined to each task's preferred metric(s): one row per (task, metric).

    A task whose subtasks prefer different metrics gets one row per metric; a programmatic task has no
    preferred metric in task.json and gets ``metric = "(none: programmatic)"``.
    """
    for df, name, need in (
        (annotations, "annotations", ["task", "emergent", "emergent_model_family", "wei_appendixE_category"]),
        (metadata, "task metadata", ["task", "preferred_score"]),
    ):
        miss = [c for c in need if c not in df.columns]
        if miss:
            raise InputError(f"{name} table lacks column(s) {miss}; present: {list(df.columns)}")
    unknown = sorted(set(annotations.task) - set(metadata.task))
    if unknown:
        raise InputError(
            f"annotated task(s) {unknown[:5]} are not in the task metadata; check the task names"
        )
    preferred = metadata.groupby("task")["preferred_score"].agg(
        lambda s: sorted(set(s.dropna())) or ["(none: programmatic)"]
    )
    out = annotations.assign(metric=annotations.task.map(preferred)).explode("metric")
    out["emergent"] = out["emergent"].astype(bool)
    return out.reset_index(drop=True)


def wei_metric_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per preferred metric: emergent (task, metric, family) triplets, their share, and the base rate among all
    annotated tasks (a metric that most tasks prefer will hold most emergent abilities for that reason alone)."""
    em = table[table.emergent]
    out = (
        pd.DataFrame(
            {
                "n_emergent": em.groupby("metric").size(),
                "n_annotated": table.groupby("metric").size(),
            }
        )
        .fillna(0)
        .astype(int)
    )
    for fam, part in em.groupby("emergent_model_family"):
        out[f"n_emergent_{fam}"] = part.groupby("metric").size().reindex(out.index).fillna(0).astype(int)
    out["share_emergent"] = out.n_emergent / out.n_emergent.sum()
    out["share_annotated"] = out.n_annotated / out.n_annotated.sum()
    return out.sort_values("n_emergent", ascending=False).reset_index()


def share_under(
    table: pd.DataFrame, metrics: Sequence[str] = (MCG, EXACT), known_only: bool = False
) -> float:
    """Share of emergent (task, metric, family) triplets whose preferred metric is one of ``metrics``."""
    em = table[table.emergent]
    if known_only:
        em = em[~em.metric.str.startswith("(none")]
    return float(em.metric.isin(list(metrics)).mean())
