"""Unpaired two-domain datasets for CycleGAN: spatial-one, spatial-two, mnist-rgb, mnist-svhn.

Each domain is a `Dataset` of uint8 images; the two are drawn independently (unpaired).
The ground truth (each image's digit labels, and for the synthetic pairs a renderer of what
a perfect translation of an image looks like) is kept for evaluation only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from modecollapse.data import spatial
from modecollapse.data.registry import Dataset, DatasetSpec, built_from_base, load_dataset, register
from modecollapse.data.sources import FileSet, RemoteFile, fetch, file_in, find_local, how_to_get
from modecollapse.errors import DataFileError

if TYPE_CHECKING:
    from modecollapse.data.settings import DataConfig

Truth = Callable[[torch.Tensor], torch.Tensor]
"""Indices of domain-X images -> uint8 images of their perfect translation into the other domain."""


@dataclass
class HeldOut:
    """Domain-A evaluation inputs drawn from digits that no training image uses, each digit once
    (no two inputs share a source digit, so near-duplicates do not arise by construction)."""

    a: Dataset
    a_digits: torch.Tensor
    """(N, digits per image) labels; CPU."""
    truth: torch.Tensor | None
    """uint8 (N, C, S, S): each input's own digits drawn with B's layout (None: no pixel truth)."""


def split_pool(size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, held-out) indices of a digit pool: 10% (at least 200) held out, seeded."""
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed + 7919))
    held = min(max(200, size // 10), size // 2)
    return order[held:], order[:held]


@dataclass
class TranslationData:
    name: str
    a: Dataset
    b: Dataset
    a_digits: torch.Tensor
    """Digit labels of every A image, (N_a, digits per image); CPU."""
    b_digits: torch.Tensor
    a_layout: spatial.Layout | None
    """Where A's digits sit (None: centred, no spatial rule)."""
    b_layout: spatial.Layout | None
    source: str
    a_to_b_truth: Truth | None = None
    b_to_a_truth: Truth | None = None
    held_out: HeldOut | None = None
    kind: str = "translation"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.a.sample_shape

    def __len__(self) -> int:
        return len(self.a)

    def to(self, device: torch.device | str) -> TranslationData:
        self.a, self.b = self.a.to(device), self.b.to(device)
        if self.held_out is not None:
            self.held_out.a = self.held_out.a.to(device)
        return self


def layouts(config: DataConfig) -> tuple[int, spatial.Layout, spatial.Layout]:
    """(canvas, A layout, B layout) of a spatial dataset: the defaults unless the config says."""
    default = spatial.SPATIAL_ONE if config.name == "spatial-one" else spatial.SPATIAL_TWO
    canvas = config.canvas_size or default["canvas"]
    a = tuple(spatial.Slot(*slot) for slot in config.layout_a) if config.layout_a else default["a"]
    b = tuple(spatial.Slot(*slot) for slot in config.layout_b) if config.layout_b else default["b"]
    if len(a) != len(b):
        raise DataFileError(f"data.layout_a has {len(a)} slots but data.layout_b has {len(b)}")
    return canvas, a, b


def _digit_source(config: DataConfig) -> Dataset:
    base = config.model_copy(update={"name": config.base, "num_samples": None, "image_size": None})
    source = load_dataset(base)
    if source.data.shape[1:] != (1, 28, 28):
        raise DataFileError(f"data.base '{config.base}' must hold 28x28 single-channel digits")
    return source


def _domain(name: str, images: torch.Tensor, digits: torch.Tensor, source: str) -> Dataset:
    labels = (digits * torch.tensor([10**p for p in reversed(range(digits.shape[1]))])).sum(1)
    return Dataset(
        name=name,
        kind="image",
        data=images,
        labels=labels,
        num_classes=10 ** digits.shape[1],
        source=source,
        image_size=images.shape[-1],
    )


def load_spatial(config: DataConfig) -> TranslationData:
    """spatial-one / spatial-two: the same digit pool drawn with A's and B's layouts."""
    canvas, a_layout, b_layout = layouts(config)
    source = _digit_source(config)
    count = config.num_samples or 12_000
    pool, held = split_pool(len(source), config.seed)
    a_picks = pool[spatial.pick_digits(count, len(a_layout), len(pool), config.seed)]
    b_picks = pool[spatial.pick_digits(count, len(b_layout), len(pool), config.seed + 1)]
    digits = source.data[:, 0]

    def drawn(picks: torch.Tensor, layout: spatial.Layout) -> torch.Tensor:
        return torch.cat([spatial.render(digits[p], layout, canvas) for p in picks.split(2000)])

    where = f"{count} images per domain from {config.base} digits (seed {config.seed})"
    held_picks = held[: len(held) // len(a_layout) * len(a_layout)].view(-1, len(a_layout))
    held_out = HeldOut(
        _domain(f"{config.name}/A held out", drawn(held_picks, a_layout), source.labels[held_picks], where),
        source.labels[held_picks],
        drawn(held_picks, b_layout),
    )
    return TranslationData(
        name=config.name,
        a=_domain(f"{config.name}/A", drawn(a_picks, a_layout), source.labels[a_picks], where),
        b=_domain(f"{config.name}/B", drawn(b_picks, b_layout), source.labels[b_picks], where),
        a_digits=source.labels[a_picks],
        b_digits=source.labels[b_picks],
        a_layout=a_layout,
        b_layout=b_layout,
        source=where,
        a_to_b_truth=lambda index: spatial.render(digits[a_picks[index.cpu()]], b_layout, canvas),
        b_to_a_truth=lambda index: spatial.render(digits[b_picks[index.cpu()]], a_layout, canvas),
        held_out=held_out,
    )


def _grey_domain(name: str, digits: torch.Tensor, labels: torch.Tensor, source: str) -> Dataset:
    """MNIST digits padded to 32x32 and repeated over three channels (grey as RGB)."""
    images = spatial.pad_to(digits, 32).expand(-1, 3, -1, -1).contiguous()
    return _domain(name, images, labels.unsqueeze(1), source)


def load_mnist_rgb(config: DataConfig) -> TranslationData:
    """Grey MNIST <-> the same kind of digits coloured on coloured backgrounds (offline stand-in)."""
    source = _digit_source(config)
    count = config.num_samples or 12_000
    pool, held = split_pool(len(source), config.seed)
    a_picks = pool[spatial.pick_digits(count, 1, len(pool), config.seed)[:, 0]]
    b_picks = pool[spatial.pick_digits(count, 1, len(pool), config.seed + 1)[:, 0]]
    where = f"{count} images per domain from {config.base} digits (seed {config.seed})"
    b_images = spatial.colourize(source.data[b_picks], 32, config.seed + 2)
    return TranslationData(
        name=config.name,
        a=_grey_domain(f"{config.name}/A", source.data[a_picks], source.labels[a_picks], where),
        b=_domain(f"{config.name}/B", b_images, source.labels[b_picks].unsqueeze(1), where),
        a_digits=source.labels[a_picks].unsqueeze(1),
        b_digits=source.labels[b_picks].unsqueeze(1),
        a_layout=None,
        b_layout=None,
        source=where,
        a_to_b_truth=lambda index: spatial.colourize(source.data[a_picks[index.cpu()]], 32, 7),
        b_to_a_truth=lambda index: spatial.pad_to(source.data[b_picks[index.cpu()]], 32).expand(
            -1, 3, -1, -1
        ),
        held_out=HeldOut(
            _grey_domain(f"{config.name}/A held out", source.data[held], source.labels[held], where),
            source.labels[held].unsqueeze(1),
            spatial.colourize(source.data[held], 32, 7),
        ),
    )


# --- SVHN (the official cropped-digit .mat files) -----------------------------------------

SVHN_FILES = FileSet(
    key="svhn",
    title="SVHN (cropped digits)",
    files=(
        RemoteFile("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
        RemoteFile("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
    ),
    mirrors=("http://ufldl.stanford.edu/housenumbers/",),
)


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3, 32, 32) and labels 0..9 from an SVHN .mat file (label 10 means 0)."""
    from scipy.io import loadmat  # no pickle: MATLAB v5 arrays only
    from scipy.io.matlab import MatReadError

    try:
        table = loadmat(str(path), variable_names=["X", "y"])
    except (
        OSError,
        ValueError,
        TypeError,
        IndexError,
        NotImplementedError,
        MatReadError,  # empty or too short to be a .mat file
    ) as error:  # scipy's varied errors
        raise DataFileError(f"{path}: not a readable SVHN .mat file ({error})") from None
    if "X" not in table or "y" not in table:
        raise DataFileError(
            f"{path}: expected variables X and y, found {sorted(k for k in table if k[0] != '_')}"
        )
    images, labels = table["X"], table["y"].reshape(-1)
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.dtype != np.uint8:
        raise DataFileError(f"{path}: X must be uint8 32x32x3xN, got {images.dtype} {images.shape}")
    if len(labels) != images.shape[3] or labels.min() < 1 or labels.max() > 10:
        raise DataFileError(f"{path}: y must hold one label in 1..10 per image")
    return np.ascontiguousarray(images.transpose(3, 2, 0, 1)), (labels % 10).astype(np.int64)


def load_mnist_svhn(config: DataConfig) -> TranslationData:
    """MNIST (grey as RGB, padded to 32) <-> SVHN; labels for evaluation, no pixel ground truth."""
    source = _digit_source(config)
    name = "train_32x32.mat" if config.split in ("train", "all") else "test_32x32.mat"
    folder = fetch(SVHN_FILES, config.data_dir, config.download, (name,))
    images, labels = read_svhn_mat(file_in(folder, next(r for r in SVHN_FILES.files if r.name == name)))
    count = config.num_samples or len(images)
    if count > len(images):
        raise DataFileError(f"data.num_samples = {count} but {name} has only {len(images)} images")
    b_keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(config.seed + 1))[:count]
    pool, held = split_pool(len(source), config.seed)
    a_picks = pool[spatial.pick_digits(count, 1, len(pool), config.seed)[:, 0]]
    svhn_labels = torch.from_numpy(labels)[b_keep]
    where = f"{count} images per domain: {config.base} digits and SVHN {name} (seed {config.seed})"
    return TranslationData(
        name=config.name,
        a=_grey_domain(f"{config.name}/A", source.data[a_picks], source.labels[a_picks], where),
        b=_domain(f"{config.name}/B", torch.from_numpy(images)[b_keep], svhn_labels.unsqueeze(1), where),
        a_digits=source.labels[a_picks].unsqueeze(1),
        b_digits=svhn_labels.unsqueeze(1),
        a_layout=None,
        b_layout=None,
        source=where,
        held_out=HeldOut(
            _grey_domain(f"{config.name}/A held out", source.data[held], source.labels[held], where),
            source.labels[held].unsqueeze(1),
            None,
        ),
    )


def translation_shape(config: DataConfig) -> tuple[int, int, int]:
    """(C, S, S) of both domains, without loading anything."""
    if config.name in ("spatial-one", "spatial-two"):
        return (1, layouts(config)[0], layouts(config)[0])
    return (3, 32, 32)


def _svhn_availability(config: DataConfig) -> tuple[bool, str]:
    name = "train_32x32.mat" if config.split in ("train", "all") else "test_32x32.mat"
    hit = find_local(SVHN_FILES, config.data_dir, (name,))
    if hit:
        return True, f"{hit[0]}: {hit[1]}"
    return False, how_to_get(SVHN_FILES, f"{name} is not on disk; it is downloaded when needed")


for _name, _load, _description in (
    ("spatial-one", load_spatial, "CycleGAN pair: small tilted digit (A) <-> big digit elsewhere (B)"),
    ("spatial-two", load_spatial, "CycleGAN pair: two small digits (A) <-> two big digits elsewhere (B)"),
    ("mnist-rgb", load_mnist_rgb, "CycleGAN pair: grey MNIST (A) <-> coloured digits on coloured ground (B)"),
    ("mnist-svhn", load_mnist_svhn, "CycleGAN pair: grey MNIST padded to 32x32 (A) <-> SVHN digits (B)"),
):
    register(
        DatasetSpec(
            _name,
            "translation",
            _description,
            _load,
            _svhn_availability if _name == "mnist-svhn" else built_from_base,
            translation_shape,
            num_classes=10,
            classifier="mnist",
            files=SVHN_FILES if _name == "mnist-svhn" else None,
        )
    )
