"""2dm diagnostic: test exact match split by whether the swapped pair (b, a) of a test item (a, b) is a training
pair (pairs are held out as ordered pairs). `python scripts/arithmetic_swap_check.py logs/sweeps/arithmetic_2dm`
rebuilds the training pairs of experiment=arithmetic_2dm (seed 0) and reads the sweep's outputs.jsonl."""

import os
import sys

import numpy as np

from src.datamodules.arithmetic import ArithmeticDataModule
from src.results.outputs import load_outputs

dm = ArithmeticDataModule(
    os.environ.get("DATA_DIR", "data"),
    "two_digit_multiplication",
    train_size=128000,
    val_size=500,
    extra_size=1500,
    prompt_format="compact",
)
dm.setup()
train = {(int(p[:2]), int(p[3:5])) for p in dm.texts["train"][0].tolist()}
print("distinct training pairs", len(train))
out = load_outputs([sys.argv[1]])
out = out[out.subset == "test"]
for model, g in out.groupby("model"):
    ab = [(int(p[:2]), int(p[3:5])) for p in g.prompt]
    swapped = np.array([(b, a) in train for a, b in ab])
    ok = (g.output.str.strip() == g.target.str.strip()).to_numpy()
    print(
        f"{model}: n={len(g)} swapped-in-train share {swapped.mean():.3f}; exact match {ok.mean():.3f}; "
        f"swapped in train {ok[swapped].mean():.3f} (n={swapped.sum()}), not {ok[~swapped].mean():.3f} (n={(~swapped).sum()})"
    )
