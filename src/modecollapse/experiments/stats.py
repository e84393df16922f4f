"""Statistics of a report: means with 95% t-intervals over seeds, and comparisons that say
"not established" when two settings' intervals overlap."""

from __future__ import annotations

import contextlib
import math

from scipy import stats


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, int]:
    """(mean, half-width of the `level` t-interval, n); the half-width is nan below 2 values."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n), n


def compare(a: tuple[float, float, int], b: tuple[float, float, int]) -> str:
    """'higher' or 'lower' (a against b) when the two intervals do not overlap, else
    'not established' (also with fewer than 2 seeds on either side)."""
    (mean_a, half_a, _), (mean_b, half_b, _) = a, b
    if math.isnan(half_a) or math.isnan(half_b):
        return "not established"
    if mean_a - half_a > mean_b + half_b:
        return "higher"
    if mean_a + half_a < mean_b - half_b:
        return "lower"
    return "not established"


def cell(stat: tuple[float, float, int] | None) -> str:
    """'mean ± half-width' (the 95% t-interval), or '-'."""
    if stat is None:
        return "-"
    mean, half, _ = stat
    return f"{mean:.4g} ± {half:.2g}" if not math.isnan(half) else f"{mean:.4g}"


def seed_cell(values: list[float], form: str = "{:.3g}", paired: bool = False, bold: bool = True) -> str:
    """A results table's cell over seeds: 'mean ± half-width' of the 95% t-interval, both in
    `form` (the half-width without a '+' sign), '(1 seed)' after a lone value. `paired`: the
    values are differences; their cell is **bold** (`bold`) when the interval excludes 0, else
    marked '(not established)'."""
    mean, half, n = t_interval(values)
    with contextlib.suppress(ValueError):  # a format float() cannot read back, e.g. '{:.0%}'
        if float(form.replace("+", "").format(mean)) == 0:
            mean = 0.0  # no '-0'
    if n < 2:
        return form.format(mean) + " (1 seed)"
    text = f"{form.format(mean)} ± {form.replace('+', '').format(half)}"
    if not paired:
        return text
    if abs(mean) > half:
        return f"**{text}**" if bold else text
    return f"{text} (not established)"
