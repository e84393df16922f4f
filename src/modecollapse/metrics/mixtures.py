"""Mode coverage on 2-D Gaussian mixtures, following the PacGAN code's protocol (Lin et al. 2018),
plus a spread check so that a smear is not "all modes".

PacGAN's definitions (fjxmlzn/PacGAN, synthetic_data_experiments, `MetricLogger`): each
sample goes to its nearest mode centre, distance measured in units of the mode's std; it is
*high quality* when that distance is below 3 (within 3 std); a mode is *covered* when at least
one high-quality sample lands on it; 2,500 samples are scored. PacGAN's code does not compute
the reverse KL it tabulates; ours is KL(p_gen || uniform) over the modes' shares of the
high-quality samples (natural log). A mode with no high-quality sample adds 0 (0 log 0), so
the value is finite, at most ln K (all on one of K modes: 2.079 for 8), whenever any sample is
high quality; it is infinite only when none is (no sample within 3 std of any mode).

The spread check: a mode is *well formed* when it holds at least 20 high-quality samples whose
root-mean-square distance to the centre is 0.6-1.3 times what a real mode's samples have
(sqrt(E[r^2 | r < 3 std]) = 1.378 std for a 2-D Gaussian). A featureless smear across a mode
has 1.54 times the real spread (uniform over the 3-std disc), a point mass 0; real data 1.0.

Nulls these metrics are tested against (tests/metrics/test_mixtures.py): all samples on one
mode (1 mode), a ring smeared in angle with radial sd 0.15 (every mode "covered", none well
formed, ~2% high quality), uniform noise over the plane, real samples (all well formed).
"""

from __future__ import annotations

import math

import torch

PROTOCOL_SAMPLES = 2500
HQ_THRESHOLD = 3.0
REAL_RMS = math.sqrt(2 - 9 * math.exp(-4.5) / (1 - math.exp(-4.5)))  # 1.378 std
SPREAD_RANGE = (0.6, 1.3)
MIN_SAMPLES_FOR_SPREAD = 20


def mixture_scores(
    samples: torch.Tensor, means: torch.Tensor, std: float, threshold: float = HQ_THRESHOLD
) -> dict[str, float | list[int]]:
    """modes (PacGAN: covered), high_quality (share), reverse_kl, modes_well_formed,
    mode_spread (median RMS-to-centre of covered modes, relative to real) and per-mode counts."""
    samples = samples.float()
    distances = torch.cdist(samples, means.float().to(samples.device)) / std
    nearest = distances.min(dim=1)
    good = nearest.values < threshold
    modes = nearest.indices[good]
    counts = torch.bincount(modes, minlength=len(means)).double()
    covered = int((counts > 0).sum())
    if counts.sum() > 0:
        p = counts / counts.sum()
        nonzero = p > 0
        reverse_kl = float((p[nonzero] * (p[nonzero] * len(means)).log()).sum())
    else:
        reverse_kl = float("inf")
    squared = nearest.values[good].double() ** 2
    rms = torch.zeros(len(means), dtype=torch.float64).index_add_(0, modes, squared)
    rms = (rms / counts.clamp_min(1)).sqrt() / REAL_RMS
    judged = counts >= MIN_SAMPLES_FOR_SPREAD
    well_formed = judged & (rms >= SPREAD_RANGE[0]) & (rms <= SPREAD_RANGE[1])
    return {
        "modes": float(covered),
        "num_classes": float(len(means)),
        "high_quality": float(good.double().mean()),
        "reverse_kl": reverse_kl,
        "modes_well_formed": float(well_formed.sum()),
        "mode_spread": float(rms[counts > 0].median()) if covered else float("nan"),
        "class_counts": [int(c) for c in counts.tolist()],
    }
