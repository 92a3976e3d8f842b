"""Per-job overhead of a Hydra multirun: everything a job costs except its training epochs.

Runs ``python train.py -m experiment=<experiment> seed=0..J-1`` with a one-batch training epoch
(``trainer.limit_train_batches=1``), so a job is: Hydra's job setup, seeding, building the datamodule (reading the
data) and model, the trainer, one validation pass, the test pass, the per-item arrays, the run record and the sweep
callback. The per-job overhead is the median gap between consecutive jobs' ``metrics.json`` writes (the first job
also pays the imports and is left out); ``train()``'s own wall time per job (from the records) is printed next to it.
The gaps leave out what the sweep does for every job before the first starts (Hydra's basic sweeper composes each
job's config once to validate the batch), so the wall time per extra job (J-job minus one-job multirun) is printed too.
On a busy machine wall time says little, so the CPU time (user + sys) per job is measured too, load-independently:
a one-job multirun is run as well, and (CPU of the J-job multirun - CPU of the one-job multirun) / (J - 1).

    python scripts/benchmark_multirun_overhead.py --jobs 6
    python scripts/benchmark_multirun_overhead.py --experiment transformer_omniglot --width 8
    python scripts/benchmark_multirun_overhead.py --jobs 6 hydra/sweeper=basic   # Hydra's own sweeper (before)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiment", default="lenet_mnist")
    ap.add_argument("--width", default="1", help="model.width of every job (default 1)")
    ap.add_argument(
        "--jobs", type=int, default=6, help="jobs in the multirun (default 6; the first is left out)"
    )
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS (default 1)")
    ap.add_argument(
        "overrides", nargs="*", help="more train.py overrides for every job (e.g. hydra/sweeper=basic)"
    )
    args = ap.parse_args()
    if args.jobs < 3:
        ap.error("--jobs must be at least 3 (the first job is left out of the median)")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), WANDB_MODE="offline")

    def multirun(n_jobs: int, log_dir: str) -> tuple[float, float, float]:
        """(start time, wall s, CPU s of the child) of an n_jobs multirun."""
        cmd = [sys.executable, "train.py", "-m", f"experiment={args.experiment}", f"model.width={args.width}",
               "seed=" + ",".join(str(s) for s in range(n_jobs)), "trainer.limit_train_batches=1",
               "trainer.max_epochs=1", "logger=csv", f"paths.log_dir={log_dir}", *args.overrides]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.time()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.time() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
            raise SystemExit(f"the multirun failed (exit {proc.returncode}): {' '.join(cmd)}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return start, wall, cpu

    with tempfile.TemporaryDirectory() as one:
        _, wall_1, cpu_1 = multirun(1, one)
    with tempfile.TemporaryDirectory() as tmp:
        start, total, cpu_j = multirun(args.jobs, tmp)
        records = sorted(Path(tmp).glob("sweeps/*/*/metrics.json"), key=lambda p: p.stat().st_mtime)
        if len(records) != args.jobs:
            raise SystemExit(f"expected {args.jobs} run records under {tmp}, found {len(records)}")
        done = [p.stat().st_mtime for p in records]
        gaps = [b - a for a, b in zip(done, done[1:], strict=False)]
        inner = [json.loads(p.read_text())["wall_time_s"] for p in records]
    load = os.getloadavg()[0]
    print(f"{args.experiment} width {args.width}, {args.jobs} jobs, 1 training batch each, "
          f"OMP_NUM_THREADS={args.threads}, load average {load:.1f}", *args.overrides)  # fmt: skip
    print(
        f"multirun wall time {total:.1f} s; first job done {done[0] - start:.1f} s after the start (imports)"
    )
    print(f"per-job overhead (median gap between jobs 2..{args.jobs}): {statistics.median(gaps):.2f} s "
          f"(range {min(gaps):.2f}-{max(gaps):.2f})")  # fmt: skip
    print(
        f"train() wall time per job (record wall_time_s, jobs 2..): median {statistics.median(inner[1:]):.2f} s"
    )
    print(f"CPU time: one-job multirun {cpu_1:.1f} s (wall {wall_1:.1f} s), {args.jobs}-job multirun {cpu_j:.1f} s; "
          f"per extra job {(cpu_j - cpu_1) / (args.jobs - 1):.2f} CPU s")  # fmt: skip
    # the gaps leave out what a sweep does once per job before the first one starts (Hydra's basic sweeper composes
    # every job's config to validate the batch); the extra wall time per extra job counts it
    print(f"wall time per extra job ({args.jobs}-job minus one-job multirun, / {args.jobs - 1}): "
          f"{(total - wall_1) / (args.jobs - 1):.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
