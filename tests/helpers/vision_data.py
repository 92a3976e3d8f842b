"""Tiny data fixtures in the real on-disk formats: CIFAR-100 pickles, the CIFAR-10 JPEG zip, Omniglot folders."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def write_tiny_cifar100(root: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """``root/cifar-100-python/{train,test,meta}`` pickled as in the official tarball (bytes keys, data [n, 3072])."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        payload = {
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
            b"fine_labels": rng.integers(0, 100, n).tolist(),
            b"coarse_labels": rng.integers(0, 20, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        }
        with (folder / split).open("wb") as fh:
            pickle.dump(payload, fh, protocol=2)
    meta = {
        b"fine_label_names": [f"class{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"super{i}".encode() for i in range(20)],
    }
    with (folder / "meta").open("wb") as fh:
        pickle.dump(meta, fh, protocol=2)
    return root


def jpeg_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def tiny_images(n: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth 32x32 RGB images (per channel a random mix of a horizontal and a vertical ramp), which JPEG keeps
    close to the original."""
    ramp = np.linspace(0, 1, 32)
    a, b = rng.random((n, 1, 1, 3)), rng.random((n, 1, 1, 3))
    return (255 * (0.1 + 0.4 * (a * ramp[None, None, :, None] + b * ramp[None, :, None, None]))).astype(
        np.uint8
    )


def write_tiny_cifar10_zip(
    root: Path,
    classes=("cat", "dog", "ship"),
    n_train: int = 12,
    n_test: int = 4,
    prefix: str = "cifar10-jpg/",
    seed: int = 0,
) -> Path:
    """``root/cifar10-jpg.zip`` with entries ``<prefix>{train,test}/<class>/NNNN.jpg``; returns the zip path."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "cifar10-jpg.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for split, n in (("train", n_train), ("test", n_test)):
            for c in classes:
                for i, img in enumerate(tiny_images(n, rng)):
                    zf.writestr(f"{prefix}{split}/{c}/{i:04d}.jpg", jpeg_bytes(img))
    return path


def write_tiny_omniglot(
    root: Path, n_alphabets: int = 2, n_characters: int = 3, n_drawings: int = 8, seed: int = 0
) -> Path:
    """``root/omniglot-py/images_{background,evaluation}/<alphabet>/characterNN/*.png``: 105x105 1-bit drawings,
    each character a bar at its own position (learnable), black strokes on white as in Omniglot."""
    rng = np.random.default_rng(seed)
    k = 0
    for folder in ("images_background", "images_evaluation"):
        for a in range(n_alphabets):
            for c in range(n_characters):
                d = root / "omniglot-py" / folder / f"Alphabet_{folder[7]}{a}" / f"character{c + 1:02d}"
                d.mkdir(parents=True, exist_ok=True)
                for j in range(n_drawings):
                    img = np.ones((105, 105), dtype=bool)
                    top = 5 + 7 * (k % 12) + int(rng.integers(0, 3))
                    img[top : top + 6, 10:95] = False
                    img[98:103, 5 + 10 * j : 12 + 10 * j] = False  # a mark of its own: every drawing differs
                    Image.fromarray(img).save(d / f"{k:04d}_{j + 1:02d}.png")
                k += 1
    return root
