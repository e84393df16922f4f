"""The 2-D mixture metrics against their nulls: one mode, a smeared ring, uniform noise; and real samples."""

import math

import pytest
import torch

from modecollapse.data import mixtures as data
from modecollapse.metrics.detector import verdict_of
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES, REAL_RMS, mixture_scores

RING, RING_STD = data.ring_means(8, 2.0), data.RING8_STD
GRID, GRID_STD = data.grid_means(5, 2.0), data.GRID25_STD


def real(means, std, seed=0):
    return data.sample_mixture(means, std, PROTOCOL_SAMPLES, torch.Generator().manual_seed(seed))[0]


def smeared_ring(seed=0, radial_sd=0.15):
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(PROTOCOL_SAMPLES, generator=g) * 2 * math.pi
    radius = 2.0 + radial_sd * torch.randn(PROTOCOL_SAMPLES, generator=g)
    return torch.stack([radius * angle.cos(), radius * angle.sin()], 1)


def test_the_truncated_real_spread_is_what_real_samples_show():
    # E[r^2 | r < 3] for a 2-D standard Gaussian, by Monte Carlo
    r = torch.randn(400_000, 2, generator=torch.Generator().manual_seed(1)).norm(dim=1)
    torch.testing.assert_close(r[r < 3].pow(2).mean().sqrt().item(), REAL_RMS, atol=3e-3, rtol=0)


@pytest.mark.parametrize("means, std", [(RING, RING_STD), (GRID, GRID_STD)])
def test_real_samples_pass(means, std):
    scores = mixture_scores(real(means, std), means, std)
    assert scores["modes"] == scores["modes_well_formed"] == len(means)
    assert 0.98 <= scores["high_quality"] <= 1.0  # 1 - exp(-4.5) = 98.9% within 3 std
    assert scores["reverse_kl"] < 0.02 and 0.9 < scores["mode_spread"] < 1.1
    assert verdict_of(scores)[0] == "healthy"


def test_a_smeared_ring_is_not_eight_modes():
    scores = mixture_scores(smeared_ring(), RING, RING_STD)
    assert scores["modes"] == 8  # PacGAN's count alone is fooled ...
    assert scores["high_quality"] < 0.05  # ... but few samples sit near a mode
    assert scores["modes_well_formed"] == 0  # and none of the modes has a Gaussian's spread
    assert scores["mode_spread"] > 1.3
    verdict, reasons = verdict_of(scores)
    assert verdict == "collapsed" and any("well formed" in r for r in reasons)


def test_one_mode_and_noise_fail():
    one = RING[3] + RING_STD * torch.randn(PROTOCOL_SAMPLES, 2, generator=torch.Generator().manual_seed(2))
    scores = mixture_scores(one, RING, RING_STD)
    assert scores["modes"] == scores["modes_well_formed"] == 1
    assert scores["reverse_kl"] == pytest.approx(math.log(8))
    assert verdict_of(scores)[0] == "collapsed"
    noise = torch.rand(PROTOCOL_SAMPLES, 2, generator=torch.Generator().manual_seed(3)) * 12 - 6
    noisy = mixture_scores(noise, GRID, GRID_STD)
    assert noisy["high_quality"] < 0.05 and noisy["modes_well_formed"] == 0
    assert verdict_of(noisy)[0] == "collapsed"
    point = mixture_scores(RING[:1].repeat(PROTOCOL_SAMPLES, 1), RING, RING_STD)
    assert point["modes_well_formed"] == 0 and point["mode_spread"] < 0.1  # a point mass is not a mode
