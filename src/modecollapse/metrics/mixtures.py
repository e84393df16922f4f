"""Mode coverage on 2-D Gaussian mixtures, following the PacGAN code's protocol (Lin et al. 2018).

Each sample goes to its nearest mode (distance in units of the mode's std). It is
"high quality" when that distance is below 3 std. A mode is covered when at least one
high-quality sample lands on it. Reverse KL is KL(p_gen || uniform) over the histogram of
high-quality samples per mode (natural log). PacGAN evaluates 2,500 samples.
"""

from __future__ import annotations

import torch

PROTOCOL_SAMPLES = 2500


def mixture_scores(
    samples: torch.Tensor, means: torch.Tensor, std: float, threshold: float = 3.0
) -> dict[str, float | list[int]]:
    """modes (covered), high_quality (fraction), reverse_kl, and per-mode counts, for (N, 2)."""
    distances = torch.cdist(samples.float(), means.float().to(samples.device)) / std
    nearest = distances.min(dim=1)
    good = nearest.values < threshold
    counts = torch.bincount(nearest.indices[good], minlength=len(means)).double()
    covered = int((counts > 0).sum())
    if counts.sum() > 0:
        p = counts / counts.sum()
        nonzero = p > 0
        reverse_kl = float((p[nonzero] * (p[nonzero] * len(means)).log()).sum())
    else:
        reverse_kl = float("inf")
    return {
        "modes": float(covered),
        "num_classes": float(len(means)),
        "high_quality": float(good.double().mean()),
        "reverse_kl": reverse_kl,
        "class_counts": [int(c) for c in counts.tolist()],
    }
