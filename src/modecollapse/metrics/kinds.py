"""The kinds of collapse, and which metric speaks to which kind (and which way is better).

The detector names the kind of every reason it gives, a study's declared primary metrics map to
kinds through `METRIC_KINDS`, and diagnose cites a fix only for the kind its established primary
speaks to.
"""

from __future__ import annotations

DROPPED_MODES = "dropped modes"
ONE_OUTPUT = "one output for every z"
LOW_QUALITY = "low quality"
LOST_IDENTITY = "lost identity"
MEMORIZED = "copies of the training data"
KINDS = (DROPPED_MODES, ONE_OUTPUT, LOW_QUALITY, LOST_IDENTITY, MEMORIZED)
"""dropped modes: classes or mixture modes missing or unbalanced; one output for every z: the
samples are (near) copies of each other; low quality: samples that do not look like the data;
lost identity: a translator whose output does not keep its input's digit, or a conditional G
whose samples do not keep the class they were drawn for; copies of the
training data: memorization, not collapse, but a reason the detector gives."""
ONSET = "onset"
"""Not a kind of collapse but when it begins: the detector's onsets, compared as metrics."""
HEALTHY = "healthy"
"""The kind of the one reason a healthy verdict gives."""

METRIC_KINDS: dict[str, tuple[str, str]] = {
    "modes": (DROPPED_MODES, "higher"),
    "modes_well_formed": (DROPPED_MODES, "higher"),
    "modes_beyond_confusion": (DROPPED_MODES, "higher"),
    "modes_recognizable": (DROPPED_MODES, "higher"),
    "kl_uniform": (DROPPED_MODES, "lower"),
    "kl_uniform_recognizable": (DROPPED_MODES, "lower"),
    "kl_prior": (DROPPED_MODES, "lower"),
    "reverse_kl": (DROPPED_MODES, "lower"),
    "recall": (DROPPED_MODES, "higher"),
    "coverage": (DROPPED_MODES, "higher"),
    "near_duplicate_rate": (ONE_OUTPUT, "lower"),
    "diversity_ratio": (ONE_OUTPUT, "higher"),
    "vendi": (ONE_OUTPUT, "higher"),
    "vendi_ratio": (ONE_OUTPUT, "higher"),
    "colour_diversity_ratio": (ONE_OUTPUT, "higher"),
    "fcd": (LOW_QUALITY, "lower"),
    "precision": (LOW_QUALITY, "higher"),
    "density": (LOW_QUALITY, "higher"),
    "recognizable_share": (LOW_QUALITY, "higher"),
    "high_quality": (LOW_QUALITY, "higher"),
    "translation_score": (LOST_IDENTITY, "higher"),
    "identity_kept": (LOST_IDENTITY, "higher"),
    "copy_rate": (MEMORIZED, "lower"),
    "relative_onset_step": (ONSET, "higher"),
    "collapse_onset_step": (ONSET, "higher"),
}
"""metric -> (the kind of collapse it speaks to, the better direction). The two onsets are the
detector's (metrics/detector.py) over a run's evaluations; a run without one counts as its last
evaluated step (censored: its onset, if any, comes later)."""
ONSET_METRICS = ("relative_onset_step", "collapse_onset_step")
