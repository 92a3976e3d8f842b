"""Fabricate LeNet-like sweep dirs (run records + per_item.npz) for analysis tests, per docs/design.md.

Each run's test items are Bernoulli(p(width)) outcomes with a smooth p; its record's metrics are computed from the
same per-item arrays (acc, ce, exact subset accuracy C(m,K)/C(n,K)), so rescoring them must reproduce the record.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

KS = (1, 2, 3, 4, 5)


def p_correct(width: float) -> float:
    """Smooth per-item accuracy rising with width: 0.1 (chance on 10 classes) to about 0.99."""
    return 0.1 + 0.89 * (1.0 - np.exp(-width / 6.0))


def num_params(width: int) -> int:
    return 1000 * width + 50


def subset_acc(m: int, n: int, k: int) -> float:
    """C(m, k) / C(n, k), the exact expectation of 'all k of k random test items right'."""
    out = 1.0
    for j in range(k):
        out *= max(m - j, 0) / (n - j)
    return out


def make_run(
    sweep: Path,
    width: int,
    seed: int,
    n: int = 500,
    drop_metric: str | None = None,
    status: str = "finished",
    p_fn=p_correct,
) -> Path:
    run_dir = sweep / f"model.width={width},seed={seed}"
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    # as Hydra writes a job's overrides: values normalized (the command line said data.download=false)
    overrides = [f"model.width={width}", f"seed={seed}", "experiment=lenet_mnist", "data.download=False"]
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    rng = np.random.default_rng(1000 * width + seed)
    correct = rng.random(n) < p_fn(width)
    ce = np.where(correct, -np.log(rng.uniform(0.6, 1.0, n)), -np.log(rng.uniform(0.01, 0.5, n))).astype(
        np.float32
    )
    np.savez(run_dir / "per_item.npz", correct=correct, ce=ce)
    m = int(correct.sum())
    metrics = {"test/acc": m / n, "test/ce": float(ce.astype(np.float64).mean())}
    metrics |= {f"test/subset_acc_k={k}": subset_acc(m, n, k) for k in KS}
    metrics |= {
        "val/acc": m / n + 0.001,
        "val/ce": metrics["test/ce"],
        "val/subset_acc_k=2": subset_acc(m, n, 2),
    }
    metrics.pop(drop_metric, None)
    record = {
        "status": status,
        "task_name": "lenet_mnist",
        "model_family": "lenet",
        "width": width,
        "num_params": num_params(width),
        "seed": seed,
        "overrides": overrides,
        "metrics": metrics,
        "n_test": n,
        "wall_time_s": 1.0,
        "config": {},
    }
    (run_dir / "metrics.json").write_text(json.dumps(record))
    return run_dir


def make_sweep(
    root: Path,
    widths=(1, 2, 4, 8, 16, 32, 64),
    seeds=(0, 1, 2),
    n: int = 500,
    name="lenet_mnist",
    p_fn=p_correct,
    grid_on_command_line: bool = False,
) -> Path:
    sweep = root / name
    for w in widths:
        for s in seeds:
            make_run(sweep, w, s, n=n, p_fn=p_fn)
    ws, ss = ",".join(map(str, widths)), ",".join(map(str, seeds))
    if grid_on_command_line:  # python train.py -m model.width=1,2 seed=0,1
        task = f"    - experiment=lenet_mnist\n    - model.width={ws}\n    - seed={ss}\n    - data.download=false\n"
        sweeper = ""
    else:  # the grid in the experiment config (hydra.sweeper.params), as configs/experiment/lenet_mnist.yaml
        task = "    - experiment=lenet_mnist\n    - data.download=false\n"
        sweeper = f"  sweeper:\n    params:\n      model.width: {ws}\n      seed: {ss}\n"
    (sweep / "multirun.yaml").write_text(f"hydra:\n{sweeper}  overrides:\n    task:\n{task}")
    return sweep


def make_autoencoder_sweep(root: Path, widths=(2, 4, 8, 16, 32, 64, 128, 256), n: int = 3000, k: float = 3.0,
                           cs=(20.0, 40.0, 80.0)) -> Path:  # fmt: skip
    """Autoencoder-like runs: per-image squared errors ~ Gamma(k, mean/k), mean falling as a power law in N."""
    sweep = root / "autoencoder"
    for w in widths:
        run_dir = sweep / f"model.width={w}"
        (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        n_params = 3072 * 2 * w + 3072 + w
        mean = 160.0 * (n_params / (3072 * 4)) ** -0.45
        sq = np.random.default_rng(w).gamma(k, mean / k, n).astype(np.float32)
        np.savez(run_dir / "per_item.npz", sq_err=sq)
        x = sq.astype(np.float64)
        metrics = {"test/sq_err": x.mean(), "test/mse": x.mean() / 3072}
        metrics |= {f"test/recon_c={c:g}": float((sq < c).mean()) for c in cs}
        record = {"status": "finished", "task_name": "autoencoder", "model_family": "autoencoder", "width": w,
                  "num_params": n_params, "seed": 0, "overrides": [f"model.width={w}"], "metrics": metrics,
                  "n_test": n}  # fmt: skip
        (run_dir / "metrics.json").write_text(json.dumps(record))
    return sweep
