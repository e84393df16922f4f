import math

import pytest

from modecollapse.experiments.stats import cell, compare, t_interval


def test_t_interval_matches_the_textbook():
    mean, half, n = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    # sd = 1.5811, t(0.975, 4) = 2.7764
    assert (mean, n) == (3.0, 5) and half == pytest.approx(2.7764 * 1.5811 / 5**0.5, rel=1e-4)
    assert math.isnan(t_interval([2.0])[1]) and cell(t_interval([2.0])) == "2"


def test_overlapping_intervals_are_not_established():
    low, high = t_interval([0.1, 0.12, 0.11]), t_interval([0.5, 0.52, 0.51])
    assert compare(high, low) == "higher" and compare(low, high) == "lower"
    wide = t_interval([0.1, 0.6, 0.3])
    assert compare(wide, low) == "not established"
    assert compare(t_interval([0.9]), low) == "not established"  # one seed establishes nothing


def test_a_seed_cell_marks_what_its_interval_establishes():
    from modecollapse.experiments.stats import seed_cell

    assert seed_cell([1.0, 2.0, 3.0, 4.0, 5.0], "{:.1f}") == "3.0 ± 2.0"
    assert seed_cell([0.25], "{:.2f}") == "0.25 (1 seed)"
    assert seed_cell([1.0, 1.2, 1.1], "{:+.1f}", paired=True) == "**+1.1 ± 0.2**"
    assert seed_cell([1.0, 1.2, 1.1], "{:+.1f}", paired=True, bold=False) == "+1.1 ± 0.2"
    assert seed_cell([-1.0, 1.5, 0.2], "{:+.1f}", paired=True) == "+0.2 ± 3.1 (not established)"
