"""Sample grids and 2-D scatter plots as PNG files."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from modecollapse.files import atomic_write_bytes

# Translators' tiles have black backgrounds: mid-grey padding keeps input and output apart.
GREY = 0.0


def make_grid(
    images: torch.Tensor, columns: int | None = None, padding: int = 2, pad_value: float = -1.0
) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> one uint8 image (rows, cols[, 3]) with padding between tiles
    in `pad_value` (in [-1, 1]; black by default)."""
    images = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    fill = round((min(max(pad_value, -1.0), 1.0) + 1) * 127.5)
    grid = torch.full(
        (c, rows * (h + padding) + padding, columns * (w + padding) + padding), fill, dtype=torch.uint8
    )
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = images[i]
    array = grid.permute(1, 2, 0).numpy()
    return array[:, :, 0] if c == 1 else array


def save_grid(
    images: torch.Tensor, path: str | Path, columns: int | None = None, pad_value: float = -1.0
) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(make_grid(images, columns, pad_value=pad_value)).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def save_scatter(
    points: torch.Tensor,
    path: str | Path,
    means: torch.Tensor | None = None,
    title: str = "",
    limit: float | None = None,
) -> Path:
    """Generated points in black, mixture means as red crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = points.detach().float().cpu().numpy()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=2, c="black", alpha=0.3)
    if means is not None:
        m = means.cpu().numpy()
        ax.scatter(m[:, 0], m[:, 1], s=40, c="red", marker="x")
        limit = limit or float(np.abs(m).max()) * 1.5 + 0.5
    if limit:
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
