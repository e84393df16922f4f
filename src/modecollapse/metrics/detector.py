"""The collapse detector: a written rule from metric values to healthy / partial / collapsed.

One evaluation is judged by these rules (defaults justified in benchmarks/RESULTS.md by
the real-vs-real baselines: real MNIST test data has all 10 modes, KL to uniform 0.002,
diversity ratio 1.0 and 1% near-duplicates by construction):

  collapsed  if modes <= 10% of the classes (of the classes N samples can reach, below), or
             the modes beyond the classifier's confusions are (metrics/classes.py; [detector]
             modes_beyond_confusion = false judges the modes as read), or
             one mode, or diversity_ratio < 0.3,
             or near_duplicate_rate >= 0.5
             or under 5% of samples are recognizable (metrics/recognizable.py)
             or (images) precision and density both under 0.05: samples that do not look like
             the data at all, said so, and their class counts not read as modes
             or (translators) a chance-corrected translation score under 0.1: a translator
             that ignores its input
             (2-D mixtures: modes = well-formed modes, metrics/mixtures.py)
  partial    if modes < 95% of what a perfect uniform generator would cover with the same
             number of samples, K (1 - exp(-N / K)) (or the modes beyond the classifier's
             confusions are, surely beyond their noise); or kl_uniform (2-D mixtures: the modes'
             reverse KL) > 0.1 above that generator's sampling floor (K - 1) / 2N (one of ten
             classes missing is ln(10/9) = 0.105); or diversity_ratio < 0.75; or
             near_duplicate_rate >= 0.2;
             2-D mixtures also: a covered mode that is not well formed, or fewer than
             90% of samples within 3 std of a mode (real: 98.9%); images also: under
             20% of samples recognizable, or at least 20% copies of real images
             (copy_rate, metrics/diversity.py; real data 0.01); translators also: a
             chance-corrected translation score under 0.5, or (RGB targets) colours that
             vary under half as much as real B's (metrics/translation.py)
  healthy    otherwise.

Each rule reads its metric with the 95 % interval of its sampling noise at the evaluation's
sample count (metrics/noise.py, metrics/rules.py). One evaluation alone is judged by the values;
in a series a verdict changes only when an interval crosses the limit (`assess`'s hysteresis),
and every reason says how sure it is.

The two floors matter for Stacked MNIST (K = 1,000): at N = 2,000 even a perfect generator
covers only ~865 modes and shows KL ~0.25.

Over a run, collapse *begins* at the first evaluation that starts `patience` (default 2)
consecutive non-healthy evaluations after the generator had been healthy at least once; its
epoch is the run's "epochs to mode collapse". An untrained generator also draws one blob, so
evaluations before the first healthy one do not start an onset. A run never healthy is judged
"collapsed from the start" (`collapsed_from_start_step`) once `patience` evaluations in a row
after its first `start_grace_evaluations` are collapsed; else it is reported `never_healthy`.

The relative onset dates collapse the way the published label-flip study judged it, as a fall
from what the run had reached: the first evaluation at which modes, recognizable share,
diversity ratio, recall (or, for 2-D mixtures, the high-quality share) sit below the run's own
best so far by more than their margins and their sampling noise (`relative_drops`; recall's
best only from evaluations of comparable precision, `CollapseTracker`), confirmed by a drop at
the next `patience - 1` evaluations or by a drop of a second kind at the same one. It reads the
modes as read, not beyond the classifier's confusions: on GAN samples that estimate swings
between evaluations (benchmarks/RESULTS.md, "A class dropped behind the classifier's
confusions"). Both onsets are reported, in epochs and in steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from modecollapse.config import DetectorConfig
from modecollapse.errors import ModeCollapseError
from modecollapse.metrics import noise
from modecollapse.metrics.kinds import DROPPED_MODES, HEALTHY, KINDS, METRIC_KINDS, ONE_OUTPUT
from modecollapse.metrics.rules import OFF_THE_DATA, Check, checks

VERDICTS = ("healthy", "partial collapse", "collapsed")


def verdict_of(scores: dict[str, float], rules: DetectorConfig | None = None) -> tuple[str, list[str]]:
    """(verdict, reasons) for one evaluation's scores under `rules` ([detector] thresholds)."""
    verdict, reasons = assess(scores, rules)
    return verdict, [reason.text for reason in reasons]


class Reason(NamedTuple):
    """One finding behind a verdict: the kind of collapse it shows (metrics/kinds.py), its sentence."""

    kind: str
    text: str


def reason_kinds(reasons: list[Reason]) -> list[str]:
    """The kinds of collapse a verdict's reasons show, each once, in KINDS order."""
    found = {reason.kind for reason in reasons}
    return [kind for kind in KINDS if kind in found]


def assess(
    scores: dict[str, float], rules: DetectorConfig | None = None, previous: str | None = None
) -> tuple[str, list[Reason]]:
    """(verdict, reasons, each with the kind of collapse it shows) for one evaluation's scores.

    Each rule (metrics/rules.py) compares its metric's 95 % interval at the record's sample count
    with its limit. Alone (`previous` None) the verdict is the worst level a rule's value breaches.
    After a `previous` verdict it holds until an interval crosses a limit (hysteresis): it rises
    to the worst level breached surely and falls to the worst level still possibly breached."""
    found = checks(scores, rules or DetectorConfig())
    if not found:
        given = ", ".join(sorted(scores)[:8]) or "nothing"
        raise ModeCollapseError(
            f"no metric the detector judges is in these scores (given: {given}); it reads modes, "
            "kl_uniform, diversity_ratio, recognizable_share, translation_score and the others "
            "score_samples gives"
        )
    off = [c for c in found if c.group == OFF_THE_DATA]
    if off and (off[0].fires if previous is None else off[0].surely):  # class counts of non-data say nothing
        found = [c for c in found if c.kind != DROPPED_MODES]
    point = _worst(c for c in found if c.fires)
    level = point
    if previous is not None:
        sure, possible = _worst(c for c in found if c.surely), _worst(c for c in found if c.possibly)
        level = min(max(VERDICTS.index(previous), sure), possible)
    verdict = VERDICTS[level]
    fired = [c for c in found if c.fires]
    if verdict == "healthy":
        held = [Reason(HEALTHY, f"held healthy: {c.sentence()}") for c in _strongest(fired)]
        return verdict, [Reason(HEALTHY, HEALTHY_TEXT), *held]
    chosen = [c for c in fired if VERDICTS.index(c.level) <= level]  # held down: the breaches at its level
    if level > point:  # held up: the breaches not yet surely cleared
        chosen += [c for c in found if c.possibly and not c.fires and VERDICTS.index(c.level) == level]
    return verdict, [Reason(c.kind, c.sentence()) for c in _strongest(chosen)]


def _strongest(chosen: list[Check]) -> list[Check]:
    """Each group's highest-level check, the collapsed ones first, in the checks' order."""
    strongest: dict[str, Check] = {}
    for check in chosen:
        if check.group not in strongest or VERDICTS.index(check.level) > VERDICTS.index(
            strongest[check.group].level
        ):
            strongest[check.group] = check
    return sorted(strongest.values(), key=lambda c: -VERDICTS.index(c.level))


HEALTHY_TEXT = "all modes covered, class balance, diversity and duplicates within real-data range"


def _worst(fired: Iterable[Check]) -> int:
    return max((VERDICTS.index(check.level) for check in fired), default=0)


RELATIVE_METRICS = ("modes", "recognizable_share", "diversity_ratio", "recall", "high_quality")


def relative_drops(scores: dict[str, float], best: dict[str, float], rules: DetectorConfig) -> list[Reason]:
    """Which tracked metrics sit below `best` (the run's bests so far) by at least their margin.

    Margins: the larger of the configured one (DetectorConfig.relative_*: a mode, 10% of the
    classes for many-mode sets, and 0.1 of recognizable share, diversity ratio, recall or
    high-quality share: 3.6-13x the largest drop below the running best that real-vs-real
    resampling held for two evaluations at 2,000 samples, benchmarks/relative_margins.py) and
    1.96 sd of the difference of two evaluations at this sample count (metrics/noise.py), so a
    drop counts only beyond the sampling noise at the count evaluated. A recall or diversity drop
    while the classes stay covered (no modes drop) is named a loss of within-class variety."""
    configured = {
        "modes": _modes_margin(scores, rules),
        "recognizable_share": rules.relative_share_drop,
        "diversity_ratio": rules.relative_share_drop,
        "recall": rules.relative_share_drop,
        "high_quality": rules.relative_share_drop,
    }
    drops, fallen = [], set()
    for key in RELATIVE_METRICS:
        value = _tracked(scores, key)
        if value is None or key not in best:
            continue
        metric = "modes_well_formed" if key == "modes" and "modes_well_formed" in scores else key
        noise_sd = math.hypot(noise.spread(metric, value, scores), noise.spread(metric, best[key], scores))
        margin = max(configured[key], noise.Z95 * noise_sd)
        if value <= best[key] - margin:
            fallen.add(key)
            text = f"{key} {value:.3g} fell from its best {best[key]:.3g} (margin {margin:.2g})"
            kind = METRIC_KINDS[key][0]
            if (
                key in ("recall", "diversity_ratio")
                and "modes" not in fallen
                and _covers_classes(scores, rules)
            ):
                kind, text = (
                    ONE_OUTPUT,
                    f"{text} while the classes stay covered: a loss of within-class variety",
                )
            drops.append(Reason(kind, text))
    return drops


def _modes_margin(scores: dict[str, float], rules: DetectorConfig) -> float:
    return max(rules.relative_modes_drop, rules.relative_modes_fraction * scores.get("num_classes", 10))


def _covers_classes(scores: dict[str, float], rules: DetectorConfig) -> bool:
    """Whether an evaluation shows all classes but the modes margin (the other bests count only then)."""
    modes = _tracked(scores, "modes")
    return modes is not None and modes >= scores.get("num_classes", 10) - _modes_margin(scores, rules)


def _tracked(scores: dict[str, float], key: str) -> float | None:
    if key == "modes" and "modes_well_formed" in scores:
        key = "modes_well_formed"
    value = scores.get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


class CollapseTracker:
    """Feed evaluations in order; it reports the absolute onset once `patience` non-healthy ones
    come in a row after a healthy one, and the relative onset at a drop confirmed at the next
    `patience - 1` evaluations or by a drop of a second kind at once.

    Two onsets: the absolute one (verdicts, after the run had been healthy once) and the
    relative one (a confirmed drop of a tracked metric from the run's own best so far, which
    also dates collapses of runs that never pass the absolute thresholds). The best of modes
    counts from any evaluation; the bests of the other metrics only from evaluations that cover
    all classes but the modes margin: a first evaluation of one or a few blobs that the
    classifier reads confidently (recognizable share 1.0) is not a level the run fell from.
    Recall's best counts only from evaluations whose precision was at most
    `recall_precision_window` below the current one: blurry early samples spread off the data
    manifold inflate k-NN recall (Naeem et al., 2020, on outliers); results/label-flip-steps,
    1 %, seed 2: recall 0.74 at precision 0.31, then 0.60-0.63 at precision 0.49-0.52 while FCD
    fell from 85 to 46, and 0.74 again later. The price: a recall fall that comes with a
    precision rise above the window is not read as a drop (modes, recognizable share and
    diversity still are); replayed over 81 committed runs the rule moved 2 onsets."""

    def __init__(self, rules: DetectorConfig | None = None) -> None:
        self.rules = rules or DetectorConfig()
        self.history: list[dict[str, Any]] = []
        self.onset: dict[str, Any] | None = None
        self.relative_onset: dict[str, Any] | None = None
        self.best: dict[str, float] = {}
        self.recalls: list[tuple[float | None, float]] = []
        """(precision, recall) of every evaluation that may set recall's best."""
        self.seen_healthy = False
        self.start_alarm: dict[str, Any] | None = None
        """Set when a run never healthy is collapsed at `patience` evaluations in a row after its
        start's grace (rules.start_grace_evaluations): the alarm the absolute onset cannot give."""

    def observe(self, epoch: int | float, scores: dict[str, float]) -> dict[str, Any] | None:
        """Record one evaluation; return the absolute onset record the moment it is confirmed."""
        previous = self.history[-1]["verdict"] if self.history else None
        verdict, found = assess(scores, self.rules, previous)
        reasons = [reason.text for reason in found]
        drops = relative_drops(scores, {**self.best, **self._recall_best(scores)}, self.rules)
        covers = _covers_classes(scores, self.rules)
        for key in RELATIVE_METRICS:
            value = _tracked(scores, key)
            if value is None or not (key == "modes" or covers):
                continue
            if key == "recall":
                self.recalls.append((_tracked(scores, "precision"), value))
            else:
                self.best[key] = max(self.best.get(key, value), value)
        self.history.append(
            {
                "epoch": epoch,
                "step": scores.get("step"),
                "verdict": verdict,
                "reasons": reasons,
                "kinds": reason_kinds(found),
                "drops": [drop.text for drop in drops],
                "drop_kinds": reason_kinds(drops),
            }
        )
        if verdict == "healthy":
            self.seen_healthy = True
        window = self.history[-self.rules.patience :]
        full = len(window) == self.rules.patience
        if self.relative_onset is None:
            confirmed = window if full and all(h["drops"] for h in window) else None
            if confirmed is None and len(self.history[-1]["drop_kinds"]) >= 2:  # a second family
                confirmed = self.history[-1:]
            if confirmed:
                self.relative_onset = {
                    "epoch": confirmed[0]["epoch"],
                    "step": confirmed[0]["step"],
                    "reasons": confirmed[-1]["drops"],
                    "kinds": confirmed[-1]["drop_kinds"],
                }
        self._watch_the_start()
        if self.onset is not None or not self.seen_healthy:
            return None
        if full and all(h["verdict"] != "healthy" for h in window):
            worst = max((h["verdict"] for h in window), key=VERDICTS.index)
            self.onset = {
                "onset_epoch": window[0]["epoch"],
                "verdict": worst,
                "reasons": window[-1]["reasons"],
            }
            if window[0]["step"] is not None:
                self.onset["onset_step"] = window[0]["step"]
            return self.onset
        return None

    def _watch_the_start(self) -> None:
        """The start alarm: collapsed at `patience` evaluations in a row, all after the grace, and
        never healthy before."""
        if self.start_alarm is not None or self.seen_healthy:
            return
        after_grace = self.history[self.rules.start_grace_evaluations :]
        window = after_grace[-self.rules.patience :]
        if len(window) == self.rules.patience and all(h["verdict"] == "collapsed" for h in window):
            self.start_alarm = {
                "step": window[0]["step"], "epoch": window[0]["epoch"], "reasons": window[-1]["reasons"],
            }  # fmt: skip

    def start_alarm_text(self) -> str:
        """The start alarm as the trainer and the Monitor say it."""
        alarm = self.start_alarm or {}
        return (
            f"collapsed from the start: judged collapsed at every evaluation since step {alarm.get('step')} "
            f"(after the first {self.rules.start_grace_evaluations} evaluations' grace) and never healthy "
            f"({'; '.join(alarm.get('reasons', []))})"
        )

    def _recall_best(self, scores: dict[str, float]) -> dict[str, float]:
        """{"recall": the best recall reached at a precision no more than the margin below
        this evaluation's}, or {} when there is none (without precision scores: every one)."""
        precision = _tracked(scores, "precision")
        floor = -math.inf if precision is None else precision - self.rules.recall_precision_window
        reached = [recall for was, recall in self.recalls if was is None or was >= floor]
        return {"recall": max(reached)} if reached else {}

    def summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else None
        relative = self.relative_onset or {}
        return {
            "verdict": last["verdict"] if last else None,
            "reasons": last["reasons"] if last else [],
            "reason_kinds": last["kinds"] if last else [],
            "collapse_onset_epoch": self.onset["onset_epoch"] if self.onset else None,
            "collapse_onset_step": (self.onset or {}).get("onset_step"),
            "relative_onset_epoch": relative.get("epoch"),
            "relative_onset_step": relative.get("step"),
            "relative_onset_reasons": relative.get("reasons", []),
            "relative_onset_kinds": relative.get("kinds", []),
            "never_healthy": bool(self.history) and not self.seen_healthy,
            "collapsed_from_start_step": (self.start_alarm or {}).get("step"),
            "rules": self.rules.model_dump(),
        }


def detect(series: list[tuple[int, dict[str, float]]], rules: DetectorConfig | None = None) -> dict[str, Any]:
    """Judge a whole run's (epoch, scores) series at once."""
    tracker = CollapseTracker(rules)
    for epoch, scores in series:
        tracker.observe(epoch, scores)
    return tracker.summary()
