"""Read a posted sample grid: one PNG/JPEG of square tiles, split back into samples.

A grid is rows x columns tiles of `tile` pixels with `padding` pixels of one colour between
them, either with a border of padding around the whole grid (torchvision's make_grid, our
save_grid) or without. Every layout whose arithmetic fits the image's height and width is a
candidate (tiles of 28, 32 or 64 px, padding 0-10 px); a candidate with padding must have
padding lines of (nearly) one colour. A layout most of whose tiles hold a blank row and a blank
column across their middle holds several samples per tile (a 64-px tile over 2 x 2 digits and
their padding), and loses to any that does not. Among the survivors the tiles whose borders hold
the least ink win (samples are centred digits; a wrong tile size cuts through them). A close
second with another tile size or padding makes the layout ambiguous: refused, naming the
options that settle it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modecollapse.errors import ModeCollapseError
from modecollapse.options import option

GRID_SUFFIXES = (".png", ".jpg", ".jpeg")
TILE_SIZES = (28, 32, 64)
MAX_PADDING = 10
PAD_TOLERANCE = 24
"""Grey levels a padding pixel may differ from the padding colour (JPEG artefacts)."""
AMBIGUITY = 0.8
"""A runner-up whose tile-border ink is within this ratio of the best makes the layout ambiguous."""


@dataclass(frozen=True)
class GridLayout:
    tile: int
    padding: int
    border: bool
    rows: int
    columns: int

    def origin(self, index: int) -> int:
        return (self.padding if self.border else 0) + index * (self.tile + self.padding)

    def describe(self) -> str:
        where = " (and around the grid)" if self.border and self.padding else ""
        return f"{self.rows} x {self.columns} tiles of {self.tile} px, {self.padding} px padding{where}"


def read_grid_image(path: Path) -> np.ndarray:
    """(H, W) or (H, W, 3) uint8 pixels of an image file; a clear error if it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            grey = image.mode in ("L", "LA", "I", "I;16", "P", "1") and _is_grey(image)
            array = np.asarray(image.convert("L" if grey else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ModeCollapseError(f"{path}: not a readable image ({error})") from None
    if array.ndim == 3 and (array == array[..., :1]).all():
        array = array[..., 0]
    return array


def _is_grey(image) -> bool:
    if image.mode != "P":
        return True
    rgb = np.asarray(image.convert("RGB"))
    return bool((rgb == rgb[..., :1]).all())


def candidates(height: int, width: int, tile: int | None, padding: int | None) -> list[GridLayout]:
    """Every layout whose arithmetic fits a height x width image (at least 2 tiles)."""
    found = []
    for t in (tile,) if tile else TILE_SIZES:
        for p in (padding,) if padding is not None else range(MAX_PADDING + 1):
            for border in (True, False) if p else (False,):
                extra = p if border else -p  # border: n (t + p) + p; inner only: n (t + p) - p
                rows, rest_h = divmod(height - extra, t + p)
                columns, rest_w = divmod(width - extra, t + p)
                if rest_h == 0 and rest_w == 0 and rows >= 1 and columns >= 1 and rows * columns >= 2:
                    found.append(GridLayout(t, p, border, rows, columns))
    return found


def tiles_of(image: np.ndarray, layout: GridLayout) -> np.ndarray:
    """(rows * columns, tile, tile[, 3]) in reading order."""
    t = layout.tile
    return np.stack([
        image[layout.origin(r) : layout.origin(r) + t, layout.origin(c) : layout.origin(c) + t]
        for r in range(layout.rows)
        for c in range(layout.columns)
    ])  # fmt: skip


def padding_colour(image: np.ndarray, layout: GridLayout) -> np.ndarray | None:
    """The padding's colour when every padding pixel is within PAD_TOLERANCE of it, else None."""
    if layout.padding == 0:
        return None
    mask = np.ones(image.shape[:2], dtype=bool)
    t = layout.tile
    for r in range(layout.rows):
        for c in range(layout.columns):
            mask[layout.origin(r) : layout.origin(r) + t, layout.origin(c) : layout.origin(c) + t] = False
    pixels = image[mask].reshape(-1, *image.shape[2:]).astype(np.int16)
    colour = np.median(pixels, axis=0)
    off = np.abs(pixels - colour).reshape(len(pixels), -1).max(axis=1) > PAD_TOLERANCE
    return colour if off.mean() <= 0.01 else None


def border_ink(tiles: np.ndarray) -> float:
    """Mean distance of tile-border pixels from each tile's background, relative to the tiles'
    overall contrast: near 0 for centred samples, high when a tile cuts through them."""
    x = tiles.astype(np.float32).reshape(*tiles.shape[:3], -1)
    edge, background = _edge_and_background(x)
    spread = np.abs(x - background[:, None]).mean() + 1e-6
    return float(np.abs(edge - background).mean() / spread)


def _edge_and_background(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, t, t, C) tiles -> their border pixels (N, 4t, C) and each tile's background, the
    median of its border (N, 1, C)."""
    edge = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1)
    return edge, np.median(edge, axis=1, keepdims=True)


def several_per_tile(tiles: np.ndarray) -> float:
    """The share of tiles with a row and a column across their middle half that are all of the
    tile's background colour: a cross of padding or background between several samples. A centred
    digit's strokes cross every middle row; its middle columns may be blank, not both."""
    x = tiles.astype(np.int16).reshape(*tiles.shape[:3], -1)
    t = x.shape[1]
    _, background = _edge_and_background(x)
    off = np.abs(x - background[:, None]).max(axis=3) > PAD_TOLERANCE  # (N, t, t)
    middle = slice(t // 4, t - t // 4)
    blank_row = ~off[:, middle, :].any(axis=2)
    blank_column = ~off[:, :, middle].any(axis=1)
    return float((blank_row.any(axis=1) & blank_column.any(axis=1) & off.any(axis=(1, 2))).mean())


def split_grid(
    path: Path, tile: int | None = None, padding: int | None = None
) -> tuple[np.ndarray, list[str]]:
    """(N, tile, tile[, 3]) uint8 samples of the grid image at `path` and notes on how it was read."""
    image = read_grid_image(path)
    height, width = image.shape[:2]
    hint = f"pass {option('tile_size')} (28, 32 or 64) and {option('padding')} (pixels between tiles)"
    scored = []
    for layout in candidates(height, width, tile, padding):
        colour = padding_colour(image, layout)
        if layout.padding and colour is None:
            continue
        tiles = tiles_of(image, layout)
        scored.append((border_ink(tiles), layout, colour, several_per_tile(tiles) > 0.5))
    if not scored:
        raise ModeCollapseError(
            f"{path}: {width} x {height} px is not a grid of {tile or '28/32/64'}-px tiles with "
            f"{'padding ' + str(padding) if padding is not None else 'uniform padding of 0-10 px'}; {hint}"
        )
    single = [item for item in scored if not item[3]]
    scored = sorted(single or scored, key=lambda item: item[0])
    best_ink, layout, colour, _ = scored[0]
    rivals = [s for s in scored[1:] if (s[1].tile, s[1].padding) != (layout.tile, layout.padding)]
    if rivals and best_ink >= AMBIGUITY * rivals[0][0]:
        other = rivals[0][1]
        raise ModeCollapseError(f"{path}: ambiguous grid: {layout.describe()} or {other.describe()}; {hint}")
    tiles = tiles_of(image, layout)
    notes = [f"grid image {path.name} read as {layout.describe()}"]
    if colour is not None:  # make_grid fills the rest of a partial last row with padding colour
        blank = np.abs(tiles.astype(np.int16) - colour).reshape(len(tiles), -1).max(axis=1) <= PAD_TOLERANCE
        filled = np.flatnonzero(~blank)
        trailing = len(tiles) - 1 - int(filled[-1]) if len(filled) else 0
        if trailing:
            tiles = tiles[:-trailing]
            notes.append(f"{trailing} empty tiles at the end skipped")
    if len(tiles) < 2:
        raise ModeCollapseError(f"{path}: the grid holds fewer than 2 samples")
    return tiles, notes
