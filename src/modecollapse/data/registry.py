"""What datasets exist: one spec per dataset, registered by the module that loads it.

A spec says everything the rest of the package needs to know about a dataset without loading
it: its kind, classes, sample shape, evaluation classifier, files and loader. Config
validation, the CLI's choices, evaluation and diagnose all read specs; nothing else keeps a
list of dataset names. The loaders live in data/digits.py, data/mixtures.py and
data/translation.py (imported by data/__init__.py, which registers them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F

from modecollapse.errors import DataFileError, DatasetUnavailable, ModeCollapseError, did_you_mean
from modecollapse.options import option

if TYPE_CHECKING:
    from modecollapse.data.settings import DataConfig
    from modecollapse.data.sources import FileSet

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
    load: Callable[[DataConfig], Any]
    """Returns a `Dataset` (kind image or points) or a `data.translation.TranslationData`."""
    availability: Callable[[DataConfig], tuple[bool, str]]
    """(available here?, where it comes from or how to get it)."""
    shape: Callable[[DataConfig], tuple[int, ...]]
    """One model input's shape for a data config, without loading anything."""
    num_classes: int
    """Classes (images), mixture modes (points) or digit classes (translation pairs)."""
    classifier: str | None = None
    """The shipped evaluation classifier that grades samples of this dataset."""
    grader: str | None = None
    """An independent grader (another architecture, trained on other digits than the guide and
    the evaluation classifier) that re-grades class-conditional accuracy."""
    reference: str | None = None
    """The dataset whose real test images `diagnose` compares samples with (default: itself)."""
    files: FileSet | None = None
    """Files `modecollapse data fetch NAME` downloads."""
    conditional: bool = False
    """A class-conditional generator can train on it (single images of `num_classes` classes)."""
    mode_share: float = 0.1
    """A class counts as a covered mode with at least this share of a uniform class's samples
    (Stacked MNIST: 0, any sample, PacGAN's count of its 1,000 modes)."""
    test_split: bool = False
    """It has an official test split, which diagnose compares samples with."""
    fallback_reference: str | None = None
    """What diagnose compares with when this dataset's files are not on disk."""


DATASETS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    if spec.name in DATASETS:
        raise ValueError(f"dataset '{spec.name}' is registered twice")
    DATASETS[spec.name] = spec
    return spec


def dataset_name(name: str) -> str:
    """The registered name `name` means, case aside ('MNIST' -> 'mnist'); an unknown name gets the
    nearest registered one and the list of all."""
    if name in DATASETS:
        return name
    folded = {key.lower(): key for key in DATASETS}
    if isinstance(name, str) and name.lower() in folded:
        return folded[name.lower()]
    near = did_you_mean(name, DATASETS)
    hint = f" (did you mean '{near}'?)" if near else ""
    raise DatasetUnavailable(f"unknown dataset '{name}'{hint}; choose one of {', '.join(DATASETS)}")


def spec(name: str) -> DatasetSpec:
    """The spec of dataset `name` (case aside); an unknown name lists the valid ones."""
    return DATASETS[dataset_name(name)]


def check_class_count(num_classes: int, dataset: str) -> None:
    """A conditional G's labels are the dataset's classes: label k is judged as its class k."""
    named = dataset_name(dataset)
    if spec(named).kind != "image":
        raise ModeCollapseError(
            f"{option('num_classes')} is for class-conditional image generators, not {named}"
        )
    classes = spec(named).num_classes
    if num_classes != classes:
        raise ModeCollapseError(
            f"{option('num_classes', num_classes)}, but {named} has {classes} classes: label k is judged "
            f"as {named}'s class k, so give {option('num_classes', classes)} and a G trained on all of them"
        )


DEFAULT_IMAGES = "mnist"
"""The dataset images are judged as when nothing names one."""


def names_of(kind: Kind) -> list[str]:
    """The registered datasets of one kind, for messages and choices."""
    return [name for name, s in DATASETS.items() if s.kind == kind]


def dataset_kind(name: str) -> Kind:
    return spec(name).kind


def sample_shape(config: DataConfig) -> tuple[int, ...]:
    """The shape of one model input for this data config, without loading any data."""
    return spec(config.name).shape(config)


def image_shape(channels: int) -> Callable[[DataConfig], tuple[int, ...]]:
    """Shape function of an image dataset: `channels` x data.image_size (default 28) squared."""
    return lambda config: (channels, config.image_size or 28, config.image_size or 28)


def load_dataset(config: DataConfig, device: torch.device | str = "cpu") -> Any:
    """Load the dataset a config names, subset it if asked, and move it to `device`.

    Translation datasets (kind 'translation') return a `data.translation.TranslationData`.
    """
    dataset = spec(config.name).load(config)
    if dataset.kind == "translation":
        return dataset.to(device)
    if config.num_samples is not None and dataset.kind == "image":
        dataset = _subset(dataset, config.num_samples, config.seed)
    if dataset.kind == "image":
        dataset.image_size = config.image_size or dataset.data.shape[-1]
    return dataset.to(device)


def _subset(dataset: Dataset, size: int, seed: int) -> Dataset:
    if size > len(dataset):
        raise DataFileError(f"data.num_samples = {size} but {dataset.name} has only {len(dataset)} samples")
    keep = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:size]
    dataset.data, dataset.labels = dataset.data[keep], dataset.labels[keep]
    return dataset


def always(where: str) -> Callable[[DataConfig], tuple[bool, str]]:
    """Availability of data made on the fly."""
    return lambda config: (True, where)


def built_from_base(config: DataConfig) -> tuple[bool, str]:
    """Availability of data built from `data.base`'s digits."""
    available, where = spec(config.base).availability(config)
    return available, f"built from {config.base}: {where}"
