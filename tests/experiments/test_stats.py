import math

import pytest

from modecollapse.experiments.stats import cell, is_established, paired, t_interval


def test_t_interval_matches_the_textbook():
    mean, half, n = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    # sd = 1.5811, t(0.975, 4) = 2.7764
    assert (mean, n) == (3.0, 5) and half == pytest.approx(2.7764 * 1.5811 / 5**0.5, rel=1e-4)
    assert math.isnan(t_interval([2.0])[1]) and cell(t_interval([2.0])) == "2"


def test_paired_differences_are_tested_against_zero():
    shifted = paired([0.41, 0.38, 0.42, 0.40, 0.39])
    assert shifted.n == 5 and shifted.p < 1e-4 and shifted.change == pytest.approx(0.40)
    assert paired([0.2, -0.3, 0.1]).p > 0.5
    assert paired([0.5, 0.5, 0.5]).p == pytest.approx(0.25)  # no spread: the sign-flip test's p
    assert math.isnan(paired([0.9]).p)  # one seed: no test


def test_established_needs_holm_and_three_seeds():
    assert is_established(0.01, 3) and not is_established(0.01, 2) and not is_established(0.06, 10)
    assert not is_established(math.nan, 5)


def test_a_seed_cell_marks_what_its_comparison_establishes():
    from modecollapse.experiments.stats import seed_cell

    assert seed_cell([1.0, 2.0, 3.0, 4.0, 5.0], "{:.1f}") == "3.0 ± 2.0"
    assert seed_cell([0.25], "{:.2f}") == "0.25 (1 seed)"
    assert seed_cell([1.0, 1.2, 1.1], "{:+.1f}", paired=True, established=True) == "**+1.1 ± 0.2**"
    assert seed_cell([1.0, 1.2, 1.1], "{:+.1f}", paired=True, bold=False, established=True) == "+1.1 ± 0.2"
    assert seed_cell([1.0, 1.2, 1.1], "{:+.1f}", paired=True) == "+1.1 ± 0.2 (not established)"


def test_a_missing_value_leaves_the_paired_test_undone():
    assert math.isnan(paired([0.5, math.nan, 0.5, 0.5, 0.5, 0.5]).p)
