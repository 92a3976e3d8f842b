"""Write an example per-run evaluation table in the shape labs publish, from the ObsScaling stand-in tables.

    python scripts/make_per_run_example.py --data-dir ../shared/data --out outputs/per_run_example.csv

The shape: one row per (model, task, prompt type, shots, seed), wide metric columns, ``-100`` for a metric a task
was not scored with or a model has no score for, sizes in billions. The *published* 2-shot scores of
``llm/standins/obsscaling_base_llm_emergent_capability_eval.csv`` (family and size from
``obsscaling_base_llm_benchmark_eval.csv``) are the seed means' source; the three seeds are SIMULATED, not
published: seed s of an accuracy-type score p is Binomial(n_items, p) / n_items with a fixed RNG seed (as if each
seed scored a fresh sample of n_items items), and BLEU is copied unchanged to every seed. The table exists to show
the ingest flags on a table of this shape (README "Analyse your own evaluations"), not as evidence.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

WIDE = re.compile(r"^(?P<task>.+)_(?P<shots>\d+)_(?P<metric>acc|exact_match|bleu)$")
SENTINEL = -100.0


def per_run_table(data_dir: Path, n_items: int = 200, seeds: int = 3, rng_seed: int = 0) -> pd.DataFrame:
    standins = data_dir / "llm" / "standins"
    wide = pd.read_csv(standins / "obsscaling_base_llm_emergent_capability_eval.csv")
    meta = pd.read_csv(standins / "obsscaling_base_llm_benchmark_eval.csv")
    long = wide.melt(id_vars="Model", var_name="column", value_name="score")
    parts = long["column"].str.extract(WIDE)
    long = long.assign(task=parts["task"], shots=parts["shots"].astype(int), metric=parts["metric"])
    long = long.merge(meta[["Model", "Model Family", "Model Size (B)"]], on="Model", how="inner")
    rng = np.random.default_rng(rng_seed)
    rows = []
    for (model, family, size, task, shots), g in long.groupby(
        ["Model", "Model Family", "Model Size (B)", "task", "shots"], sort=True
    ):
        scores = dict(zip(g["metric"], g["score"], strict=True))
        for seed in range(seeds):
            row = {"model_name": model, "model_family": family, "params_b": size, "task": task,
                   "prompt_type": "few_shot", "n_shots": shots, "seed": seed}  # fmt: skip
            for metric in ("acc", "exact_match", "bleu"):
                p = scores.get(metric, np.nan)
                if np.isnan(p):
                    row[metric] = SENTINEL
                elif metric == "bleu":
                    row[metric] = float(p)
                else:
                    row[metric] = rng.binomial(n_items, float(np.clip(p, 0, 1))) / n_items
            rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=os.environ.get("DATA_DIR"), help="data root (default $DATA_DIR)")
    p.add_argument("--out", default="outputs/per_run_example.csv", help="CSV to write")
    p.add_argument("--n-items", type=int, default=200, help="items per simulated seed (default 200)")
    args = p.parse_args()
    if not args.data_dir:
        raise SystemExit("give --data-dir or set DATA_DIR (it must hold llm/standins/)")
    table = per_run_table(Path(args.data_dir), n_items=args.n_items)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    n_sentinel = int((table[["acc", "exact_match", "bleu"]] == SENTINEL).sum().sum())
    print(f"{out}: {len(table)} rows ({table.model_name.nunique()} models, {table.model_family.nunique()} families, "
          f"{table.task.nunique()} tasks, {table.seed.nunique()} seeds), {n_sentinel} cells = {SENTINEL:g}")  # fmt: skip


if __name__ == "__main__":
    main()
