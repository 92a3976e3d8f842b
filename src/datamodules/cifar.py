"""Natural 32x32 RGB images for the autoencoder family, from two sources behind one datamodule.

- ``source="cifar100"``: the official CIFAR-100 python pickles ``<data_dir>/cifar-100-python/{train,test,meta}``
  (as in the tarball; ``torchvision.datasets.CIFAR100(root, download=True)`` fetches them), read directly into
  uint8 tensors with a data-only unpickler (numpy arrays, lists, dicts, bytes, str, numbers; never code), checked
  against torchvision's md5s unless ``verify_checksums=false``.
- ``source="cifar10_jpg"``: ``<data_dir>/cifar10-jpg.zip`` with entries ``cifar10-jpg/{train,test}/<class>/NNNN.jpg``,
  decoded once and cached as a tensor file under ``cache_dir`` (never under ``data_dir``); later runs load the cache.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from src.datamodules.base import InMemoryDataModule, TensorBatches, cached_decode, check_images, check_labels
from src.datamodules.checksums import data_source, file_digest, verify_known
from src.datamodules.idx import CorruptDataError, DataMissingError

SOURCES = ("cifar100", "cifar10_jpg")
ZIP_NAME, ZIP_PREFIX = "cifar10-jpg.zip", "cifar10-jpg/"
CACHE_VERSION = 2

# The only globals a CIFAR pickle may name: numpy's array and scalar reconstruction (numpy 1 and 2 module names),
# and _codecs.encode, with which protocol-2 pickles written by Python 3 spell bytes (a pure str -> bytes function).
_PICKLE_GLOBALS = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, lists, dicts, bytes, str and numbers only: any other global (``os.system``,
    ``builtins.eval``, a class with a ``__reduce__``) is refused before it can run."""

    def find_class(self, module: str, name: str):
        if (module, name) in _PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name} (a CIFAR pickle holds data only)"
        )


# ---------------------------------------------------------------- CIFAR-100 pickles
def _unpickle(path: Path, verify: bool = True) -> dict:
    if not path.is_file():
        raise DataMissingError(
            f"CIFAR-100 file missing: {path}. Set DATA_DIR (or data.data_dir) to the folder that holds "
            "cifar-100-python/{train,test,meta}: unpack cifar-100-python.tar.gz from "
            "https://www.cs.toronto.edu/~kriz/cifar.html there, or run "
            "torchvision.datasets.CIFAR100(root, download=True) once."
        )
    verify_known(path, f"cifar-100-python/{path.name}", verify)
    try:
        with path.open("rb") as fh:
            d = _DataOnlyUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as err:
        raise CorruptDataError(
            f"{path} is not a readable CIFAR pickle ({err}); unpack the tarball again"
        ) from err
    if not isinstance(d, dict):
        raise CorruptDataError(f"{path} holds a {type(d).__name__}, not the dict of a CIFAR pickle")
    return d


def _get(d: dict, key: str):
    return d.get(key.encode(), d.get(key))


def read_cifar100(data_dir: str | os.PathLike, verify: bool = True) -> dict[str, Tensor | list[str]]:
    """CIFAR-100 as uint8 images ``[n, 3, 32, 32]`` and fine labels ``[n]`` (train 50k, test 10k), plus class names.
    ``verify``: check each file against torchvision's md5 (src/datamodules/checksums.py)."""
    root = Path(data_dir) / "cifar-100-python"
    out: dict[str, Tensor | list[str]] = {}
    for split in ("train", "test"):
        path = root / split
        d = _unpickle(path, verify)
        data, labels = _get(d, "data"), _get(d, "fine_labels")
        if data is None or labels is None:
            raise CorruptDataError(f"{path} lacks the 'data' or 'fine_labels' entry of a CIFAR-100 pickle")
        data = np.asarray(data, dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != len(labels):
            raise CorruptDataError(
                f"{path}: expected data [n, 3072] and n labels, got data {data.shape} and {len(labels)} labels"
            )
        out[f"{split}_images"] = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
        out[f"{split}_labels"] = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    names = _get(_unpickle(root / "meta", verify), "fine_label_names")
    out["classes"] = [n.decode() if isinstance(n, bytes) else str(n) for n in (names or [])]
    return out


# ---------------------------------------------------------------- CIFAR-10 as JPEGs in a zip
def _zip_path(data_dir: str | os.PathLike) -> Path:
    path = Path(data_dir) / ZIP_NAME
    if not path.is_file():
        raise DataMissingError(
            f"{path} not found. Set DATA_DIR (or data.data_dir) to the folder holding {ZIP_NAME} (entries "
            f"{ZIP_PREFIX}{{train,test}}/<class>/NNNN.jpg), or use data=cifar100 with the official CIFAR-100 files."
        )
    return path


def decode_cifar10_zip(path: str | os.PathLike) -> dict[str, Tensor | list[str]]:
    """Decode every JPEG of the zip into uint8 ``[n, 3, 32, 32]`` tensors and class labels (classes sorted by name).

    Errors name the zip entry: a corrupt JPEG, an image that is not 32x32, a missing prefix or split, a class
    folder without images.
    """
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise CorruptDataError(f"{path} is not a readable zip file ({err}); copy it again") from err
    with zf:
        names = zf.namelist()
        entries: dict[str, dict[str, list[str]]] = {"train": {}, "test": {}}
        for name in names:
            if not name.startswith(ZIP_PREFIX):
                continue
            parts = name[len(ZIP_PREFIX) :].split("/")
            if len(parts) >= 2 and parts[0] in entries and parts[1]:
                files = entries[parts[0]].setdefault(parts[1], [])
                if len(parts) == 3 and parts[2].lower().endswith((".jpg", ".jpeg")):
                    files.append(name)
        for split, classes in entries.items():
            if not classes:
                raise CorruptDataError(
                    f"{path} has no entries under {ZIP_PREFIX}{split}/<class>/*.jpg (first entries: {names[:3]}); "
                    f"expected the layout {ZIP_PREFIX}{{train,test}}/<class>/NNNN.jpg"
                )
            empty = sorted(c for c, files in classes.items() if not files)
            if empty:
                raise CorruptDataError(
                    f"{path}: class folder(s) without JPEGs: {ZIP_PREFIX}{split}/{empty[0]}/"
                )
        classes = sorted(entries["train"])
        if sorted(entries["test"]) != classes:
            raise CorruptDataError(
                f"{path}: train classes {classes} and test classes {sorted(entries['test'])} differ"
            )
        out: dict[str, Tensor | list[str]] = {"classes": classes}
        for split, by_class in entries.items():
            items = [(name, label) for label, c in enumerate(classes) for name in sorted(by_class[c])]
            images = np.empty((len(items), 32, 32, 3), dtype=np.uint8)
            for i, (name, _) in enumerate(items):
                try:
                    raw = zf.read(name)
                except (
                    zipfile.BadZipFile,
                    OSError,
                    EOFError,
                    zlib.error,
                ) as err:  # a bad CRC, a truncated entry
                    raise CorruptDataError(
                        f"{path}: entry {name} is corrupt ({err}); copy the zip again"
                    ) from err
                try:
                    with Image.open(io.BytesIO(raw)) as img:
                        img.load()
                        arr = np.asarray(img.convert("RGB"))
                except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
                    raise CorruptDataError(
                        f"{path}: corrupt image {name} ({err}); copy the zip again"
                    ) from err
                if arr.shape != (32, 32, 3):
                    raise CorruptDataError(f"{path}: {name} is {arr.shape[1]}x{arr.shape[0]}, expected 32x32")
                images[i] = arr
            out[f"{split}_images"] = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
            out[f"{split}_labels"] = torch.tensor([label for _, label in items], dtype=torch.long)
    return out


def validate_natural_images(data: dict) -> None:
    """A decode (or cache) of natural images: uint8 ``[n, 3, 32, 32]``, labels in range with every class present."""
    classes = data["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise ValueError("classes must be a non-empty list of names")
    for split in ("train", "test"):
        n = check_images(data, f"{split}_images", (3, 32, 32))
        check_labels(data, f"{split}_labels", n, len(classes))


def load_cifar10_jpg(
    data_dir: str | os.PathLike, cache_dir: str | os.PathLike | None, verify: bool = True
) -> dict[str, Tensor | list[str]]:
    """The zip's images as tensors: from the cache when it holds a valid decode of this very zip (its size and
    sha256), else decoded (and cached if ``cache_dir``). ``verify``: check the zip's known sha256 first."""
    path = _zip_path(data_dir)
    digest = verify_known(path, ZIP_NAME, verify) or file_digest(path)
    fingerprint = f"{ZIP_NAME}:{path.stat().st_size}:{digest}"
    cache = (
        Path(cache_dir) / "cifar10_jpg" / f"v{CACHE_VERSION}-{digest[:16]}.pt"
        if cache_dir is not None
        else None
    )
    return cached_decode(
        cache,
        lambda: decode_cifar10_zip(path),
        str(path),
        fingerprint=fingerprint,
        validate=validate_natural_images,
    )


def load_natural_images(
    source: str, data_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None, verify: bool = True
):
    """Images and labels of one source (see module doc)."""
    if source == "cifar100":
        return read_cifar100(data_dir, verify)
    if source == "cifar10_jpg":
        return load_cifar10_jpg(data_dir, cache_dir, verify)
    raise ValueError(f"data.source must be one of {SOURCES}, got {source!r}")


class CIFARDataModule(InMemoryDataModule):
    """32x32 RGB images: ``val_size`` held out of the training images with ``split_seed``, the official test set.

    Batches are ``(images float [B, 3, 32, 32] in [0, 1], labels long [B], item index long [B])``.
    """

    def __init__(
        self,
        data_dir: str,
        source: str = "cifar10_jpg",
        cache_dir: str | None = None,
        val_size: int = 5000,
        split_seed: int = 0,
        batch_size: int = 128,
        eval_batch_size: int | None = 1000,
        seed: int = 0,
        train_subset: int | None = None,
        pin_memory: bool = False,
        verify_checksums: bool = True,
    ):
        super().__init__(
            batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed, pin_memory=pin_memory
        )
        self.verify_checksums = verify_checksums
        if source not in SOURCES:
            raise ValueError(f"data.source must be one of {SOURCES}, got {source!r}")
        self.data_dir, self.source, self.cache_dir = data_dir, source, cache_dir
        if (
            train_subset is not None and train_subset < 1
        ):  # 0 trained nothing and still recorded a finished run
            raise ValueError(
                f"data.train_subset must be a positive number of images or null, got {train_subset}"
            )
        self.val_size, self.split_seed, self.train_subset = val_size, split_seed, train_subset
        self.classes: list[str] = []

    def data_source(self) -> dict[str, object]:
        """The source files' fingerprint and whether they were verified (src/datamodules/checksums.py:data_source),
        part of the job's identity: a job run on another copy of the data is another job."""
        if self.source == "cifar10_jpg":
            files = {ZIP_NAME: _zip_path(self.data_dir)}
        else:
            root = Path(self.data_dir) / "cifar-100-python"
            for name in ("train", "test", "meta"):
                if not (root / name).is_file():
                    _unpickle(root / name, False)  # the missing-file error, naming where to get it
            files = {f"cifar-100-python/{name}": root / name for name in ("train", "test", "meta")}
        return data_source(files, self.verify_checksums)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        data = load_natural_images(self.source, self.data_dir, self.cache_dir, self.verify_checksums)
        self.classes = list(data["classes"])
        images, labels = data["train_images"], data["train_labels"]
        n = images.shape[0]
        if not 0 < self.val_size < n:
            raise ValueError(f"data.val_size must be between 1 and {n - 1}, got {self.val_size}")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.split_seed))
        val_idx, train_idx = perm[: self.val_size], perm[self.val_size :]
        if self.train_subset is not None:
            train_idx = train_idx[: self.train_subset]
        self.train_set = TensorBatches(images[train_idx], labels[train_idx], train_idx)
        self.val_set = TensorBatches(images[val_idx], labels[val_idx], val_idx)
        test_images, test_labels = data["test_images"], data["test_labels"]
        self.test_set = TensorBatches(test_images, test_labels, torch.arange(test_labels.numel()))

    def transform_batch(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        images, labels, index = batch
        return (images.float().div_(255.0), labels, index)
