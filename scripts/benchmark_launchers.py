"""Launcher overhead per job: the same sweep of short runs through the basic, local (submitit) and SLURM launchers.

    python scripts/benchmark_launchers.py --jobs 4                 # all three (slurm needs root + the packages)
    python scripts/benchmark_launchers.py --launchers basic local  # without SLURM

Each launcher runs ``train.py -m seed=0..N-1 debug=fast`` (one epoch of 3 batches of a tiny MNIST written to a temp
dir), OMP_NUM_THREADS=1. Reported per launcher: wall time of the whole command, per job, the mean time jobs spent
inside train() (from their run records), and overhead/job = wall/job - mean in-train time (process starts, imports,
scheduling, result polling; the basic launcher imports once and runs jobs in its own process). local runs all jobs at
once and slurm as many as the node's cores allow, so their jobs overlap. The SLURM cluster is the test suite's
(tests/helpers/slurm_cluster.py), started here and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FAST = ["debug=fast", "logger=csv", "data.batch_size=32", "data.val_size=100", "data.download=false"]
LAUNCHER_ARGS = {
    "basic": [],
    "local": ["hydra/launcher=local"],
    "slurm": ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"],
}


def run_sweep(launcher: str, jobs: int, root: Path, env: dict[str, str]) -> dict:
    log_dir = root / launcher
    seeds = ",".join(str(s) for s in range(jobs))
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        *LAUNCHER_ARGS[launcher],
        f"seed={seeds}",
        *FAST,
        f"paths.log_dir={log_dir}",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{launcher} sweep failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    records = [json.loads(p.read_text()) for p in (log_dir / "sweeps").glob("*/*/metrics.json")]
    if len(records) != jobs or any(r["status"] != "finished" for r in records):
        raise RuntimeError(f"{launcher}: expected {jobs} finished records, found {len(records)}")
    in_train = sum(r["wall_time_s"] for r in records) / jobs
    return {
        "launcher": launcher,
        "jobs": jobs,
        "wall_s": round(wall, 1),
        "wall_per_job_s": round(wall / jobs, 1),
        "mean_in_train_s": round(in_train, 2),
        "overhead_per_job_s": round(wall / jobs - in_train, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument(
        "--launchers", nargs="+", default=["basic", "local", "slurm"], choices=list(LAUNCHER_ARGS)
    )
    parser.add_argument("--out", type=Path, default=REPO / "logs" / "benchmarks" / "launchers.json")
    args = parser.parse_args()

    from tests.conftest import write_tiny_mnist
    from tests.helpers.slurm_cluster import SlurmCluster, missing_requirements

    with tempfile.TemporaryDirectory(prefix="bench-launchers-") as tmp:
        root = Path(tmp)
        data = write_tiny_mnist(root / "data")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
        env.update(DATA_DIR=str(data), OMP_NUM_THREADS="1", WANDB_MODE="offline")
        cluster = None
        results = []
        try:
            for launcher in args.launchers:
                if launcher == "slurm":
                    reason = missing_requirements()
                    if reason:
                        print(f"slurm: skipped ({reason})")
                        continue
                    t0 = time.perf_counter()
                    cluster = SlurmCluster(root / "slurm").start()
                    print(f"slurm test cluster up in {time.perf_counter() - t0:.1f} s (not counted)")
                    env["SLURM_CONF"] = cluster.env["SLURM_CONF"]
                row = run_sweep(launcher, args.jobs, root, env)
                results.append(row)
                print(json.dumps(row))
        finally:
            if cluster is not None:
                cluster.stop()
    load = os.getloadavg()
    summary = {"results": results, "cpus": os.cpu_count(), "loadavg_1_5_15": [round(x, 2) for x in load]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{'launcher':8} {'jobs':>4} {'wall s':>7} {'s/job':>6} {'in train()':>10} {'overhead/job':>12}")
    for r in results:
        print(
            f"{r['launcher']:8} {r['jobs']:4d} {r['wall_s']:7.1f} {r['wall_per_job_s']:6.1f} "
            f"{r['mean_in_train_s']:10.2f} {r['overhead_per_job_s']:12.1f}"
        )
    print(
        f"load average at the end (1, 5, 15 min): {summary['loadavg_1_5_15']} on {summary['cpus']} CPUs -> {args.out}"
    )


if __name__ == "__main__":
    main()
