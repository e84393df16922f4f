"""The detector's absolute rules, one `Check` each: a metric, its limit, and whether it breaches it
surely, possibly or not at all, given the metric's 95 % interval at the record's sample count
(metrics/noise.py). metrics/detector.py turns the checks into a verdict."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from modecollapse.config import DetectorConfig
from modecollapse.metrics import noise
from modecollapse.metrics.kinds import DROPPED_MODES, LOST_IDENTITY, LOW_QUALITY, MEMORIZED, ONE_OUTPUT

COLLAPSED, PARTIAL = "collapsed", "partial collapse"


class Check(NamedTuple):
    """One rule applied to one record: it fires when `value` is beyond `limit` on the bad side
    (`bad_below`: below it, else above it; `inclusive`: at it too)."""

    level: str
    kind: str
    text: str
    value: float
    limit: float
    bad_below: bool
    low: float
    """The 95 % interval's ends (both `value` for a rule without sampling noise)."""
    high: float
    inclusive: bool = False
    group: str = ""
    """Checks of one group (a metric at two levels) give one reason: the highest that fires."""

    def beyond(self, value: float) -> bool:
        if self.inclusive and value == self.limit:
            return True
        return value < self.limit if self.bad_below else value > self.limit

    @property
    def fires(self) -> bool:
        return self.beyond(self.value)

    @property
    def surely(self) -> bool:
        """The whole interval is beyond the limit: sampling noise cannot explain the breach."""
        return self.beyond(self.high if self.bad_below else self.low)

    @property
    def possibly(self) -> bool:
        """Some of the interval is beyond the limit: the breach is not excluded."""
        return self.beyond(self.low if self.bad_below else self.high)

    def sentence(self) -> str:
        """The reason, with how sure it is when the metric has sampling noise."""
        if self.low == self.high:
            return self.text
        sure = "" if self.surely else ("; not sure" if self.fires else "; not surely clear")
        return f"{self.text} [95 % interval {self.low:.3g} to {self.high:.3g}{sure}]"


def _check(
    level: str, kind: str, text: str, metric: str | None, value: float, limit: float, bad_below: bool,
    scores: dict[str, Any], inclusive: bool = False, group: str = "",
) -> Check:  # fmt: skip
    low, high = noise.interval(metric, value, scores) if metric else (value, value)
    return Check(level, kind, text, value, limit, bad_below, low, high, inclusive, group or text)


def checks(scores: dict[str, Any], rules: DetectorConfig) -> list[Check]:
    """Every rule that applies to `scores`, fired or not (in the order reasons are given)."""
    return [
        *_nonfinite(scores),
        *_off_the_data(scores, rules),
        *_quality(scores, rules),
        *_modes(scores, rules),
        *_variety(scores, rules),
        *_conditional(scores, rules),
        *_translation(scores, rules),
    ]


def _nonfinite(scores: dict[str, Any]) -> list[Check]:
    share = scores.get("nonfinite_share")
    if not share:
        return []
    total = int(scores.get("num_samples") or 0)
    count = f"{round(share * total):,} of {total:,} outputs ({100 * share:.3g}%)"
    count = count if total else f"{100 * share:.3g}% of outputs"
    text = f"{count} are NaN or infinite: G diverged"
    return [_check(COLLAPSED, LOW_QUALITY, text, None, share, 0.0, False, scores)]


OFF_THE_DATA = "off the data"
"""The group of the check that samples do not look like the data (their mode counts then say nothing)."""
RECOGNIZABLE = "recognizable share"
"""The group of the recognizable-share checks."""


def _off_the_data(scores: dict[str, Any], rules: DetectorConfig) -> list[Check]:
    """Images whose precision and density are both below rules.collapsed_precision (the larger of
    the two, with the wider of their intervals): they do not look like the reference data at all.
    Not for translators, nor for stacks of 1,000 classes (Stacked MNIST: the concatenated
    features put even PacDCGAN2's 968 modes at precision 0.03)."""
    precision, density = scores.get("precision"), scores.get("density", 0.0)
    if precision is None or "translation_score" in scores or not math.isfinite(precision):
        return []
    if scores.get("num_classes", 10) > 100 or not math.isfinite(density):
        return []
    value = max(precision, density)
    half = noise.Z95 * max(
        noise.spread("precision", precision, scores), noise.spread("density", density, scores)
    )
    what = scores.get("reference") or str(scores.get("protocol", "the reference")).split("/")[0]
    recognizable = scores.get("recognizable_share", 0.0)
    text = (  # the interval printed after it is the larger of precision and density's: said last
        f"these do not look like the real data ({what}): recognizable share {recognizable:.2f}, "
        f"precision {precision:.3f}, density {density:.3f}"
    )
    bounds = (max(value - half, 0.0), value + half)
    return [
        Check(
            COLLAPSED, LOW_QUALITY, text, value, rules.collapsed_precision, True, *bounds, group=OFF_THE_DATA
        )
    ]


def _quality(scores: dict[str, Any], rules: DetectorConfig) -> list[Check]:
    found = []
    if "modes_well_formed" in scores:
        smeared = scores["modes"] - scores["modes_well_formed"]
        text = f"{smeared:.0f} covered modes are not well formed (samples smeared across them)"
        found.append(_check(PARTIAL, LOW_QUALITY, text, None, smeared, 0.0, False, scores))
    recognizable = scores.get("recognizable_share")
    if recognizable is not None:
        for level, limit, said in ((COLLAPSED, rules.collapsed_recognizable_share, "at all"),
                                   (PARTIAL, rules.partial_recognizable_share, "as real data")):  # fmt: skip
            text = f"only {100 * recognizable:.0f}% of samples are recognizable {said}"
            found.append(
                _check(
                    level,
                    LOW_QUALITY,
                    text,
                    "recognizable_share",
                    recognizable,
                    limit,
                    True,
                    scores,
                    group=RECOGNIZABLE,
                )
            )
    quality = scores.get("high_quality")
    if quality is not None:
        text = f"only {100 * quality:.0f}% of samples lie within 3 std of a mode (real: 98.9%)"
        found.append(
            _check(
                PARTIAL, LOW_QUALITY, text, "high_quality", quality, rules.partial_high_quality, True, scores
            )
        )
    return found


def _modes(scores: dict[str, Any], rules: DetectorConfig) -> list[Check]:
    """Modes covered (well formed, for 2-D mixtures) and the class balance (detector.assess sets
    them aside for samples off the data). Where the modes beyond the classifier's confusions are
    fewer than those read (Fashion-MNIST's shirts alone read as 4 classes), collapse is judged on
    them, and a partial collapse too, but only where they are surely below its limit: a class
    dropped while the others leak into it (Fashion-MNIST without shirts reads 9-10 classes)."""
    classes = scores.get("num_classes", 10)
    samples = scores.get("num_samples")
    reachable = classes * (1 - math.exp(-samples / classes)) if samples else classes
    metric, counted = "modes", "covered"
    if "modes_well_formed" in scores:
        metric, counted = "modes_well_formed", f"well formed ({scores['modes']:.0f} covered)"
    found = []
    modes, beyond = scores.get(metric), scores.get("modes_beyond_confusion")
    beyond = beyond if rules.modes_beyond_confusion else None
    if modes is not None:
        confused = beyond is not None and beyond < modes  # the classifier's confusions filled the rest
        said = f"beyond the classifier's confusions ({modes:.0f} read)"
        judged, value = ("modes_beyond_confusion", beyond) if confused else (metric, modes)
        text = f"only {value:.0f} of {classes:.0f} modes {said if confused else counted}"
        limit = max(1.0, rules.collapsed_modes_fraction * reachable)  # 64 samples show <= 64 modes
        rule = (COLLAPSED, DROPPED_MODES, text, judged, value, limit, True, scores)
        found.append(_check(*rule, inclusive=True, group="modes"))
        limit = rules.partial_modes_fraction * reachable
        if confused:
            text = f"{beyond:.0f} of {classes:.0f} modes {said}"
            rule = (PARTIAL, DROPPED_MODES, text, judged, beyond, limit, True, scores)
            estimate = _check(*rule, group="modes")
            found.append(estimate._replace(value=estimate.high))  # fires when surely, held while possibly
        text = f"{modes:.0f} of {classes:.0f} modes {counted}"
        found.append(_check(PARTIAL, DROPPED_MODES, text, metric, modes, limit, True, scores, group="modes"))
    counted_samples = noise.sample_count(scores)  # 2-D mixtures without a count: PacGAN's 2,500
    floor = (classes - 1) / (2 * counted_samples) if counted_samples else 0.0
    for key, name in (("kl_uniform", "class histogram"), ("reverse_kl", "modes' shares")):
        value = scores.get(key)
        if value is not None and math.isfinite(value):
            limit = rules.partial_kl_uniform + floor
            text = f"{name} far from uniform ({key} {value:.3f} > {limit:.3f})"
            found.append(_check(PARTIAL, DROPPED_MODES, text, key, value, limit, False, scores))
    return found


def _variety(scores: dict[str, Any], rules: DetectorConfig) -> list[Check]:
    found = []
    diversity = scores.get("diversity_ratio")
    if diversity is not None:
        for level, limit in (
            (COLLAPSED, rules.collapsed_diversity_ratio),
            (PARTIAL, rules.partial_diversity_ratio),
        ):
            text = f"diversity {diversity:.2f} of real (< {limit})"
            found.append(
                _check(
                    level,
                    ONE_OUTPUT,
                    text,
                    "diversity_ratio",
                    diversity,
                    limit,
                    True,
                    scores,
                    group="diversity",
                )
            )
    per_class = scores.get("per_class_diversity_min")  # conditional generators: the worst class
    if per_class is not None and per_class == per_class:
        text = f"some class has {per_class:.2f} of real within-class variety"
        for level, limit in (
            (COLLAPSED, rules.collapsed_diversity_ratio),
            (PARTIAL, rules.partial_diversity_ratio),
        ):
            found.append(
                _check(
                    level, ONE_OUTPUT, text, "per_class_diversity_min", per_class, limit, True, scores,
                    group="per_class",
                )
            )  # fmt: skip
    duplicates = scores.get("near_duplicate_rate")
    if duplicates is not None:
        text = f"{100 * duplicates:.0f}% near-duplicates"
        for level, limit in ((COLLAPSED, rules.collapsed_near_duplicate_rate),
                             (PARTIAL, rules.partial_near_duplicate_rate)):  # fmt: skip
            found.append(_check(level, ONE_OUTPUT, text, "near_duplicate_rate", duplicates, limit, False,
                                scores, inclusive=True, group="duplicates"))  # fmt: skip
    copies = scores.get("copy_rate")
    if copies is not None:
        text = f"{100 * copies:.0f}% of samples are copies of real images (memorized)"
        found.append(_check(PARTIAL, MEMORIZED, text, "copy_rate", copies, rules.partial_copy_rate, False,
                            scores, inclusive=True))  # fmt: skip
    return found


def _conditional(scores: dict[str, Any], rules: DetectorConfig) -> list[Check]:
    """A class-conditional G's samples for class k read as k (a G that ignores its label: 1/K)."""
    accuracy = scores.get("class_conditional_accuracy")
    if accuracy is None or not math.isfinite(accuracy):
        return []
    chance = 100 / scores.get("num_classes", 10)
    text = (
        f"only {100 * accuracy:.0f}% of samples drawn for a class are read as that class "
        f"(a G that ignores its label: {chance:.0f}%)"
    )
    metric, limit = "class_conditional_accuracy", rules.partial_class_accuracy
    return [_check(PARTIAL, LOST_IDENTITY, text, metric, accuracy, limit, True, scores)]


def _translation(scores: dict[str, Any], rules: DetectorConfig) -> list[Check]:
    """The translation score, then (RGB targets) the colours' spread."""
    found = []
    translated = scores.get("translation_score")
    if translated is not None:
        found += _translation_score(scores, rules)
    colours = scores.get("colour_diversity_ratio")
    if colours is not None:
        text = f"colours vary {colours:.2f}x as much as real B's (one palette for every output)"
        found.append(
            _check(PARTIAL, ONE_OUTPUT, text, None, colours, rules.partial_colour_diversity, True, scores)
        )
    return found


def _translation_score(scores: dict[str, Any], rules: DetectorConfig) -> list[Check]:
    """Collapsed when the translations do no better than a translator that ignores its input,
    partial when under the partial limit (one reason: the higher level that fires)."""
    translated = scores["translation_score"]
    accuracy, chance = scores["translation_accuracy"], scores["translation_chance"]
    text = (
        f"translation score {translated:.2f}: only {100 * accuracy:.0f}% of translations show the "
        f"input's digit in B's place and size (chance: {100 * chance:.0f}%)"
    )
    low, high = noise.interval("translation_accuracy", accuracy, scores)
    scale = 1 - chance if chance < 1 else 1.0
    bounds = (translated - (accuracy - low) / scale, translated + (high - accuracy) / scale)
    return [
        Check(level, LOST_IDENTITY, text, translated, limit, True, *bounds, group="translation")
        for level, limit in (
            (COLLAPSED, rules.collapsed_translation_score),
            (PARTIAL, rules.partial_translation_score),
        )
    ]
