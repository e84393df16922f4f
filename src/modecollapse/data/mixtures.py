"""The standard 2-D Gaussian mixtures used to study mode collapse.

ring8: 8 Gaussians evenly spaced on a circle of radius 2, std 0.02 (Metz et al. 2017,
Unrolled GANs). PacGAN's code uses radius 1, std 0.01: the same shape at half the scale.
grid25: 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (PacGAN / VEEGAN code).
"""

from __future__ import annotations

import math

import torch

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
