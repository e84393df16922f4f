"""Seeds from a power calculation (experiments/power.py), checked against simulation and the
sign-flip floor the issue states (>= 11 seeds for a family of 32)."""

import numpy as np
import pytest
from scipy import stats

from modecollapse.experiments.power import paired_power, seeds_needed, smallest_sign_flip_seeds


def test_the_sign_flip_floor():
    assert smallest_sign_flip_seeds(0.05, 32) == 11  # 2 / 2^10 = 0.00195 > 0.05 / 32; 2 / 2^11 is not
    assert smallest_sign_flip_seeds(0.05, 48) == 11
    assert smallest_sign_flip_seeds(0.05, 1) == 6


def test_power_matches_a_simulation_of_the_paired_t_test():
    rng = np.random.default_rng(0)
    effect, sd, seeds, alpha = 1.0, 1.0, 12, 0.05 / 32
    draws = rng.normal(effect, sd, size=(20_000, seeds))
    simulated = np.mean(stats.ttest_1samp(draws, 0.0, axis=1).pvalue < alpha)
    assert paired_power(effect, sd, seeds, alpha) == pytest.approx(simulated, abs=0.01)


def test_seeds_needed_grow_as_the_effect_shrinks_and_are_the_first_that_suffice():
    # the helper's table (noncentral t, 80 % power, alpha 0.05 / 32): d 1.0 -> 21, 1.5 -> 12, 2.0 -> 9
    assert [seeds_needed(d, 1.0, 32) for d in (1.0, 1.5, 2.0)] == [21, 12, 9]
    n = seeds_needed(29, 12, 32)
    assert paired_power(29, 12, n, 0.05 / 32) >= 0.8 > paired_power(29, 12, n - 1, 0.05 / 32)
    assert seeds_needed(0.01, 1.0, 32, most=50) is None
