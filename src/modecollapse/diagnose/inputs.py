"""What `diagnose` reads: run or checkpoint folders (through trained.py), TorchScript
generators, .npy/.npz sample arrays and folders of PNG images. Pickle files are refused:
loading one can run arbitrary code."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from modecollapse.data import dataset_kind
from modecollapse.errors import ModeCollapseError
from modecollapse.metrics.features import prepare_images
from modecollapse.models import generate
from modecollapse.trained import is_run, load_run

PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar")
PROBE_SEED = 7


@dataclass
class Samples:
    images: torch.Tensor  # [-1, 1], N x C x 28 x 28
    notes: list[str] = field(default_factory=list)
    generator: nn.Module | None = None
    latent_shape: tuple[int, ...] | None = None
    dataset: str | None = None  # what the generator was trained on, when known
    intended: torch.Tensor | None = None  # conditional generators: the class each sample was drawn for



def load_samples(
    path: Path,
    num_samples: int,
    latent_dim: int | None = None,
    latent_shape: tuple[int, ...] | None = None,
    value_range: str = "auto",
) -> Samples:
    if not path.exists():
        raise ModeCollapseError(f"{path}: no such file or folder")
    if is_run(path):
        return _from_run(path, num_samples)
    if path.is_dir():
        return _png_folder(path, value_range)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return _array_file(path, value_range)
    if _is_torchscript(path):
        if latent_dim is None and latent_shape is None:
            raise ModeCollapseError("a TorchScript generator needs --latent-dim N (or --latent-shape)")
        shape = latent_shape or (latent_dim,)
        generator = torch.jit.load(str(path), map_location="cpu").eval()
        return _sample(generator, shape, num_samples, [f"TorchScript generator, latent {shape}"])
    if suffix in PICKLE_SUFFIXES or _looks_pickled(path):
        raise ModeCollapseError(
            f"{path} is a pickle (torch.save of a model or state_dict); loading it could run "
            "arbitrary code, so diagnose refuses it. Export instead either TorchScript: "
            "torch.jit.script(G).save('G.ts') (or torch.jit.trace(G, z).save(...)) and pass "
            "--latent-dim; or samples: np.save('samples.npy', G(z).detach().cpu().numpy())"
        )
    raise ModeCollapseError(
        f"{path}: unsupported input; give a run or checkpoint folder, a TorchScript file, "
        ".npy/.npz samples, or a folder of PNG images"
    )


def load_points(path: Path, count: int) -> tuple[torch.Tensor, list[str], str | None]:
    """(N x 2 points, notes, the run's dataset or None) from a 2-D run folder or an array file."""
    if is_run(path):
        run = load_run(path)
        points, _ = run.sample(count, PROBE_SEED)
        notes = [f"generator from {path} (step {run.step})", f"{count} points drawn with seed {PROBE_SEED}"]
        return points, notes, run.config.data.name
    if path.suffix.lower() not in (".npy", ".npz"):
        raise ModeCollapseError(f"{path}: 2-D samples must be a .npy/.npz array of shape (N, 2)")
    array = read_array(path)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise ModeCollapseError(f"{path}: 2-D samples must have shape (N, 2), got {array.shape}")
    points = torch.as_tensor(np.asarray(array, dtype=np.float32))
    if not torch.isfinite(points).all():
        bad = int((~torch.isfinite(points)).any(1).sum())
        raise ModeCollapseError(f"{path}: {bad} points are NaN or infinite")
    return points, [f"{len(points)} points from {path.name}"], None


def read_array(path: Path) -> np.ndarray:
    """The array in a .npy file, or the samples array of a .npz file; never unpickles."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise ModeCollapseError(f"{path}: cannot read without unpickling ({error}); refused") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        names = loaded.files
        key = next(
            (k for k in ("samples", "images", "x", "arr_0") if k in names),
            names[0] if len(names) == 1 else None,
        )
        if key is None:
            raise ModeCollapseError(f"{path}: several arrays ({', '.join(names)}); name one 'samples'")
        return loaded[key]
    return loaded


def _array_file(path: Path, value_range: str) -> Samples:
    array = read_array(path)
    images, notes = prepare_images(array, value_range)
    return Samples(images, [f"{len(images)} samples from {path.name}", *notes])


def _png_folder(path: Path, value_range: str) -> Samples:
    from PIL import Image

    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png")
    if not files:
        raise ModeCollapseError(f"{path}: no .png files in this folder")
    arrays = []
    for file in files:
        with Image.open(file) as image:
            arrays.append(
                np.asarray(image.convert("L" if image.mode in ("L", "LA", "I", "P", "1") else "RGB"))
            )
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ModeCollapseError(f"{path}: images differ in size ({sorted(shapes)[:3]})")
    images, notes = prepare_images(np.stack(arrays), value_range)
    return Samples(images, [f"{len(files)} PNG images from {path}", *notes])


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("constants.pkl") for n in names) and any("/code/" in n for n in names)


def _looks_pickled(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(2)
    return head[:1] == b"\x80" or zipfile.is_zipfile(path)


def _from_run(path: Path, count: int) -> Samples:
    """Samples of a run's generator at its newest checkpoint (class-balanced when conditional)."""
    run = load_run(path)
    if dataset_kind(run.config.data.name) != "image":
        raise ModeCollapseError(
            f"{path} trained on 2-D points ({run.config.data.name}); diagnose judges images. "
            "Its mode coverage is in the run's metrics.jsonl (type 'eval')"
        )
    notes = [f"generator from {path} (step {run.step})"]
    sampler = run.sampler
    if sampler.conditional:
        count = max(count // sampler.num_classes, 1) * sampler.num_classes
        notes.append(f"{sampler.kind} conditioning: {count // sampler.num_classes} samples per class")
    images, intended = run.sample(count, PROBE_SEED, rows=True)
    images, more = prepare_images(images, "-1-1")
    if not sampler.conditional:
        latent = run.config.model.latent_distribution
        notes.append(f"{count} samples drawn with seed {PROBE_SEED} (z ~ {latent})")
    samples = Samples(images, [*notes, *more], run.generator, (sampler.input_dim,), intended=intended)
    samples.dataset = run.config.data.name
    return samples


@torch.no_grad()
def _sample(generator: nn.Module, shape: tuple[int, ...], count: int, notes: list[str]) -> Samples:
    latent = torch.randn(count, *shape, generator=torch.Generator().manual_seed(PROBE_SEED))
    images = generate(generator, latent)
    images, more = prepare_images(images, "-1-1")
    return Samples(images, [*notes, f"{count} samples drawn with seed {PROBE_SEED}", *more], generator, shape)
