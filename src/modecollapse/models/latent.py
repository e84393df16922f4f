"""How a GAN's input is drawn: z ~ N(0, I) or U(-1, 1), and for class-conditional generators the
class it carries (`model.conditioning`: guided latent blocks, a one-hot class, or the integer
label the guided code appended as published). Every GAN trainer, evaluator and loader draws
through `LatentSampler`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from modecollapse.config import ModelConfig


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
            draw = torch.rand if self.uniform else torch.randn
            if generator is None:
                noise = draw(*shape, device=device)
            else:
                noise = draw(*shape, generator=generator).to(device)
            return noise * 2 - 1 if self.uniform else noise

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
