"""Known digests of the data files, verified on every load (``data.verify_checksums``, default true).

A mismatch is a :class:`~src.datamodules.idx.CorruptDataError` naming the file and both digests. Files not in the
table (and copies of one's own, with ``data.verify_checksums=false``) are read as they are, through the readers'
format checks.

=====================================================  ======  ========================================  ==========
file (relative to ``DATA_DIR``)                        algo    digest                                    source
=====================================================  ======  ========================================  ==========
MNIST/raw/train-images-idx3-ubyte.gz                   md5     f68b3c2dcbeaaa9fbdd348bbdeb94873          (a)
MNIST/raw/train-labels-idx1-ubyte.gz                   md5     d53e105ee54ea40749a09fcbcd1e9432          (a)
MNIST/raw/t10k-images-idx3-ubyte.gz                    md5     9fb629c4189551a2d022fa330f9573f3          (a)
MNIST/raw/t10k-labels-idx1-ubyte.gz                    md5     ec29112dd5afa0611ce80d1b7f02629c          (a)
MNIST/raw/train-images-idx3-ubyte (uncompressed)       md5     6bbc9ace898e44ae57da46a324031adb          (b)
MNIST/raw/train-labels-idx1-ubyte                      md5     a25bea736e30d166cdddb491f175f624          (b)
MNIST/raw/t10k-images-idx3-ubyte                       md5     2646ac647ad5339dbf082846283269ea          (b)
MNIST/raw/t10k-labels-idx1-ubyte                       md5     27ae3e4e09519cfbb04c329615203637          (b)
cifar-100-python/train                                 md5     16019d7e3df5f24257cddd939b257f8d          (c)
cifar-100-python/test                                  md5     f0ef6b0ae62326f3e7ffdfab6717acfc          (c)
cifar-100-python/meta                                  md5     7973b15100ade9c7d40fb424638fde48          (c)
cifar10-jpg.zip                                        sha256  d14454560e8a...e57848b (full below)       (d)
=====================================================  ======  ========================================  ==========

(a) torchvision ``datasets/mnist.py``, ``MNIST.resources``. (b) the same four files gunzipped (the md5s
torchvision's extracted files have; listed in the data's PROVENANCE.md). (c) torchvision ``datasets/cifar.py``,
``CIFAR100.train_list``, ``test_list``, ``meta``. (d) the CIFAR-10-as-JPEG stand-in packed for this project
(PROVENANCE.md beside the data); a zip packed by anyone else has another digest: pass ``data.verify_checksums=false``.

Omniglot's per-PNG md5s come from ``<DATA_DIR>/omniglot-py.md5`` (``md5sum`` format) when that file is there
(see :mod:`src.datamodules.omniglot`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from src.datamodules.idx import CorruptDataError

KNOWN_DIGESTS: dict[str, tuple[str, str]] = {
    "MNIST/raw/train-images-idx3-ubyte.gz": ("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "MNIST/raw/train-labels-idx1-ubyte.gz": ("md5", "d53e105ee54ea40749a09fcbcd1e9432"),
    "MNIST/raw/t10k-images-idx3-ubyte.gz": ("md5", "9fb629c4189551a2d022fa330f9573f3"),
    "MNIST/raw/t10k-labels-idx1-ubyte.gz": ("md5", "ec29112dd5afa0611ce80d1b7f02629c"),
    "MNIST/raw/train-images-idx3-ubyte": ("md5", "6bbc9ace898e44ae57da46a324031adb"),
    "MNIST/raw/train-labels-idx1-ubyte": ("md5", "a25bea736e30d166cdddb491f175f624"),
    "MNIST/raw/t10k-images-idx3-ubyte": ("md5", "2646ac647ad5339dbf082846283269ea"),
    "MNIST/raw/t10k-labels-idx1-ubyte": ("md5", "27ae3e4e09519cfbb04c329615203637"),
    "cifar-100-python/train": ("md5", "16019d7e3df5f24257cddd939b257f8d"),
    "cifar-100-python/test": ("md5", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
    "cifar-100-python/meta": ("md5", "7973b15100ade9c7d40fb424638fde48"),
    "cifar10-jpg.zip": ("sha256", "d14454560e8a3d3129aa7f61989955905aad38e3319ea90e7cb5ddd75e57848b"),
}


def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    """``algo`` hex digest of the file, kept for the process: the jobs of a multirun (one process) hash each data
    file once for their identity (``data_source``), not once per job. Keyed by path, inode, size, modification and
    change times: a file written since (which moves its change time; ``os.utime`` cannot set that back) is hashed
    again."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, algo)
    digest = _DIGESTS.get(key)
    if digest is None:
        h = hashlib.new(algo)
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = _DIGESTS[key] = h.hexdigest()
    return digest


_DIGESTS: dict[tuple[str, int, int, int, int, str], str] = {}


def _mismatch(path: str | os.PathLike, key: str, algo: str, actual: str, expected: str) -> CorruptDataError:
    return CorruptDataError(
        f"{Path(path)}: {algo} {actual} differs from the known {algo} {expected} of {key} "
        "(src/datamodules/checksums.py); the file is corrupt or not the official one: get it again, or pass "
        "data.verify_checksums=false to use a copy of your own"
    )


def verify_known(path: str | os.PathLike, key: str, enabled: bool = True) -> str | None:
    """Check ``path`` against the known digest of ``key`` (its name relative to ``DATA_DIR``); returns the digest
    (None when not checked). A mismatch is one error naming the file and both digests."""
    if not enabled or key not in KNOWN_DIGESTS:
        return None
    algo, expected = KNOWN_DIGESTS[key]
    actual = file_digest(path, algo)
    if actual != expected:
        raise _mismatch(path, key, algo, actual, expected)
    return actual


def data_source(files: dict[str, str | os.PathLike], verify: bool = True) -> dict[str, object]:
    """What a job read, for its identity (src/results/jobs.py): ``fingerprint``, a hash of every source file's
    name, size and digest (the known algorithm where there is one, else sha256), and ``checksums_verified``: every
    file was checked against its known digest (``verify`` and every key in :data:`KNOWN_DIGESTS`). ``files`` maps
    each file's key (its name relative to ``DATA_DIR``) to its path. With ``verify``, a known file that does not
    match is the same error as :func:`verify_known`'s."""
    lines, verified = [], bool(verify)
    for key, path in sorted(files.items()):
        algo, expected = KNOWN_DIGESTS.get(key, ("sha256", None))
        actual = file_digest(path, algo)
        if expected is None:
            verified = False
        elif verify and actual != expected:
            raise _mismatch(path, key, algo, actual, expected)
        lines.append(f"{key}\t{os.path.getsize(path)}\t{algo}:{actual}")
    fingerprint = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    return {"fingerprint": fingerprint, "checksums_verified": verified}
