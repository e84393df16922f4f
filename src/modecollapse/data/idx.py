"""Reader for the IDX format of MNIST and Fashion-MNIST (gzip'd or raw), strictly validated."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from modecollapse.errors import DataFileError

# IDX type code -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path, expect_ndim: int | None = None) -> np.ndarray:
    """Parse an IDX file; raise DataFileError naming the file and the defect."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataFileError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0:
        raise DataFileError(
            f"{path}: bad magic number {raw[:4].hex()} (an IDX file starts with two zero bytes)"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in _DTYPES:
        raise DataFileError(f"{path}: unknown IDX data type 0x{type_code:02x}")
    if expect_ndim is not None and ndim != expect_ndim:
        raise DataFileError(f"{path}: has {ndim} dimensions, expected {expect_ndim}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataFileError(f"{path}: truncated inside the header ({len(raw)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[type_code])
    expected = math.prod(dims) * dtype.itemsize  # Python ints: a forged header cannot overflow
    actual = len(raw) - header_len
    if actual != expected:
        state = "truncated" if actual < expected else "has trailing bytes"
        raise DataFileError(f"{path}: {state}: header says {dims} = {expected} data bytes, file has {actual}")
    return np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(dims).astype(dtype.newbyteorder("="))


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataFileError(f"{path}: corrupt or truncated gzip data ({error})") from None
