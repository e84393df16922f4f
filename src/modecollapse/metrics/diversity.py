"""Diversity in classifier-feature space, relative to real data."""

from __future__ import annotations

import torch

from modecollapse.metrics.neighbors import kth_neighbour_radii, nearest_distances


def seeded_subset(features: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """A fixed random subset (files are often sorted by class, so never the first rows)."""
    if len(features) <= size:
        return features
    keep = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))[:size]
    return features[keep]


def mean_pairwise_distance(features: torch.Tensor, max_samples: int = 2000) -> float:
    """Mean Euclidean distance over pairs of distinct samples (a seeded subset of them).
    As diversity_ratio (generated / real). Null: a constant output (ratio 0)."""
    x = seeded_subset(features, max_samples).float()
    n = len(x)
    if n < 2:
        return 0.0
    return float(torch.cdist(x, x).sum() / (n * (n - 1)))


def near_duplicate_threshold(real: torch.Tensor, size: int, quantile: float = 0.01) -> float:
    """Distance below which only `quantile` of `size` real samples have their nearest neighbour.

    Nearest-neighbour distances shrink as sets grow, so the threshold is taken on a real
    subset of the same size as the set it will judge. Exact copies in the real set (the
    same digit drawn twice into a synthetic set) are dropped first, else the threshold is 0.
    """
    distinct = torch.unique(real, dim=0) if len(real) else real
    return float(torch.quantile(kth_neighbour_radii(seeded_subset(distinct, size), (1,))[1], quantile))


def near_duplicate_rate(
    fake: torch.Tensor, threshold: float, fake_nearest: torch.Tensor | None = None
) -> float:
    """Fraction of samples whose nearest other sample is closer than `threshold`.
    Null: one image repeated with a little noise (rate 1); real data ~0.01 by construction.
    `fake_nearest`: the samples' nearest_distances table, when computed already."""
    nearest = fake_nearest[:, 0] if fake_nearest is not None else kth_neighbour_radii(fake, (1,))[1]
    return float((nearest < threshold).float().mean())


def copy_threshold(real: torch.Tensor, quantile: float = 0.01, queries: int = 10_000) -> float:
    """The distance under which only `quantile` of (distinct) real images have their nearest
    other real image: closer than that to a real image is a copy. Over `queries` images, the
    nearest other image is sought among all of them, from a seeded subset of that many queries
    (a 60,000-image training set: 1/6 of the exact cost, the same quantile within sampling)."""
    distinct = torch.unique(real.float(), dim=0)
    picked = seeded_subset(torch.arange(len(distinct)), queries)  # all of them, in order, up to `queries`
    return float(torch.quantile(nearest_distances(distinct, 1, picked)[:, 0], quantile))


def copy_rate(
    fake: torch.Tensor,
    real: torch.Tensor,
    quantile: float = 0.01,
    threshold: float | None = None,
    nearest_real: torch.Tensor | None = None,
) -> float:
    """Fraction of samples closer to some real image than 99% of (distinct) real images are to
    their nearest other real one: copies of the reference, which is the training data during
    training. Null: memorized training images (rate ~1); fresh real digits ~0.01.
    `threshold` (copy_threshold) and `nearest_real` (each sample's distance to its nearest real
    image; duplicates in `real` do not change it) may be passed in when computed already."""
    if threshold is None:
        threshold = copy_threshold(real, quantile)
    if nearest_real is None:
        chunks = fake.float().split(2048)
        nearest_real = torch.cat([torch.cdist(chunk, real.float()).min(1).values for chunk in chunks])
    return float((nearest_real < threshold).float().mean())


def vendi_score(features: torch.Tensor, max_samples: int = 10_000) -> float:
    """The Vendi score (Friedman & Dieng 2023) with the cosine kernel on classifier features:
    exp(entropy of the eigenvalues of K / n), the effective number of distinct samples, from 1
    (every sample the same: the constant-output null) to n. Computed in the dual (eigenvalues
    of X^T X / n for unit rows X), as the vendi-score package's score_dual."""
    x = seeded_subset(features, max_samples).double()
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)
    eigenvalues = torch.linalg.eigvalsh(x.T @ x / len(x)).clamp_min(0)
    p = eigenvalues[eigenvalues > 0]
    return float(torch.exp(-(p * p.log()).sum()))
