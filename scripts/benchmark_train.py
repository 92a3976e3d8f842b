"""Training throughput (images/s) of the project's path against the plain alternatives, on the same model.

    python scripts/benchmark_train.py [--width 6] [--epochs 4] [--images 20000] [--batch-size 128]
    python scripts/benchmark_train.py --family autoencoder|transformer|all   (the vision families, see below)

Three ways to train the same LeNet on the same MNIST images, run in rounds of one epoch each (interleaved, so that
the machine's drifting speed affects all alike); images/s is the median over the rounds after the first (warm-up),
and each ratio the median of the within-round ratios, printed with their range:
  project      MNISTDataModule (in-memory normalised float32 tensors, whole-batch gathers) + ClassifierModule + Trainer,
               with the optimizer of configs/model/<family>.yaml (Adam, foreach; lr as the plain loop's) and, for
               LeNet, its channels_last_on_cpu (NHWC on the CPU; ``--no-channels-last``: NCHW)
  plain        a minimal PyTorch loop over the same in-memory tensors and model: the naive eager reference
               (torch.optim.Adam with its defaults, which on CPU steps one parameter tensor at a time)
  torchvision  torchvision.datasets.MNIST + ToTensor + DataLoader (per-item PIL decode and collate)
Prints images/s for each and the ratios project/plain and project/torchvision. A benchmark, not a test: run it on
a quiet machine. Needs DATA_DIR with MNIST/raw (as for training).

``--family autoencoder`` / ``transformer`` (``all``: every family) time the autoencoder on CIFAR-10 JPEGs and the
Omniglot transformer the same way (project path against a plain loop on the same tensors; no torchvision pipeline
exists for them), plus the data loading: first decode (into a fresh temporary cache) and the cached load.
``--epochs`` is the number of rounds. ``--fused``: the project's Adam with ``fused=True`` instead of foreach (one
kernel per step; faster still, but not bitwise equal to the loop: trained weights differ by float rounding, which
is why the configs use foreach).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from src.datamodules.mnist import MEAN, STD, MNISTDataModule, load_mnist
from src.models.classifier_module import ClassifierModule
from src.models.lenet import LeNet

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "model"
# --clock cpu: time.process_time (this process's CPU seconds: robust to a loaded machine)
CLOCK = [time.perf_counter]


def configured_optimizer(family: str, fused: bool = False, lr: float = 1e-3):
    """The optimizer partial of ``configs/model/<family>.yaml`` at the plain loop's learning rate."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(CONFIGS / f"{family}.yaml").module.optimizer
    cfg.lr = lr
    if fused:
        cfg.foreach, cfg.fused = None, True
    return instantiate(cfg)


class EpochTimer(L.Callback):
    def __init__(self):
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = CLOCK[0]()

    def on_train_epoch_end(self, trainer, pl_module):
        self.times.append(CLOCK[0]() - self._start)


# Each pipeline is an endless generator that trains one more epoch per next() and yields its seconds, so that
# `_interleave` can run the pipelines in rounds (one epoch each) and compare them within a round: on a shared or
# virtual machine the speed drifts by 10-30% over minutes, which timing the pipelines one after another would
# attribute to whichever ran in the slow stretch.


def _lightning_epochs(model, dm) -> Iterator[float]:
    """The project's path: one ``Trainer.fit`` of one epoch per round on the same model and datamodule (only the
    epoch is timed; the optimizer restarts each round, which does not change the work per step)."""
    while True:
        timer = EpochTimer()
        trainer = L.Trainer(
            max_epochs=1,
            accelerator="cpu",
            devices=1,
            logger=False,
            callbacks=[timer],
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            num_sanity_val_steps=0,
            use_distributed_sampler=False,
        )
        trainer.fit(model, datamodule=dm)
        yield timer.times[0]


def _plain_epochs(model, batches, step) -> Iterator[float]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    while True:
        start = CLOCK[0]()
        for batch in batches():
            loss = step(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        yield CLOCK[0]() - start


def _interleave(pipelines: dict[str, Iterator[float]], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in pipelines}
    for _ in range(rounds):
        for name, epochs in pipelines.items():
            times[name].append(next(epochs))
    return times


def _report(times: dict[str, list[float]], usable: int, targets: dict[str, float]) -> None:
    """images/s per pipeline (median over the rounds after the first, which is warm-up) and, for each other
    pipeline, the median over those rounds of the within-round speed ratio project / other."""
    timed = slice(1, None) if len(times["project"]) > 1 else slice(None)
    for name, ts in times.items():
        rate = usable / statistics.median(ts[timed])
        print(f"  {name:12s} {rate:9.0f} images/s   (epoch times: {', '.join(f'{t:.2f}s' for t in ts)})")
    for other, target in targets.items():
        ratios = [o / p for p, o in zip(times["project"][timed], times[other][timed], strict=True)]
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(
            f"  project / {other:11s} = {statistics.median(ratios):.2f}x  (rounds: {spread}; target >= {target:g}x)"
        )


def lenet_pipelines(data_dir: str, args, stack: contextlib.ExitStack) -> dict[str, Iterator[float]]:
    """The three LeNet pipelines on the same images: project, plain loop, torchvision's MNIST + DataLoader."""
    from omegaconf import OmegaConf
    from torchvision import datasets, transforms

    dm = MNISTDataModule(data_dir, batch_size=args.batch_size, train_subset=args.images, download=False)
    channels_last = OmegaConf.load(CONFIGS / "lenet.yaml").module.get("channels_last_on_cpu", False)
    project = ClassifierModule(
        LeNet(args.width),
        optimizer=configured_optimizer("lenet", args.fused),
        channels_last_on_cpu=bool(channels_last) and not args.no_channels_last,
    )

    data = load_mnist(data_dir)
    images = data["train_images"][: args.images].unsqueeze(1)
    labels = data["train_labels"][: args.images].long()
    gen = torch.Generator().manual_seed(0)
    bs = args.batch_size

    def batches():
        perm = torch.randperm(len(labels), generator=gen)
        for idx in perm[: len(perm) // bs * bs].split(bs):
            yield images[idx].float().div_(255).sub_(MEAN).div_(STD), labels[idx]

    def step(model, batch):
        x, y = batch
        return F.cross_entropy(model(x), y)

    # torchvision unpacks the .gz next to them: a temporary copy, never DATA_DIR
    tmp = stack.enter_context(tempfile.TemporaryDirectory())
    shutil.copytree(Path(data_dir) / "MNIST" / "raw", Path(tmp) / "MNIST" / "raw")
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    ds = torch.utils.data.Subset(
        datasets.MNIST(tmp, train=True, download=True, transform=tf), range(args.images)
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, drop_last=True)
    return {
        "project": _lightning_epochs(project, dm),
        "plain": _plain_epochs(LeNet(args.width), batches, step),
        "torchvision": _plain_epochs(LeNet(args.width), lambda: loader, step),
    }


def _time_loads(load, data_dir: str) -> tuple[float, float]:
    """Seconds for the first decode (into a fresh temporary cache) and for the cached load after it."""
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        load(data_dir, cache)
        first = time.perf_counter() - start
        start = time.perf_counter()
        load(data_dir, cache)
        return first, time.perf_counter() - start


def autoencoder_pipelines(
    data_dir: str, args, stack: contextlib.ExitStack
) -> tuple[dict[str, Iterator[float]], int, str]:
    from src.datamodules.cifar import CIFARDataModule, load_cifar10_jpg
    from src.metrics.reconstruction import squared_errors
    from src.models.autoencoder import ShallowAutoencoder
    from src.models.autoencoder_module import AutoencoderModule

    first, cached = _time_loads(load_cifar10_jpg, data_dir)
    print(f"  cifar10-jpg.zip: first decode {first:.1f} s, cached load {cached:.2f} s")
    width, bs = args.ae_width, args.batch_size
    dm = CIFARDataModule(
        data_dir, source="cifar10_jpg", cache_dir=None, batch_size=bs, train_subset=args.images
    )
    dm.setup()
    images = dm.train_set.tensors[0]
    model = AutoencoderModule(
        ShallowAutoencoder(width), optimizer=configured_optimizer("autoencoder", args.fused)
    )
    gen = torch.Generator().manual_seed(0)

    def batches():
        perm = torch.randperm(len(images), generator=gen)
        for idx in perm[: len(perm) // bs * bs].split(bs):
            yield images[idx].float().div_(255)

    pipelines = {
        "project": _lightning_epochs(model, dm),
        "plain": _plain_epochs(
            ShallowAutoencoder(width), batches, lambda m, x: squared_errors(x, m(x)).mean()
        ),
    }
    return pipelines, len(images) // bs * bs, f"autoencoder width={width}, batch {bs}"


def transformer_pipelines(
    data_dir: str, args, stack: contextlib.ExitStack
) -> tuple[dict[str, Iterator[float]], int, str]:
    from src.datamodules.omniglot import OmniglotSequenceDataModule, load_omniglot
    from src.models.seq_transformer import OmniglotTransformer
    from src.models.sequence_module import SequenceClassifierModule

    first, cached = _time_loads(load_omniglot, data_dir)
    print(f"  omniglot-py folders: first decode {first:.1f} s, cached load {cached:.2f} s")
    width, bs, seq_len = args.tf_width, args.seq_batch_size, 5
    n_seq = max(bs, args.images // seq_len)
    cache = stack.enter_context(tempfile.TemporaryDirectory())
    dm = OmniglotSequenceDataModule(data_dir, cache, train_sequences=n_seq, batch_size=bs, seq_len=seq_len)
    dm.setup()
    flat, labels = dm.train_set.tensors[0], dm.train_set.tensors[1]
    model = SequenceClassifierModule(
        OmniglotTransformer(width, dm.num_classes, max_len=seq_len),
        optimizer=configured_optimizer("transformer", args.fused),
        num_classes=dm.num_classes,
    )
    pool = dm.pools["train"].reshape(-1, 1, 28, 28)
    gen = torch.Generator().manual_seed(0)

    def batches():
        perm = torch.randperm(len(labels), generator=gen)
        for idx in perm[: len(perm) // bs * bs].split(bs):
            f = flat[idx]
            yield pool[f.flatten()].view(*f.shape, 1, 28, 28).float().div_(255), labels[idx]

    def step(m, batch):
        x, y = batch
        return F.cross_entropy(m(x, y).flatten(0, 1), y.flatten())

    pipelines = {
        "project": _lightning_epochs(model, dm),
        "plain": _plain_epochs(OmniglotTransformer(width, dm.num_classes, max_len=seq_len), batches, step),
    }
    usable = len(labels) // bs * bs * seq_len
    return pipelines, usable, f"transformer width={width}, batch {bs} x {seq_len} images"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--width", type=float, default=6, help="LeNet width (6 = LeNet-5; fractions shrink it)"
    )
    parser.add_argument(
        "--epochs", type=int, default=4, help="timed epochs per pipeline; the first is warm-up"
    )
    parser.add_argument("--images", type=int, default=20000, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR"))
    parser.add_argument("--family", choices=["lenet", "autoencoder", "transformer", "all"], default="lenet")
    parser.add_argument("--ae-width", type=int, default=256, help="autoencoder bottleneck width")
    parser.add_argument("--tf-width", type=int, default=32, help="transformer d_model")
    parser.add_argument("--seq-batch-size", type=int, default=64, help="sequences per transformer batch")
    parser.add_argument(
        "--fused", action="store_true", help="project path: Adam fused=True instead of foreach"
    )
    parser.add_argument(
        "--no-channels-last",
        action="store_true",
        help="project path: LeNet in NCHW, as before channels_last_on_cpu (configs/model/lenet.yaml)",
    )
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="time epochs by wall clock (default) or by this process's CPU time (with --threads 1, the work done, "
        "nearly unaffected by other processes on a loaded machine)",
    )
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("set DATA_DIR or pass --data-dir (the folder holding MNIST/raw)")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu":
        CLOCK[0] = time.process_time
    L.seed_everything(0, workers=True)
    print(
        f"{torch.get_num_threads()} threads, {args.epochs} rounds of one epoch per pipeline (the first is warm-up), "
        f"{args.clock} clock, load average {os.getloadavg()[0]:.1f}"
    )
    families = {"autoencoder": autoencoder_pipelines, "transformer": transformer_pipelines}
    for family, build in families.items():
        if args.family in (family, "all"):
            with contextlib.ExitStack() as stack:
                pipelines, usable, what = build(args.data_dir, args, stack)
                print(f"{what}, {usable} images/epoch")
                _report(_interleave(pipelines, args.epochs), usable, {"plain": 1.0})
    if args.family in ("lenet", "all"):
        usable = args.images // args.batch_size * args.batch_size
        print(f"LeNet width={args.width}, batch {args.batch_size}, {usable} images/epoch")
        with contextlib.ExitStack() as stack:
            times = _interleave(lenet_pipelines(args.data_dir, args, stack), args.epochs)
        _report(times, usable, {"plain": 1.0, "torchvision": 3})


if __name__ == "__main__":
    main()
