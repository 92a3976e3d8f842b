"""How much of a training step the GPU spends in kernels, for the LeNet and arithmetic sweeps' models.

    python scripts/gpu_check.py                       # on a GPU: every width of both sweeps
    python scripts/gpu_check.py --dry-run             # on this CPU: the same code path, smallest and largest widths
    python scripts/gpu_check.py --families lenet --widths 1 32 --precision bf16-mixed

For each family (``lenet``: experiment=lenet_mnist, ``arithmetic``: experiment=arithmetic_2dm_gpu) and each width
of its sweep, the project's own path is built from the composed Hydra config (datamodule, LightningModule,
optimizer) and trained by a Lightning Trainer for ``--warmup`` + ``--steps`` optimizer steps; the last ``--steps``
run under ``torch.profiler``. Printed per width: parameters, milliseconds per step (wall clock, the device
synchronised at both ends), and the share of that time the device spent in kernels (the summed self time of the
profiler's CUDA kernel events over the wall time of the profiled steps), with the costliest kernel. A share far
below 1 means the GPU waits on Python, the data path or host syncs: a small model to batch up, a loop to fuse.

Without a GPU (or with ``--dry-run``) it runs the same code on the CPU and says so: the share printed there is the
share of step time inside aten ops (their self CPU time), the CPU analogue, not a GPU number. Needs DATA_DIR with
MNIST/raw and llm/gpt3_arithmetic_problems. ``--out DIR`` also writes gpu_check.json there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EXPERIMENTS = {"lenet": "lenet_mnist", "arithmetic": "arithmetic_2dm_gpu"}


def compose(experiment: str, width: str, overrides: list[str], out: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import open_dict

    from src.utils import resolvers  # noqa: F401  (registers the config resolvers)

    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(REPO / "configs")):
        cfg = hydra_compose(
            config_name="train", overrides=[f"experiment={experiment}", f"model.width={width}", *overrides]
        )
    with open_dict(cfg):
        cfg.paths.output_dir = cfg.paths.log_dir = out
        cfg.paths.cache_dir = str(Path(out) / "cache")
        if os.environ.get("DATA_DIR"):
            cfg.paths.data_dir = os.environ["DATA_DIR"]
    return cfg


def sweep_widths(experiment: str) -> list[str]:
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(REPO / "configs" / "experiment" / f"{experiment}.yaml")
    return [w.strip() for w in str(cfg.hydra.sweeper.params["model.width"]).split(",")]


def measure(cfg, device: str, warmup: int, steps: int, precision: str) -> dict:
    """Train ``warmup + steps`` steps of the composed run; profile the last ``steps``."""
    import lightning as L
    import torch
    from hydra.utils import instantiate
    from torch.profiler import ProfilerActivity, profile

    cuda = device == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    class Profiled(L.Callback):
        def __init__(self):
            self.prof, self.wall = None, 0.0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == warmup:
                acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
                self.prof = profile(activities=acts)
                sync()
                self.prof.__enter__()
                self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if self.prof is not None and trainer.global_step == warmup + steps and not self.wall:
                sync()
                self.wall = time.perf_counter() - self.start
                self.prof.__exit__(None, None, None)

    L.seed_everything(cfg.seed, workers=True)
    dm = instantiate(cfg.data, _convert_="all")
    module = instantiate(cfg.model.module, _convert_="all")
    cb = Profiled()
    trainer = L.Trainer(
        accelerator="gpu" if cuda else "cpu",
        devices=1,
        precision=precision,
        max_steps=warmup + steps,
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        use_distributed_sampler=False,
        callbacks=[cb],
    )
    trainer.fit(module, datamodule=dm)
    if not cb.wall:
        raise RuntimeError(
            f"the run ended before {warmup + steps} steps: raise data.train_size or lower --steps"
        )
    busy, per_name = 0.0, {}
    for evt in cb.prof.events():
        if cuda:
            if evt.device_type != torch.autograd.DeviceType.CUDA:
                continue
            t = getattr(evt, "self_device_time_total", None)
            t = evt.self_cuda_time_total if t is None else t
        else:
            if not evt.name.startswith("aten::"):
                continue
            t = evt.self_cpu_time_total
        busy += t
        per_name[evt.name] = per_name.get(evt.name, 0.0) + t
    top = max(per_name, key=per_name.get) if per_name else ""
    wall_us = cb.wall * 1e6
    return {
        "params": int(module.num_params),
        "ms_per_step": round(cb.wall / steps * 1e3, 3),
        "busy_share": round(busy / wall_us, 3),
        "top_op": top,
        "top_op_share": round(per_name.get(top, 0.0) / wall_us, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", nargs="+", choices=sorted(EXPERIMENTS), default=sorted(EXPERIMENTS))
    ap.add_argument("--widths", nargs="+", default=None, help="widths to run (default: the sweep's)")
    ap.add_argument("--warmup", type=int, default=None, help="steps before profiling (default 5; dry run 2)")
    ap.add_argument("--steps", type=int, default=None, help="profiled steps (default 20; dry run 3)")
    ap.add_argument("--precision", default="32-true", help="Trainer precision, e.g. bf16-mixed")
    ap.add_argument("--dry-run", action="store_true", help="run on the CPU even if a GPU is present")
    ap.add_argument("--out", type=Path, default=None, help="directory for gpu_check.json")
    args = ap.parse_args()
    logging.getLogger("lightning").setLevel(logging.WARNING)

    import torch

    gpu = torch.cuda.is_available() and not args.dry_run
    device = "cuda" if gpu else "cpu"
    if gpu:
        print(f"GPU: {torch.cuda.get_device_name(0)}; share = kernel time / step wall time")
    else:
        why = "--dry-run" if torch.cuda.is_available() else "no GPU on this machine"
        print(f"DRY RUN on the CPU ({why}): the same code path; the share printed is time in aten ops / step time "
              "(CPU), not a GPU kernel share")  # fmt: skip
        torch.set_num_threads(1)
    args.warmup = args.warmup if args.warmup is not None else (5 if gpu else 2)
    args.steps = args.steps if args.steps is not None else (20 if gpu else 3)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        for family in args.families:
            experiment = EXPERIMENTS[family]
            widths = args.widths or sweep_widths(experiment)
            if not gpu and args.widths is None:
                widths = [widths[0], widths[-1]]  # a dry run checks the path, not every width
            for width in widths:
                cfg = compose(experiment, width, [], tmp)
                need = (args.warmup + args.steps + 2) * int(cfg.data.batch_size)
                size_key = "train_subset" if "train_subset" in cfg.data else "train_size"
                overrides = [f"data.{size_key}={need}", "logger=none", "callbacks=none"]
                if "val_size" in cfg.data and family == "arithmetic":
                    overrides += ["data.val_size=100", "data.extra_size=0"]
                cfg = compose(experiment, width, overrides, tmp)
                start = time.perf_counter()
                r = measure(cfg, device, args.warmup, args.steps, args.precision)
                row = {"family": family, "experiment": experiment, "width": width, "device": device, **r,
                       "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
                rows.append(row)
                print(f"{family:10s} width {width:>5s} {r['params']:>10,d} params  {r['ms_per_step']:9.2f} ms/step  "
                      f"share {r['busy_share']:.2f}  top: {r['top_op']} ({r['top_op_share']:.2f})", flush=True)  # fmt: skip
    shares = [r["busy_share"] for r in rows]
    print(f"{'kernel' if gpu else 'aten-op (CPU dry run)'} share of step time: median {statistics.median(shares):.2f}, "
          f"range {min(shares):.2f}-{max(shares):.2f} over {len(rows)} runs")  # fmt: skip
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_check.json").write_text(json.dumps({"gpu": gpu, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
