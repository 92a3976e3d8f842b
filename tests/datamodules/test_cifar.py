"""CIFAR sources on tiny fixtures in the official formats: reading, caching outside DATA_DIR, batches, bad input."""

import zipfile

import numpy as np
import pytest
import torch

from src.datamodules import cifar
from src.datamodules.cifar import CIFARDataModule, decode_cifar10_zip, load_cifar10_jpg, read_cifar100
from src.datamodules.idx import CorruptDataError
from tests.helpers.vision_data import jpeg_bytes, write_tiny_cifar10_zip, write_tiny_cifar100


def test_cifar100_pickles_read_into_uint8_tensors(tmp_path):
    write_tiny_cifar100(tmp_path, n_train=30, n_test=10)
    data = read_cifar100(tmp_path, verify=False)
    with (tmp_path / "cifar-100-python" / "train").open("rb") as fh:
        import pickle

        raw = pickle.load(fh, encoding="bytes")
    assert data["train_images"].shape == (30, 3, 32, 32) and data["train_images"].dtype == torch.uint8
    # channel-major rows of 3072: red plane first, as in the official files
    assert torch.equal(data["train_images"][3, 0].flatten(), torch.from_numpy(raw[b"data"][3, :1024]))
    assert data["train_labels"].tolist() == raw[b"fine_labels"]
    assert data["test_images"].shape[0] == 10 and data["classes"][:2] == ["class0", "class1"]


def test_cifar100_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-100-python/train.*DATA_DIR"):
        read_cifar100(tmp_path, verify=False)
    write_tiny_cifar100(tmp_path)
    (tmp_path / "cifar-100-python" / "test").write_bytes(b"<html>not a pickle</html>")
    with pytest.raises(CorruptDataError, match=r"cifar-100-python/test is not a readable CIFAR pickle"):
        read_cifar100(tmp_path, verify=False)


def test_zip_decodes_to_the_jpeg_pixels_and_sorted_classes(tmp_path):
    path = write_tiny_cifar10_zip(tmp_path, classes=("ship", "cat"), n_train=5, n_test=2)
    data = decode_cifar10_zip(path)
    assert data["classes"] == ["cat", "ship"]
    assert data["train_images"].shape == (10, 3, 32, 32) and data["test_images"].shape == (4, 3, 32, 32)
    assert data["train_labels"].tolist() == [0] * 5 + [1] * 5
    from PIL import Image

    with zipfile.ZipFile(path) as zf, zf.open("cifar10-jpg/train/ship/0001.jpg") as fh:
        want = np.asarray(Image.open(fh).convert("RGB"))
    assert np.array_equal(data["train_images"][6].permute(1, 2, 0).numpy(), want)


def test_zip_is_cached_outside_data_dir_and_loaded_from_the_cache(tmp_path, monkeypatch):
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    write_tiny_cifar10_zip(data_dir)
    first = load_cifar10_jpg(data_dir, cache_dir, verify=False)
    assert sorted(p.name for p in data_dir.iterdir()) == ["cifar10-jpg.zip"]  # nothing written into data_dir
    assert len(list((cache_dir / "cifar10_jpg").glob("*.pt"))) == 1

    def no_decoding(path):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(cifar, "decode_cifar10_zip", no_decoding)
    second = load_cifar10_jpg(data_dir, cache_dir, verify=False)
    assert (
        torch.equal(first["train_images"], second["train_images"]) and first["classes"] == second["classes"]
    )


def test_zip_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar10-jpg.zip not found.*DATA_DIR"):
        load_cifar10_jpg(tmp_path, None)
    bad_prefix = write_tiny_cifar10_zip(tmp_path / "a", prefix="images/")
    with pytest.raises(CorruptDataError, match=r"no entries under cifar10-jpg/train/<class>/\*\.jpg"):
        decode_cifar10_zip(bad_prefix)
    corrupt = write_tiny_cifar10_zip(tmp_path / "b")
    with zipfile.ZipFile(corrupt, "a") as zf:
        zf.writestr("cifar10-jpg/train/cat/9999.jpg", b"\xff\xd8 truncated jpeg")
    with pytest.raises(CorruptDataError, match=r"corrupt image cifar10-jpg/train/cat/9999.jpg"):
        decode_cifar10_zip(corrupt)
    empty = write_tiny_cifar10_zip(tmp_path / "c")
    with zipfile.ZipFile(empty, "a") as zf:
        zf.writestr("cifar10-jpg/test/frog/", b"")
    with pytest.raises(CorruptDataError, match=r"without JPEGs: cifar10-jpg/test/frog/"):
        decode_cifar10_zip(empty)
    wrong_size = write_tiny_cifar10_zip(tmp_path / "d")
    with zipfile.ZipFile(wrong_size, "a") as zf:
        zf.writestr("cifar10-jpg/train/dog/9999.jpg", jpeg_bytes(np.zeros((16, 16, 3), np.uint8)))
    with pytest.raises(CorruptDataError, match=r"9999.jpg is 16x16, expected 32x32"):
        decode_cifar10_zip(wrong_size)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "cifar10-jpg.zip").write_bytes(b"not a zip")
    with pytest.raises(CorruptDataError, match="not a readable zip"):
        load_cifar10_jpg(tmp_path / "e", None, verify=False)


@pytest.mark.parametrize("source", ["cifar10_jpg", "cifar100"])
def test_datamodule_batches_in_unit_range_with_disjoint_splits(tmp_path, source):
    if source == "cifar100":
        write_tiny_cifar100(tmp_path, n_train=40, n_test=10)
    else:
        write_tiny_cifar10_zip(tmp_path, n_train=12, n_test=4)
    dm = CIFARDataModule(
        str(tmp_path),
        source=source,
        cache_dir=str(tmp_path / "cache"),
        val_size=6,
        batch_size=8,
        verify_checksums=False,
    )
    dm.setup()
    assert set(dm.train_set.tensors[2].tolist()).isdisjoint(dm.val_set.tensors[2].tolist())
    assert len(dm.train_set) + len(dm.val_set) == (40 if source == "cifar100" else 36)
    x, y, idx = dm.transform_batch(next(iter(dm.train_dataloader())))
    assert (
        x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 and 0 <= float(x.min()) and float(x.max()) <= 1
    )
    assert y.dtype == torch.long and idx.shape == (8,)


def test_bad_source_and_val_size(tmp_path):
    with pytest.raises(ValueError, match="data.source must be one of"):
        CIFARDataModule(str(tmp_path), source="cifar10")
    write_tiny_cifar100(tmp_path, n_train=10, n_test=2)
    with pytest.raises(ValueError, match="val_size must be between 1 and 9"):
        CIFARDataModule(str(tmp_path), source="cifar100", val_size=10, verify_checksums=False).setup()
