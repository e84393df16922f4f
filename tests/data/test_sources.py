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
from modecollapse.errors import DamagedCache, DatasetUnavailable
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


@pytest.fixture
def raw_mirror():
    """raw_mirror(reply) -> base URL of a socket server on 127.0.0.1 that answers any request
    with the bytes `reply` and closes: malformed HTTP a real mirror can send."""
    import socket

    sockets = []

    def start(reply: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        sockets.append(listener)

        def answer():
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(65536)
                    connection.sendall(reply)

        threading.Thread(target=answer, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}/"

    yield start
    for listener in sockets:
        listener.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort",  # chunked body cut short
        b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\nabc",  # a Content-Length that is no number
        b"SSH-2.0-OpenSSH_9.2\r\n",  # not HTTP at all
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nabc",  # shorter than it says
    ],
)
def test_a_malformed_mirror_reply_falls_back_to_the_next_mirror(tmp_path, serve, raw_mirror, reply):
    files = _fixture_files(tmp_path / "good")
    fileset = _fileset(files, (raw_mirror(reply), serve(tmp_path / "good")))
    folder = download_fileset(fileset, tmp_path / "dest")
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)  # no partial file left
    for name, data in files.items():
        assert (folder / name).read_bytes() == data


def test_two_downloads_of_one_file_at_once_both_end_with_the_right_file(tmp_path):
    import time

    data = np.random.default_rng(1).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()

    class Slow(_QuietHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for start in range(0, len(data), 1 << 16):
                self.wfile.write(data[start : start + (1 << 16)])
                time.sleep(0.03)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fileset = FileSet("fixture", "Fixture", (RemoteFile("big.gz", hashlib.md5(data).hexdigest()),),
                      (f"http://127.0.0.1:{server.server_address[1]}/",))  # fmt: skip
    errors = []

    def fetch_one():
        try:
            download_fileset(fileset, tmp_path / "dest")
        except Exception as error:  # noqa: BLE001 - the test reports any failure
            errors.append(error)

    first, second = threading.Thread(target=fetch_one), threading.Thread(target=fetch_one)
    first.start(), time.sleep(0.15), second.start()
    first.join(), second.join()
    server.shutdown(), server.server_close()
    assert errors == [] and (tmp_path / "dest" / "big.gz").read_bytes() == data
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["big.gz"]


def test_a_damaged_file_in_the_cache_is_downloaded_again(tmp_path, serve):
    files = _fixture_files(tmp_path / "server")
    fileset = _fileset(files, (serve(tmp_path / "server"),))
    folder = fetch(fileset)
    damaged = folder / "t10k-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    with pytest.raises(DamagedCache, match="damaged in the cache: t10k-images-idx3-ubyte.gz"):
        fetch(fileset, download=False)
    assert fetch(fileset) == folder and damaged.read_bytes() == files[damaged.name]


def test_the_data_root_is_searched_by_dataset_folder_only(tmp_path, monkeypatch):
    files = _fixture_files(tmp_path / "root")  # MNIST's file names, straight in the root
    fileset = _fileset(files, ("http://127.0.0.1:9/",))
    monkeypatch.setenv("MODECOLLAPSE_DATA", str(tmp_path / "root"))
    with pytest.raises(DatasetUnavailable):
        fetch(fileset, download=False)  # another dataset's files with the same names are not taken
    _fixture_files(tmp_path / "root" / "fixture")
    assert fetch(fileset, download=False) == tmp_path / "root" / "fixture"
    assert fetch(fileset, tmp_path / "root", download=False) == tmp_path / "root" / "fixture"
    (tmp_path / "flat").mkdir()
    _fixture_files(tmp_path / "flat")
    assert fetch(fileset, tmp_path / "flat", download=False) == tmp_path / "flat"  # named explicitly


def test_a_data_dir_that_does_not_exist_is_said_not_skipped(tmp_path):
    files = _fixture_files(tmp_path / "server")
    fileset = _fileset({**files, "train-images-idx3-ubyte.gz": b"x"}, ("http://127.0.0.1:9/",))
    wanted = ("t10k-images-idx3-ubyte.gz",)
    with pytest.raises(DatasetUnavailable, match="the data dir .*/dat does not exist") as error:
        fetch(fileset, tmp_path / "dat", names=wanted)  # a typo of "data": no silent download
    assert "put t10k-images-idx3-ubyte.gz in a folder" in str(error.value)  # the file wanted, only


TRICKLED = b"y" * 1000


@pytest.fixture
def trickling_mirror():
    """A mirror that answers at once and then sends its 1,000 bytes 10 at a time every 20 ms
    (500 B/s, 2 s in all): each read returns before any socket timeout."""
    import time

    class Trickle(_QuietHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(TRICKLED)))
            self.end_headers()
            try:
                for start in range(0, len(TRICKLED), 10):
                    self.wfile.write(TRICKLED[start : start + 10])
                    self.wfile.flush()
                    time.sleep(0.02)
            except OSError:
                pass  # the client gave up

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown(), server.server_close()


def test_a_mirror_that_trickles_is_given_up_for_the_next(tmp_path, trickling_mirror):
    import time

    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "a.gz").write_bytes(TRICKLED)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path / "good"))
    good = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=good.serve_forever, daemon=True).start()
    fileset = _fileset({"a.gz": TRICKLED}, (trickling_mirror, f"http://127.0.0.1:{good.server_address[1]}/"))
    started = time.monotonic()
    folder = download_fileset(fileset, tmp_path / "dest", timeout=0.3)
    good.shutdown(), good.server_close()
    assert time.monotonic() - started < 1.5  # the trickle alone takes 2 s
    assert (folder / "a.gz").read_bytes() == TRICKLED


def test_a_slow_mirror_is_retried_patiently_when_no_other_serves(tmp_path, trickling_mirror):
    fileset = _fileset({"a.gz": TRICKLED}, (trickling_mirror, "http://127.0.0.1:9/"))  # port 9: nothing
    folder = download_fileset(fileset, tmp_path / "dest", timeout=0.3)
    assert (folder / "a.gz").read_bytes() == TRICKLED
    wrong = _fileset({"a.gz": b"z" * 1000}, (trickling_mirror, "http://127.0.0.1:9/"))
    said = r"too slow: [\d,]+ bytes in the last \d+\.\d s.*MD5 mismatch"
    with pytest.raises(DatasetUnavailable, match=said):
        download_fileset(wrong, tmp_path / "other", timeout=0.3)
    assert list((tmp_path / "other").iterdir()) == []


def test_the_last_mirror_is_never_given_up_for_being_slow(tmp_path, trickling_mirror):
    only = _fileset({"a.gz": TRICKLED}, (trickling_mirror,))
    folder = download_fileset(only, tmp_path / "dest", timeout=0.3)
    assert (folder / "a.gz").read_bytes() == TRICKLED
