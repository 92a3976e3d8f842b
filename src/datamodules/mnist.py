"""MNIST read from the four official IDX files, held in memory as normalised float32 images (normalised once per
split, not once per batch)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import Tensor

from src.datamodules.base import InMemoryDataModule, TensorBatches
from src.datamodules.checksums import data_source, verify_known
from src.datamodules.idx import DataMissingError, read_idx

log = logging.getLogger(__name__)

FILES = {
    "train_images": ("train-images-idx3-ubyte", 2051),
    "train_labels": ("train-labels-idx1-ubyte", 2049),
    "test_images": ("t10k-images-idx3-ubyte", 2051),
    "test_labels": ("t10k-labels-idx1-ubyte", 2049),
}
MEAN, STD = 0.1307, 0.3081  # the training set's pixel statistics, the usual MNIST constants


def normalise(images: Tensor) -> Tensor:
    """uint8 pixels -> float32 ``(x / 255 - MEAN) / STD``, elementwise the same as normalising batch by batch.

    The splits are held normalised (4 bytes a pixel, 220 MB for MNIST's three splits) rather than normalised per
    batch: a training batch is then one gather of floats instead of a gather and three elementwise passes (128
    images: 42 instead of 129 us of CPU, one thread; about 0.6% of a LeNet-5 step, 2% of a width-1 step at 256);
    a GPU copies 4x the bytes per batch, which at 0.4 MB a batch is negligible."""
    return images.float().div_(255.0).sub_(MEAN).div_(STD)


def _find(raw_dir: Path, name: str) -> Path | None:
    for candidate in (raw_dir / f"{name}.gz", raw_dir / name):
        if candidate.is_file():
            return candidate
    return None


def _missing_error(raw_dirs: list[Path], missing: list[str]) -> DataMissingError:
    where = " or ".join(str(d) for d in raw_dirs)
    return DataMissingError(
        f"MNIST files missing: {', '.join(missing)} (each as .gz or uncompressed) in {where}. "
        "Set DATA_DIR (or data.data_dir) to the folder that holds MNIST/raw/, or get the four files "
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz from the official MNIST mirrors (torchvision.datasets.MNIST(root, download=True) "
        "fetches them into root/MNIST/raw) and place them there."
    )


def locate_mnist(
    data_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None, download: bool = False
) -> dict[str, Path]:
    """Paths of the four IDX files: in ``data_dir/MNIST/raw``, else ``cache_dir/MNIST/raw``, else downloaded there.

    Never writes into ``data_dir``. A failed download ends in one error naming what is expected where.
    """
    raw_dirs = [Path(data_dir) / "MNIST" / "raw"]
    if cache_dir is not None:
        raw_dirs.append(Path(cache_dir) / "MNIST" / "raw")
    for raw_dir in raw_dirs:
        found = {key: _find(raw_dir, name) for key, (name, _) in FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
    missing = [name for key, (name, _) in FILES.items() if _find(raw_dirs[0], name) is None]
    if download and cache_dir is not None:
        log.info("MNIST not found in %s; trying torchvision's download into %s", raw_dirs[0], cache_dir)
        try:
            from torchvision.datasets import MNIST

            MNIST(str(cache_dir), train=True, download=True)
            MNIST(str(cache_dir), train=False, download=True)
        except Exception as err:  # any network or mirror failure ends in the same clear error below
            raise _missing_error(raw_dirs, missing) from err
        return locate_mnist(data_dir, cache_dir, download=False)
    raise _missing_error(raw_dirs, missing)


def load_mnist(
    data_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
) -> dict[str, Tensor]:
    """The four MNIST arrays as uint8 tensors (images ``[n, 28, 28]``, labels ``[n]``), checked for consistency;
    ``verify``: each file must have torchvision's md5 (src/datamodules/checksums.py).

    Kept for the process (the tensors are shared: do not modify them in place): the jobs of a multirun, which the
    basic launcher runs in one process, read, decompress and checksum the files once. A file whose size or
    modification time changed is read again."""
    paths = locate_mnist(data_dir, cache_dir, download)
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths.values())
    hit = _LOADED.get(key)
    if hit is not None and (hit[0] or not verify):
        return dict(hit[1])
    out = _read_mnist(paths, verify)
    _LOADED.clear()  # one dataset at a time
    _LOADED[key] = (verify, out)
    return dict(out)


_LOADED: dict[tuple, tuple[bool, dict[str, Tensor]]] = {}


def _read_mnist(paths: dict[str, Path], verify: bool) -> dict[str, Tensor]:
    for path in paths.values():
        verify_known(path, f"MNIST/raw/{path.name}", verify)
    out = {key: read_idx(paths[key], expect_magic=FILES[key][1]) for key in FILES}
    for split in ("train", "test"):
        images, labels = out[f"{split}_images"], out[f"{split}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{paths[f'{split}_images']} holds {images.shape[0]} images but {paths[f'{split}_labels']} "
                f"holds {labels.shape[0]} labels"
            )
        if labels.numel() and int(labels.max()) > 9:
            raise ValueError(f"{paths[f'{split}_labels']} has labels above 9; it is not an MNIST labels file")
    return out


# (split_seed, val_size, train_subset) -> (the loaded train images the split was cut from, (train, val, test)); the
# tensors are shared by the jobs that use them and never modified in place (a batch is a gathered copy)
_SPLITS: dict[tuple, tuple[Tensor, tuple[TensorBatches, TensorBatches, TensorBatches]]] = {}


class MNISTDataModule(InMemoryDataModule):
    """MNIST: a train/val split of the 60k training images seeded by ``split_seed`` (the same for every run of a
    sweep), the official 10k as test set; ``seed`` shuffles the training batches.

    Batches are ``(images float [B, 1, 28, 28] normalised, labels long [B], item index long [B])``; the splits are
    held normalised (:func:`normalise`), so no per-batch transform.
    """

    def __init__(
        self,
        data_dir: str,
        cache_dir: str | None = None,
        val_size: int = 5000,
        split_seed: int = 0,
        batch_size: int = 256,
        eval_batch_size: int | None = 1000,
        seed: int = 0,
        download: bool = True,
        train_subset: int | None = None,
        pin_memory: bool = False,
        verify_checksums: bool = True,
    ):
        super().__init__(
            batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed, pin_memory=pin_memory
        )
        self.data_dir, self.cache_dir, self.download = data_dir, cache_dir, download
        if (
            train_subset is not None and train_subset < 1
        ):  # 0 trained nothing and still recorded a finished run
            raise ValueError(
                f"data.train_subset must be a positive number of images or null, got {train_subset}"
            )
        self.val_size, self.split_seed, self.train_subset = val_size, split_seed, train_subset
        self.num_classes = 10
        self.verify_checksums = verify_checksums

    def data_source(self) -> dict[str, object]:
        """The four files' fingerprint and whether they were verified (src/datamodules/checksums.py:data_source),
        part of the job's identity: a job run on another copy of the data is another job."""
        paths = locate_mnist(self.data_dir, self.cache_dir, self.download)
        return data_source({f"MNIST/raw/{p.name}": p for p in paths.values()}, self.verify_checksums)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        data = load_mnist(self.data_dir, self.cache_dir, self.download, self.verify_checksums)
        n = data["train_images"].shape[0]
        if not 0 < self.val_size < n:
            raise ValueError(f"data.val_size must be between 1 and {n - 1}, got {self.val_size}")
        # the jobs of a multirun (one process) share the split: gathered once per (data, split), not per job
        key = (self.split_seed, self.val_size, self.train_subset)
        hit = _SPLITS.get(key)
        if hit is None or hit[0] is not data["train_images"]:
            _SPLITS.clear()
            _SPLITS[key] = (data["train_images"], self._split(data))
        self.train_set, self.val_set, self.test_set = _SPLITS[key][1]

    def _split(self, data: dict[str, Tensor]) -> tuple[TensorBatches, TensorBatches, TensorBatches]:
        n = data["train_images"].shape[0]
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.split_seed))
        val_idx, train_idx = perm[: self.val_size], perm[self.val_size :]
        if self.train_subset is not None:
            train_idx = train_idx[: self.train_subset]
        images, labels = data["train_images"].unsqueeze(1), data["train_labels"].long()
        test_images, test_labels = data["test_images"].unsqueeze(1), data["test_labels"].long()
        return (
            TensorBatches(normalise(images[train_idx]), labels[train_idx], train_idx),
            TensorBatches(normalise(images[val_idx]), labels[val_idx], val_idx),
            TensorBatches(normalise(test_images), test_labels, torch.arange(test_labels.numel())),
        )
