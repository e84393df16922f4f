"""The download path, against real HTTP servers on 127.0.0.1 serving fixture files."""

import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from modecollapse.config import DataConfig
from modecollapse.data import digits
from modecollapse.data.sources import FileSet, RemoteFile, cache_root, download_fileset, fetch
from modecollapse.errors import DatasetUnavailable
from modecollapse.options import command_line


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """serve(folder) -> base URL of an HTTP server on 127.0.0.1 for that folder."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.tobytes())


def _fixture_files(folder: Path, count: int = 20) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    files = {
        "t10k-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte.gz": _idx((np.arange(count) % 10).astype(np.uint8)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def _fileset(files: dict[str, bytes], mirrors: tuple[str, ...]) -> FileSet:
    remotes = tuple(RemoteFile(name, hashlib.md5(data).hexdigest()) for name, data in files.items())
    return FileSet(key="fixture", title="Fixture", files=remotes, mirrors=mirrors)


def test_download_succeeds_and_verifies(tmp_path, serve):
    files = _fixture_files(tmp_path / "server")
    fileset = _fileset(files, (serve(tmp_path / "server"),))
    folder = fetch(fileset)
    assert folder == cache_root() / "fixture"
    for name, data in files.items():
        assert (folder / name).read_bytes() == data
    assert not list(folder.glob("*.part"))


def test_falls_back_to_the_next_mirror(tmp_path, serve):
    files = _fixture_files(tmp_path / "good")
    (tmp_path / "empty").mkdir()
    fileset = _fileset(files, (serve(tmp_path / "empty"), serve(tmp_path / "good")))
    folder = download_fileset(fileset, tmp_path / "dest")
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)


def test_checksum_mismatch_deletes_partial_and_says_so(tmp_path, serve):
    files = _fixture_files(tmp_path / "server")
    bad = FileSet(
        key="fixture",
        title="Fixture",
        files=(RemoteFile("t10k-labels-idx1-ubyte.gz", "0" * 32),),
        mirrors=(serve(tmp_path / "server"),),
    )
    with pytest.raises(DatasetUnavailable, match="MD5 mismatch.*partial file was deleted"):
        download_fileset(bad, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []
    assert files  # the server did serve a file: the mismatch is real


def test_mismatch_on_first_mirror_then_good_second(tmp_path, serve):
    files = _fixture_files(tmp_path / "good")
    (tmp_path / "evil").mkdir()
    for name in files:
        (tmp_path / "evil" / name).write_bytes(b"not the file")
    fileset = _fileset(files, (serve(tmp_path / "evil"), serve(tmp_path / "good")))
    folder = download_fileset(fileset, tmp_path / "dest")
    for name, data in files.items():
        assert (folder / name).read_bytes() == data


def test_offline_message_lists_the_ways(tmp_path):
    fileset = _fileset({"a.gz": b"x"}, ("http://127.0.0.1:9/",))  # port 9: nothing listens
    with pytest.raises(DatasetUnavailable) as error:
        fetch(fileset)
    message = str(error.value)
    assert "Fixture is not available here" in message
    assert "pass data_dir=DIR" in message and str(cache_root() / "fixture") in message  # Python's spelling
    with command_line(), pytest.raises(DatasetUnavailable, match="pass --data-dir DIR"):
        fetch(fileset)
    assert "modecollapse data fetch" in message
    assert "127.0.0.1:9" in message


def test_downloads_switched_off(tmp_path):
    fileset = _fileset({"a.gz": b"x"}, ("http://127.0.0.1:9/",))
    with pytest.raises(DatasetUnavailable, match="downloads are switched off"):
        fetch(fileset, download=False)


def test_mnist_loader_downloads_from_mirror(tmp_path, serve, monkeypatch):
    """The real mnist loader end to end: mirror -> cache -> tensors."""
    files = _fixture_files(tmp_path / "server")
    fileset = _fileset(files, (serve(tmp_path / "server"),))
    fileset = FileSet("mnist", "MNIST", fileset.files, fileset.mirrors)
    monkeypatch.setattr(digits, "_SPLITS", {**digits._SPLITS, "test": ("t10k", 20)})
    loader = digits._idx_loader(fileset, "mnist")
    dataset = loader(DataConfig(name="mnist", split="test"))
    assert dataset.data.shape == (20, 1, 28, 28)
    assert dataset.labels.tolist() == [i % 10 for i in range(20)]
    assert dataset.data.dtype == torch.uint8
