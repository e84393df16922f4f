"""Recognizable samples: those the evaluation classifier reads the way it reads real data.

A sample is recognizable when (a) the classifier is at least as confident about it as about
99% of held-out real samples (its largest class probability is at least the 1st percentile on
the official test split, which the classifier never trained on: 0.567 for MNIST's, 0.406 for
Fashion-MNIST's; benchmarks/calibrate_classifier_cards.py writes it into the card), and (b) its
features lie within twice the real reference's 99th percentile of leave-one-out nearest-
neighbour distances of some real sample (exact duplicates dropped: Stacked MNIST draws each
digit many times). (b) is needed because confidence alone is fooled: the MNIST classifier
gives pixel noise and smooth blobs a median top probability of 1.00. Measured against
mnist-5k (median nearest-real distance / real 99th percentile): real test digits 0.48,
lightly blurred 0.84, half erased 1.15, a DCGAN-28 after 1,560 steps ~1.1, digits blurred to
illegibility 2.7, smooth blobs 6.2, pixel noise 10.6; the factor 2 sits in that gap.
Stacked MNIST: every channel must be recognizable on its own.

"Recognizable" asks whether a sample is a legible instance at all, not how good it is
(precision and density speak to that). A blank image (no ink: metrics/scores.inked) is never
recognizable: the classifier reads an all-black image as a confident digit near real ones.
Nulls (tests/metrics/test_recognizable.py): pixel noise, blobs and blank images score 0, real
test digits 0.99.

Known blind spot: averages of many real digits of one class (grey, blurred but digit-shaped)
pass both tests. The MNIST classifier reads each class's mean image as an "8" with confidence
0.75-1.00, and 9 of the 10 lie within reach, so per-class means score 0.90. Such samples are
still judged collapsed: they all read as one class (modes_recognizable 1), and their precision
and density are 0.
"""

from __future__ import annotations

import torch

from modecollapse.metrics.neighbors import kth_neighbour_radii

QUANTILE = 0.01
REACH_FACTOR = 2.0
CHUNK = 2048


def reference_reach(real_features: torch.Tensor, channels: int, quantile: float = QUANTILE) -> list[float]:
    """Per channel: how far from the real reference a recognizable sample's features may lie
    (REACH_FACTOR x the real 99th percentile of leave-one-out nearest-neighbour distances)."""
    real_features = real_features.float().reshape(len(real_features), channels, -1)
    reach = []
    for c in range(channels):
        real_c = torch.unique(real_features[:, c], dim=0)  # a digit drawn twice is not its own neighbour
        reach.append(float(REACH_FACTOR * torch.quantile(kth_neighbour_radii(real_c, (1,))[1], 1 - quantile)))
    return reach


def recognizable_mask(
    fake_probabilities: torch.Tensor,
    fake_features: torch.Tensor,
    real_probabilities: torch.Tensor,
    real_features: torch.Tensor,
    confidence: float | None = None,
    quantile: float = QUANTILE,
    reach: list[float] | None = None,
    nearest_real: torch.Tensor | None = None,
) -> torch.Tensor:
    """(N,) bool: which fake samples are recognizable against this real reference.

    Probabilities are (N, K) for single images or (N, C, K) for C stacked channels, features
    (N, F) or (N, C * F) correspondingly. `confidence` is the classifier's threshold calibrated
    on held-out real data (its card); without one, the reference's own 1st percentile.
    `reach` (reference_reach) and, for one channel, `nearest_real` (each sample's distance to
    its nearest real one) may be passed in when computed already."""
    if fake_probabilities.dim() == 2:
        fake_probabilities, real_probabilities = fake_probabilities[:, None], real_probabilities[:, None]
    channels = fake_probabilities.shape[1]
    if reach is None:
        reach = reference_reach(real_features, channels, quantile)
    fake_features = fake_features.float().reshape(len(fake_features), channels, -1)
    real_features = real_features.float().reshape(len(real_features), channels, -1)
    mask = torch.ones(len(fake_features), dtype=torch.bool)
    for c in range(channels):
        threshold = confidence
        if threshold is None:
            threshold = float(torch.quantile(real_probabilities[:, c].max(1).values.float(), quantile))
        mask &= fake_probabilities[:, c].max(1).values >= threshold
        if channels == 1 and nearest_real is not None:
            nearest = nearest_real
        else:
            chunks = fake_features[:, c].split(CHUNK)
            nearest = torch.cat([torch.cdist(chunk, real_features[:, c]).min(1).values for chunk in chunks])
        mask &= nearest <= reach[c]
    return mask
