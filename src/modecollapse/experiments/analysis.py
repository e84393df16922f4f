"""A study's declared comparisons: every setting against the baseline, paired by seed and by
machine, on the primary metrics at the declared point, with Holm's correction.

The [analysis] block of a sweep file (experiments/sweep.py) is recorded in the sweep folder's
index.json the first time the sweep runs, with whether any run had started by then. Only such
a declaration is *declared*; a block added after the runs started, a changed block, and every
metric that is not primary print as *exploratory* (paired 95% t-intervals, no correction, never
"established"). `modecollapse report` writes the result as analysis.md and analysis.csv (analysis_page.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import binomtest

from modecollapse.errors import ModeCollapseError
from modecollapse.experiments import stats
from modecollapse.experiments.results import SKIP, RunResult, number
from modecollapse.experiments.sweep import setting_of
from modecollapse.metrics.kinds import METRIC_KINDS, ONSET_METRICS

UNRECORDED = "not recorded"
UNFINISHED = ("pending", "running", "interrupted", "failed")  # running the sweep again retries a failed run


@dataclass
class Comparison:
    """One setting against the baseline on one metric, paired by seed on one machine."""

    setting: str
    metric: str
    better: str
    seeds: list[int]
    baseline_mean: float
    setting_mean: float
    change: float
    half_width: float
    p: float
    primary: bool
    holm_p: float = math.nan
    established: bool = False
    by_machine: dict[str, list[float]] = field(default_factory=dict)
    """The paired differences grouped by the machine each pair ran on."""

    @property
    def kind(self) -> str:
        return METRIC_KINDS.get(self.metric, ("-", ""))[0]

    @property
    def improved(self) -> bool:
        """The change points the better way (established or not)."""
        return (self.change > 0) == (self.better == "higher")

    @property
    def verdict(self) -> str:
        if not self.primary:
            return "exploratory"
        if not self.established:
            return "not established"
        return "better (established)" if self.improved else "worse (established)"


@dataclass
class AnalysisResult:
    analysis: dict[str, Any] | None
    declared: bool
    why_exploratory: str
    machines: dict[str, int]
    refused: list[str]
    comparisons: list[Comparison]
    amended: dict[str, Any] | None = None
    """A later [analysis] in the sweep file than the declared one (not used)."""
    censored: dict[str, int] = field(default_factory=dict)
    """Per onset metric: completed runs without that onset (counted at their last step)."""
    unfinished: int = 0
    """Runs of the sweep still to finish (pending, running, interrupted, failed: running the sweep
    again retries it, or planned by the sweep file and not yet selected; index.json's "planned"):
    their comparisons count in Holm's family already (as p = 1), yet the results may change when
    they finish."""
    never_healthy: int = 0
    """Completed runs never healthy: the absolute onset (collapse_onset_step) counts them at step 0.
    The relative onset needs no healthy evaluation, so a run without one is censored."""
    non_starts: dict[str, tuple[list[int], int]] = field(default_factory=dict)
    """With a declared non_start: per setting, the seeds whose run did not start and its
    completed runs the rule could judge (not_judged's are not counted)."""
    not_judged: dict[str, list[int]] = field(default_factory=dict)
    """With a declared non_start: per setting, the seeds whose completed run has no value of its
    metric at the declared point, so neither started nor not (a comparison pairs it only where
    both runs have a value of the compared metric there)."""
    cross_machine: bool = False
    """Pairs across machines were allowed (--allow-cross-machine)."""
    diverged: dict[str, list[int]] = field(default_factory=dict)
    """Per setting, the seeds whose run diverged (a NaN or infinite loss stopped it): in no pair."""
    family_size: int = 0
    """Holm's family: the declared fixes (every setting the sweep holds but the baseline) x the
    primaries, or the comparisons with a p value where they are more."""
    non_finite: dict[str, list[str]] = field(default_factory=dict)
    """Per primary metric, the completed runs with non-finite values left out of their value at
    the declared point ("setting seed s (k of n evaluations)")."""
    closed: list[str] = field(default_factory=list)
    """Planned runs the study ended without (the sweep file's [closed]), none of them finished."""
    closed_reason: str = ""

    @property
    def provisional(self) -> bool:
        return self.unfinished > 0


def recorded_onset(metric: str, onset: float | None, never_healthy: bool) -> float | None:
    """An onset as recorded (one of ONSET_METRICS); None when censored (no onset before the run's
    last step). The absolute onset needs a healthy evaluation first, so a run never healthy has it
    at step 0."""
    if onset is not None:
        return float(onset)
    return 0.0 if metric == "collapse_onset_step" and never_healthy else None


def onset_of(result: RunResult, metric: str) -> float | None:
    """A run's onset (recorded_onset of its detector's record)."""
    detector = result.detector
    return recorded_onset(metric, detector.get(metric), bool(detector.get("never_healthy")))


def censored_onset(metric: str, onset: float | None, last_step: float, never_healthy: bool) -> float:
    """An onset metric as every comparison counts it: the recorded onset; without one (censored)
    the run's last evaluated step."""
    recorded = recorded_onset(metric, onset, never_healthy)
    return float(last_step) if recorded is None else recorded


def pair_seeds(
    baseline: dict[int, str], setting: dict[int, str], allow_cross_machine: bool = False
) -> tuple[list[int], list[int]]:
    """The seeds both settings ran (each dict maps seed -> machine id): those one machine trained
    both runs of (all of them with `allow_cross_machine`), then the refused rest."""
    shared = sorted(set(baseline) & set(setting))
    paired = [s for s in shared if allow_cross_machine or baseline[s] == setting[s]]
    return paired, [s for s in shared if s not in paired]


def value_at(result: RunResult, metric: str, at: str | list[int] | tuple[int, int]) -> float | None:
    """A run's `metric` at the declared point: its last evaluation ("final") or the mean over
    its evaluations inside the window [first, last] of steps; None where it has none. The onsets
    (ONSET_METRICS) are the run's, whatever the point; without one, the last evaluated step
    (censored), except the absolute onset of a run never healthy: step 0."""
    if metric in ONSET_METRICS:
        detector = result.detector
        last_step = result.final.get("step", math.nan)
        return censored_onset(metric, detector.get(metric), last_step, bool(detector.get("never_healthy")))
    if at == "final":
        value = result.final.get(metric)
        return float(value) if number(value) and math.isfinite(value) else None
    first, last = at
    values = [e[metric] for e in result.evals if first <= e.get("step", -1) <= last and number(e.get(metric))]
    values = [float(v) for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else None


def diverged_seeds(results: list[RunResult]) -> dict[str, list[int]]:
    """Per setting, the seeds of its diverged runs."""
    diverged: dict[str, list[int]] = {}
    for r in results:
        if r.state == "diverged":
            diverged.setdefault(r.setting_id, []).append(r.seed)
    return {setting: sorted(seeds) for setting, seeds in diverged.items()}


def non_finite_values(
    completed: list[RunResult], metrics: list[str], at: str | list[int] | tuple[int, int]
) -> dict[str, list[str]]:
    """Per metric, the runs whose value at the declared point leaves out non-finite values."""
    found: dict[str, list[str]] = {}
    for metric in (m for m in metrics if m not in ONSET_METRICS):  # an onset is never non-finite
        for r in completed:
            if at == "final":
                values, where = [r.final.get(metric)], "its last evaluation"
            else:
                values = [e.get(metric) for e in r.evals if at[0] <= e.get("step", -1) <= at[1]]
                where = None
            values = [float(v) for v in values if number(v)]
            bad = sum(not math.isfinite(v) for v in values)
            if bad:
                said = where or f"{bad} of {len(values)} evaluations"
                found.setdefault(metric, []).append(f"{r.setting_id} seed {r.seed} ({said})")
    return found


def judge_starts(
    by_setting: dict[str, dict[int, RunResult]], analysis: dict[str, Any]
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per setting, by the declared non_start: the seeds whose run did not start (its metric at the
    declared point at or under at_most), and, only for settings that have any, the seeds whose run
    has no value there (it ended before it, or was not evaluated there). Both empty when none is
    declared."""
    rule = analysis.get("non_start")
    if not rule:
        return {}, {}
    skipped, unjudged = {}, {}
    for setting, runs in by_setting.items():
        values = {s: value_at(run, rule["metric"], analysis["at"]) for s, run in sorted(runs.items())}
        skipped[setting] = [s for s, value in values.items() if did_not_start(value, rule)]
        if missing := [s for s, value in values.items() if value is None]:
            unjudged[setting] = missing
    return skipped, unjudged


def did_not_start(value: float | None, rule: dict[str, Any]) -> bool:
    """Whether a run's value of the declared non_start metric (at the declared point) says it never
    started: at or under at_most. No value (or NaN) says nothing."""
    return value is not None and math.isfinite(value) and value <= rule["at_most"]


def left_out(non_starts: dict[str, list[int]], setting: str, baseline: str) -> set[int]:
    """The seeds a setting's pairs with the baseline leave out: a non-start is its own outcome, the
    setting's own and the baseline's alike."""
    return {*non_starts.get(setting, []), *non_starts.get(baseline, [])}


def start_rate(failed: int, runs: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95 % interval of a non-start rate."""
    if runs == 0:
        return math.nan, math.nan
    interval = binomtest(failed, runs).proportion_ci(confidence_level=0.95, method="exact")
    return interval.low, interval.high


def machine_of(result: RunResult) -> str:
    """The machine a run trained on, or all of them joined with ' + ' when it was resumed on
    another (such a run pairs with no single-machine run)."""
    history = result.summary.get("machines") or [result.summary.get("machine") or {}]
    return " + ".join(dict.fromkeys(m.get("id", UNRECORDED) for m in history))


def _pair_machine(baseline: str, setting: str) -> str:
    return baseline if baseline == setting else f"{baseline} / {setting}"


def _group_by_machine(pairs: list[tuple[str, float]]) -> dict[str, list[float]]:
    grouped: dict[str, list[float]] = {}
    for machine, difference in pairs:
        grouped.setdefault(machine, []).append(difference)
    return grouped


def analyse(
    results: list[RunResult], index: dict[str, Any], allow_cross_machine: bool = False
) -> AnalysisResult:
    """Each setting against the declared baseline (see the module docstring). Over 60 lines on
    purpose: pairing, the interval, Holm and censoring read as one procedure, in its order."""
    analysis = index.get("analysis")
    completed = [r for r in results if r.state == "completed" and r.evals]
    machines: dict[str, int] = {}
    for r in completed:
        machines[machine_of(r)] = machines.get(machine_of(r), 0) + 1
    if analysis is None:
        return AnalysisResult(None, False, "the sweep file declares no [analysis]", machines, [], [])
    declared = bool(analysis.get("before_runs"))
    why = "" if declared else "the [analysis] was first recorded after runs had started"
    baseline, at, primary = analysis["baseline"], analysis["at"], analysis["primary"]
    by_setting: dict[str, dict[int, RunResult]] = {}
    for r in completed:
        by_setting.setdefault(r.setting_id, {})[r.seed] = r
    if baseline not in by_setting:
        raise ModeCollapseError(f"the baseline setting '{baseline}' has no completed run yet")
    others = dict.fromkeys(k for r in completed for k in r.final if number(r.final[k]))
    others = {k: None for k in others if k not in primary and k not in SKIP and not k.startswith("train_")}
    metrics = [*primary, *others]
    comparisons, refused = [], []
    skipped, unjudged = judge_starts(by_setting, analysis)
    for setting, runs in by_setting.items():
        if setting == baseline:
            continue
        mine = {seed: machine_of(r) for seed, r in runs.items()}
        theirs = {seed: machine_of(r) for seed, r in by_setting[baseline].items()}
        paired, other = pair_seeds(theirs, mine, allow_cross_machine)
        refused += [f"{setting} seed {s}: ran on {mine[s]}, the baseline on {theirs[s]}" for s in other]
        paired = [s for s in paired if s not in left_out(skipped, setting, baseline)]
        for metric in metrics:
            better = primary.get(metric) or METRIC_KINDS.get(metric, ("", "higher"))[1]
            pairs = [
                (value_at(by_setting[baseline][s], metric, at), value_at(runs[s], metric, at), s)
                for s in paired
            ]
            pairs = [(b, f, s) for b, f, s in pairs if b is not None and f is not None]
            if not pairs:
                continue
            change, half, n, p = stats.paired([f - b for b, f, _ in pairs])
            comparisons.append(
                Comparison(
                    setting, metric, better, [s for _, _, s in pairs],
                    sum(b for b, _, _ in pairs) / n, sum(f for _, f, _ in pairs) / n, change, half, p,
                    primary=declared and metric in primary,
                    by_machine=_group_by_machine([(_pair_machine(theirs[s], mine[s]), f - b)
                                                  for b, f, s in pairs]),
                )
            )  # fmt: skip
    family = [c for c in comparisons if c.primary]
    settings = {r.setting_id for r in results} | {setting_of(run) for run in index.get("planned", [])}
    declared_size = declared * len(settings - {baseline}) * len(primary)
    family_size = max(declared_size, sum(not math.isnan(c.p) for c in family))
    for c, adjusted in zip(family, stats.holm([c.p for c in family], family_size), strict=True):
        c.holm_p = adjusted
        c.established = stats.is_established(adjusted, len(c.seeds), analysis["alpha"])
    amended = index.get("analysis_amended")
    onsets = [m for m in primary if m in ONSET_METRICS]
    censored = {m: sum(onset_of(r, m) is None for r in completed) for m in onsets}
    absolute = "collapse_onset_step" in onsets
    never_count = sum(bool(r.detector.get("never_healthy")) for r in completed) if absolute else 0
    closing = index.get("closed") or {}
    closed = set(closing.get("runs", []))
    unstarted = set(index.get("planned", [])) - {r.run_id for r in results} - closed
    unfinished = sum(r.state in UNFINISHED and r.run_id not in closed for r in results) + len(unstarted)
    finished = {r.run_id for r in completed}
    non_starts = {s: (seeds, len(by_setting[s]) - len(unjudged.get(s, []))) for s, seeds in skipped.items()}
    return AnalysisResult(
        analysis, declared, why, machines, refused, comparisons, amended, censored, unfinished, never_count,
        non_starts, unjudged, allow_cross_machine, diverged=diverged_seeds(results),
        family_size=family_size,
        non_finite=non_finite_values(completed, list(primary), at),
        closed=[run for run in closing.get("runs", []) if run not in finished],
        closed_reason=closing.get("reason", ""),
    )  # fmt: skip
