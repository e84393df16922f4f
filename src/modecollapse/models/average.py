"""An exponential moving average of G's weights (`model.g_ema`), the copy that is evaluated.

Parameters follow p_avg <- decay * p_avg + (1 - decay) * p after every G update; buffers
(BatchNorm statistics) are copied, as in StyleGAN2-ADA's training loop.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class GeneratorAverage:
    """The averaged copy of a generator, or (switched off) the generator itself."""

    def __init__(self, generator: nn.Module, decay: float | None, name: str = "generator_ema") -> None:
        self.decay, self.name = decay, name
        self.average = copy.deepcopy(generator).requires_grad_(False).eval() if decay else None
        self.generator = generator

    @property
    def evaluated(self) -> nn.Module:
        """The network that evaluation, sample grids and export see."""
        return self.average if self.average is not None else self.generator

    @torch.no_grad()
    def update(self) -> None:
        """One step of the average, after one G update (nothing when switched off)."""
        if self.average is None:
            return
        averaged = list(self.average.parameters())
        torch._foreach_lerp_(averaged, [p.detach() for p in self.generator.parameters()], 1 - self.decay)
        for kept, current in zip(self.average.buffers(), self.generator.buffers(), strict=True):
            kept.copy_(current)

    def modules(self) -> dict[str, nn.Module]:
        """What a checkpoint keeps of it."""
        return {self.name: self.average} if self.average is not None else {}
