"""Training throughput (images/s) of the project's path against the plain alternatives, on the same model.

    python scripts/benchmark_train.py [--width 6] [--epochs 4] [--images 20000] [--batch-size 128]
    python scripts/benchmark_train.py --family autoencoder|transformer|all   (the vision families, see below)

Three ways to train the same LeNet on the same MNIST images, each timed per epoch (median over the epochs after
the first, which is warm-up):
  project      MNISTDataModule (in-memory uint8 tensors, whole-batch gathers) + ClassifierModule + Lightning Trainer
  plain        a minimal PyTorch loop over the same in-memory tensors and model (the floor for any framework)
  torchvision  torchvision.datasets.MNIST + ToTensor + DataLoader (per-item PIL decode and collate)
Prints images/s for each and the ratios project/plain and project/torchvision. A benchmark, not a test: run it on
a quiet machine. Needs DATA_DIR with MNIST/raw (as for training).

``--family autoencoder`` / ``transformer`` (``all``: every family) time the autoencoder on CIFAR-10 JPEGs and the
Omniglot transformer the same way (project path against a plain loop on the same tensors; no torchvision pipeline
exists for them), plus the data loading: first decode (into a fresh temporary cache) and the cached load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from src.datamodules.mnist import MEAN, STD, MNISTDataModule, load_mnist
from src.models.classifier_module import ClassifierModule
from src.models.lenet import LeNet


class EpochTimer(L.Callback):
    def __init__(self):
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.times.append(time.perf_counter() - self._start)


def bench_project(data_dir: str, args) -> list[float]:
    dm = MNISTDataModule(data_dir, batch_size=args.batch_size, train_subset=args.images, download=False)
    model = ClassifierModule(LeNet(args.width), optimizer=lambda params: torch.optim.Adam(params, lr=1e-3))
    return _lightning_fit(model, dm, args.epochs)


def bench_plain(data_dir: str, args) -> list[float]:
    data = load_mnist(data_dir)
    images, labels = (
        data["train_images"][: args.images].unsqueeze(1),
        data["train_labels"][: args.images].long(),
    )
    model = LeNet(args.width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(labels), generator=gen)
        for idx in perm[: len(perm) // args.batch_size * args.batch_size].split(args.batch_size):
            x = images[idx].float().div_(255).sub_(MEAN).div_(STD)
            loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def bench_torchvision(data_dir: str, args) -> list[float]:
    from torchvision import datasets, transforms

    with tempfile.TemporaryDirectory() as tmp:  # torchvision unpacks the .gz next to them: never in DATA_DIR
        shutil.copytree(Path(data_dir) / "MNIST" / "raw", Path(tmp) / "MNIST" / "raw")
        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
        ds = datasets.MNIST(tmp, train=True, download=True, transform=tf)
        ds = torch.utils.data.Subset(ds, range(args.images))
        loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, drop_last=True)
        model = LeNet(args.width)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            times.append(time.perf_counter() - start)
        return times


def _lightning_fit(model, dm, epochs: int) -> list[float]:
    timer = EpochTimer()
    trainer = L.Trainer(
        max_epochs=epochs,
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
    return timer.times


def _plain_fit(model, batches, step, epochs: int) -> list[float]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for batch in batches():
            loss = step(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def _time_loads(load, data_dir: str) -> tuple[float, float]:
    """Seconds for the first decode (into a fresh temporary cache) and for the cached load after it."""
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        load(data_dir, cache)
        first = time.perf_counter() - start
        start = time.perf_counter()
        load(data_dir, cache)
        return first, time.perf_counter() - start


def bench_autoencoder(data_dir: str, args) -> tuple[dict[str, list[float]], int, str]:
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
        ShallowAutoencoder(width), optimizer=lambda params: torch.optim.Adam(params, lr=1e-3)
    )
    project = _lightning_fit(model, dm, args.epochs)
    gen = torch.Generator().manual_seed(0)

    def batches():
        perm = torch.randperm(len(images), generator=gen)
        for idx in perm[: len(perm) // bs * bs].split(bs):
            yield images[idx].float().div_(255)

    plain = _plain_fit(
        ShallowAutoencoder(width), batches, lambda m, x: squared_errors(x, m(x)).mean(), args.epochs
    )
    usable = len(images) // bs * bs
    return {"project": project, "plain": plain}, usable, f"autoencoder width={width}, batch {bs}"


def bench_transformer(data_dir: str, args) -> tuple[dict[str, list[float]], int, str]:
    from src.datamodules.omniglot import OmniglotSequenceDataModule, load_omniglot
    from src.models.seq_transformer import OmniglotTransformer
    from src.models.sequence_module import SequenceClassifierModule

    first, cached = _time_loads(load_omniglot, data_dir)
    print(f"  omniglot-py folders: first decode {first:.1f} s, cached load {cached:.2f} s")
    width, bs, seq_len = args.tf_width, args.seq_batch_size, 5
    n_seq = max(bs, args.images // seq_len)
    with tempfile.TemporaryDirectory() as cache:
        dm = OmniglotSequenceDataModule(
            data_dir, cache, train_sequences=n_seq, batch_size=bs, seq_len=seq_len
        )
        dm.setup()
    flat, labels = dm.train_set.tensors[0], dm.train_set.tensors[1]
    model = SequenceClassifierModule(
        OmniglotTransformer(width, dm.num_classes, max_len=seq_len),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        num_classes=dm.num_classes,
    )
    project = _lightning_fit(model, dm, args.epochs)
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

    plain = _plain_fit(
        OmniglotTransformer(width, dm.num_classes, max_len=seq_len), batches, step, args.epochs
    )
    usable = len(labels) // bs * bs * seq_len
    return (
        {"project": project, "plain": plain},
        usable,
        f"transformer width={width}, batch {bs} x {seq_len} images",
    )


def _report(times: dict[str, list[float]], usable: int) -> dict[str, float]:
    rates = {}
    for name, ts in times.items():
        rates[name] = usable / statistics.median(ts[1:] if len(ts) > 1 else ts)
        print(
            f"  {name:12s} {rates[name]:9.0f} images/s   (epoch times: {', '.join(f'{t:.2f}s' for t in ts)})"
        )
    print(f"  project / plain = {rates['project'] / rates['plain']:.2f}x  (target >= 0.9x)")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--width", type=int, default=6, help="LeNet width (6 = LeNet-5)")
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
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("set DATA_DIR or pass --data-dir (the folder holding MNIST/raw)")
    if args.threads:
        torch.set_num_threads(args.threads)
    L.seed_everything(0, workers=True)
    for family, bench in (("autoencoder", bench_autoencoder), ("transformer", bench_transformer)):
        if args.family in (family, "all"):
            print(f"{family}: {args.epochs} epochs, {torch.get_num_threads()} threads")
            times, usable, what = bench(args.data_dir, args)
            print(f"  {what}, {usable} images/epoch")
            _report(times, usable)
    if args.family not in ("lenet", "all"):
        return
    usable = args.images // args.batch_size * args.batch_size
    print(
        f"LeNet width={args.width}, {usable} images/epoch, batch {args.batch_size}, {args.epochs} epochs, "
        f"{torch.get_num_threads()} threads"
    )
    rates = {}
    for name, fn in (("project", bench_project), ("plain", bench_plain), ("torchvision", bench_torchvision)):
        times = fn(args.data_dir, args)
        rates[name] = usable / statistics.median(times[1:] if len(times) > 1 else times)
        print(
            f"  {name:12s} {rates[name]:9.0f} images/s   (epoch times: {', '.join(f'{t:.2f}s' for t in times)})"
        )
    print(f"project / plain       = {rates['project'] / rates['plain']:.2f}x  (target >= 0.9x)")
    print(f"project / torchvision = {rates['project'] / rates['torchvision']:.2f}x  (target >= 3x)")


if __name__ == "__main__":
    main()
