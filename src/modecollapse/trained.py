"""One way to load a trained run: its config, networks and latent sampler, rebuilt from the
newest checkpoint (safetensors + JSON: never pickle), and one way to sample it.

    run = load_run("runs/my-run")                   # a run folder or a checkpoint folder
    images, classes = run.sample(10_000, seed=7)    # fp32, in chunks; classes for conditional G
    translator = load_translator("runs/a-cyclegan-run")

diagnose, reports and results' scripts all load runs through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from modecollapse.config import Config, config_from_dict
from modecollapse.data import sample_shape, spec
from modecollapse.errors import ModeCollapseError
from modecollapse.models import build_cyclegan, build_models, generate
from modecollapse.models.latent import LatentSampler
from modecollapse.runfolder import RunFolder
from modecollapse.training import checkpoint as ckpt

Read = tuple[Path, Config, dict[str, torch.Tensor], int]
"""What read_run returns: (checkpoint folder, config, tensors, step)."""


@dataclass
class TrainedRun:
    """A GAN generator as it was at one checkpoint, in eval mode, with its latent sampler."""

    checkpoint: Path
    config: Config
    step: int
    generator: nn.Module
    sampler: LatentSampler

    def sample(
        self, count: int, seed: int, chunk: int = 500, rows: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`count` samples from fixed latents drawn with `seed` (the run's own latent
        distribution), and the class each was drawn for (None when unconditional); `rows`
        orders a conditional draw class by class."""
        latent, classes = self.sampler.fixed(count, seed, "cpu", rows=rows)
        return generate(self.generator, latent, chunk), classes


@dataclass
class TrainedTranslator:
    """A CycleGAN's two generators at one checkpoint, in eval mode."""

    checkpoint: Path
    config: Config
    step: int
    g_ab: nn.Module
    g_ba: nn.Module


def is_run(path: Path) -> bool:
    """Whether `path` is a run folder or a checkpoint folder written by this tool."""
    path = Path(path)
    return path.is_dir() and (RunFolder(path).config.is_file() or (path / ckpt.STATE).is_file())


def checkpoint_of(path: Path) -> Path:
    """`path` itself when it is a checkpoint folder, else its run's newest checkpoint."""
    path = Path(path)
    folder = path if (path / ckpt.STATE).is_file() else ckpt.latest_checkpoint(path)
    if folder is None:
        raise ModeCollapseError(f"{path}: this run has no checkpoint yet")
    return folder


def read_run(path: Path) -> Read:
    """(checkpoint folder, config, tensors, step) of a run or checkpoint folder."""
    folder = checkpoint_of(path)
    tensors, state = ckpt.load_checkpoint(folder)
    return folder, config_from_dict(state["config"], source=str(folder)), tensors, state["step"]


def load_run(path: str | Path, read: Read | None = None) -> TrainedRun:
    """The generator of a GAN run (DCGAN or MLP) at its newest checkpoint: the moving average
    of its weights when the run kept one (model.g_ema), as evaluation saw it. `read`: the
    checkpoint already read (read_run), so it is not read again."""
    folder, config, tensors, step = read or read_run(Path(path))
    if config.model.family == "cyclegan":
        raise ModeCollapseError(f"{path} is a CycleGAN run; load it with load_translator")
    num_classes = spec(config.data.name).num_classes
    generator, _ = build_models(config.model, sample_shape(config.data), num_classes)
    ckpt.load_module("generator_ema" if config.model.g_ema else "generator", generator, tensors)
    return TrainedRun(folder, config, step, generator.eval(), LatentSampler(config.model, num_classes))


def load_translator(path: str | Path, read: Read | None = None) -> TrainedTranslator:
    """G_AB and G_BA of a CycleGAN run at its newest checkpoint (`read`: as for load_run)."""
    folder, config, tensors, step = read or read_run(Path(path))
    if config.model.family != "cyclegan":
        raise ModeCollapseError(f"{path} is not a CycleGAN run (model.family = '{config.model.family}')")
    g_ab, g_ba, _, _ = build_cyclegan(config.model, sample_shape(config.data))
    averaged = "_ema" if config.model.g_ema else ""  # the averages are what is evaluated and exported
    ckpt.load_module(f"g_ab{averaged}", g_ab, tensors)
    ckpt.load_module(f"g_ba{averaged}", g_ba, tensors)
    return TrainedTranslator(folder, config, step, g_ab.eval(), g_ba.eval())
