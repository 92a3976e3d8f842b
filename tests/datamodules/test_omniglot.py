"""Omniglot folders on a tiny fixture in torchvision's layout: reading, caching, splits, sequences, bad input."""

import numpy as np
import pytest
import torch
from PIL import Image

from src.datamodules import omniglot
from src.datamodules.idx import CorruptDataError
from src.datamodules.omniglot import OmniglotSequenceDataModule, decode_omniglot, load_omniglot
from tests.helpers.vision_data import write_tiny_omniglot


@pytest.fixture
def tiny_omniglot(tmp_path):
    return write_tiny_omniglot(tmp_path / "data")


def test_decode_every_character_is_a_class_downsampled_and_inverted(tiny_omniglot):
    data = decode_omniglot(tiny_omniglot, size=28)
    assert data["images"].shape == (12, 8, 28, 28) and data["images"].dtype == torch.uint8
    assert data["classes"][0] == "images_background/Alphabet_b0/character01"
    assert data["classes"][-1] == "images_evaluation/Alphabet_e1/character03"
    png = sorted(
        (tiny_omniglot / "omniglot-py" / "images_background" / "Alphabet_b0" / "character01").glob("*.png")
    )[0]
    big = 255 - np.asarray(Image.open(png).convert("L"), dtype=np.float64)  # strokes bright, background 0
    small = data["images"][0, 0].double().numpy()
    bar_row = big[:95].sum(axis=1).argmax()  # the character's bar (rows below 95 hold the drawing's own mark)
    assert abs(small[:25].sum(axis=1).argmax() - bar_row * 28 / 105) <= 1
    assert small[0, 0] == 0 and small.max() > 200  # background dark, strokes bright after downsampling


def test_cache_outside_data_dir_is_used(tiny_omniglot, tmp_path, monkeypatch):
    first = load_omniglot(tiny_omniglot, tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "omniglot").glob("*.pt"))) == 1
    assert not list(tiny_omniglot.rglob("*.pt"))
    monkeypatch.setattr(
        omniglot, "decode_omniglot", lambda *a: (_ for _ in ()).throw(AssertionError("decoded"))
    )
    assert torch.equal(load_omniglot(tiny_omniglot, tmp_path / "cache")["images"], first["images"])


def test_missing_folder_empty_character_and_corrupt_png(tmp_path, tiny_omniglot):
    with pytest.raises(FileNotFoundError, match=r"omniglot-py/images_background.*DATA_DIR"):
        decode_omniglot(tmp_path / "nothing")
    char = tiny_omniglot / "omniglot-py" / "images_evaluation" / "Alphabet_e0" / "character02"
    first_png = sorted(char.glob("*.png"))[0]
    first_png.write_bytes(b"\x89PNG\r\n garbage")
    with pytest.raises(CorruptDataError, match=f"corrupt image {first_png}"):
        decode_omniglot(tiny_omniglot)
    empty = tiny_omniglot / "omniglot-py" / "images_background" / "Alphabet_b1" / "character09"
    empty.mkdir()
    with pytest.raises(CorruptDataError, match=f"empty character folder {empty}"):
        decode_omniglot(tiny_omniglot)


def _dm(root, cache, **kw):
    args = dict(
        num_classes=5,
        seq_len=3,
        test_drawings=2,
        val_drawings=1,
        train_sequences=40,
        val_sequences=10,
        test_sequences=20,
        batch_size=8,
        eval_batch_size=10,
    )
    args.update(kw)
    return OmniglotSequenceDataModule(str(root), str(cache), **args)


def test_splits_use_disjoint_drawings_and_sequences_are_reproducible(tiny_omniglot, tmp_path):
    dm = _dm(tiny_omniglot, tmp_path / "cache")
    dm.setup()
    assert {k: tuple(v.shape[:2]) for k, v in dm.pools.items()} == {
        "test": (5, 2),
        "val": (5, 1),
        "train": (5, 5),
    }
    pools = {k: {bytes(img.numpy()) for img in v.flatten(0, 1)} for k, v in dm.pools.items()}
    assert pools["train"].isdisjoint(pools["test"]) and pools["val"].isdisjoint(pools["test"])
    again = _dm(tiny_omniglot, tmp_path / "cache")
    again.setup()
    assert all(torch.equal(a, b) for a, b in zip(dm.test_set.tensors, again.test_set.tensors, strict=True))
    assert len(dm.test_set) == 20 and dm.test_set.tensors[1].shape == (20, 3)


def test_batches_gather_the_right_images_for_the_labels(tiny_omniglot, tmp_path):
    dm = _dm(tiny_omniglot, tmp_path / "cache")
    dm.setup()
    flat, labels, index = next(iter(dm.train_dataloader()))
    images, labels2, _ = dm.transform_batch((flat, labels, index))  # no trainer: the training pool
    assert images.shape == (8, 3, 1, 28, 28) and torch.equal(labels, labels2)
    pool = dm.pools["train"].float() / 255
    for b in range(8):
        for j in range(3):
            c, d = divmod(int(flat[b, j]), pool.shape[1])
            assert c == int(labels[b, j]) and torch.equal(images[b, j, 0], pool[c, d])


def test_bad_split_sizes(tiny_omniglot, tmp_path):
    with pytest.raises(ValueError, match="num_classes=50, but the data hold 12"):
        _dm(tiny_omniglot, tmp_path / "c", num_classes=50).setup()
    with pytest.raises(ValueError, match="must leave training drawings out of 8"):
        _dm(tiny_omniglot, tmp_path / "c", test_drawings=6, val_drawings=2).setup()
