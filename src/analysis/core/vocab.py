"""What each metric of an evidence table means, filled in once for every analysis: direction, level, kind of value,
chance, bounds and partner (the columns of :data:`src.analysis.core.evidence.MEANING`).

A reader that knows these from its source (lm-evaluation-harness writes ``higher_is_better``; a multiple-choice
reader knows the number of options, so the chance level per task) writes them into its rows; every cell it leaves
empty is taken from the metric registry and the user's declarations (:func:`src.analysis.core.metrics.classify`).
Then every value is checked against what its metric can be (finite, inside its bounds): a value out of range is
an :class:`InputError` naming the file, the row and the field, never a silently wrong verdict.

Sharp vs smooth is not a property of one name: two metrics of the same outputs pair when their levels differ
(accuracy, level 1, is the smooth partner of K-of-K accuracy, level 2, and the sharp partner of the Brier score,
level 0). :func:`pairs_of` is the one pairing rule.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from src.analysis.core.evidence import MEANING
from src.analysis.core.metrics import classify, declared_fields, declared_partner
from src.results.errors import InputError

SHARE_BOUNDS = (0.0, 1.0)
MAX_VALUE = 1e15  # no score of a model is larger; beyond it Eq. 1 and the fits overflow


def meaning_of(metric: str) -> dict:
    """Registry + declarations for one metric name: the meaning columns (NaN / "" where unknown) and a label."""
    info = classify(metric)
    if info is None:
        return {"higher_is_better": math.nan, "level": math.nan, "value_kind": "", "chance": math.nan,
                "lower": math.nan, "upper": math.nan, "partner": declared_partner(metric) or "",
                "label": metric}  # fmt: skip
    k = info.kind
    level = k.level
    if (
        level is not None and info.is_identity
    ):  # K-of-K at K = 1 is accuracy itself, pass@1 a share of samples
        level = min(level, 1)
    lower, upper = k.lower, k.upper
    if k.value_kind in ("share", "counts") and lower is None and upper is None:
        lower, upper = SHARE_BOUNDS
    hib = k.higher_is_better
    return {
        "higher_is_better": math.nan if hib is None else float(hib),
        "level": math.nan if level is None else float(level),
        "value_kind": k.value_kind or "",
        "chance": math.nan if k.chance is None else float(k.chance),
        "lower": math.nan if lower is None else float(lower),
        "upper": math.nan if upper is None else float(upper),
        "partner": declared_partner(metric) or "",
        "label": info.curve_label if info.param is not None else k.label,
    }


def annotate(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every meaning column present; cells the reader filled are kept, empty ones filled from the
    registry and declarations. A declaration (flag or YAML) wins over the reader for direction and level."""
    out = table.copy()
    known = {m: meaning_of(m) for m in out["metric"].unique()}
    for col in [*MEANING, "label"]:
        filled = out["metric"].map(lambda m, col=col: known[m][col])
        if col not in out.columns:
            out[col] = filled
            continue
        empty = out[col].isna() | (out[col].astype(str) == "")
        out[col] = out[col].where(~empty, filled)
    for col in ("higher_is_better", "level", "chance", "lower", "upper"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for m in out["metric"].unique():
        for col, v in declared_fields(m).items():  # the user's declaration wins over the source
            out.loc[out["metric"] == m, col] = v
    for col in ("value_kind", "partner", "label"):
        out[col] = out[col].fillna("").astype(str)
    return out


def check_values(table: pd.DataFrame) -> None:
    """Every value inside its metric's bounds (a relative tolerance of 1e-9 for rounding): one
    :class:`InputError` naming the source file, the row, the metric and the bounds."""
    lo = table["lower"].to_numpy(float)
    hi = table["upper"].to_numpy(float)
    v = table["value"].to_numpy(float)
    huge = np.abs(v) > MAX_VALUE
    if huge.any():
        i = int(np.flatnonzero(huge)[0])
        r = table.iloc[i]
        raise InputError(f"{r['metric']} of {r['model']} on {r['task']} is {float(r['value']):g}: no score is that large",
                         path=r.get("source", "") or "inputs", where=f"row {i + 1}",
                         fix="check the column and the units")  # fmt: skip
    tol = 1e-9 * np.maximum(1.0, np.abs(v))
    bad = (~np.isnan(v)) & (
        (v < np.where(np.isnan(lo), -np.inf, lo) - tol) | (v > np.where(np.isnan(hi), np.inf, hi) + tol)
    )
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        r = table.iloc[i]
        src = r.get("source", "") or "inputs"
        raise InputError(
            f"{r['metric']} of {r['model']} on {r['task']} is {float(r['value']):g}, outside its bounds "
            f"[{r['lower']:g}, {r['upper']:g}]",
            path=src,
            where=f"row {i + 1}",
            fix="check the column holds this metric (a percentage where a share is expected?), or declare its "
            "bounds (metrics file: bounds: [lo, hi])",
        )


def check_items(items: pd.DataFrame, table: pd.DataFrame) -> None:
    """Per-item quantities of known metrics are inside their bounds and not infinite (NaN is a quantity the
    reader could not compute for that item; readers refuse broken inputs, such as a NaN log-likelihood, themselves)."""
    if items.empty:
        return
    bounds = table.drop_duplicates("metric").set_index("metric")[["lower", "upper"]]
    for col in items.columns:
        if col not in bounds.index or not pd.api.types.is_numeric_dtype(items[col]):
            continue
        v = items[col].to_numpy(float)
        lo, hi = bounds.loc[col, "lower"], bounds.loc[col, "upper"]
        bad = np.isinf(v)  # NaN: the reader could not compute it for that item (left out); inf is broken
        if not np.isnan(lo):
            bad |= v < lo - 1e-9
        if not np.isnan(hi):
            bad |= v > hi + 1e-9
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            r = items.iloc[i]
            raise InputError(
                f"per-item {col} of {r.get('model', '?')} on {r.get('task', '?')} (item {r.get('item', i)}) is {v[i]!r}",
                path=r.get("source", None) or "items",
                where=f"item row {i + 1}",
                fix="give per-item values inside the metric's bounds",
            )


def complete(ev):
    """An :class:`~src.analysis.core.readers.Evidence` with meaning columns filled and values checked."""
    ev.table = annotate(ev.table)
    check_values(ev.table)
    check_items(ev.items, ev.table)
    return ev


def pairs_of(metrics: pd.DataFrame) -> list[tuple[str, str]]:
    """(sharp, smooth) pairs among the metrics of one (family, task), each row with ``metric``, ``level`` and
    ``partner``. A metric that names a partner is paired with it alone (when present); else every metric pairs
    with every metric of a lower level. Metrics of one level (acc, acc_norm) never pair; unknown levels never
    pair (they are listed as undeclared)."""
    m = metrics.drop_duplicates("metric").set_index("metric")
    # K-of-K at K = 1 (exact match of the first digit, pass@1 of one sample) is its smooth partner itself: a copy
    # of accuracy, not a second metric; it pairs with nothing
    names = [n for n in m.index if not ((info := classify(n)) is not None and info.is_identity and info.kind.level == 2
                                        and info.kind.value_kind != "counts")]  # fmt: skip
    out, params = [], {n: _param(n) for n in names}
    for a in names:
        la = m.loc[a, "level"]
        if np.isnan(la) or la < 1:
            continue
        named = str(m.loc[a, "partner"] or "")
        if named:
            from fnmatch import fnmatchcase

            cands = [b for b in names if b != a and fnmatchcase(b, named)]
            out += [(a, b) for b in cands if not np.isnan(m.loc[b, "level"]) and m.loc[b, "level"] < la]
            continue
        out += [(a, b) for b in names
                if not np.isnan(m.loc[b, "level"]) and m.loc[b, "level"] < la and _same_outputs(a, b, params)]  # fmt: skip
    return out


def _param(name: str) -> tuple[str, str, float] | None:
    """(metric family, parameter label, value) of a parameterised metric (``exact_match_l=3``: L = 3), else None."""
    info = classify(name)
    if info is None or info.param is None or not info.kind.param_label:
        return None
    return info.kind.family, info.kind.param_label, float(info.param)


def _same_outputs(a: str, b: str, params: dict[str, tuple[str, str, float] | None]) -> bool:
    """Whether the parameters let ``a`` (sharp) and ``b`` (smooth) be two readings of the same outputs: exact match
    of the first L digits pairs with the edit distance of the first L digits, not of the first L + 1; a metric over
    a part (``_l=L``) never stands in for one over the whole; a metric with a parameter of its own (K of K, c of
    Reconstruction_c) pairs with the whole-output metrics where no partner at its own parameter exists; one family
    at two parameters (pass@k and pass@1) pairs. ``params``: :func:`_param` of every metric of the group."""
    pa, pb = params[a], params[b]
    if pa and pb:
        return pa[0] == pb[0] or (pa[1] == pb[1] and pa[2] == pb[2])
    if pb:
        return False
    if pa:
        return not any(
            pc is not None and pc[1] == pa[1] and pc[0] != pa[0] for c, pc in params.items() if c != a
        )
    return True
