"""Atomic file writes (a reader sees the old content or the new, never half of either), an
exclusive lock (one writer per run folder) and TOML reading with a clear error."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modecollapse.errors import ConfigError, LockedError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """TOML text as a dict; a syntax error is a ConfigError naming `source`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source} is not valid TOML: {error}") from None


def read_toml(path: str | Path, what: str = "file") -> dict[str, Any]:
    """A TOML file as a dict; a missing file or a syntax error is a ConfigError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    return parse_toml(path.read_text(), str(path))


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()
"""The process's umask, read once at import (reading it sets it, which is not thread-safe)."""


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `path` whole or not at all, with the permissions a plain open() would give it
    (mkstemp's own are owner-only). The file and then its folder are synced: on POSIX the new
    content survives a power cut once this returns (a folder just created is not synced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make the entries of `folder` (a rename, a new file) durable on POSIX; a no-op where folders
    cannot be opened or synced (Windows, some filesystems)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse to sync a folder; the file itself is synced
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


@contextmanager
def exclusive_lock(path: str | Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the block, or refuse at once
    when another live process holds it. The operating system drops the lock when its holder
    dies, so a killed run never leaves a stale lock behind. No-op where `fcntl` is missing."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; run folders are not shared there
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedError(f"{what} is in use by {holder}; wait for it to finish or stop it") from None
        handle.seek(0)
        handle.truncate()
        start = process_start(os.getpid())
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}" + (f" (start {start})" if start else ""))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def process_start(pid: int) -> str | None:
    """When process `pid` started, as "BOOT:TICKS" (this boot's id, clock ticks since boot), so
    a pid reused by a later process reads differently; None where /proc cannot tell."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
        stat = Path(f"/proc/{pid}/stat").read_bytes()  # bytes: a process name need not be UTF-8
    except OSError:
        return None
    return f"{boot}:{stat.rsplit(b')', 1)[1].split()[19].decode()}"  # field 22, starttime


def lock_holder_alive(path: str | Path) -> bool | None:
    """Whether the process an `exclusive_lock` file names ("pid N on HOST (start S)") still
    lives: False when it is gone or its pid now belongs to a process started since; None when
    that cannot be told here (no file, another host, no pid). Reads the file only, so it never
    gets in the way of a process taking the lock. A lock written without a start (by an older
    version) and a reused pid read as alive: the safe side, a stopped run stays 'running'."""
    try:
        words = Path(path).read_text().split()
    except OSError:
        return None
    if len(words) not in (4, 6) or words[0] != "pid" or not words[1].isdigit():
        return None
    if words[3] != socket.gethostname():
        return None
    try:
        os.kill(int(words[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    recorded = words[5].rstrip(")") if len(words) == 6 and words[4] == "(start" else None
    now = process_start(int(words[1]))
    return not (recorded and now and recorded != now)
