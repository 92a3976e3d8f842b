"""Omniglot characters as in-memory 28x28 uint8 images, served as sequences of (image, label) pairs.

Read from torchvision's folder layout ``<data_dir>/omniglot-py/images_{background,evaluation}/<alphabet>/
<character>/*.png`` (torchvision's own class insists on the original zips and their checksums). Every character is
a class. The 105x105 drawings are downsampled to 28x28 once (strokes bright on dark) and cached as a tensor file
under ``cache_dir`` (never under ``data_dir``).

Sequences follow the paper's Sec. 5 setup after Chan et al. (2022): a sequence holds ``seq_len`` images of random
classes, each followed by its class-label token, and the model predicts every image's label. A fixed class subset
(``num_classes``, chosen with ``split_seed``) keeps the task in reach of small CPU-trained models.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from src.datamodules.base import InMemoryDataModule, TensorBatches, cached_decode, check_images
from src.datamodules.idx import CorruptDataError, DataMissingError

FOLDERS = ("images_background", "images_evaluation")
CACHE_VERSION = 2
MD5_NAME = "omniglot-py.md5"  # `md5sum` lines "<md5>  omniglot-py/<folder>/<alphabet>/<character>/<png>"


def _character_dirs(data_dir: Path) -> list[Path]:
    root = data_dir / "omniglot-py"
    missing = [f for f in FOLDERS if not (root / f).is_dir()]
    if missing:
        raise DataMissingError(
            f"Omniglot folder(s) missing: {', '.join(str(root / f) for f in missing)}. Set DATA_DIR (or "
            "data.data_dir) to the folder holding omniglot-py/, or unzip images_background.zip and "
            "images_evaluation.zip (https://github.com/brendenlake/omniglot/tree/master/python) into "
            "<DATA_DIR>/omniglot-py/."
        )
    dirs = []
    for folder in FOLDERS:
        for alphabet in sorted(p for p in (root / folder).iterdir() if p.is_dir()):
            dirs.extend(sorted(p for p in alphabet.iterdir() if p.is_dir()))
    if not dirs:
        raise DataMissingError(
            f"{root} holds no <alphabet>/<character>/ folders; expected torchvision's layout"
        )
    return dirs


def _read_png(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img.load()
            small = img.convert("L").resize((size, size), Image.Resampling.BOX)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise CorruptDataError(f"corrupt image {path} ({err}); restore it from the Omniglot zips") from err
    return 255 - np.asarray(small, dtype=np.uint8)  # strokes are black on white: make them the bright pixels


def decode_omniglot(data_dir: str | os.PathLike, size: int = 28) -> dict[str, Tensor | list[str]]:
    """All drawings as ``images`` uint8 ``[n_classes, n_drawings, size, size]`` and ``classes`` (``folder/alphabet/
    character``). Every character must have the same number of drawings (20 in Omniglot)."""
    dirs = _character_dirs(Path(data_dir))
    per_class, n_drawings = [], None
    for d in dirs:
        pngs = sorted(d.glob("*.png"))
        if not pngs:
            raise CorruptDataError(f"empty character folder {d}: expected its drawings as *.png")
        if n_drawings is None:
            n_drawings = len(pngs)
        elif len(pngs) != n_drawings:
            raise CorruptDataError(f"{d} holds {len(pngs)} drawings, the other characters {n_drawings}")
        per_class.append(np.stack([_read_png(p, size) for p in pngs]))
    classes = [str(d.relative_to(d.parents[2])) for d in dirs]
    return {"images": torch.from_numpy(np.stack(per_class)), "classes": classes}


def _known_md5s(data_dir: Path) -> dict[str, str] | None:
    """``<data_dir>/omniglot-py.md5`` as {relative path: md5}, or None when there is no such file."""
    path = data_dir / MD5_NAME
    if not path.is_file():
        return None
    known = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 32:
            raise CorruptDataError(f"{path}:{line_no}: not an md5sum line ('<md5>  <path>'): {line[:80]!r}")
        known[name.strip()] = digest.lower()
    return known


def source_fingerprint(data_dir: str | os.PathLike, verify: bool = True) -> str:
    """sha256 over every PNG's relative path, size and md5, so a drawing overwritten in place changes it. With
    ``verify`` and an ``omniglot-py.md5`` beside the data, each PNG's md5 must match its line there."""
    data_dir = Path(data_dir)
    known = _known_md5s(data_dir) if verify else None
    h = hashlib.sha256()
    for d in _character_dirs(data_dir):
        for png in sorted(d.glob("*.png")):
            rel = str(png.relative_to(data_dir))
            blob = png.read_bytes()
            md5 = hashlib.md5(blob).hexdigest()
            if known is not None:
                expected = known.get(rel)
                if expected is None:
                    raise CorruptDataError(
                        f"{png} is not listed in {data_dir / MD5_NAME}; remove it, or pass data.verify_checksums=false"
                    )
                if md5 != expected:
                    raise CorruptDataError(
                        f"{png}: md5 {md5} differs from {expected} in {data_dir / MD5_NAME}; restore the file "
                        "from the Omniglot zips, or pass data.verify_checksums=false"
                    )
            h.update(f"{rel}\0{len(blob)}\0{md5}\n".encode())
    return h.hexdigest()


def validate_omniglot(data: dict, size: int, n_classes: int | None = None) -> None:
    """A decode (or cache): uint8 images ``[n_classes, n_drawings, size, size]`` and one class name per class."""
    images, classes = data["images"], data["classes"]
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError("images must be a 4-d tensor [classes, drawings, size, size]")
    check_images({"images": images.flatten(0, 1)}, "images", (size, size))
    if not isinstance(classes, list) or len(classes) != images.shape[0]:
        raise ValueError(f"{len(classes)} class names for {images.shape[0]} classes")
    if n_classes is not None and images.shape[0] != n_classes:
        raise ValueError(f"{images.shape[0]} classes, the data hold {n_classes}")


def load_omniglot(
    data_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None,
    size: int = 28,
    verify: bool = True,
    fingerprint: str | None = None,
):
    """:func:`decode_omniglot`, cached under ``cache_dir`` and used only while the PNGs' fingerprint (paths, sizes,
    md5s: :func:`source_fingerprint`) is unchanged. ``fingerprint``: that of the same call computed moments ago
    (the job's identity check), so the PNGs are hashed once per job, not twice."""
    dirs = _character_dirs(Path(data_dir))
    fingerprint = fingerprint or source_fingerprint(data_dir, verify)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / "omniglot" / f"v{CACHE_VERSION}-{size}px-{fingerprint[:16]}.pt"
    return cached_decode(
        cache,
        lambda: decode_omniglot(data_dir, size),
        f"Omniglot ({len(dirs)} characters)",
        fingerprint=fingerprint,
        validate=lambda data: validate_omniglot(data, size, len(dirs)),
    )


def sample_sequences(n_seq: int, seq_len: int, n_classes: int, n_drawings: int, gen: torch.Generator):
    """Random sequences: class ``[n_seq, L]`` uniform over classes, drawing ``[n_seq, L]`` uniform over drawings."""
    classes = torch.randint(0, n_classes, (n_seq, seq_len), generator=gen)
    drawings = torch.randint(0, n_drawings, (n_seq, seq_len), generator=gen)
    return classes, drawings


class OmniglotSequenceDataModule(InMemoryDataModule):
    """Sequences of Omniglot images of ``num_classes`` characters.

    Each character's drawings are split once (``split_seed``) into train, val and test drawings. The train, val and
    test sets are fixed pools of sequences over their own drawings (``train_sequences`` etc., drawn with
    ``split_seed``, so every run of a sweep sees the same sequences); ``seed`` shuffles the training batches.
    Batches are ``(images float [B, L, 1, 28, 28] in [0, 1], labels long [B, L], sequence index long [B])``.
    """

    def __init__(
        self,
        data_dir: str,
        cache_dir: str | None = None,
        num_classes: int = 100,
        seq_len: int = 5,
        test_drawings: int = 5,
        val_drawings: int = 2,
        train_sequences: int = 20000,
        val_sequences: int = 500,
        test_sequences: int = 2000,
        image_size: int = 28,
        split_seed: int = 0,
        batch_size: int = 64,
        eval_batch_size: int | None = 500,
        seed: int = 0,
        pin_memory: bool = False,
        verify_checksums: bool = True,
    ):
        super().__init__(
            batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed, pin_memory=pin_memory
        )
        if seq_len < 1 or num_classes < 2:
            raise ValueError(f"need seq_len >= 1 and num_classes >= 2, got {seq_len} and {num_classes}")
        self.data_dir, self.cache_dir, self.image_size = data_dir, cache_dir, image_size
        self.verify_checksums = verify_checksums
        self.num_classes, self.seq_len, self.split_seed = num_classes, seq_len, split_seed
        self.test_drawings, self.val_drawings = test_drawings, val_drawings
        self.n_sequences = {"train": train_sequences, "val": val_sequences, "test": test_sequences}
        self.pools: dict[str, Tensor] = {}
        self.classes: list[str] = []
        self._device_pools: dict[tuple[int, torch.device], Tensor] = {}
        self._fingerprint: str | None = None  # the PNGs' fingerprint, once data_source() has computed it

    def data_source(self) -> dict[str, object]:
        """The PNGs' fingerprint (:func:`source_fingerprint`) and whether each was checked against
        ``omniglot-py.md5`` (``verify_checksums`` and the file beside the data), part of the job's identity."""
        verified = bool(self.verify_checksums) and (Path(self.data_dir) / MD5_NAME).is_file()
        self._fingerprint = source_fingerprint(self.data_dir, self.verify_checksums)  # reused by setup
        return {"fingerprint": self._fingerprint[:16], "checksums_verified": verified}

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        data = load_omniglot(
            self.data_dir, self.cache_dir, self.image_size, self.verify_checksums, self._fingerprint
        )
        images = data["images"]
        n_all, n_drawings = images.shape[0], images.shape[1]
        if self.num_classes > n_all:
            raise ValueError(f"data.num_classes={self.num_classes}, but the data hold {n_all} characters")
        if not (
            self.test_drawings >= 1
            and self.val_drawings >= 1
            and self.test_drawings + self.val_drawings < n_drawings
        ):
            raise ValueError(
                f"data.test_drawings={self.test_drawings} and data.val_drawings={self.val_drawings} must leave "
                f"training drawings out of {n_drawings} per character"
            )
        gen = torch.Generator().manual_seed(self.split_seed)
        chosen = torch.randperm(n_all, generator=gen)[: self.num_classes].sort().values
        self.classes = [data["classes"][i] for i in chosen.tolist()]
        order = torch.argsort(torch.rand(self.num_classes, n_drawings, generator=gen), dim=1)
        picked = images[chosen][
            torch.arange(self.num_classes)[:, None], order
        ]  # each class's drawings shuffled
        t, v = self.test_drawings, self.val_drawings
        self.pools = {"test": picked[:, :t], "val": picked[:, t : t + v], "train": picked[:, t + v :]}
        for split in ("train", "val", "test"):
            pool, n_seq = self.pools[split], self.n_sequences[split]
            classes, drawings = sample_sequences(n_seq, self.seq_len, self.num_classes, pool.shape[1], gen)
            flat = classes * pool.shape[1] + drawings  # index into the pool flattened to [C * D, H, W]
            ds = TensorBatches(flat, classes, torch.arange(n_seq))
            setattr(self, f"{split}_set", ds)

    def _pool_on(self, split: str, device: torch.device) -> Tensor:
        key = (split, device)
        if key not in self._device_pools:
            pool = self.pools[split]
            self._device_pools[key] = pool.reshape(-1, 1, *pool.shape[2:]).to(device)
        return self._device_pools[key]

    def _current_split(self) -> str:
        trainer = self.trainer
        if trainer is None or trainer.training:
            return "train"
        if trainer.testing:
            return "test"
        return "val"

    def transform_batch(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        flat, labels, index = batch
        pool = self._pool_on(self._current_split(), flat.device)
        images = pool[flat.flatten()].view(*flat.shape, *pool.shape[1:]).float().div_(255.0)
        return (images, labels, index)
