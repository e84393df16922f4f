"""Fréchet distance between Gaussians fitted to classifier features.

Computed on our evaluation classifier's features, not Inception's, so we call it the
Fréchet classifier distance (FCD); numbers are comparable only under one classifier SHA.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg


def features_to_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    array = features.double().cpu().numpy()
    return array.mean(axis=0), np.cov(array, rowvar=False)


def stats_to_fd(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2), with the usual offset for singular S."""
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular products are handled below, as in pytorch-fid
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fcd(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """Frechet distance of the classifier's 128-d features (not Inception: not FID-comparable).
    Nulls: constant output, pixel noise, blobs (all > 10x real-vs-real); tested against
    pytorch-fid's implementation."""
    return stats_to_fd(*features_to_stats(real_features), *features_to_stats(fake_features))
