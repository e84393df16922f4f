"""How far a detector metric moves by sampling chance alone at n samples, and its 95 % interval.

Every rule of the detector compares such an interval with its threshold (metrics/detector.py).
The spread of a metric at n samples is the larger of two estimates:
- measured: real data scored against the real reference (results/alarm-calibration/noise.csv,
  draws of real MNIST training digits and of ring8 / grid25 points at 500-10,000 samples),
  shipped in assets/noise.json, read log-log between the counts measured and as 1 / sqrt(n)
  beyond them;
- analytic, at the observed value: a share p of n samples (recognizable, precision, near-
  duplicates, copies, high quality, translations right) has sd sqrt(p (1 - p) / n); a KL of a
  histogram from uniform (or PacGAN's reverse KL) has sd sqrt(2 KL / n) (the delta method, with
  Var[log p/u] ~ 2 KL near uniform) plus its chi-square spread at uniform, sqrt(2 (K - 1)) / 2n;
  the modes a uniform generator over the m modes observed covers with n samples (any sample
  counts, as for Stacked MNIST) have sd sqrt(m e^-l (1 - (1 + l) e^-l)), l = n / m (0 for 10
  classes at 2,000).
A metric that measures its own spread (modes_beyond_confusion: a bootstrap) records it as
`<metric>_sd`, and that counts as a third estimate. The interval is the value +- 1.96 sd.
Records that keep no sample count (2-D mixtures before the one scorer) are read at PacGAN's
2,500 points.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

NOISE_TABLE = Path(__file__).resolve().parents[1] / "assets" / "noise.json"
Z95 = 1.96
POINTS_SAMPLES = 2500
SHARES = (
    "recognizable_share", "precision", "near_duplicate_rate", "copy_rate", "high_quality", "coverage",
    "class_conditional_accuracy",
)  # fmt: skip
HISTOGRAM_KL = ("kl_uniform", "reverse_kl")
SIGNED = ("translation_score",)
"""The metrics that can be negative (chance-corrected); every other one is a count, share, ratio,
divergence or distance, and its interval stops at 0."""


@cache
def measured_spread() -> dict[str, dict[str, dict[int, float]]]:
    """{data kind ('image' / 'points'): {metric: {samples: real data's sd}}}."""
    shipped = json.loads(NOISE_TABLE.read_text())["sd_by_samples"]
    return {kind: {metric: {int(n): sd for n, sd in by_n.items()} for metric, by_n in metrics.items()}
            for kind, metrics in shipped.items()}  # fmt: skip


def measured_sd(kind: str, metric: str, n: float) -> float:
    """Real data's sd of `metric` at n samples: log-log between the counts measured, 1 / sqrt(n)
    beyond them (0 for a metric not measured)."""
    by_n = measured_spread().get(kind, {}).get(metric)
    if not by_n:
        return 0.0
    counts = sorted(by_n)
    if n in by_n:
        return by_n[int(n)]
    if n <= counts[0] or n >= counts[-1]:
        edge = counts[0] if n <= counts[0] else counts[-1]
        return by_n[edge] * math.sqrt(edge / n)
    high = next(c for c in counts if c >= n)
    low = counts[counts.index(high) - 1]
    if by_n[low] <= 0 or by_n[high] <= 0:
        return max(by_n[low], by_n[high])
    t = math.log(n / low) / math.log(high / low)
    return math.exp((1 - t) * math.log(by_n[low]) + t * math.log(by_n[high]))


def data_kind(scores: dict[str, Any]) -> str:
    """'points' for a 2-D mixture's record, else 'image'."""
    return "points" if "modes_well_formed" in scores else "image"


def sample_count(scores: dict[str, Any]) -> float | None:
    """The samples a record's values rest on (2-D mixtures without a count: PacGAN's 2,500)."""
    count = scores.get("num_samples")
    if isinstance(count, (int, float)) and count > 0:
        return float(count)
    return float(POINTS_SAMPLES) if data_kind(scores) == "points" else None


def spread(metric: str, value: float, scores: dict[str, Any]) -> float:
    """The sampling sd of `metric` at `value` for the record `scores` (0 when its count is unknown,
    unless the record measured the metric's spread itself: `<metric>_sd`)."""
    resampled = scores.get(f"{metric}_sd")  # a metric that measures its own spread (bootstrap)
    resampled = float(resampled) if isinstance(resampled, int | float) and math.isfinite(resampled) else 0.0
    n = sample_count(scores)
    if n is None or not math.isfinite(value):
        return resampled
    measured = measured_sd(data_kind(scores), metric, n)
    classes = float(scores.get("num_classes", 10))
    analytic = 0.0
    if metric in SHARES or metric == "translation_accuracy":
        p = min(max(value, 0.0), 1.0)
        analytic = math.sqrt(p * (1 - p) / n)
    elif metric in HISTOGRAM_KL:
        analytic = math.sqrt(2 * max(value, 0.0) / n) + math.sqrt(2 * (classes - 1)) / (2 * n)
    elif metric in ("modes", "modes_well_formed", "modes_beyond_confusion"):
        live = max(value, 1.0)  # a uniform generator over the modes it shows
        load = n / live
        analytic = math.sqrt(max(live * math.exp(-load) * (1 - (1 + load) * math.exp(-load)), 0.0))
    return max(measured, analytic, resampled)


def interval(metric: str, value: float, scores: dict[str, Any]) -> tuple[float, float]:
    """The 95 % interval of `metric` at `value` for the record `scores`."""
    half = Z95 * spread(metric, value, scores)
    if half < 1e-9:
        return value, value
    low, high = value - half, value + half
    if metric not in SIGNED:
        low = max(low, 0.0)
    if metric in SHARES or metric in ("translation_accuracy", "translation_score"):
        high = min(high, 1.0)
    return low, high
