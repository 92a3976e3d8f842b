"""The two open-model stand-in tables of ``$DATA_DIR/llm/standins`` as evidence tables
(:mod:`src.analysis.core.evidence`), read by the one table reader (:func:`src.analysis.core.ingest.ingest_table`)
with the column mappings each needs; any other lab table goes through the same reader with ``--column`` flags.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from src.analysis.core.ingest import IngestSpec, ingest_table
from src.results.errors import InputError

STANDINS = "llm/standins"
EXPEMERGENCE = f"{STANDINS}/expemergence_mc_accuracy_vs_brier_open_models.csv"
OBSSCALING_EMERGENT = f"{STANDINS}/obsscaling_base_llm_emergent_capability_eval.csv"
OBSSCALING_BENCHMARK = f"{STANDINS}/obsscaling_base_llm_benchmark_eval.csv"
EXPEMERGENCE_COLUMNS = {"family": "model_family", "scale": "n_params_billion"}
OBSSCALING_WIDE = r"^(?P<task>.+)_(?P<shots>\d+)_(?P<metric>acc|exact_match|bleu)$"
OBSSCALING_SIZES = {"model": "Model", "family": "Model Family", "scale": "Model Size (B)"}


def data_path(relative: str, data_dir: str | os.PathLike | None = None) -> Path:
    """``$DATA_DIR/<relative>`` (or under ``data_dir``), with an error that says what to set when it is absent."""
    base = data_dir if data_dir is not None else os.environ.get("DATA_DIR")
    if base is None:
        raise InputError(
            f"DATA_DIR is not set, so {relative} cannot be found",
            fix=f"export DATA_DIR=<dir holding {relative}>, or give the file(s) explicitly",
        )
    path = Path(base) / relative
    if not path.exists():
        raise InputError(
            "does not exist", path=path, fix=f"DATA_DIR={base} should hold {relative} (see its PROVENANCE.md)"
        )
    return path


def read_expemergence(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The ExpEmergence stand-in: MC grade and target-only Brier scores of open model families (scale: params)."""
    path = Path(path) if path is not None else data_path(EXPEMERGENCE)
    ev = ingest_table(path, IngestSpec(columns=EXPEMERGENCE_COLUMNS, size_scale=1e9))
    return ev.assign(source="expemergence")


def read_obsscaling_emergent(
    emergent: str | os.PathLike | None = None, benchmark: str | os.PathLike | None = None
) -> pd.DataFrame:
    """ObsScaling's 2-shot scores on Wei et al.'s emergent tasks as evidence.

    Its wide columns ``<task>_<shots>_<metric>`` become rows (``shots`` kept as a column); family and scale
    (billions) come from the benchmark table, joined on ``Model`` as a size map. A model missing from that table is
    an error, not a silent drop; a missing score is a model not evaluated on that task (dropped).
    """
    emergent = Path(emergent) if emergent is not None else data_path(OBSSCALING_EMERGENT)
    benchmark = Path(benchmark) if benchmark is not None else data_path(OBSSCALING_BENCHMARK)
    spec = IngestSpec(columns={"model": "Model"}, wide=["*_*_*"], wide_regex=OBSSCALING_WIDE, size_map=benchmark,
                      size_map_columns=OBSSCALING_SIZES, size_scale=1e9)  # fmt: skip
    ev = ingest_table(emergent, spec)
    return ev.assign(source="obsscaling", shots=ev["shots"].astype(int))


def read_standins(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Both stand-in tables as one evidence table (``source`` says which), from ``$DATA_DIR`` or ``data_dir``."""
    return pd.concat(
        [
            read_expemergence(data_path(EXPEMERGENCE, data_dir)),
            read_obsscaling_emergent(
                data_path(OBSSCALING_EMERGENT, data_dir), data_path(OBSSCALING_BENCHMARK, data_dir)
            ),
        ],
        ignore_index=True,
    )
