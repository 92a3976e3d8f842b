"""The evidence table seen the way each stream's code works on it, and back.

- runs view (sweeps: figure, claims, backtest): one row per run x metric with ``sweep, sweep_dir, run_dir,
  task_name, model_family, num_params, seed, metric, value, n_test`` (the sweep-table columns).

The family commands (Fig. 5, Fig. 6, nulls) read the evidence in its own names, replicates averaged by
:func:`src.analysis.core.evidence.mean_over_replicates`.

A sweep folder becomes an evidence table through :func:`runs_to_evidence`; the round trip
``evidence_to_runs(runs_to_evidence(t))`` keeps every column the sweep commands read.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from src.analysis.core import evidence

_SEED = re.compile(r"(^|,)seed=[^,]*")


def runs_to_evidence(table: pd.DataFrame) -> pd.DataFrame:
    """A loaded sweep table (:func:`src.analysis.sweeps.loading.load_sweeps`) as an evidence table.

    ``model`` is ``<sweep>/<run dir without its seed= override>`` (one model, several seeds), ``replicate`` the seed,
    ``source`` the sweep's label; ``run_dir`` and ``sweep_dir`` are kept so per-item files stay reachable."""
    run_dir = table["run_dir"].astype(str)
    sweep = table["sweep"].astype(str) if "sweep" in table.columns else pd.Series("", index=table.index)
    model = sweep + "/" + run_dir.map(lambda r: _SEED.sub("", r).strip(",") or r)
    ev = pd.DataFrame(
        {
            "family": table["model_family"].astype(str),
            "model": model,
            "scale": table["num_params"].astype(float),
            "task": table["task_name"].astype(str),
            "metric": table["metric"].astype(str),
            "value": table["value"].astype(float),
            "replicate": table["seed"].astype(str),
            "n_items": table["n_test"] if "n_test" in table.columns else np.nan,
            "source": sweep,
            "run_dir": run_dir,
            "sweep_dir": table["sweep_dir"].astype(str) if "sweep_dir" in table.columns else "",
        }
    )
    if ev.duplicated(["family", "model", "task", "metric", "replicate", "source"]).any():
        ev["model"] = (
            sweep + "/" + run_dir
        )  # two runs share overrides but for the seed and something else: keep them apart
    return evidence.normalize(ev, source="sweep table")


def _seed_value(replicate: pd.Series) -> pd.Series:
    num = pd.to_numeric(replicate, errors="coerce")
    return num.astype("int64") if num.notna().all() and (num == num.round()).all() else replicate


def evidence_to_runs(ev: pd.DataFrame) -> pd.DataFrame:
    """The runs view of an evidence table (see module doc); rows with a missing value are dropped."""
    ev = ev[ev["value"].notna()]
    has = ev.columns
    # the sweep label: the input the row came from (load_evidence), else its source
    label = "input" if "input" in has else "source" if "source" in has else None
    source = ev[label].replace("", "table") if label else pd.Series("table", index=ev.index)
    replicate = ev["replicate"] if "replicate" in has else pd.Series("", index=ev.index)
    checkpoint = ev["checkpoint"] if "checkpoint" in has else pd.Series("", index=ev.index)
    run_id = (
        ev["model"]
        + np.where(replicate != "", "#" + replicate, "")
        + np.where(checkpoint != "", "@" + checkpoint, "")
    )
    runs = pd.DataFrame(
        {
            "run_dir": ev["run_dir"] if "run_dir" in has else run_id,
            "task_name": ev["task"],
            "model_family": ev["family"],
            "width": np.nan,
            "num_params": ev["scale"].astype(float),
            "seed": _seed_value(replicate.replace("", "0")),
            "metric": ev["metric"],
            "value": ev["value"].astype(float),
            "sweep": source,
            "sweep_dir": ev["sweep_dir"] if "sweep_dir" in has else "",
            "n_test": ev["n_items"].astype(float) if "n_items" in has else np.nan,
        }
    )
    return runs.reset_index(drop=True)
