"""analysis.md and analysis.csv: a sweep's declared analysis (experiments/analysis.py) as a page a
reader meets in order (the declaration, the machines and a per-machine check, the declared
comparisons, then the exploratory rest) and as one row per comparison."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modecollapse.experiments.analysis import AnalysisResult, start_rate
from modecollapse.experiments.stats import t_interval
from modecollapse.files import atomic_write_text
from modecollapse.metrics.kinds import METRIC_KINDS


def _format(value: float, digits: int = 3) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.{digits}g}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2g}" if value >= 1e-4 else "<1e-4"


def render_markdown(result: AnalysisResult, title: str) -> str:
    """analysis.md: the declaration, the machines, the declared comparisons, then the rest. Over 60
    lines on purpose: the page's sections in the order a reader meets them."""
    lines = [f"# Analysis: {title}", ""]
    analysis = result.analysis
    if analysis is None:
        lines += [
            f"Nothing is declared ({result.why_exploratory}): every comparison below is exploratory.",
            "",
        ]
    else:
        window = (
            "final evaluation"
            if analysis["at"] == "final"
            else f"mean over steps {analysis['at'][0]}-{analysis['at'][1]}"
        )
        primary = ", ".join(
            f"{m} ({better}; {METRIC_KINDS[m][0]})" for m, better in analysis["primary"].items()
        )
        lines += [
            f"- Baseline: `{analysis['baseline']}`",
            f"- Primary metrics: {primary}",
            f"- Evaluation point: {window}",
            f"- Declared: {analysis.get('declared_at', '?')}, "
            f"{'before' if analysis.get('before_runs') else 'after'} the first run started",
            f"- Family: every setting x primary metric{_family_size(result)}, Holm's correction at alpha "
            f"{analysis['alpha']}; "
            "differences are setting - baseline, paired by seed, mean ± half-width of the 95% t-interval",
        ]
        if analysis.get("note"):
            lines.append(f"- Note: {analysis['note']}")
        for metric, count in result.censored.items():
            lines.append(
                f"- {metric}: {count} of {sum(result.machines.values())} completed runs have none; they "
                "count as their last evaluated step (censored: their onset, if any, comes later)"
            )
        if result.never_healthy:
            lines.append(
                f"- collapse_onset_step: {result.never_healthy} completed runs were never healthy; the "
                "absolute onset counts them at step 0 (collapsed from the first evaluation)"
            )
        if analysis.get("non_start"):
            lines += _non_start_lines(result, analysis["non_start"])
        lines += _left_out_lines(result)
        if result.closed:
            lines.append(
                f"- **Closed short** (the sweep file's [closed]): {len(result.closed)} planned runs were "
                f"not run: {', '.join(result.closed)}. Why: {result.closed_reason} Their settings' "
                "comparisons use the seeds that ran; Holm's family is unchanged."
            )
        if result.unfinished:
            lines.append(
                f"- **Provisional**: runs of the sweep still to finish: {result.unfinished}. Their "
                "comparisons count in Holm's family already, yet an established result may change "
                "when they finish."
            )
        if result.amended:
            lines.append(
                f"- The sweep file's [analysis] changed after it was declared; the change is not used: "
                f"{result.amended}"
            )
        if result.why_exploratory:
            lines.append(f"- **Not declared**: {result.why_exploratory}; every comparison is exploratory.")
        lines.append("")
    machines = "; ".join(f"{m} ({n} runs)" for m, n in result.machines.items())
    lines += [f"Machines: {machines or 'no completed runs'}.", ""]
    crossed = any(" / " in m for c in result.comparisons for m in c.by_machine)
    if result.cross_machine and crossed:
        lines += ["Runs were paired across machines (--allow-cross-machine).", ""]
    elif len(result.machines) > 1 or result.refused:
        lines += ["Only runs from the same machine are paired. Refused pairs:", ""]
        lines += [f"- {line}" for line in result.refused] or ["- none (each seed's runs shared a machine)"]
        lines.append("")
    lines += _per_machine_lines(result)
    header = "| setting | metric | kind | baseline | setting | difference | seeds | p | Holm p | verdict |"
    rule = "|---|---|---|---|---|---|---|---|---|---|"
    for title_line, rows in (
        ("## Declared comparisons", [c for c in result.comparisons if c.primary]),
        (
            "## Exploratory (not declared, no correction: never established)",
            [c for c in result.comparisons if not c.primary],
        ),
    ):
        lines += [title_line, ""]
        if not rows:
            lines += ["None.", ""]
            continue
        lines += [header, rule]
        for c in rows:
            difference = f"{c.change:+.3g} ± {_format(c.half_width, 2)}"
            verdict = f"**{c.verdict}**" if c.established else c.verdict
            means = f"{_format(c.baseline_mean)} | {_format(c.setting_mean)}"
            holm_p = _p(c.holm_p) if c.primary else "-"
            lines.append(
                f"| {c.setting} | {c.metric} | {c.kind} | {means} | {difference} | {len(c.seeds)} | "
                f"{_p(c.p)} | {holm_p} | {verdict} |"
            )
        lines.append("")
    return "\n".join(lines)


def _family_size(result: AnalysisResult) -> str:
    """' (N comparisons; ...)' for a declared analysis: the size Holm's correction used."""
    if not result.declared:
        return ""
    tested = sum(c.primary and not math.isnan(c.p) for c in result.comparisons)
    missing = result.family_size - tested
    if missing <= 0:
        return f" ({result.family_size} comparisons)"
    each = "counts" if missing == 1 else "each count"
    why = f"{missing} without a p value, for want of pairs, {each} as p = 1"
    return f" ({result.family_size} comparisons; {why})"


def _left_out_lines(result: AnalysisResult) -> list[str]:
    """Diverged runs (in no pair) and non-finite values (left out of a run's value), named."""
    lines = []
    if result.diverged:
        named = "; ".join(
            f"{setting}: seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}"
            for setting, seeds in sorted(result.diverged.items())
        )
        lines.append(f"- Diverged (a NaN or infinite loss stopped the run; its seed is in no pair): {named}")
    for metric, runs in result.non_finite.items():
        lines.append(
            "- Non-finite values left out of a run's value at the declared point (a run left with "
            "none has no value there, and its seed is in no pair for this metric): "
            f"{metric}: {', '.join(runs)}"
        )
    return lines


def _non_start_lines(result: AnalysisResult, rule: dict[str, Any]) -> list[str]:
    """The declared non-start outcome: each setting's count, rate and exact 95 % interval."""
    lines = [
        f"- Non-start ({'declared' if result.declared else 'exploratory'}): {rule['metric']} <= "
        f"{rule['at_most']:g} at the declared point. A "
        "run that did not start is its own outcome, counted below; its seed is left out of that "
        "setting's pairs (a baseline non-start, out of every setting's):"
    ]
    for setting, (seeds, runs) in sorted(result.non_starts.items()):
        low, high = start_rate(len(seeds), runs)
        listed = f": seeds {', '.join(map(str, seeds))}" if seeds else ""
        unjudged = result.not_judged.get(setting, [])
        if unjudged:
            listed += (f"; {len(unjudged)} more not judged, no {rule['metric']} at the declared point "
                       f"(seeds {', '.join(map(str, unjudged))})")  # fmt: skip
        lines.append(
            f"  - {setting}: {len(seeds)} of {runs} did not start (95 % {low:.2f}-{high:.2f}){listed}"
        )
    return lines


def left_out_note(
    rule: dict[str, Any],
    skipped: dict[str, list[int]],
    declared: bool,
    source: str,
    label: Callable[[str], str] = str,
    unjudged: dict[str, list[int]] | None = None,
) -> str:
    """The note report's comparisons and `table` print under their pairs: the non-start rule,
    whether it was declared before the runs, the seeds it left out and those it could not judge."""

    def listed(seeds: dict[str, list[int]]) -> str:
        return "; ".join(
            f"{label(s)}: seeds {', '.join(map(str, ids))}" for s, ids in sorted(seeds.items()) if ids
        )

    kind = "Declared" if declared else "Exploratory"
    note = (
        f"{kind} non-start ({rule['metric']} <= {rule['at_most']:g} at the declared point, {source}): "
        f"left out of that setting's pairs, a baseline's out of every setting's: {listed(skipped) or 'none'}."
    )
    if missing := listed(unjudged or {}):
        note += f" Not judged, no {rule['metric']} at the declared point: {missing}."
    return note


def render_csv(result: AnalysisResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["setting", "metric", "kind", "better", "primary", "seeds", "baseline_mean",
                     "setting_mean", "change", "ci95", "p", "holm_p", "established", "verdict"])  # fmt: skip
    for c in result.comparisons:
        writer.writerow([c.setting, c.metric, c.kind, c.better, c.primary, " ".join(map(str, c.seeds)),
                         c.baseline_mean, c.setting_mean, c.change, c.half_width, c.p, c.holm_p,
                         c.established, c.verdict])  # fmt: skip
    return buffer.getvalue()


def write_analysis(result: AnalysisResult, out: Path, title: str) -> list[Path]:
    atomic_write_text(out / "analysis.md", render_markdown(result, title))
    atomic_write_text(out / "analysis.csv", render_csv(result))
    return [out / "analysis.md", out / "analysis.csv"]


def _per_machine_lines(result: AnalysisResult) -> list[str]:
    """Where a declared comparison's pairs ran on more than one machine (a study run seed by seed
    across machine changes): each machine's pairs alone, as a check on the pooled test."""
    spread = [c for c in result.comparisons if c.primary and len(c.by_machine) > 1]
    if not spread:
        return []
    lines = [
        "## Per machine (a check, not a test)",
        "",
        ("Pairs were allowed across machines ('A / B': the baseline's, then the setting's)"
         if result.cross_machine else "Every pair is made on one machine")
        + "; the declared test pools them. Each machine's pairs alone (mean ± half-width of the 95% "
        "t-interval):",
        "",
        "| setting | metric | machine | seeds | difference |",
        "|---|---|---|---|---|",
    ]
    for c in spread:
        for machine, differences in c.by_machine.items():
            mean, half, n = t_interval(differences)
            lines.append(f"| {c.setting} | {c.metric} | {machine} | {n} | {mean:+.3g} ± {_format(half, 2)} |")
    return [*lines, ""]
