import numpy as np
import pytest
import torch
from scipy.io import savemat

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset, sample_shape, spatial
from modecollapse.data.translation import read_svhn_mat
from modecollapse.errors import DataFileError, DatasetUnavailable


def test_render_places_and_scales_a_digit():
    digit = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    digit[0, 0, 4:24, 10:18] = 255  # a 20 x 8 bar centred in the 28x28 square
    slot = spatial.Slot(0.75, 0.75, 1.5)
    canvas = spatial.render(digit, (slot,), 56)[0, 0].float()
    ys, xs = torch.nonzero(canvas > 127, as_tuple=True)
    assert float(xs.float().mean()) == pytest.approx(0.75 * 56 - 0.5, abs=0.6)
    assert float(ys.float().mean()) == pytest.approx(0.75 * 56 - 0.5, abs=0.6)
    assert int(ys.max() - ys.min() + 1) == pytest.approx(20 * 1.5, abs=1)
    assert int(xs.max() - xs.min() + 1) == pytest.approx(8 * 1.5, abs=1)


def test_rotation_turns_the_digit():
    digit = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    digit[0, 0, 4:24, 13:15] = 255  # vertical bar
    flat = spatial.render(digit, (spatial.Slot(0.5, 0.5, 1.0, 90.0),), 28)[0, 0]
    ys, xs = torch.nonzero(flat > 127, as_tuple=True)
    assert int(xs.max() - xs.min()) > 15 and int(ys.max() - ys.min()) < 4  # now horizontal


def test_spatial_one_is_deterministic_unpaired_and_keeps_ground_truth():
    config = DataConfig(name="spatial-one", num_samples=64)
    first, second = load_dataset(config), load_dataset(config)
    assert torch.equal(first.a.data, second.a.data) and torch.equal(first.b.data, second.b.data)
    assert first.a.data.shape == (64, 1, 56, 56) and sample_shape(config) == (1, 56, 56)
    assert not torch.equal(first.a_digits, first.b_digits)  # drawn independently

    # A's ink sits bottom-left, B's bottom-right; the truth of A -> B is drawn in B's place
    def ink_centre(images):
        weights = images.float().sum(0)[0]
        ys, xs = torch.meshgrid(torch.arange(56.0), torch.arange(56.0), indexing="ij")
        return float((weights * xs).sum() / weights.sum()), float((weights * ys).sum() / weights.sum())

    ax, ay = ink_centre(first.a.data)
    bx, by = ink_centre(first.b.data)
    tx, ty = ink_centre(first.a_to_b_truth(torch.arange(64)))
    assert ax < 28 < bx and ay > 28 and by > 28
    assert tx == pytest.approx(bx, abs=1.5) and ty == pytest.approx(by, abs=1.5)
    other = load_dataset(DataConfig(name="spatial-one", num_samples=64, seed=1))
    assert not torch.equal(other.a.data, first.a.data)


def test_spatial_two_layout_is_configurable_and_checked():
    config = DataConfig(
        name="spatial-two",
        num_samples=8,
        canvas_size=48,
        layout_a=[(0.25, 0.25, 0.5, 0.0), (0.75, 0.75, 0.5, 0.0)],
        layout_b=[(0.25, 0.75, 0.8, 0.0), (0.75, 0.25, 0.8, 0.0)],
    )
    data = load_dataset(config)
    assert data.a.data.shape == (8, 1, 48, 48) and data.a_digits.shape == (8, 2)
    assert torch.equal(data.a.labels, data.a_digits[:, 0] * 10 + data.a_digits[:, 1])
    bad = DataConfig(name="spatial-two", num_samples=8, layout_b=[(0.5, 0.5, 1.0, 0.0)])
    with pytest.raises(DataFileError, match="layout_a has 2 slots but data.layout_b has 1"):
        load_dataset(bad)


def test_mnist_rgb_pairs_grey_with_coloured_digits():
    data = load_dataset(DataConfig(name="mnist-rgb", num_samples=32))
    assert data.a.data.shape == (32, 3, 32, 32) and data.b.data.shape == (32, 3, 32, 32)
    assert torch.equal(data.a.data[:, 0], data.a.data[:, 1])  # grey, repeated over RGB
    corners = data.b.data[:, :, 0, 0].float()
    assert corners.std(0).min() > 20  # backgrounds are coloured differently per image


def make_svhn(path, count=6, labels=None):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8)
    y = np.array(labels if labels is not None else [1, 2, 10, 4, 5, 6][:count], dtype=np.uint8).reshape(-1, 1)
    savemat(path, {"X": x, "y": y})
    return x, y


def test_svhn_mat_reader(tmp_path):
    x, _ = make_svhn(tmp_path / "train_32x32.mat")
    images, labels = read_svhn_mat(tmp_path / "train_32x32.mat")
    assert images.shape == (6, 3, 32, 32)
    np.testing.assert_array_equal(images[2], x[..., 2].transpose(2, 0, 1))
    np.testing.assert_array_equal(labels, [1, 2, 0, 4, 5, 6])  # label 10 means the digit 0


def test_svhn_bad_files_are_named(tmp_path):
    (tmp_path / "broken.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(DataFileError, match="broken.mat"):
        read_svhn_mat(tmp_path / "broken.mat")
    for name, content in (("empty.mat", b""), ("short.mat", b"0123456789"), ("page.mat", b"<html>")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataFileError, match=f"{name}: not a readable SVHN .mat file"):
            read_svhn_mat(tmp_path / name)
    savemat(tmp_path / "wrong.mat", {"X": np.zeros((28, 28, 1, 2), np.uint8), "y": np.ones((2, 1))})
    with pytest.raises(DataFileError, match="X must be uint8 32x32x3xN"):
        read_svhn_mat(tmp_path / "wrong.mat")
    savemat(tmp_path / "labels.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [3]])})
    with pytest.raises(DataFileError, match="one label in 1..10"):
        read_svhn_mat(tmp_path / "labels.mat")


def test_mnist_svhn_loads_from_a_data_dir(tmp_path):
    make_svhn(tmp_path / "train_32x32.mat")
    config = DataConfig(name="mnist-svhn", data_dir=str(tmp_path), download=False)
    data = load_dataset(config)
    assert data.a.data.shape == (6, 3, 32, 32) and data.b.data.shape == (6, 3, 32, 32)
    assert sorted(data.b_digits[:, 0].tolist()) == [0, 1, 2, 4, 5, 6]


def test_mnist_svhn_missing_says_how_to_get_it(tmp_path):
    from modecollapse.errors import DatasetUnavailable

    config = DataConfig(name="mnist-svhn", data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetUnavailable, match="train_32x32.mat"):
        load_dataset(config)


def test_mnist_svhn_downloads_from_a_mirror_with_md5_check(tmp_path, monkeypatch):
    import functools
    import hashlib
    import http.server
    import threading

    from modecollapse.data import translation
    from modecollapse.data.sources import FileSet, RemoteFile

    served = tmp_path / "server"
    served.mkdir()
    make_svhn(served / "train_32x32.mat")
    digest = hashlib.md5((served / "train_32x32.mat").read_bytes()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        mirror = f"http://127.0.0.1:{server.server_address[1]}/"
        files = (RemoteFile("train_32x32.mat", digest), RemoteFile("test_32x32.mat", "0" * 32))
        monkeypatch.setattr(translation, "SVHN_FILES", FileSet("svhn", "SVHN", files, (mirror,)))
        data = load_dataset(DataConfig(name="mnist-svhn"))
        assert data.b.data.shape == (6, 3, 32, 32)
        bad = (RemoteFile("train_32x32.mat", "f" * 32),)
        monkeypatch.setattr(translation, "SVHN_FILES", FileSet("svhn2", "SVHN", bad, (mirror,)))
        with pytest.raises(DatasetUnavailable, match="MD5 mismatch"):
            load_dataset(DataConfig(name="mnist-svhn"))
    finally:
        server.shutdown()
        server.server_close()
