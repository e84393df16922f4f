"""The standard 2-D Gaussian mixtures used to study mode collapse.

ring8: 8 Gaussians evenly spaced on a circle of radius 2, std 0.02 (Metz et al. 2017,
Unrolled GANs). PacGAN's code uses radius 1, std 0.01: the same shape at half the scale
(`data.mixture_scale = 0.5`).
grid25: 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (PacGAN / VEEGAN code).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from modecollapse.data.registry import Dataset, DatasetSpec, always, register

if TYPE_CHECKING:
    from modecollapse.data.settings import DataConfig

RING8_STD = 0.02
GRID25_STD = 0.05


def ring_means(num_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_means(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def sample_mixture(
    means: torch.Tensor, std: float, num_samples: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw points from an equal-weight isotropic mixture; return (points, mode index)."""
    modes = torch.randint(len(means), (num_samples,), generator=generator)
    noise = torch.randn(num_samples, means.shape[1], generator=generator) * std
    return means[modes] + noise, modes


def _mixture_loader(name: str, means: torch.Tensor, std: float) -> Callable[[DataConfig], Dataset]:
    def load(config: DataConfig) -> Dataset:
        scale = config.mixture_scale
        mode_std = (config.mixture_std or std) * scale
        size = config.num_samples or 100_000
        generator = torch.Generator().manual_seed(config.seed)
        points, modes = sample_mixture(means * scale, mode_std, size, generator)
        return Dataset(
            name=name,
            kind="points",
            data=points,
            labels=modes,
            num_classes=len(means),
            source=f"{size} points generated with seed {config.seed}",
            mode_means=means * scale,
            mode_std=mode_std,
        )

    return load


for _name, _means, _std, _description in (
    ("ring8", ring_means(8, 2.0), RING8_STD, "8 Gaussians on a circle of radius 2, std 0.02 (Metz 2017)"),
    ("grid25", grid_means(5, 2.0), GRID25_STD, "25 Gaussians on a 5x5 grid, spacing 2, std 0.05 (PacGAN)"),
):
    register(
        DatasetSpec(
            _name,
            "points",
            _description,
            _mixture_loader(_name, _means, _std),
            always("generated on the fly"),
            lambda config: (2,),
            num_classes=len(_means),
        )
    )
