"""The [data] section of a run config: which dataset and how to draw it. It lives with the data
(config/ imports it from here) so that data/ never imports config/."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = "mnist-5k"
    """Dataset from the registry (`modecollapse data list`)."""
    data_dir: str | None = None
    """Folder with the raw files; else $MODECOLLAPSE_DATA, the cache, system paths, download."""
    split: Literal["train", "test", "all"] = "train"
    """MNIST/Fashion-MNIST split: train (60k, as the classic DCGAN), test (10k) or all (70k)."""
    image_size: int | None = Field(default=None, ge=8, le=256)
    """Resize images to this side length (None keeps 28); DCGAN-64 needs 64."""
    num_samples: int | None = Field(default=None, ge=1)
    """Use a seeded random subset of this size; for synthetic sets, how many to generate."""
    base: str = "mnist-5k"
    """Digit source that stacked-mnist and the translation pairs are built from."""
    mixture_std: float | None = Field(default=None, gt=0)
    """Std of each 2-D Gaussian (defaults: ring8 0.02, grid25 0.05, as published)."""
    mixture_scale: float = Field(default=1.0, gt=0)
    """Multiplies a 2-D mixture's means and std: ring8 at 0.5 is PacGAN's ring (radius 1, std 0.01)."""
    canvas_size: int | None = Field(default=None, ge=16, le=256)
    """spatial-one/-two canvas side (defaults: 56 and 64)."""
    layout_a: list[tuple[float, float, float, float]] | None = None
    """spatial-*: one [x, y, scale, rotation] per digit of domain A; x, y are fractions of the
    canvas (y down), scale is relative to a 28-pixel digit, rotation in degrees."""
    layout_b: list[tuple[float, float, float, float]] | None = None
    """spatial-*: the same for domain B."""
    seed: int = 0
    """Seed for subsets and synthetic data; fixed across training seeds on purpose."""
    download: bool = True
    """Allow downloading missing files from the official mirrors."""
