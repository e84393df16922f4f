import gzip
import hashlib

import numpy as np
import pytest

from modecollapse.data.idx import read_idx
from modecollapse.errors import DataFileError

OFFICIAL_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
}
# Official MNIST class counts (test set and training set).
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_real_files_match_official_md5(mnist_dir):
    for name, md5 in OFFICIAL_MD5.items():
        assert hashlib.md5((mnist_dir / name).read_bytes()).hexdigest() == md5


def test_real_test_images_and_labels(mnist_dir):
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,)
    assert np.bincount(labels).tolist() == TEST_COUNTS
    assert images.max() == 255 and images.min() == 0


def test_real_train_labels(mnist_dir):
    labels = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz")
    assert np.bincount(labels).tolist() == TRAIN_COUNTS


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_raw_and_gzip_give_the_same_array(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "raw").write_bytes(idx_bytes(array))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "raw"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed.gz"), array)


def test_int32_big_endian(tmp_path):
    array = np.array([1, -2, 70000], dtype=np.int32)
    (tmp_path / "f").write_bytes(idx_bytes(array, 0x0C))
    np.testing.assert_array_equal(read_idx(tmp_path / "f"), array)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:-5], "truncated"),
        (lambda b: b + b"xx", "trailing bytes"),
        (lambda b: b"\x01" + b[1:], "bad magic number"),
        (lambda b: b[:2] + b"\x42" + b[3:], "unknown IDX data type"),
        (lambda b: b[:6], "truncated inside the header"),
        (lambda b: b[:4] + bytes.fromhex("004000000020000000200000"), "truncated"),  # 2^22 x 2^21 x 2^21
    ],
)
def test_defects_are_named(tmp_path, mutate, message):
    good = idx_bytes(np.zeros((4, 5, 5), dtype=np.uint8))
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(mutate(good))
    with pytest.raises(DataFileError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_truncated_gzip_is_named(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 28, 28), dtype=np.uint8)))[:-40])
    with pytest.raises(DataFileError, match="corrupt or truncated gzip"):
        read_idx(path)


def test_wrong_dimension_count(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros((3, 3), dtype=np.uint8)))
    with pytest.raises(DataFileError, match="has 2 dimensions, expected 1"):
        read_idx(path, expect_ndim=1)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        read_idx(tmp_path / "nope")
