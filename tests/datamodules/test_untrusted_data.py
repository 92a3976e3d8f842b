"""Data files and caches are data, never code (issue 14, finding 5 and the data items of 6): planted pickles,
symlinks, poisoned or stale caches, checksum mismatches, unwritable caches and corrupt zip entries."""

import hashlib
import logging
import os
import pickle
import zipfile

import pytest
import torch

from src.datamodules import cifar
from src.datamodules.base import CacheDirError, cached_decode
from src.datamodules.cifar import decode_cifar10_zip, load_cifar10_jpg, read_cifar100
from src.datamodules.idx import CorruptDataError
from src.datamodules.mnist import load_mnist
from src.datamodules.omniglot import load_omniglot
from src.utils.resolvers import user_cache_dir
from tests.conftest import write_tiny_mnist
from tests.helpers.vision_data import write_tiny_cifar10_zip, write_tiny_cifar100, write_tiny_omniglot


@pytest.fixture
def tiny_omniglot(tmp_path):
    return write_tiny_omniglot(tmp_path / "data")


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_cifar_pickle_does_not_run_code(tmp_path):
    write_tiny_cifar100(tmp_path, n_train=10, n_test=4)
    marker = tmp_path / "pwned"
    evil = {b"data": _RunsCode(marker), b"fine_labels": [0]}
    (tmp_path / "cifar-100-python" / "train").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(CorruptDataError, match=r"cifar-100-python/train is not a readable.*refusing.*system"):
        read_cifar100(tmp_path, verify=False)
    assert not marker.exists()
    # the honest files (numpy arrays, lists, bytes) still read
    write_tiny_cifar100(tmp_path, n_train=10, n_test=4)
    assert read_cifar100(tmp_path, verify=False)["train_images"].shape == (10, 3, 32, 32)


def _one_cache(cache_dir):
    (path,) = (cache_dir / "cifar10_jpg").glob("*.pt")
    return path


def test_symlinks_planted_in_the_cache_dir_are_not_followed(tmp_path):
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    write_tiny_cifar10_zip(data_dir)
    first = load_cifar10_jpg(data_dir, cache_dir, verify=False)
    cache = _one_cache(cache_dir)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    cache.unlink()
    cache.symlink_to(victim)  # the cache itself, and every predictable temp name, point at another file
    for pid in range(os.getpid() - 5, os.getpid() + 5):
        cache.with_suffix(f".tmp{pid}").symlink_to(victim)
    again = load_cifar10_jpg(data_dir, cache_dir, verify=False)
    assert victim.read_text() == "precious"
    assert not cache.is_symlink() and torch.equal(again["train_images"], first["train_images"])


def test_poisoned_cache_is_not_used(tmp_path, monkeypatch):
    data_dir, cache_dir = tmp_path / "data", tmp_path / "cache"
    write_tiny_cifar10_zip(data_dir)
    first = load_cifar10_jpg(data_dir, cache_dir, verify=False)
    cache = _one_cache(cache_dir)
    poisoned = torch.load(cache, weights_only=True)
    poisoned["train_labels"] = torch.zeros_like(poisoned["train_labels"])
    torch.save(poisoned, cache)
    again = load_cifar10_jpg(data_dir, cache_dir, verify=False)
    assert torch.equal(again["train_labels"], first["train_labels"])
    # a cache copied from another source (its fingerprint) is not used either
    other = torch.load(cache, weights_only=True)
    other["_source_fingerprint"] = "cifar10-jpg.zip:1:other"
    torch.save(other, cache)
    calls = []
    monkeypatch.setattr(cifar, "decode_cifar10_zip", lambda p: calls.append(p) or decode_cifar10_zip(p))
    load_cifar10_jpg(data_dir, cache_dir, verify=False)
    assert len(calls) == 1


def test_png_overwritten_in_place_invalidates_the_omniglot_cache(tiny_omniglot, tmp_path):
    first = load_omniglot(tiny_omniglot, tmp_path / "cache")
    char = tiny_omniglot / "omniglot-py" / "images_background" / "Alphabet_b0" / "character01"
    pngs = sorted(char.glob("*.png"))
    stat = char.stat()
    pngs[0].write_bytes(pngs[1].read_bytes())  # same folder, same folder mtime after restoring it
    os.utime(char, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = load_omniglot(tiny_omniglot, tmp_path / "cache")
    assert torch.equal(again["images"][0, 0], first["images"][0, 1])
    assert not torch.equal(again["images"], first["images"])


def test_omniglot_md5_file_is_verified(tiny_omniglot, tmp_path):
    lines = []
    for png in sorted((tiny_omniglot / "omniglot-py").rglob("*.png")):
        md5 = hashlib.md5(png.read_bytes()).hexdigest()
        lines.append(f"{md5}  {png.relative_to(tiny_omniglot)}\n")
    (tiny_omniglot / "omniglot-py.md5").write_text("".join(lines))
    load_omniglot(tiny_omniglot, None)  # all match
    bad = sorted((tiny_omniglot / "omniglot-py").rglob("*.png"))[3]
    bad.write_bytes(bad.read_bytes() + b"\0")
    with pytest.raises(CorruptDataError, match=rf"{bad}: md5 [0-9a-f]{{32}} differs from [0-9a-f]{{32}}"):
        load_omniglot(tiny_omniglot, None)
    assert load_omniglot(tiny_omniglot, None, verify=False)["images"].shape[0] > 0


def test_checksum_mismatch_names_the_file_and_both_digests(tmp_path):
    root = write_tiny_mnist(tmp_path / "data", n_train=20, n_test=10)
    path = root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    actual = hashlib.md5(path.read_bytes()).hexdigest()
    with pytest.raises(
        CorruptDataError,
        match=rf"{path}: md5 {actual} differs from the known md5 f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ):
        load_mnist(root)
    assert load_mnist(root, verify=False)["train_images"].shape == (20, 28, 28)
    write_tiny_cifar10_zip(tmp_path / "zip")
    with pytest.raises(
        CorruptDataError, match=r"cifar10-jpg.zip: sha256 [0-9a-f]{64} differs from the known"
    ):
        load_cifar10_jpg(tmp_path / "zip", None)
    write_tiny_cifar100(tmp_path / "c100")
    with pytest.raises(
        CorruptDataError, match=r"cifar-100-python/train: md5 .* 16019d7e3df5f24257cddd939b257f8d"
    ):
        read_cifar100(tmp_path / "c100")


def test_cache_default_is_never_a_shared_dir(monkeypatch):
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    path = user_cache_dir()
    assert path.endswith("/.cache/mirage") and not path.startswith("/tmp")
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from tests.helpers.configs import CONFIG_DIR

    monkeypatch.delenv("MIRAGE_CACHE_DIR", raising=False)
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose(config_name="train")
    assert cfg.paths.cache_dir == path
    monkeypatch.setenv("XDG_CACHE_HOME", "/some/cache")
    assert user_cache_dir() == "/some/cache/mirage"


def test_world_writable_cache_dir_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(CacheDirError, match=r"shared is writable by every user.*MIRAGE_CACHE_DIR"):
        cached_decode(shared / "x.pt", dict, "x", fingerprint="f", validate=lambda d: None)


def test_unwritable_cache_is_a_warning_and_the_decode_is_kept(tmp_path, caplog):
    data_dir = tmp_path / "data"
    write_tiny_cifar10_zip(data_dir)
    blocked = tmp_path / "cache"
    blocked.write_text(
        "a file where the cache dir should be"
    )  # (root ignores chmod, so no read-only dir here)
    with caplog.at_level(logging.WARNING):
        data = load_cifar10_jpg(data_dir, blocked, verify=False)
    assert data["train_images"].shape[0] == 36
    assert "could not write the cache" in caplog.text and "MIRAGE_CACHE_DIR" in caplog.text


def test_zip_entry_with_a_bad_crc_names_the_entry(tmp_path):
    path = write_tiny_cifar10_zip(tmp_path)
    name = "cifar10-jpg/train/dog/0002.jpg"
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.file_size // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptDataError, match=rf"{path}: entry {name} is corrupt \(Bad CRC-32"):
        decode_cifar10_zip(path)
