"""k-NN manifold metrics in feature space, each pairwise distance matrix computed once, in chunks.

precision/recall: Kynkäänniemi et al. 2019, k = 3, a sample is inside a ball when its
distance is <= the ball's radius. density/coverage: Naeem et al. 2020, k = 5, with the
strict < of their reference code (prdc).
"""

from __future__ import annotations

import torch

CHUNK = 2048


def nearest_distances(features: torch.Tensor, k_max: int, rows: torch.Tensor | None = None) -> torch.Tensor:
    """(N, k_max): each row's (or each of the `rows` indexed) distances to its 1st..k_max-th
    nearest other row; chunks shrink past 10,000 rows so that each holds ~20M distances."""
    features = features.float()
    queries = features if rows is None else features[rows]
    nearest = []
    for chunk in queries.split(min(CHUNK, max(256, CHUNK * 10_000 // max(len(features), 1)))):
        distances = torch.cdist(chunk, features)
        nearest.append(distances.topk(k_max + 1, dim=1, largest=False).values[:, 1:])  # column 0 is itself
    return torch.cat(nearest)


def kth_neighbour_radii(features: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """For each k in ks: distance from each row to its k-th nearest other row."""
    table = nearest_distances(features, max(ks))
    return {k: table[:, k - 1] for k in ks}


def manifold_metrics(
    real: torch.Tensor,
    fake: torch.Tensor,
    k_pr: int = 3,
    k_dc: int = 5,
    real_nearest: torch.Tensor | None = None,
    fake_nearest: torch.Tensor | None = None,
) -> dict[str, float]:
    """precision, recall (k_pr) and density, coverage (k_dc) in one pass over fake x real.
    Nulls: pixel noise and blobs (precision ~0), three classes only (recall and coverage about
    a third), one image repeated (recall ~0); oracle: the prdc package. `real_nearest` and
    `fake_nearest` (nearest_distances tables, at least k_dc and k_pr wide) may be passed in
    when computed already."""
    return manifold_pass(real, fake, k_pr, k_dc, real_nearest, fake_nearest)[0]


def manifold_pass(
    real: torch.Tensor,
    fake: torch.Tensor,
    k_pr: int = 3,
    k_dc: int = 5,
    real_nearest: torch.Tensor | None = None,
    fake_nearest: torch.Tensor | None = None,
) -> tuple[dict[str, float], torch.Tensor]:
    """manifold_metrics' scores, and each fake row's distance to its nearest real row."""
    real, fake = real.float(), fake.float()
    if real_nearest is None or real_nearest.shape[1] < max(k_pr, k_dc):
        real_nearest = nearest_distances(real, max(k_pr, k_dc))
    if fake_nearest is None or fake_nearest.shape[1] < k_pr:
        fake_nearest = nearest_distances(fake, k_pr)
    real_pr, real_dc = real_nearest[:, k_pr - 1], real_nearest[:, k_dc - 1]
    fake_pr = fake_nearest[:, k_pr - 1]
    precise = torch.zeros(len(fake), dtype=torch.bool)
    recalled = torch.zeros(len(real), dtype=torch.bool)
    nearest_fake = torch.full((len(real),), float("inf"))
    nearest_real = torch.empty(len(fake))
    inside_dc = 0.0
    for start, chunk in zip(range(0, len(fake), CHUNK), fake.split(CHUNK), strict=True):
        distances = torch.cdist(chunk, real)  # (chunk, real)
        rows = slice(start, start + len(chunk))
        precise[rows] = (distances <= real_pr).any(dim=1)
        recalled |= (distances <= fake_pr[rows, None]).any(dim=0)
        inside_dc += float((distances < real_dc).sum())
        nearest_fake = torch.minimum(nearest_fake, distances.min(dim=0).values)
        nearest_real[rows] = distances.min(dim=1).values
    scores = {
        "precision": float(precise.float().mean()),
        "recall": float(recalled.float().mean()),
        "density": inside_dc / (k_dc * len(fake)),
        "coverage": float((nearest_fake < real_dc).float().mean()),
    }
    return scores, nearest_real
