"""Synthetic unpaired translation domains built from real digits, with ground truth kept.

A *layout* says where digits go on a square canvas: one (centre x, centre y, scale,
rotation) slot per digit, centres as fractions of the canvas (y grows downwards), scale
relative to the 28-pixel digit. Domain A and domain B draw their digits independently
(unpaired); the ground truth of translating A-image i is A-image i's digits drawn with B's
layout, which is what `render` gives when handed A's digit indices and B's layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

DIGIT_SIZE = 28


@dataclass(frozen=True)
class Slot:
    x: float
    y: float
    scale: float
    rotation: float = 0.0  # degrees, counter-clockwise


Layout = tuple[Slot, ...]

# The spatial-transform study as described to us: a 56x56 canvas; A one digit at scale 0.8
# rotated 30 degrees in the bottom-left quadrant, B one digit at scale 1.15 in the bottom-right.
SPATIAL_ONE = {"canvas": 56, "a": (Slot(0.25, 0.75, 0.8, 30.0),), "b": (Slot(0.75, 0.75, 1.15),)}
# Our documented two-digit default: A two small digits (bottom-left, top-right), B two big
# digits (top-left, bottom-right); each domain keeps its pattern for every image.
SPATIAL_TWO = {
    "canvas": 64,
    "a": (Slot(0.25, 0.75, 0.7), Slot(0.75, 0.25, 0.7)),
    "b": (Slot(0.25, 0.25, 1.0), Slot(0.75, 0.75, 1.0)),
}


def slot_theta(slot: Slot, canvas: int) -> torch.Tensor:
    """The 2x3 affine map from canvas coordinates to the digit's ([-1, 1] on both)."""
    angle = math.radians(slot.rotation)
    zoom = canvas / (DIGIT_SIZE * slot.scale)
    # canvas y points down, so a counter-clockwise turn on screen is a clockwise one in (x, y)
    cos, sin = math.cos(angle) * zoom, math.sin(angle) * zoom
    linear = torch.tensor([[cos, -sin], [sin, cos]])
    centre = torch.tensor([2 * slot.x - 1, 2 * slot.y - 1])
    return torch.cat([linear, (-linear @ centre).unsqueeze(1)], dim=1)


def render(digits: torch.Tensor, layout: Layout, canvas: int) -> torch.Tensor:
    """uint8 canvases (N, 1, canvas, canvas) from uint8 digits (N, len(layout), 28, 28)."""
    if digits.shape[1] != len(layout):
        raise ValueError(f"{digits.shape[1]} digits per image but the layout has {len(layout)} slots")
    n = digits.shape[0]
    out = torch.zeros(n, 1, canvas, canvas)
    for k, slot in enumerate(layout):
        theta = slot_theta(slot, canvas).expand(n, 2, 3)
        grid = F.affine_grid(theta, [n, 1, canvas, canvas], align_corners=False)
        placed = F.grid_sample(digits[:, k : k + 1].float(), grid, align_corners=False, padding_mode="zeros")
        out = torch.maximum(out, placed)
    return out.round().clamp(0, 255).to(torch.uint8)


def pick_digits(count: int, per_image: int, pool_size: int, seed: int) -> torch.Tensor:
    """Seeded indices (count, per_image) into a pool of source digits."""
    return torch.randint(pool_size, (count, per_image), generator=torch.Generator().manual_seed(seed))


# --- coloured digits: an offline RGB stand-in for SVHN ------------------------------------


def colourize(digits: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """uint8 RGB (N, 3, size, size): each grey digit in a random colour on a random background.

    Foreground and background colours are drawn so that their luminance differs by at least
    0.3 (either may be the lighter one), as in house-number photos.
    """
    n = digits.shape[0]
    generator = torch.Generator().manual_seed(seed)
    weights = torch.tensor([0.299, 0.587, 0.114])
    ink, paper = torch.rand(n, 3, generator=generator), torch.rand(n, 3, generator=generator)
    for _ in range(100):
        bad = ((ink - paper) @ weights).abs() < 0.3
        if not bad.any():
            break
        ink[bad] = torch.rand(int(bad.sum()), 3, generator=generator)
    alpha = pad_to(digits.float() / 255.0, size)  # (N, 1, size, size)
    rgb = alpha * ink.view(n, 3, 1, 1) + (1 - alpha) * paper.view(n, 3, 1, 1)
    return (rgb * 255).round().to(torch.uint8)


def pad_to(images: torch.Tensor, size: int) -> torch.Tensor:
    """Centre-pad (N, C, 28, 28) images with zeros to (N, C, size, size)."""
    extra = size - images.shape[-1]
    if extra < 0:
        raise ValueError(f"cannot pad {images.shape[-1]}-pixel images to {size}")
    before = extra // 2
    return F.pad(images, (before, extra - before, before, extra - before))
