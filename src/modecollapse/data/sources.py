"""Where dataset files come from: a data dir, the cache, system folders, or a checked download."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from modecollapse.errors import DamagedCache, DatasetUnavailable
from modecollapse.files import sync_folder
from modecollapse.options import Metavar, option

DATA_ENV = "MODECOLLAPSE_DATA"
CACHE_ENV = "MODECOLLAPSE_CACHE"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str


@dataclass(frozen=True)
class FileSet:
    """A named group of files that a dataset needs, with the mirrors that serve them."""

    key: str
    title: str
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]
    system_dirs: tuple[Path, ...] = field(default=())
    system_hint: str = ""


def cache_root() -> Path:
    """$MODECOLLAPSE_CACHE, else $XDG_CACHE_HOME/modecollapse, else ~/.cache/modecollapse."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "modecollapse"


def search_dirs(fileset: FileSet, data_dir: str | Path | None = None) -> list[tuple[str, Path]]:
    """Folders to look in, in order, each with the label a user would recognise. $MODECOLLAPSE_DATA
    is a root of one folder per dataset (MNIST's and Fashion-MNIST's files share their names);
    data_dir may also hold the files themselves."""
    found: list[tuple[str, Path]] = []
    if data_dir:
        found += [("--data-dir", Path(data_dir) / fileset.key), ("--data-dir", Path(data_dir))]
    if os.environ.get(DATA_ENV):
        found.append((f"${DATA_ENV}", Path(os.environ[DATA_ENV]) / fileset.key))
    found.append(("cache", cache_root() / fileset.key))
    found += [("system", path) for path in fileset.system_dirs]
    return found


def file_in(folder: Path, remote: RemoteFile) -> Path | None:
    """The file in `folder`, gzip'd as published or already decompressed."""
    for name in (remote.name, remote.name.removesuffix(".gz")):
        if (folder / name).is_file():
            return folder / name
    return None


def _wanted(fileset: FileSet, names: tuple[str, ...] | None) -> tuple[RemoteFile, ...]:
    return tuple(r for r in fileset.files if names is None or r.name in names)


def find_local(
    fileset: FileSet, data_dir: str | Path | None = None, names: tuple[str, ...] | None = None
) -> tuple[str, Path] | None:
    """The first folder that holds every wanted file of the set (default: all), or None."""
    for label, folder in search_dirs(fileset, data_dir):
        if all(file_in(folder, remote) for remote in _wanted(fileset, names)):
            return label, folder
    return None


def fetch(
    fileset: FileSet,
    data_dir: str | Path | None = None,
    download: bool = True,
    names: tuple[str, ...] | None = None,
) -> Path:
    """A folder holding the wanted files (default: all), downloading into the cache if needed. The
    cache's files are checked against their MD5 each time; a damaged one is downloaded again."""
    if data_dir and not Path(data_dir).is_dir():  # a typo would silently fall back to a download
        raise DatasetUnavailable(how_to_get(fileset, f"the data dir {data_dir} does not exist", names))
    local = find_local(fileset, data_dir, names)
    if local and local[0] == "cache":
        damaged = damaged_files(fileset, local[1], names)
        if damaged and not download:
            reason = f"damaged in the cache: {', '.join(damaged)}"
            raise DamagedCache(how_to_get(fileset, reason, names))
        for name in damaged:
            (local[1] / name).unlink()
        local = local if not damaged else None
    if local:
        return local[1]
    if not download:
        raise DatasetUnavailable(how_to_get(fileset, "downloads are switched off (data.download)", names))
    try:
        return download_fileset(fileset, cache_root() / fileset.key, names=names)
    except DatasetUnavailable as error:
        raise DatasetUnavailable(how_to_get(fileset, str(error), names)) from None


def damaged_files(fileset: FileSet, folder: Path, names: tuple[str, ...] | None = None) -> list[str]:
    """The wanted files in `folder`, as published (gzip'd), whose MD5 is not the published one."""
    damaged = []
    for remote in _wanted(fileset, names):
        path = folder / remote.name
        if path.is_file() and _md5(path) != remote.md5:
            damaged.append(remote.name)
    return damaged


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_fileset(
    fileset: FileSet, dest: Path, timeout: float = 30.0, names: tuple[str, ...] | None = None
) -> Path:
    """Download every missing wanted file into `dest`, each checked against its MD5."""
    dest.mkdir(parents=True, exist_ok=True)
    for remote in _wanted(fileset, names):
        if file_in(dest, remote) is None:
            download_file(remote, fileset.mirrors, dest, timeout)
    return dest


def download_file(remote: RemoteFile, mirrors: tuple[str, ...], dest: Path, timeout: float) -> Path:
    """Try each mirror in order into a partial file of this process's own (two processes may
    fetch one file at once); a failure or checksum mismatch deletes it and moves on. The first
    mirror given up for being slow is tried once more, without the rate check, when no other one
    served the file (a slow proxy still gets it)."""
    attempts = [(mirror, position < len(mirrors)) for position, mirror in enumerate(mirrors, start=1)]
    failures: list[str] = []
    retried = False
    for mirror, check_rate in attempts:
        url = mirror.rstrip("/") + "/" + remote.name
        try:
            return _fetch_one(url, remote, dest, timeout, check_rate)
        except TooSlow as error:
            failures.append(f"{url}: {error}")
            if not retried:  # the first slow one gets a patient retry, after the others
                attempts.append((mirror, False))
                retried = True
        except ChecksumMismatch as error:
            failures.append(f"{url}: {error}")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
            failures.append(f"{url}: {getattr(error, 'reason', None) or f'{type(error).__name__}: {error}'}")
    raise DatasetUnavailable(f"could not download {remote.name}: " + "; ".join(failures))


def _fetch_one(url: str, remote: RemoteFile, dest: Path, timeout: float, check_rate: bool) -> Path:
    """`url` into dest/remote.name through a partial file, MD5-checked."""
    handle, name = tempfile.mkstemp(dir=dest, prefix=f".{remote.name}.", suffix=".part")
    os.close(handle)
    partial = Path(name)
    try:
        digest = _stream_to(url, partial, timeout, check_rate)
        if digest != remote.md5:
            expected = f"expected {remote.md5}, got {digest}"
            raise ChecksumMismatch(f"MD5 mismatch ({expected}); the partial file was deleted")
        os.replace(partial, dest / remote.name)
        sync_folder(dest)
        return dest / remote.name
    finally:
        partial.unlink(missing_ok=True)


class TooSlow(OSError):
    """A mirror sent under MIN_RATE over two windows in a row."""


class ChecksumMismatch(ValueError):
    """A mirror's file is not the one its MD5 names."""


MIN_RATE = 5_000
"""Bytes a second below which a mirror is given up for the next one: over two `timeout`-long
windows in a row from the first byte (a mirror that trickles never trips the socket timeout; one
stall just under it does not count). The last mirror is never given up for being slow."""


def _stream_to(url: str, path: Path, timeout: float, check_rate: bool = True) -> str:
    """Download `url` into `path`; its MD5. A body shorter than its Content-Length is an error, and
    so (with `check_rate`) is one that comes slower than MIN_RATE over two windows in a row."""
    digest, received, slow = hashlib.md5(usedforsecurity=False), 0, 0
    with urllib.request.urlopen(url, timeout=timeout) as response, path.open("wb") as out:
        length = response.headers.get("Content-Length") or ""
        total = int(length) if length.isdigit() else None
        window: tuple[float, int] | None = None  # (when, bytes) at the start of the current window
        with tqdm(total=total, unit="B", unit_scale=True, desc=path.name, leave=False) as bar:
            while chunk := response.read1(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                now = time.monotonic()
                if window is None:
                    window = (now, received)
                elif check_rate and now - window[0] >= timeout:
                    rate = (received - window[1]) / (now - window[0])
                    slow = slow + 1 if rate < MIN_RATE else 0
                    if slow == 2:
                        raise TooSlow(
                            f"too slow: {received - window[1]:,} bytes in the last {now - window[0]:.1f} s "
                            f"(under {MIN_RATE / 1000:g} kB/s twice running); {received:,} received"
                        )
                    window = (now, received)
        out.flush()
        os.fsync(out.fileno())
    if total is not None and received < total:
        raise OSError(f"truncated: got {received:,} of {total:,} bytes")
    return digest.hexdigest()


def how_to_get(fileset: FileSet, reason: str, wanted: tuple[str, ...] | None = None) -> str:
    """The message for a missing dataset: why, and the ways to get the `wanted` files (all)."""
    names = ", ".join(remote.name for remote in _wanted(fileset, wanted))
    ways = [
        f"put {names} in a folder and pass {option('data_dir', Metavar('DIR'))} (or set data.data_dir, "
        f"or ${DATA_ENV})",
        f"copy them into the cache folder {cache_root() / fileset.key}",
        f"with internet access, run `modecollapse data fetch {fileset.key}` "
        f"(mirrors: {', '.join(fileset.mirrors)}; MD5-checked)",
    ]
    if fileset.system_hint:
        ways.append(fileset.system_hint)
    steps = "\n".join(f"  {i}. {way}" for i, way in enumerate(ways, 1))
    return f"{fileset.title} is not available here ({reason}). Ways to get it:\n{steps}"
