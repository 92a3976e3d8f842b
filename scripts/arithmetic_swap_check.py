"""2dm diagnostic: test exact match split by whether the swapped pair (b, a) of a test item (a, b) was a training
pair. `python scripts/arithmetic_swap_check.py logs/sweeps/arithmetic_2dm` rebuilds each run's training pairs from
the data config in its metrics.json (so it serves both the 2-digit-only recipe, where pairs were held out as
ordered pairs, and `data.exclude_swapped=true`, where no swap is a training pair) and reads its outputs.jsonl."""

import os
import sys
from pathlib import Path

import numpy as np

from src.datamodules.arithmetic import ArithmeticDataModule
from src.results.outputs import load_outputs
from src.results.records import read_record


def operands(prompt: str) -> tuple[int, int]:
    a, b = prompt.rstrip("=").split("*")
    return int(a), int(b)


for record_path in sorted(Path(sys.argv[1]).glob("*/metrics.json")):
    record = read_record(record_path)
    data = {k: v for k, v in record["config"]["data"].items() if k not in ("_target_", "data_dir")}
    dm = ArithmeticDataModule(os.environ.get("DATA_DIR", "data"), **data)
    dm.setup()
    train = set(map(operands, dm.texts["train"][0].tolist()))
    out = load_outputs([record_path.parent])
    g = out[out.subset == "test"]
    swapped = np.array([(b, a) in train for a, b in map(operands, g.prompt)])
    ok = (g.output.str.strip() == g.target.str.strip()).to_numpy()
    rest = f"not {ok[~swapped].mean():.3f} (n={(~swapped).sum()})"
    both = f"swapped in train {ok[swapped].mean():.3f} (n={swapped.sum()}), {rest}" if swapped.any() else rest
    print(
        f"{record_path.parent.name}: distinct training pairs {len(train)}; exact match {ok.mean():.3f}; {both}"
    )
