"""Reader for the IDX format of the MNIST files (LeCun et al.), gzipped or not, straight into uint8 tensors."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

# magic number -> (name, number of dimensions); only the unsigned-byte type (0x08) is used by MNIST.
IDX_MAGIC = {2049: ("labels", 1), 2051: ("images", 3)}


class CorruptDataError(ValueError):
    """A data file exists but its contents are not what its format promises."""


class DataMissingError(FileNotFoundError):
    """A data file is not where the config says; the message names where it was looked for and how to get it."""


def read_idx(path: str | Path, expect_magic: int | None = None) -> torch.Tensor:
    """Read an IDX file (``.gz`` or raw) into a uint8 tensor, checking magic number and size.

    Raises ``CorruptDataError`` naming the file when the header or the length is wrong (a truncated download,
    an HTML error page saved under the file's name, a labels file passed for images, ...).
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise CorruptDataError(
            f"{path} could not be read or decompressed ({err}); download it again"
        ) from err
    if len(data) < 8:
        raise CorruptDataError(
            f"{path} is {len(data)} bytes long, too short for an IDX header; download it again"
        )
    magic = int.from_bytes(data[:4], "big")
    if magic not in IDX_MAGIC or (expect_magic is not None and magic != expect_magic):
        want = expect_magic if expect_magic is not None else sorted(IDX_MAGIC)
        raise CorruptDataError(
            f"{path} has IDX magic number {magic}, expected {want}; it is not the right MNIST file"
        )
    ndim = IDX_MAGIC[magic][1]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise CorruptDataError(
            f"{path} holds {len(data)} bytes but its header {dims} promises {expected}; "
            "the file is truncated or corrupt, download it again"
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    return torch.from_numpy(array.copy())


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (``.gz`` when the name says so); used to build test fixtures."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = {1: 2049, 3: 2051}[array.ndim]
    payload = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)
