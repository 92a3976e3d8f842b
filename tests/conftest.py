import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

REPO = Path(__file__).resolve().parents[1]


def real_data_dir() -> Path | None:
    """``$DATA_DIR`` when set and present (CI points it at ../shared/data), else None."""
    value = os.environ.get("DATA_DIR")
    return Path(value) if value and Path(value).is_dir() else None


def write_tiny_mnist(root: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """MNIST-format IDX files (gzipped) of a learnable toy problem: each label lights its own band of rows."""
    from src.datamodules.idx import write_idx

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 255
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory) -> Path:
    return write_tiny_mnist(tmp_path_factory.mktemp("tiny_mnist"))
