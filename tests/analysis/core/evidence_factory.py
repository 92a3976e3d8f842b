"""A lab's per-run evaluation table in the shape the issue describes, written by the tests: one row per (model,
task, prompt type, shots, seed), wide metric columns, sizes in billions, -100 for missing.

Per-item accuracy p(N) rises smoothly with size; exact match over L = 4 tokens is p^4 (sharp), token edit
distance 4(1 - p) (smooth, lower is better), ``bertscore_f1`` = 0.5 + 0.4 p (smooth; a name no registry knows).
Seeds add a small deterministic offset so bands have width.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

FAMILIES = {"Alpha": [0.1, 0.4, 1.0, 3.0, 7.0], "Beta": [0.2, 0.5, 2.0, 6.0]}
TASKS = [("add", "plain", 0), ("add", "cot", 2), ("copy", "plain", 0)]
SEEDS = [0, 1, 2]
MISSING = {("Beta", 3, "copy", "bertscore_f1")}  # (family, size index, task, metric) scored as -100


def p_correct(size_b: float, task: str) -> float:
    shift = 0.0 if task == "add" else -0.7
    return float(1 / (1 + np.exp(-(np.log10(size_b) - shift) * 1.5)))


def per_run_rows() -> list[dict]:
    rows = []
    for fam, sizes in FAMILIES.items():
        for i, size in enumerate(sizes):
            for task, prompt, shots in TASKS:
                for seed in SEEDS:
                    p = np.clip(p_correct(size, task) + 0.01 * (seed - 1), 0.0, 1.0)
                    row = {"model_name": f"{fam.lower()}-{size}b", "model_family": fam, "params_b": size,
                           "task": task, "prompt_type": prompt, "n_shots": shots, "seed": seed,
                           "exact_match": p**4, "edit_distance_char": 4 * (1 - p), "bertscore_f1": 0.5 + 0.4 * p}  # fmt: skip
                    for metric in ("exact_match", "edit_distance_char", "bertscore_f1"):
                        if (fam, i, task, metric) in MISSING:
                            row[metric] = -100.0
                    rows.append(row)
    return rows


def write_per_run_table(path: Path) -> Path:
    df = pd.DataFrame(per_run_rows())
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".json":
        path.write_text(json.dumps(df.to_dict(orient="records")))
    elif path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


INGEST_FLAGS = ["--column", "model=model_name", "--column", "family=model_family", "--column", "scale=params_b",
                "--size-scale", "1e9", "--task-columns", "task,prompt_type,n_shots", "--replicate-column", "seed",
                "--wide", "exact_match,edit_*,bertscore*", "--na-values", "-100"]  # fmt: skip
DECLARE_FLAGS = ["--higher-is-better", "bertscore*", "--smooth", "bertscore*"]
N_ROWS = sum(len(s) for s in FAMILIES.values()) * len(TASKS) * len(SEEDS) * 3 - len(MISSING) * len(SEEDS)
