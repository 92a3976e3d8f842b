"""The evidence table: every analysis command's input, whatever the source (our sweeps, a lab's table, an
lm-evaluation-harness folder, per-item score files).

One row per (family, model, task, metric[, replicate, checkpoint]) with the value:

============  =========  ==========================================================================================
column        type       meaning
============  =========  ==========================================================================================
family        str        model family: one curve per (family, task, metric)
model         str        model name, unique within the family (``pythia-1.4b``, ``lenet_mnist/model.width=4``)
scale         float > 0  the x axis: parameters (``num_params``)
task          str        task (several source columns joined with ``/`` for a composite key)
metric        str        metric name (``acc``, ``exact_match``, ``brier``, ``test/subset_acc_k=3``)
value         float      the score; NaN = missing (sentinels are turned into NaN on ingest)
replicate     str        optional: seed / replicate id; several replicates of one point are kept, not averaged
checkpoint    str        optional: training checkpoint label (``step143000``); empty = the final model
step          float      optional: optimizer step of the checkpoint
tokens        float      optional: training tokens seen
compute       float      optional: training FLOPs
n_items       float      optional: items the value was computed on (resolution floor 1/n)
stderr        float      optional: standard error of the value (parametric intervals for aggregate tables)
n_trials      float      optional: trials actually drawn (samples x problems for repeated sampling; else n_items)
source        str        optional: file the row came from
============  =========  ==========================================================================================

What the metric means travels with it (filled by the reader from the source, else from the metric registry and
the user's declarations: :mod:`src.analysis.core.vocab`):

==================  =====  ====================================================================================
higher_is_better    float  1 or 0 (NaN: not known)
level               float  0 continuous per item, 1 share judged right per item, 2 nonlinear aggregate of such
value_kind          str    ``share`` (of n_items), ``counts`` (of samples), ``continuous``
chance              float  score of a random guesser on this task (from the number of options where known)
lower, upper        float  bounds the value can take
partner             str    the smooth metric of the same outputs to pair this one with (empty: by level)
==================  =====  ====================================================================================

Per-item outcomes (for the commands that resample items) live beside it in an *items table*: one row per
(family, model, task, item[, replicate, checkpoint]) with ``scale`` and one column per per-item quantity
(``correct``, ``p_target``, ``brier``, ``logprob``, ``sq_err`` ...).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from src.results.errors import ROW, InputError, raise_at_first, require_columns

REQUIRED = ["family", "model", "scale", "task", "metric", "value"]
OPTIONAL = ["replicate", "checkpoint", "step", "tokens", "compute", "n_items", "stderr", "n_trials", "source"]
MEANING = ["higher_is_better", "level", "value_kind", "chance", "lower", "upper", "partner"]
COLUMNS = [*REQUIRED, *OPTIONAL]
KEY = ["family", "model", "task", "metric", "replicate", "checkpoint"]
STRING_COLUMNS = ["family", "model", "task", "metric", "replicate", "checkpoint", "source"]
FLOAT_COLUMNS = ["scale", "value", "step", "tokens", "compute", "n_items", "stderr", "n_trials"]
ITEM_KEY = ["family", "model", "task", "item", "replicate", "checkpoint"]
MAX_COUNT = 1e12  # items, samples or trials of one value: more than any evaluation draws


def normalize(df: pd.DataFrame, source: str = "evidence table") -> pd.DataFrame:
    """Check and normalise an evidence table: required columns present, optional ones added (empty / NaN),
    types coerced, no duplicate key, scale positive. Errors name ``source`` and the offending row."""
    require_columns(
        df.columns,
        REQUIRED,
        path=source,
        fix="map your columns onto family, model, scale, task, metric, value (docs/design.md)",
    )
    out = df.copy()
    for col in OPTIONAL:
        if col not in out.columns:
            out[col] = "" if col in STRING_COLUMNS else np.nan
    for col in STRING_COLUMNS:
        out[col] = out[col].fillna("").astype(str)
    for col in FLOAT_COLUMNS:
        num = pd.to_numeric(out[col], errors="coerce")
        bad = num.isna() & out[col].notna() & (out[col].astype(str).str.strip() != "")
        raise_at_first(
            bad,
            lambda i, col=col: f"column {col!r} holds a non-number {out[col].iloc[i]!r}",
            path=source,
            where=ROW,
            fix="give numbers (or declare the value as missing with --na-values)",
        )
        out[col] = num.astype(float)
    bad_scale = ~((out["scale"] > 0) & np.isfinite(out["scale"]))
    raise_at_first(
        bad_scale,
        lambda i: f"scale must be a positive number, got {out['scale'].iloc[i]:g}",
        path=source,
        where=ROW,
        fix="give each model's parameter count (a size column or --size-map)",
    )
    inf = np.isinf(out["value"])
    raise_at_first(
        inf,
        lambda i: f"value is infinite ({out['value'].iloc[i]})",
        path=source,
        where=ROW,
        fix="drop the row or declare it missing (--na-values inf)",
    )
    for col, what in (("n_items", "items"), ("n_trials", "trials")):
        v = out[col]
        bad = v.notna() & ~((v >= 0) & (v <= MAX_COUNT) & (v == np.round(v)))
        raise_at_first(
            bad,
            lambda i, col=col: (
                f"{col} must be a whole number from 0 to {MAX_COUNT:.0e}, got {out[col].iloc[i]!r}"
            ),
            path=source,
            where=ROW,
            fix=f"give the number of {what} the value was computed on",
        )
    bad_se = out["stderr"].notna() & ~((out["stderr"] >= 0) & np.isfinite(out["stderr"]))
    raise_at_first(
        bad_se,
        lambda i: f"stderr must be a finite number >= 0, got {out['stderr'].iloc[i]!r}",
        path=source,
        where=ROW,
        fix="give the standard error of the value, or leave the cell empty",
    )
    dup = out.duplicated(KEY, keep=False)
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        row = out.iloc[i]
        raise InputError(
            "two rows share one key (" + ", ".join(f"{k}={row[k]!r}" for k in KEY if row[k] != "") + ")",
            path=source,
            where=f"row {i + 1}",
            fix="give a replicate (seed) column to keep repeats as bands, or a checkpoint column",
        )
    return out[COLUMNS + [c for c in out.columns if c not in COLUMNS]].reset_index(drop=True)


def final_checkpoints(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's final checkpoint, the end-of-training model a scaling curve over sizes wants; the one
    rule of every caller (the verdict engine's scale curves, the OLMo-ladder reader's ``final_checkpoints``).

    Per run (family, model, replicate; family where the table has one), among the rows with a value: a row without
    a checkpoint label (a model evaluated once) is final; else the checkpoint with the most tokens, then the highest
    step, where no step is given the number a label ends in (``step143000``, ``13000``). A checkpoint without a
    step after the stepped ones (an anneal read from its own file) is final when it has the most tokens. A table
    without checkpoint labels is returned whole (less the rows without a value)."""
    t = table[table["value"].notna()]
    if "checkpoint" not in t.columns or (t["checkpoint"].fillna("") == "").all():
        return t
    ck = t["checkpoint"].fillna("").astype(str)
    step = t["step"] if "step" in t.columns else pd.Series(np.nan, index=t.index)
    step = step.fillna(pd.to_numeric(ck.str.extract(r"(\d+)$")[0], errors="coerce"))
    tokens = t["tokens"] if "tokens" in t.columns else pd.Series(np.nan, index=t.index)
    run = [c for c in ("family", "model", "replicate") if c in t.columns]
    order = t.assign(_f=(ck == "").astype(int), _t=tokens.fillna(-1.0), _s=step.fillna(-1.0), _c=ck)
    last = order.sort_values(["_f", "_t", "_s"], kind="stable").groupby(run, dropna=False)["_c"].last()
    keep = pd.MultiIndex.from_frame(order[[*run, "_c"]]).isin(pd.MultiIndex.from_frame(last.reset_index()))
    return t[keep]


def mean_over_replicates(ev: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, family, model, task, metric, checkpoint), in the order they first appear, where a
    command needs one value per model: ``value`` is the mean over the replicates (seeds) with a value,
    ``n_replicates`` how many they were, ``n_items`` the fewest any of them had, ``scale`` the model's. Rows
    without a value are left out; the result keeps the evidence column names (``replicate`` is empty)."""
    ev = ev[ev["value"].notna()]
    keys = ["source", "family", "model", "task", "metric", "checkpoint"]
    out = (
        ev.groupby(keys, sort=False, dropna=False)
        .agg(
            scale=("scale", "first"),
            value=("value", "mean"),
            n_replicates=("value", "size"),
            n_items=("n_items", "min"),
        )  # fmt: skip
        .reset_index()
        .assign(replicate="")
    )
    return out[["family", "model", "scale", "task", "metric", "value", "replicate", "checkpoint", "n_items",
                "source", "n_replicates"]]  # fmt: skip
