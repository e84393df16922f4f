"""How a GAN's input is drawn: z ~ N(0, I) or U(-r, r), and for class-conditional generators the
class it carries (`model.conditioning`: guided latent blocks, a one-hot class, or the integer
label the guided code appended as published). Our trainers, evaluators and loaders draw through
`LatentSampler`; a user's generator (the Monitor, diagnose) through `Latent` and `sample_from`.
Both draw with `draw_noise`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.errors import ModeCollapseError
from modecollapse.generators import batch_outputs, error_line, output_note, unwrapped
from modecollapse.options import Metavar, on_command_line, option

if TYPE_CHECKING:
    from modecollapse.config import ModelConfig


def draw_noise(
    shape: tuple[int, ...], uniform: bool, scale: float = 1.0, generator: torch.Generator | None = None,
    device: Any = "cpu",
) -> torch.Tensor:  # fmt: skip
    """N(0, I), or U(-scale, scale) when `uniform`; from `generator` (CPU, for fixed draws) or the
    global RNG of `device` (checkpointed with a run)."""
    draw = torch.rand if uniform else torch.randn
    if generator is None:
        values = draw(*shape, device=device)
    else:
        values = draw(*shape, generator=generator).to(device)
    return (values * 2 - 1) * scale if uniform else values


@dataclass(frozen=True)
class Latent:
    """The latent law of a user's generator: z of `shape`, N(0, I) or U(-range, range)."""

    shape: tuple[int, ...]
    distribution: str = "normal"
    range: float = 1.0

    def __post_init__(self) -> None:
        if not self.shape or any(int(d) <= 0 for d in self.shape):
            raise ModeCollapseError(f"the latent shape must be positive sizes, got {self.shape}")
        if self.distribution not in ("normal", "uniform"):
            raise ModeCollapseError(
                f"the latent distribution must be normal or uniform, got {self.distribution!r}"
            )
        if not (self.range > 0 and math.isfinite(self.range)):
            raise ModeCollapseError(f"the latent range must be a positive number, got {self.range}")

    def draw(self, count: int, seed: int) -> torch.Tensor:
        """`count` fixed draws (CPU, fp32) from a generator seeded with `seed`."""
        generator = torch.Generator().manual_seed(seed)
        return draw_noise((count, *self.shape), self.distribution == "uniform", self.range, generator)

    def describe(self) -> str:
        law = f"U(-{self.range:g}, {self.range:g})" if self.distribution == "uniform" else "N(0, I)"
        return f"z ~ {law} of shape {self.shape}"


def placement(generator: Any) -> tuple[torch.device, torch.dtype]:
    """The device and floating dtype of a generator's weights, read through its wrappers (CPU fp32
    for a plain callable)."""
    generator = unwrapped(generator)
    if isinstance(generator, nn.Module):
        for tensor in (*generator.parameters(), *generator.buffers()):
            if tensor.is_floating_point():
                return tensor.device, tensor.dtype
    return torch.device("cpu"), torch.float32


@torch.no_grad()
def sample_from(
    generator: Any, latent: Latent, count: int, seed: int, chunk: int = 500, notes: list[str] | None = None
) -> torch.Tensor:
    """G's outputs for `count` fixed draws of `latent`, `chunk` at a time: z on G's device and in
    G's dtype (fp64, bf16 alike), the outputs as fp32 on the CPU. What was judged of an output
    that is more than the samples is added to `notes`."""
    device, dtype = placement(generator)
    z = latent.draw(count, seed)
    parts = []
    for part in z.split(chunk):
        try:
            out = generator(part.to(device=device, dtype=dtype))
        except (RuntimeError, TypeError, torch.jit.Error) as error:
            raise ModeCollapseError(
                f"G failed on {latent.describe()} (a batch of shape {tuple(part.shape)}, {dtype}): "
                f"{error_line(error)}; does the latent law match G's input?"
                f"{_conditional_hint(error)}{_spatial_hint(error, latent)}"
            ) from None
        parts.append(batch_outputs(out, len(part)))
        said = output_note(out) if notes is not None and len(parts) == 1 else None
        if said:
            notes.append(said)
    return torch.cat(parts)


def latent_options() -> str:
    """How a message asks for z's size, as the caller spells options."""
    return f"{option('latent_dim', Metavar('N'))} (or {option('latent_shape')})"


def _conditional_hint(error: Exception) -> str:
    """For a G whose forward wants one more argument: how to give it the class."""
    if "required positional argument" not in str(error):
        return ""
    return f" A class-conditional G(z, label) is sampled with {option('num_classes', Metavar('K'))}"


def _spatial_hint(error: Exception, latent: Latent) -> str:
    """For a flat z fed to a G that opens with a convolution (a DCGAN): how to give z as
    (N, n, 1, 1)."""
    if len(latent.shape) != 1 or "conv" not in str(error):
        return ""
    n = latent.shape[0]
    shape = Metavar(f"{n},1,1" if on_command_line() else f"({n}, 1, 1)")
    return (
        f" A G that opens with a ConvTranspose2d (a DCGAN) takes z as (N, {n}, 1, 1): pass "
        f"{option('latent_shape', shape)}, or leave {option('latent_dim')} out to read z's shape from G"
    )


class LatentRead(NamedTuple):
    """What latent_from_first_layer found: z's law and where its size came from, or no law and
    why not."""

    latent: Latent | None
    note: str


def latent_from_first_layer(
    generator: Any, distribution: str = "normal", scale: float = 1.0, image_sides: tuple[int, ...] = ()
) -> LatentRead:
    """z's law for a generator given without its latent size, when its first layer says it: a
    Linear(n, ...) takes z of (n,), a ConvTranspose2d(n, ...) z of (n, 1, 1) as DCGANs do; kept
    only if G runs on two such draws with finite values and, for a ConvTranspose2d, gives images
    with a side in `image_sides` (else G may be built for a spatial z, which only the user
    knows). Any other first layer (an embedding of a class, a Conv2d, a lazy layer not yet sized)
    or a plain callable gives no law; the note says why."""
    layers = generator.modules() if isinstance(generator, nn.Module) else ()
    first = next((m for m in layers if next(m.parameters(recurse=False), None) is not None), None)
    name = type(first).__name__
    if isinstance(first, nn.Linear):
        shape: tuple[int, ...] = (first.in_features,)
    elif isinstance(first, nn.ConvTranspose2d):
        shape = (first.in_channels, 1, 1)
    elif first is None:
        return LatentRead(None, "G has no layer with weights to read it from")
    else:
        return LatentRead(None, f"G's first layer with weights, {name}, does not say it")
    if shape[0] <= 0:
        return LatentRead(None, f"G's first layer, {name}, is not sized yet")
    latent = Latent(shape, distribution, scale)
    try:
        with torch.no_grad():
            probe = sample_from(generator, latent, 2, 0)
    except Exception as error:  # the user's forward on a wrong guess can fail in any way
        said = " ".join(str(error).split())[:200]
        return LatentRead(None, f"G failed on {latent.describe()}, read from its {name}: {said}")
    if len(probe) != 2 or not bool(torch.isfinite(probe).all()):
        return LatentRead(None, f"G gave non-finite values on {latent.describe()}, read from its {name}")
    if len(shape) == 3 and image_sides and (probe.dim() != 4 or probe.shape[-1] not in image_sides):
        sides = ", ".join(map(str, image_sides))
        spatial = Metavar(f"{shape[0]},H,W" if on_command_line() else f"({shape[0]}, H, W)")
        return LatentRead(
            None,
            f"on {latent.describe()}, read from its {name}, G gives outputs of shape "
            f"{tuple(probe.shape[1:])}, not images of side {sides}; a G built for a spatial z needs "
            f"{option('latent_shape', spatial)}",
        )
    sets_it = f"{option('latent_dim')} or {option('latent_shape')} sets it"
    layer = f"{name}({shape[0]}, ...)"
    return LatentRead(latent, f"{latent.describe()}, its size read from G's first layer, {layer} ({sets_it})")


class LatentSampler:
    """Draws (z, class) pairs for one conditioning scheme; labels are None when unconditional."""

    def __init__(self, config: ModelConfig, num_classes: int) -> None:
        self.kind, self.num_classes = config.conditioning, num_classes
        self.latent_dim, self.block = config.latent_dim, config.guided_subspace_dim
        self.noise_elsewhere = config.guided_other_blocks == "noise"
        self.as_published = config.guided_variant == "as_published"
        self.uniform = config.latent_distribution == "uniform"

    @property
    def input_dim(self) -> int:
        """Size of the generator's input vector."""
        if self.kind == "none":
            return self.latent_dim
        if self.kind == "guided":
            return self.latent_dim + 1 if self.as_published else self.num_classes * self.block
        return self.latent_dim + self.num_classes

    @property
    def conditional(self) -> bool:
        return self.kind != "none"

    def latent(self, labels: torch.Tensor | None, count: int, device, generator=None) -> torch.Tensor:
        """z for these labels (or unconditional z when labels is None).

        Noise comes from `generator` (a CPU generator, for fixed draws) or else the global RNG
        of `device` (checkpointed with the run).
        """

        def randn(*shape: int) -> torch.Tensor:
            """N(0, I) noise, or U(-1, 1) with model.latent_distribution = 'uniform'."""
            return draw_noise(shape, self.uniform, 1.0, generator, device)

        if self.kind == "none":
            return randn(count, self.latent_dim)
        assert labels is not None
        if self.kind == "guided" and not self.as_published:
            noise = randn(count, self.num_classes, self.block)
            if self.noise_elsewhere:
                return noise.flatten(1)
            mask = F.one_hot(labels, self.num_classes).to(noise.dtype).unsqueeze(2)
            return (noise * mask).flatten(1)
        noise = randn(count, self.latent_dim)
        if self.kind == "guided":  # as published: the integer label as one more latent coordinate
            return torch.cat([noise, labels.to(noise.dtype).unsqueeze(1)], dim=1)
        return torch.cat([noise, F.one_hot(labels, self.num_classes).to(noise.dtype)], dim=1)

    def sample(self, count: int, device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Random classes (uniform) and their z, from the global RNG (checkpointed)."""
        if self.kind == "none":
            return self.latent(None, count, device), None
        labels = torch.randint(self.num_classes, (count,), device=device)
        return self.latent(labels, count, device), labels

    def fixed(
        self, count: int, seed: int, device, rows: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A fixed, class-balanced draw for grids and evaluation: labels 0, 1, ..., K-1, 0, ...
        or, with `rows`, count / K of class 0 first, then class 1, ... (one grid row per class)."""
        generator = torch.Generator().manual_seed(seed)
        if self.kind == "none":
            return self.latent(None, count, device, generator), None
        index = torch.arange(count)
        labels = (index // max(count // self.num_classes, 1) if rows else index % self.num_classes).to(device)
        labels = labels.clamp_max(self.num_classes - 1)
        return self.latent(labels, count, device, generator), labels
