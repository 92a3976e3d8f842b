"""MNIST reading: tiny IDX files the test writes, corrupt and missing files, and the real files under DATA_DIR."""

import gzip
import shutil

import numpy as np
import pytest
import torch

from src.datamodules.idx import CorruptDataError, read_idx, write_idx
from src.datamodules.mnist import MEAN, STD, MNISTDataModule, load_mnist
from tests.conftest import real_data_dir, write_tiny_mnist


def test_idx_roundtrip_gz_and_raw(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    for name in ("a-idx3-ubyte.gz", "a-idx3-ubyte"):
        write_idx(tmp_path / name, images)
        assert torch.equal(read_idx(tmp_path / name, expect_magic=2051), torch.from_numpy(images))


def test_truncated_file_is_a_clear_error(tmp_path):
    write_idx(tmp_path / "x-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    data = (tmp_path / "x-idx3-ubyte").read_bytes()
    (tmp_path / "x-idx3-ubyte").write_bytes(data[:-100])
    with pytest.raises(CorruptDataError, match="x-idx3-ubyte.*truncated"):
        read_idx(tmp_path / "x-idx3-ubyte")


def test_wrong_magic_and_bad_gzip_are_clear_errors(tmp_path):
    write_idx(tmp_path / "labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(CorruptDataError, match="magic number 2049, expected 2051"):
        read_idx(tmp_path / "labels-idx1-ubyte", expect_magic=2051)
    (tmp_path / "page.gz").write_bytes(b"<html>404 not found</html>")
    with pytest.raises(CorruptDataError, match="page.gz could not be read"):
        read_idx(tmp_path / "page.gz")


def test_missing_files_name_directory_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"MNIST/raw.*train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path, cache_dir=None, download=False)


def test_failed_download_ends_in_the_same_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(FileNotFoundError, match="MNIST files missing") as info:
        load_mnist(tmp_path / "data", cache_dir=tmp_path / "cache", download=True)
    assert "no network" in str(info.value.__cause__)
    assert not (tmp_path / "data").exists()  # nothing written into the data dir


def test_uncompressed_twins_are_read_and_data_dir_is_untouched(tmp_path):
    root = write_tiny_mnist(tmp_path / "d", n_train=30, n_test=10)
    raw = root / "MNIST" / "raw"
    for gz in raw.glob("*.gz"):
        with gzip.open(gz) as src, open(gz.with_suffix(""), "wb") as dst:
            shutil.copyfileobj(src, dst)
        gz.unlink()
    before = sorted(p.name for p in raw.iterdir())
    data = load_mnist(root, verify=False)
    assert data["train_images"].shape == (30, 28, 28) and data["test_labels"].shape == (10,)
    assert sorted(p.name for p in raw.iterdir()) == before


def test_datamodule_split_batches_and_normalisation(tiny_mnist_dir):
    dm = MNISTDataModule(
        str(tiny_mnist_dir),
        val_size=100,
        batch_size=64,
        eval_batch_size=50,
        split_seed=0,
        verify_checksums=False,
    )
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (500, 100, 200)
    train_idx, val_idx = dm.train_set.tensors[2], dm.val_set.tensors[2]
    assert not set(train_idx.tolist()) & set(val_idx.tolist())
    batch = next(iter(dm.train_dataloader()))
    x, y, index = dm.transform_batch(batch)
    assert x.dtype == torch.float32 and x.shape == (64, 1, 28, 28) and y.dtype == torch.long
    # held normalised: bitwise what normalising the uint8 batch did (images.float().div_(255).sub_(MEAN).div_(STD))
    raw = load_mnist(str(tiny_mnist_dir), verify=False)["train_images"][index].unsqueeze(1)
    assert raw.dtype == torch.uint8 and torch.equal(x, raw.float().div_(255.0).sub_(MEAN).div_(STD))
    assert torch.allclose(x, (raw.float() / 255 - MEAN) / STD)
    test_x, _, test_index = next(iter(dm.test_dataloader()))
    raw_test = load_mnist(str(tiny_mnist_dir), verify=False)["test_images"][test_index].unsqueeze(1)
    assert torch.equal(test_x, raw_test.float().div_(255.0).sub_(MEAN).div_(STD))
    # evaluation covers every test item exactly once, in order
    seen = torch.cat([b[2] for b in dm.test_dataloader()])
    assert torch.equal(seen, torch.arange(200))
    # the same split seed gives the same split
    dm2 = MNISTDataModule(str(tiny_mnist_dir), val_size=100, split_seed=0, verify_checksums=False)
    dm2.setup()
    assert torch.equal(dm2.val_set.tensors[2], val_idx)


def test_sharded_training_batches_are_equal_and_disjoint():
    from src.datamodules.base import ShardedBatchSampler

    shards = [list(ShardedBatchSampler(103, 10, shuffle=True, seed=1, rank=r, world_size=2)) for r in (0, 1)]
    flat = [sum(s, []) for s in shards]
    assert len(flat[0]) == len(flat[1]) == 51 and not set(flat[0]) & set(flat[1])
    evals = [sum(ShardedBatchSampler(103, 10, shuffle=False, rank=r, world_size=2), []) for r in (0, 1)]
    assert sorted(evals[0] + evals[1]) == list(range(103))
    epochs = [
        sum(ShardedBatchSampler(50, 10, shuffle=True, seed=1, epoch_fn=lambda e=e: e), []) for e in (0, 1)
    ]
    assert epochs[0] != epochs[1] and sorted(epochs[0]) == sorted(epochs[1])


@pytest.mark.skipif(real_data_dir() is None, reason="DATA_DIR not set")
def test_real_mnist_files():
    data = load_mnist(real_data_dir())
    assert data["train_images"].shape == (60000, 28, 28) and data["test_images"].shape == (10000, 28, 28)
    assert data["train_images"].dtype == torch.uint8
    counts = torch.bincount(data["test_labels"].long(), minlength=10)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # the training set's mean pixel is the constant the datamodule normalises with
    assert float(data["train_images"].float().mean() / 255) == pytest.approx(MEAN, abs=1e-4)


def test_files_are_read_once_per_process_and_again_when_they_change(tmp_path, monkeypatch):
    """The jobs of a multirun share one read (and checksum) of the files; a rewritten file is read again."""
    import os

    import src.datamodules.mnist as mnist

    root = write_tiny_mnist(tmp_path)
    reads = []
    real = mnist.read_idx
    monkeypatch.setattr(mnist, "read_idx", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    first = load_mnist(root, verify=False)
    second = load_mnist(root, verify=False)
    assert len(reads) == 4 and all(torch.equal(first[k], second[k]) for k in first)
    labels = next(p for p in (root / "MNIST" / "raw").iterdir() if p.name.startswith("train-labels"))
    os.utime(labels, ns=(labels.stat().st_atime_ns, labels.stat().st_mtime_ns + 10**9))
    load_mnist(root, verify=False)
    assert len(reads) == 8


def test_jobs_share_the_split_and_a_new_split_or_new_files_cut_it_again(tmp_path):
    """A multirun's jobs (one process) gather the train/val split once; other split settings or rewritten files
    give their own split, equal to one cut from scratch."""
    import os

    import src.datamodules.mnist as mnist

    root = write_tiny_mnist(tmp_path)

    def module(**kw):
        dm = MNISTDataModule(str(root), val_size=100, verify_checksums=False, **kw)
        dm.setup()
        return dm

    a, b = module(split_seed=0), module(split_seed=0)
    assert a.train_set is b.train_set and a.test_set is b.test_set
    c = module(split_seed=1)
    assert not torch.equal(c.val_set.tensors[2], a.val_set.tensors[2])
    mnist._SPLITS.clear()
    fresh = module(split_seed=0)
    assert fresh.train_set is not a.train_set
    assert all(torch.equal(x, y) for x, y in zip(fresh.train_set.tensors, a.train_set.tensors, strict=True))
    assert len(module(split_seed=0, train_subset=50).train_set) == 50
    labels = next(p for p in (root / "MNIST" / "raw").iterdir() if p.name.startswith("train-labels"))
    os.utime(labels, ns=(labels.stat().st_atime_ns, labels.stat().st_mtime_ns + 10**9))
    assert module(split_seed=0).train_set is not fresh.train_set  # the files were read again: split again


def test_file_digests_are_kept_until_the_file_is_written(tmp_path):
    import hashlib
    import os
    import time

    from src.datamodules import checksums

    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    first = checksums.file_digest(path, "md5")
    assert checksums.file_digest(path, "md5") == first
    mtime = path.stat().st_mtime_ns
    time.sleep(0.05)  # file times tick with the kernel's clock (a few ms), not every nanosecond
    path.write_bytes(b"two")  # same size, and its mtime set back: the change time still moves
    os.utime(path, ns=(mtime, mtime))
    assert checksums.file_digest(path, "md5") != first
    assert checksums.file_digest(path, "md5") == hashlib.md5(b"two").hexdigest()
