"""In-memory datasets served whole batches at a time, sharded across processes without padding.

A ``DataLoader`` over a ``TensorDataset`` indexes and collates every item in Python. Here the dataset is indexed by a
list of indices and returns the batch with one tensor gather, so a batch costs one ``index_select`` per tensor.
Sharding is done here, not by Lightning's ``DistributedSampler`` (set ``trainer.use_distributed_sampler=false``):
training shards are equal and shuffled by (seed, epoch); evaluation shards are disjoint and unpadded, so metrics
merged across processes count every test item exactly once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from src.results.errors import InputError

log = logging.getLogger(__name__)


SOURCE_KEY = "_source_fingerprint"
CONTENT_KEY = "_content_sha256"  # the cache's own hash of what it holds, written with it and checked on load


class CacheDirError(InputError):
    """A cache dir that another user could write (or a symlink): caches there are refused, not read."""


def content_hash(data: dict) -> str:
    """sha256 over every entry of a decode (name, dtype, shape and bytes of each tensor; other values as JSON),
    the keys this module adds left out. Detects a cache changed after it was written (corruption, an edit that
    did not recompute it); see docs/design.md "What is trusted" for what it cannot detect."""
    import json

    h = hashlib.sha256()
    for key in sorted(k for k in data if k not in (SOURCE_KEY, CONTENT_KEY)):
        value = data[key]
        h.update(f"{key}\0".encode())
        if isinstance(value, Tensor):
            t = value.detach().cpu().contiguous()
            h.update(f"{t.dtype}\0{tuple(t.shape)}\0".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        else:
            h.update(json.dumps(value, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def _stop_dirs() -> set[Path]:
    home = os.environ.get("HOME") or ""
    return {Path(home).resolve()} if os.path.isabs(home) and home != "/" else set()


def _unsafe_dir(d: Path, st: os.stat_result) -> str | None:
    """Why another user could replace what is in ``d``: owned by someone else, or writable by others (world, or a
    group with other members) without the sticky bit."""
    uid = os.getuid()
    if st.st_uid not in (uid, 0):
        return f"{d} is owned by another user (uid {st.st_uid})"
    if st.st_mode & stat.S_ISVTX:
        return None  # sticky (/tmp): others cannot rename or delete what is ours inside it
    if st.st_mode & 0o002:
        return f"{d} is writable by every user"
    if st.st_mode & 0o020 and _group_has_others(st.st_gid):
        return f"{d} is writable by its group (gid {st.st_gid}), which has other members"
    return None


def _group_has_others(gid: int) -> bool:
    import grp
    import pwd

    try:
        me = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(gid)
    except KeyError:
        return True  # unknown group: assume others are in it
    return any(m != me for m in group.gr_mem) or gid != os.getgid()


def _cache_dir_problem(cache_dir: Path) -> str | None:
    """Why ``cache_dir`` must not hold caches: it is a symlink, or it or any directory above it, up to the home
    directory (or the root), could be written by another user (who could then plant or swap a cache)."""
    if cache_dir.is_symlink():
        return f"{cache_dir} is a symlink"
    stop = _stop_dirs()
    for d in (cache_dir, *cache_dir.parents):
        try:
            st = os.stat(
                d
            )  # an ancestor may be a symlink (a home on another disk): its target is what counts
        except (FileNotFoundError, NotADirectoryError):
            continue  # created later, mode 0700 (or not creatable: then the cache is not written, a warning)
        except OSError as err:
            return f"{d} cannot be inspected ({err.strerror})"
        problem = _unsafe_dir(d, st)
        if problem:
            return problem
        if d.resolve() in stop:
            break
    return None


def _load_cache(cache: Path, fingerprint: str, validate: Callable[[dict], None], what: str) -> dict | None:
    """The cache's tensors when it is a regular file of this source (``fingerprint``) whose content still has the
    hash written with it and that passes ``validate``."""
    if cache.is_symlink():
        log.warning("cache %s is a symlink, not a file this code wrote; decoding %s again", cache, what)
        return None
    if not cache.is_file():
        return None
    try:
        data = torch.load(cache, weights_only=True)  # tensors, lists, dicts, str, numbers: never code
    except Exception as err:
        log.warning("unreadable cache %s (%s); decoding %s again", cache, err, what)
        return None
    if not isinstance(data, dict) or data.get(SOURCE_KEY) != fingerprint:
        log.info("cache %s is of other source files; decoding %s again", cache, what)
        return None
    if data.get(CONTENT_KEY) != content_hash(data):
        log.warning(
            "cache %s does not match the content hash written with it; decoding %s again", cache, what
        )
        return None
    try:
        validate(data)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        log.warning("cache %s fails validation (%s); decoding %s again", cache, err, what)
        return None
    return data


def _save_cache(cache: Path, data: dict) -> None:
    """Save through the one atomic writer (a random temp file created exclusively in the cache dir, so a planted
    symlink or file is never followed; then ``os.replace``), with its content hash. A cache that cannot be
    written is a warning."""
    from src.results.io import atomic_write

    try:
        cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = {**data, CONTENT_KEY: content_hash(data)}
        atomic_write(cache, lambda fh: torch.save(payload, fh), binary=True)
    except OSError as err:
        log.warning(
            "could not write the cache %s (%s: %s); continuing without it (the next run decodes again). "
            "Set MIRAGE_CACHE_DIR (or paths.cache_dir) to a writable directory to keep it",
            cache,
            type(err).__name__,
            err,
        )


def cached_decode(
    cache: Path | None,
    decode: Callable[[], dict[str, Any]],
    what: str,
    *,
    fingerprint: str,
    validate: Callable[[dict], None],
) -> dict[str, Any]:
    """``decode()``'s tensors, from ``cache`` when it holds a valid decode of these source files, else decoded and
    (if ``cache``) saved there.

    Caches are data, never trusted: loaded with ``weights_only`` (no code), used only when their stored
    ``fingerprint`` (sizes and hashes of the source files) matches and ``validate(data)`` (shapes, dtypes, label
    ranges; raises ``ValueError``) passes; a symlinked, stale, unreadable or invalid cache is decoded again and
    replaced. A cache dir that other users could write is refused (:class:`CacheDirError`, one line naming it)."""
    if cache is not None:
        problem = _cache_dir_problem(cache.parent)
        if problem:
            raise CacheDirError(
                f"cache dir {cache.parent} refused: {problem}, so another user could plant a cache there",
                fix="set MIRAGE_CACHE_DIR (or paths.cache_dir) to a directory of your own (e.g. ~/.cache/mirage)",
            )
        data = _load_cache(cache, fingerprint, validate, what)
        if data is not None:
            data.pop(SOURCE_KEY)
            data.pop(CONTENT_KEY)
            return data
    start = time.perf_counter()
    data = decode()
    log.info("decoded %s in %.1f s", what, time.perf_counter() - start)
    validate(data)
    if cache is not None:
        _save_cache(cache, {**data, SOURCE_KEY: fingerprint})
    return data


def check_images(data: dict, key: str, shape_tail: tuple[int, ...]) -> int:
    """``data[key]`` is a uint8 tensor ``[n, *shape_tail]``; returns n (raises ValueError otherwise)."""
    t = data[key]
    if not isinstance(t, Tensor) or t.dtype != torch.uint8 or tuple(t.shape[1:]) != shape_tail:
        got = (t.dtype, tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f"{key} must be uint8 [n, {', '.join(map(str, shape_tail))}], got {got}")
    return t.shape[0]


def check_labels(data: dict, key: str, n: int, n_classes: int) -> None:
    """``data[key]`` holds ``n`` int64 labels in ``[0, n_classes)``, every class at least once."""
    t = data[key]
    if not isinstance(t, Tensor) or t.dtype != torch.long or tuple(t.shape) != (n,):
        raise ValueError(f"{key} must be int64 [{n}]")
    if n and (int(t.min()) < 0 or int(t.max()) >= n_classes):
        raise ValueError(f"{key} has labels outside [0, {n_classes})")
    if n >= n_classes and torch.unique(t).numel() != n_classes:
        raise ValueError(f"{key} lacks some of the {n_classes} classes")


class TensorBatches(Dataset):
    """Map-style dataset over equal-length tensors, indexed by a list of indices: ``ds[[3, 1, 4]]`` is a batch."""

    def __init__(self, *tensors: Tensor):
        if not tensors or any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError("TensorBatches needs one or more tensors with the same first dimension")
        self.tensors = tensors

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, indices: Sequence[int] | Tensor) -> tuple[Tensor, ...]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t[idx] for t in self.tensors)


class ShardedBatchSampler(Sampler[list[int]]):
    """Yields index lists (batches) for this process's shard.

    ``shuffle=True`` (training): a (seed, epoch)-seeded permutation (``epoch_fn`` is asked at each pass, so a
    resumed run sees the same order as an uninterrupted one), cut to a multiple of ``world_size`` so every
    process gets the same number of items (and of batches), then strided. ``shuffle=False`` (evaluation): items
    ``rank, rank + world_size, ...`` in order, no padding and no item twice.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        epoch_fn: Callable[[], int] | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch_fn = epoch_fn or (lambda: 0)

    def _indices(self) -> Tensor:
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + int(self.epoch_fn()))
            perm = torch.randperm(self.n, generator=gen)
            usable = (self.n // self.world_size) * self.world_size
            return perm[:usable][self.rank :: self.world_size]
        return torch.arange(self.rank, self.n, self.world_size)

    def __iter__(self) -> Iterator[list[int]]:
        idx = self._indices()
        for batch in idx.split(self.batch_size):
            if self.drop_last and batch.numel() < self.batch_size:
                return
            yield batch.tolist()

    def __len__(self) -> int:
        per_rank = (
            (self.n // self.world_size) if self.shuffle else len(range(self.rank, self.n, self.world_size))
        )
        return per_rank // self.batch_size if self.drop_last else math.ceil(per_rank / self.batch_size)


class InMemoryDataModule(L.LightningDataModule):
    """Base for datamodules whose splits are in-memory tensors: subclasses fill ``self.train_set`` etc. in
    ``setup`` with ``TensorBatches`` and may override ``transform_batch`` (applied after the batch reaches the
    device, so normalisation runs on the GPU when there is one)."""

    def __init__(
        self,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        seed: int = 0,
        pin_memory: bool = False,
    ):
        super().__init__()
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.seed = seed
        self.pin_memory = pin_memory
        self.train_set: TensorBatches | None = None
        self.val_set: TensorBatches | None = None
        self.test_set: TensorBatches | None = None

    def _dist(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _loader(self, dataset: TensorBatches | None, train: bool, name: str) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}.setup() did not create the {name} split")
        rank, world = self._dist()
        sampler = ShardedBatchSampler(
            len(dataset),
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            seed=self.seed,
            rank=rank,
            world_size=world,
            drop_last=train and len(dataset) // world >= self.batch_size,
            epoch_fn=(lambda: self.trainer.current_epoch) if self.trainer is not None else None,
        )
        return DataLoader(
            dataset, sampler=sampler, batch_size=None, num_workers=0, pin_memory=self.pin_memory
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, True, "train")

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, False, "val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, False, "test")

    def transform_batch(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """Per-batch transform on the device (normalisation, dtype); identity by default."""
        return batch

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        return self.transform_batch(batch)
