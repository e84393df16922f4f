"""The one comparison engine of every table, report and analysis: means with 95% t-intervals over
seeds, and each setting against a baseline paired by seed (`paired`), with Holm's correction
over the comparisons a page shows (`holm`). A difference is *established* only when its
Holm-adjusted p is under alpha with at least MIN_SEEDS paired seeds (`is_established`);
experiments/analysis.py adds that only a declared primary can be."""

from __future__ import annotations

import contextlib
import math
from typing import NamedTuple

from scipy import stats

MIN_SEEDS = 3
"""Fewest paired seeds that can establish an effect (the project's floor; 5 is the standard)."""
ALPHA = 0.05


class Paired(NamedTuple):
    """Setting minus baseline over paired seeds: mean, 95% t half-width, seeds, two-sided p."""

    change: float
    half_width: float
    n: int
    p: float


def paired(differences: list[float]) -> Paired:
    """The paired comparison of these per-seed differences: a one-sample t-test against 0, or,
    when every difference is equal (no spread for a t-test), the sign-flip test's p. A NaN or
    infinite difference (a missing value) leaves the test undone: p is NaN, never established."""
    change, half, n = t_interval(differences)
    if not all(math.isfinite(d) for d in differences):
        return Paired(change, half, n, math.nan)
    p = math.nan
    if n >= 2:
        if max(differences) == min(differences):
            p = 1.0 if change == 0 else min(1.0, 2 * 0.5**n)
        else:
            p = float(stats.ttest_1samp(differences, 0.0).pvalue)
    return Paired(change, half, n, p)


def holm(p_values: list[float], family: int = 0) -> list[float]:
    """Holm's step-down adjusted p-values over a family of max(`family`, the p values that are
    not nan) comparisons: a declared comparison without a p value (too few pairs) still counts
    in its family, as if its p were 1; nan stays nan."""
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    size = max(family, len(order))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (size - rank) * p))
        adjusted[i] = running
    return adjusted


def is_established(holm_p: float, n: int, alpha: float = ALPHA) -> bool:
    """Holm-adjusted p under alpha, with at least MIN_SEEDS paired seeds."""
    return not math.isnan(holm_p) and holm_p < alpha and n >= MIN_SEEDS


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, int]:
    """(mean, half-width of the `level` t-interval, n); the half-width is nan below 2 values."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n), n


def cell(stat: tuple[float, float, int] | None) -> str:
    """'mean ± half-width' (the 95% t-interval), or '-'."""
    if stat is None:
        return "-"
    mean, half, _ = stat
    return f"{mean:.4g} ± {half:.2g}" if not math.isnan(half) else f"{mean:.4g}"


def seed_cell(
    values: list[float],
    form: str = "{:.3g}",
    paired: bool = False,
    bold: bool = True,
    established: bool = False,
) -> str:
    """A results table's cell over seeds: 'mean ± half-width' of the 95% t-interval, both in
    `form` (the half-width without a '+' sign), '(1 seed)' after a lone value. `paired`: the
    values are differences; their cell is **bold** (`bold`) when `established` (is_established,
    after Holm over the table's paired cells), else marked '(not established)'."""
    mean, half, n = t_interval(values)
    with contextlib.suppress(ValueError):  # a format float() cannot read back, e.g. '{:.0%}'
        if float(form.replace("+", "").format(mean)) == 0:
            mean = 0.0  # no '-0'
    if n < 2:
        return form.format(mean) + " (1 seed)"
    text = f"{form.format(mean)} ± {form.replace('+', '').format(half)}"
    if not paired:
        return text
    if established:
        return f"**{text}**" if bold else text
    return f"{text} (not established)"
