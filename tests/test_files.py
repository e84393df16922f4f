"""Atomic writes: whole or not at all, with ordinary permissions."""

import os
import stat
import sys

import pytest

from modecollapse import files


def test_an_atomic_write_leaves_no_temporary_file_and_the_umask_permissions(tmp_path):
    target = tmp_path / "deep" / "summary.json"
    files.atomic_write_json(target, {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~files.UMASK
    assert [p.name for p in target.parent.iterdir()] == ["summary.json"]


def test_a_failed_write_keeps_the_old_content(tmp_path, monkeypatch):
    target = tmp_path / "records.jsonl"
    files.atomic_write_text(target, "old\n")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["records.jsonl"]


def test_a_lock_files_holder_is_told_alive_gone_or_unknown(tmp_path):
    import socket
    import subprocess
    import sys

    lock = tmp_path / "run.lock"
    with files.exclusive_lock(lock, "the run"):
        assert files.lock_holder_alive(lock) is True  # this process holds it
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lock.write_text(f"pid {gone.pid} on {socket.gethostname()}")
    assert files.lock_holder_alive(lock) is False
    lock.write_text(f"pid {os.getpid()} on another-host-{socket.gethostname()}")
    assert files.lock_holder_alive(lock) is None  # cannot look at another host's processes
    assert files.lock_holder_alive(tmp_path / "missing.lock") is None
    lock.write_text("")
    assert files.lock_holder_alive(lock) is None


def test_a_pid_reused_by_a_later_process_is_not_the_locks_holder(tmp_path):
    import socket

    start = files.process_start(os.getpid())
    if start is None:
        pytest.skip("no /proc here to tell when a process started")
    lock = tmp_path / "run.lock"
    with files.exclusive_lock(lock, "the run"):
        assert lock.read_text().endswith(f"(start {start})") and files.lock_holder_alive(lock) is True
    boot, ticks = start.split(":")
    lock.write_text(f"pid {os.getpid()} on {socket.gethostname()} (start {boot}:{int(ticks) - 1})")
    assert files.lock_holder_alive(lock) is False  # same pid, another process: the holder is gone
    lock.write_text(f"pid {os.getpid()} on {socket.gethostname()}")  # an older version's lock
    assert files.lock_holder_alive(lock) is True


@pytest.mark.skipif(sys.platform == "win32", reason="folders cannot be opened to sync on Windows")
def test_an_atomic_write_syncs_the_file_then_its_folder(tmp_path, monkeypatch):
    """The rename lives in the folder's entry: without syncing the folder, a power cut after the
    write can bring back the old file (or none)."""
    synced, real_fsync = [], os.fsync

    def recording_fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    files.atomic_write_text(tmp_path / "summary.json", "{}\n")
    assert synced == [False, True]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names a descriptor's file from /proc")
def test_a_checkpoint_and_its_kept_copy_are_synced_before_and_after_their_rename(tmp_path, monkeypatch):
    import torch

    from modecollapse.training.checkpoint import keep_copy, save_checkpoint

    synced, real_fsync = [], os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    root, pid = tmp_path / "checkpoints", os.getpid()
    saved = save_checkpoint(tmp_path, 10, {"w": torch.zeros(2)}, {"step": 10}, keep=2)
    assert f"{root}/.tmp-step-00000010-{pid}" in synced  # its files' entries, before the rename
    assert str(root) in synced  # the rename (synced with LATEST)
    synced.clear()
    keep_copy(saved)
    assert f"{root}/.tmp-last-healthy-{pid}" in synced and synced[-1] == str(root)
