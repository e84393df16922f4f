"""k-NN manifold metrics in feature space, each pairwise distance matrix computed once, in chunks.

precision/recall: Kynkäänniemi et al. 2019, k = 3, a sample is inside a ball when its
distance is <= the ball's radius. density/coverage: Naeem et al. 2020, k = 5, with the
strict < of their reference code (prdc).
"""

from __future__ import annotations

import torch

CHUNK = 2048


def kth_neighbour_radii(features: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """For each k in ks: distance from each row to its k-th nearest other row."""
    features = features.float()
    k_max = max(ks)
    nearest = []
    for chunk in features.split(CHUNK):
        distances = torch.cdist(chunk, features)
        nearest.append(distances.topk(k_max + 1, dim=1, largest=False).values)  # column 0 is itself
    table = torch.cat(nearest)
    return {k: table[:, k] for k in ks}


def manifold_metrics(
    real: torch.Tensor, fake: torch.Tensor, k_pr: int = 3, k_dc: int = 5
) -> dict[str, float]:
    """precision, recall (k_pr) and density, coverage (k_dc) in one pass over fake x real.
    Nulls: pixel noise and blobs (precision ~0), three classes only (recall and coverage about
    a third), one image repeated (recall ~0); oracle: the prdc package."""
    real, fake = real.float(), fake.float()
    real_radii = kth_neighbour_radii(real, (k_pr, k_dc))
    fake_radii = kth_neighbour_radii(fake, (k_pr,))[k_pr]
    precise = torch.zeros(len(fake), dtype=torch.bool)
    recalled = torch.zeros(len(real), dtype=torch.bool)
    nearest_fake = torch.full((len(real),), float("inf"))
    inside_dc = 0.0
    for start, chunk in zip(range(0, len(fake), CHUNK), fake.split(CHUNK), strict=True):
        distances = torch.cdist(chunk, real)  # (chunk, real)
        precise[start : start + len(chunk)] = (distances <= real_radii[k_pr]).any(dim=1)
        recalled |= (distances <= fake_radii[start : start + len(chunk), None]).any(dim=0)
        inside_dc += float((distances < real_radii[k_dc]).sum())
        nearest_fake = torch.minimum(nearest_fake, distances.min(dim=0).values)
    return {
        "precision": float(precise.float().mean()),
        "recall": float(recalled.float().mean()),
        "density": inside_dc / (k_dc * len(fake)),
        "coverage": float((nearest_fake < real_radii[k_dc]).float().mean()),
    }


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    scores = manifold_metrics(real, fake, k_pr=k)
    return scores["precision"], scores["recall"]


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> tuple[float, float]:
    scores = manifold_metrics(real, fake, k_dc=k)
    return scores["density"], scores["coverage"]
