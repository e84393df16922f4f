"""What `diagnose` reads: run or checkpoint folders (through trained.py), TorchScript
generators, weights files (safetensors or a torch.save state_dict, read weights-only: see
weights.py), .npy/.npz sample arrays and folders of PNG images. Nothing is unpickled: a pickled
model could run arbitrary code."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from modecollapse.data import dataset_kind
from modecollapse.diagnosis.grid import GRID_SUFFIXES, split_grid
from modecollapse.diagnosis.weights import Rebuild, is_weights_file, load_network
from modecollapse.errors import ModeCollapseError
from modecollapse.metrics.features import SUPPORTED_SIZES
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES
from modecollapse.models.labels import conditional_needs_latent, sample_with_labels
from modecollapse.models.latent import (
    Latent,
    LatentRead,
    latent_from_first_layer,
    latent_options,
    sample_from,
)
from modecollapse.options import Metavar, option
from modecollapse.runfolder import RunFolder
from modecollapse.trained import Read, is_run, load_run, read_run

if TYPE_CHECKING:
    from modecollapse.config import DataConfig

PROBE_SEED = 7


@dataclass
class Samples:
    """Samples as read, not yet scored: metrics/samples.score_samples reads their values (with
    `value_range`: "auto", or known from where they came) by the one set of rules."""

    values: torch.Tensor
    notes: list[str] = field(default_factory=list)
    generator: nn.Module | None = None
    latent: Latent | None = None  # how z was drawn, for the latent probe
    dataset: str | None = None  # what the generator was trained on, when known
    intended: torch.Tensor | None = None  # conditional generators: the class each sample was drawn for
    value_range: str = "auto"
    training: DataConfig | None = None  # a run's training data: its copies are counted against it


@dataclass
class Opened:
    """A path diagnose was given, opened once: a run's checkpoint read (or why it could not
    be), a .npy/.npz file's array; every later step reads from here, not from disk again."""

    path: Path
    run: Read | None = None
    run_error: ModeCollapseError | None = None
    array: np.ndarray | None = None

    def checkpoint(self) -> Read:
        if self.run is None:
            raise self.run_error or ModeCollapseError(f"{self.path} is not a run folder")
        return self.run


@dataclass(frozen=True)
class Sampling:
    """How diagnose samples a generator file (TorchScript or weights): z's shape (as given, or as
    a DCGAN's weights say), its law, and how weights are rebuilt (weights.py)."""

    shape: tuple[int, ...] | None = None
    distribution: str = "normal"
    range: float = 1.0
    rebuild: Rebuild | None = None
    classes: int | None = None  # a class-conditional G(z, label) of this many classes

    def generator(self, path: Path) -> tuple[nn.Module, Latent, list[str], str]:
        """The generator in `path`, the latent it is sampled with, notes saying both, and its
        output's value range where the file tells it ("auto" otherwise)."""
        if is_torchscript(path):
            if self.shape is None:
                raise ModeCollapseError(f"a TorchScript generator needs {latent_options()}")
            latent = Latent(self.shape, self.distribution, self.range)
            return load_torchscript(path), latent, [f"TorchScript generator, {latent.describe()}"], "auto"
        refuse_own_checkpoint(path)
        network = load_network(path, self.rebuild)
        if self.classes and self.shape is None:
            raise conditional_needs_latent(f"{path}: ")
        if network.latent_shape is None and self.shape is None:
            read = latent_from_first_layer(network.module, self.distribution, self.range, SUPPORTED_SIZES)
            if read.latent is None:
                raise ModeCollapseError(f"{path}: a generator needs {latent_options()} ({read.note})")
        else:
            latent = Latent(self._shape_for(network.latent_shape, path), self.distribution, self.range)
            read = LatentRead(latent, latent.describe())
        return network.module, read.latent, [network.described, read.note], network.value_range

    def _shape_for(self, known: tuple[int, ...] | None, path: Path) -> tuple[int, ...]:
        if known is None:
            if self.shape is None:
                raise ModeCollapseError(f"{path}: a generator needs {latent_options()}")
            return self.shape
        if self.shape is not None and int(np.prod(self.shape)) != int(np.prod(known)):
            raise ModeCollapseError(
                f"{path}: its weights take z of size {known[0]}, but "
                f"{option('latent_dim')}/{option('latent_shape')} says "
                f"{','.join(map(str, self.shape))}"
            )
        return self.shape or known


def refuse_own_checkpoint(path: Path) -> None:
    """A checkpoint file of this tool's run is read through its folder, which knows the network."""
    folder = Path(path).resolve().parent
    if is_run(folder):
        raise ModeCollapseError(
            f"{path} is a checkpoint of this tool's run: diagnose its folder alone, {folder} (no "
            f"{option('arch')} or {option('g_ba')}: the folder knows its networks and latent)"
        )


def is_generator_file(path: Path) -> bool:
    """A TorchScript file or a weights file: a generator diagnose samples."""
    return is_torchscript(path) or is_weights_file(path)


def is_state_file(path: Path) -> bool:
    """A weights file read with the user's class (weights.py), not a TorchScript archive (a zip
    with a weights file's suffix, .pt)."""
    return is_weights_file(path) and not is_torchscript(Path(path))


def check_rebuild(
    path: Path, rebuild: Rebuild | None, g_ba: object = None, classes: int | None = None
) -> None:
    """--arch, --arch-kwargs, --weights-key and --g-ba-weights-key are refused where no weights
    file uses them, --num-classes where no generator file does."""
    if classes and not is_generator_file(path):
        raise ModeCollapseError(
            f"{option('num_classes')} is for a generator's weights or TorchScript file; {path} is not one "
            "(a run folder knows its own conditioning)"
        )
    if rebuild is not None and rebuild.given and not is_weights_file(path):
        raise ModeCollapseError(
            f"{option('arch')}, {option('arch_kwargs')}, {option('weights_key')} and "
            f"{option('g_ba_weights_key')} are for a generator's "
            f"weights file (.pt, .safetensors); {path} is not one"
        )
    back_is_weights = isinstance(g_ba, str | Path) and is_state_file(Path(g_ba))
    if rebuild is not None and rebuild.g_ba_weights_key is not None and not back_is_weights:
        raise ModeCollapseError(
            f"{option('g_ba_weights_key')} names an entry of G_BA's weights file "
            f"({option('g_ba', Metavar('FILE.pt'))})"
        )


def open_input(path: Path) -> Opened:
    """Open `path` once (see Opened)."""
    opened = Opened(Path(path))
    if is_run(opened.path):
        try:
            opened.run = read_run(opened.path)
        except ModeCollapseError as error:  # e.g. killed before its first checkpoint
            opened.run_error = error
    elif opened.path.suffix.lower() in (".npy", ".npz") and opened.path.is_file():
        opened.array = read_array(opened.path)
    return opened


def load_samples(
    path: Path | Opened,
    num_samples: int,
    sampling: Sampling | None = None,
    value_range: str = "auto",
    tile_size: int | None = None,
    padding: int | None = None,
) -> Samples:
    """Samples from what `path` holds; a generator file is sampled as `sampling` says."""
    if num_samples <= 0:
        raise ModeCollapseError(f"{option('num_samples')} must be a positive number, got {num_samples}")
    opened = path if isinstance(path, Opened) else open_input(Path(path))
    path = opened.path
    if not path.exists():
        raise ModeCollapseError(f"{path}: no such file or folder")
    if is_run(path):
        return _from_run(path, num_samples, opened.checkpoint())
    if opened.array is not None:
        values = _numbers(opened.array, path)
        return Samples(values, [f"{len(values)} samples from {path.name}"], value_range=value_range)
    if path.is_dir():
        return _png_folder(path, value_range)
    suffix = path.suffix.lower()
    if suffix in GRID_SUFFIXES:
        tiles, notes = split_grid(path, tile_size, padding)
        return Samples(_numbers(tiles, path), notes, value_range=value_range)
    if suffix == ".pt2" or _is_exported_program(path):
        raise ModeCollapseError(
            f"{path} is a torch.export program (.pt2). torch.export.load can run code from the file "
            "(PyTorch's own docs: never load one from an untrusted source), so diagnose refuses it. "
            "Give instead the weights: torch.save(G.state_dict(), 'G.pt') with "
            f"{option('arch', 'models.py:Generator')}; "
            "or samples: np.save('samples.npy', G(z).detach().cpu().numpy())"
        )
    if is_generator_file(path):
        sampling = sampling or Sampling()
        generator, latent, notes, known_range = sampling.generator(path)
        value_range = known_range if value_range == "auto" else value_range
        return _sample(generator, latent, num_samples, notes, value_range, sampling.classes)
    raise ModeCollapseError(
        f"{path}: unsupported input; give a run or checkpoint folder, a weights file (.pt, "
        ".safetensors), a TorchScript file, .npy/.npz samples, a sample-grid image (.png/.jpg) or a "
        "folder of PNG images"
    )


def last_healthy_note(path: Path) -> list[str]:
    """A run folder's last healthy checkpoint, as an input note (none if it has none)."""
    try:
        kept = RunFolder(path).read_summary().get("last_healthy")
    except (OSError, json.JSONDecodeError):
        return []
    if not kept:
        return []
    return [
        f"last healthy: step {kept['step']}, {kept['checkpoint']} "
        f"(judge it with: modecollapse diagnose {Path(path) / kept['checkpoint']})"
    ]


def load_points(
    path: Path | Opened, sampling: Sampling | None = None
) -> tuple[torch.Tensor, list[str], DataConfig | None]:  # fmt: skip
    """(N x 2 points, notes, the run's data config or None) from a 2-D run folder, a generator file
    (sampled as `sampling` says) or an array file (all its points). A generator draws PacGAN's
    PROTOCOL_SAMPLES, however many samples were asked for: with fewer, even a perfect G's modes
    look dropped."""
    count = PROTOCOL_SAMPLES
    opened = path if isinstance(path, Opened) else open_input(Path(path))
    path = opened.path
    if opened.array is None and is_generator_file(path):
        generator, latent, notes, _ = (sampling or Sampling()).generator(path)
        notes = list(notes)
        points = sample_from(generator, latent, count, PROBE_SEED, notes=notes)
        return points, [*notes, f"{count} points drawn with seed {PROBE_SEED}"], None
    if is_run(path):
        run = load_run(path, opened.checkpoint())
        points, _ = run.sample(count, PROBE_SEED)
        notes = [f"generator from {path} (step {run.step})", f"{count} points drawn with seed {PROBE_SEED}"]
        notes += last_healthy_note(path)
        return points, notes, run.config.data
    if path.suffix.lower() not in (".npy", ".npz"):
        raise ModeCollapseError(f"{path}: 2-D samples must be a .npy/.npz array of shape (N, 2)")
    array = opened.array if opened.array is not None else read_array(path)
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
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return loaded
        names = loaded.files
        key = next(
            (k for k in ("samples", "images", "x", "arr_0") if k in names),
            names[0] if len(names) == 1 else None,
        )
        if key is None:
            raise ModeCollapseError(
                f"{path}: several arrays ({', '.join(names) or 'none'}); name one 'samples'"
            )
        return loaded[key]
    except ValueError as error:
        with path.open("rb") as handle:
            numpy_header = handle.read(6) == b"\x93NUMPY"
        if "allow_pickle" in str(error) and (numpy_header or zipfile.is_zipfile(path)):
            raise ModeCollapseError(
                f"{path}: holds Python objects that only unpickling can read; refused"
            ) from None
        if not numpy_header and not zipfile.is_zipfile(path):
            raise ModeCollapseError(f"{path}: not a .npy/.npz file (no NumPy header)") from None
        raise ModeCollapseError(f"{path}: not a readable .npy/.npz file ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise ModeCollapseError(f"{path}: not a readable .npy/.npz file ({error})") from None


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
    notes = [f"{len(files)} PNG images from {path}"]
    return Samples(_numbers(np.stack(arrays), path), notes, value_range=value_range)


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    """A TorchScript file (never a pickle), on the CPU, in eval mode."""
    if not is_torchscript(path):
        raise ModeCollapseError(
            f"{path}: not a TorchScript file; export one with torch.jit.script(G).save('G.ts')"
        )
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as error:
        raise ModeCollapseError(f"{path}: not a loadable TorchScript file ({error})") from None


def is_torchscript(path: Path) -> bool:
    """Whether `path` is a TorchScript file (a zip with code and constants)."""
    names = _zip_names(Path(path))
    return any(n.endswith("constants.pkl") for n in names) and any("/code/" in n for n in names)


def _is_exported_program(path: Path) -> bool:
    """A torch.export archive: a zip holding an archive_format entry and a models/ graph."""
    names = _zip_names(path)
    return any(n.endswith("archive_format") for n in names) and any("/models/" in n for n in names)


def _zip_names(path: Path) -> list[str]:
    """The entries of a zip file; none for anything else (a folder, a missing or plain file)."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        return []
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def _from_run(path: Path, count: int, read: Read | None = None) -> Samples:
    """Samples of a run's generator at its newest checkpoint (class-balanced when conditional)."""
    run = load_run(path, read)
    if dataset_kind(run.config.data.name) != "image":
        raise ModeCollapseError(
            f"{path} trained on 2-D points ({run.config.data.name}); diagnose judges images. "
            "Its mode coverage is in the run's metrics.jsonl (type 'eval')"
        )
    notes = [f"generator from {path} (step {run.step})", *last_healthy_note(path)]
    sampler = run.sampler
    if sampler.conditional:
        count = max(count // sampler.num_classes, 1) * sampler.num_classes
        notes.append(f"{sampler.kind} conditioning: {count // sampler.num_classes} samples per class")
    images, intended = run.sample(count, PROBE_SEED)
    if not sampler.conditional:
        latent = run.config.model.latent_distribution
        notes.append(f"{count} samples drawn with seed {PROBE_SEED} (z ~ {latent})")
    latent = Latent((sampler.input_dim,), run.config.model.latent_distribution)
    return Samples(
        images, notes, run.generator, latent, run.config.data.name, intended, "-1-1", run.config.data
    )


def _sample(
    generator: nn.Module, latent: Latent, count: int, notes: list[str], value_range: str, classes: int | None
) -> Samples:
    """`count` samples of a generator file's G (class-balanced pairs (z, label) when `classes`)."""
    if classes:
        values, intended, said, _ = sample_with_labels(generator, latent, classes, count, PROBE_SEED)
        notes = [*notes, said, f"{len(values)} samples drawn with seed {PROBE_SEED}"]
        return Samples(values, notes, generator, latent, intended=intended, value_range=value_range)
    notes = list(notes)
    values = sample_from(generator, latent, count, PROBE_SEED, notes=notes)
    notes.append(f"{count} samples drawn with seed {PROBE_SEED}")
    return Samples(values, notes, generator, latent, value_range=value_range)


def _numbers(array: np.ndarray, path: Path) -> torch.Tensor:
    """An array read from a file as a float tensor; a clear sentence for what is not numbers."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise ModeCollapseError(f"{path}: samples must be numbers, got an array of dtype {array.dtype}")
    if array.size == 0:
        raise ModeCollapseError(f"{path}: no samples (the array is empty, shape {array.shape})")
    return torch.as_tensor(array.astype(np.float32))
