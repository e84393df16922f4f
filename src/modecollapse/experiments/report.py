"""`modecollapse report DIR`: tables (mean and 95% t-interval over seeds), plots, grids, HTML.

Works on a sweep folder (every setting x seed) or on a single run folder. Writes into
DIR/report/: table.md, table.csv, comparisons.md (each setting against the first, paired by seed,
Holm over the page: higher, lower or "not established"), runs.csv (one row per run),
curves.csv (one row per evaluation of each run),
metric-*.png (each metric vs step per setting, the seed spread shaded),
class-histograms.png, samples-*.png and report.html, a single self-contained page (images
inlined) that shows all of it.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modecollapse.experiments.analysis import (
    AnalysisResult,
    analyse,
    left_out,
    machine_of,
    pair_seeds,
    value_at,
)
from modecollapse.experiments.analysis_page import left_out_note, write_analysis
from modecollapse.experiments.plots import (
    copy_sample_grids,
    plot_feature_map,
    plot_histograms,
    plot_metrics,
    plot_translations,
)
from modecollapse.experiments.records import write_records
from modecollapse.experiments.results import SKIP, RunResult, collect, number
from modecollapse.experiments.stats import Paired, cell, holm, is_established, paired, t_interval
from modecollapse.files import atomic_write_text
from modecollapse.sweepfolder import SweepFolder


def aggregate(results: list[RunResult]) -> list[dict[str, Any]]:
    """One row per setting: seeds, final metrics as (mean, 95% t half-width, n), onsets."""
    rows = []
    for setting in dict.fromkeys(r.setting_id for r in results):
        group = [r for r in results if r.setting_id == setting]
        # only completed runs: a run still training (or stopped mid-way) would mix lengths
        finished = [r for r in group if r.final and r.state == "completed"]
        metrics = {}
        keys = [k for k, v in (finished[0].final.items() if finished else []) if k not in SKIP and number(v)]
        for key in keys:
            values = [float(r.final[key]) for r in finished if number(r.final.get(key))]
            if values and all(math.isfinite(v) for v in values):
                metrics[key] = t_interval(values)
        detectors = [r.detector for r in finished]
        onsets = [d["collapse_onset_step"] for d in detectors if d["collapse_onset_step"] is not None]
        relative = [d["relative_onset_step"] for d in detectors if d["relative_onset_step"] is not None]
        rows.append({
            "setting": setting,
            "runs": len(group),
            "finished": len(finished),
            "failed": sum(r.state == "failed" for r in group),
            "metrics": metrics,
            "collapsed": len(onsets),
            "never_healthy": sum(d["never_healthy"] for d in detectors),
            "onset": t_interval([float(o) for o in onsets]) if onsets else None,
            "relative_collapsed": len(relative),
            "relative_onset": t_interval([float(o) for o in relative]) if relative else None,
            "steps": max((r.final.get("step", 0) for r in finished), default=0),
        })  # fmt: skip
    return rows


def _onset_cell(row: dict[str, Any]) -> str:
    """Absolute and relative onsets (steps) over the seeds that had one; the others counted."""
    if not row["finished"]:
        return "-"
    never = f", {row['never_healthy']} never healthy" if row["never_healthy"] else ""
    absolute = (
        f"{cell(row['onset'])} ({row['collapsed']}/{row['finished']}{never})"
        if row["onset"]
        else f"none in {row['steps']} steps (0/{row['finished']}{never})"
    )
    relative = (
        f"{cell(row['relative_onset'])} ({row['relative_collapsed']}/{row['finished']})"
        if row["relative_onset"]
        else f"none (0/{row['finished']})"
    )
    return f"absolute {absolute}; relative {relative}"


def table_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Metric columns of the tables (the training signals stay in runs.csv and curves.csv)."""
    return list(dict.fromkeys(key for row in rows for key in row["metrics"] if not key.startswith("train_")))


def write_tables(rows: list[dict[str, Any]], results: list[RunResult], out: Path) -> list[Path]:
    """table.md / table.csv (per setting), runs.csv (one row per run) and curves.csv; comparisons.md
    comes after the analysis (write_comparisons), whose declared non-starts it honours."""
    columns = table_columns(rows)
    header = ["setting", "seeds", *columns, "collapse onset step"]
    lines = [
        "Final evaluation of each completed run: mean ± half-width of the 95% t-interval over seeds.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        cells = [row["setting"], f"{row['finished']}/{row['runs']}"]
        cells += [cell(row["metrics"].get(c)) for c in columns] + [_onset_cell(row)]
        lines.append("| " + " | ".join(cells) + " |")
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    stats_columns = [f"{column}_{part}" for column in columns for part in ("mean", "ci95")]
    writer.writerow(
        ["setting", "seeds_finished", "seeds", *stats_columns, "collapsed_seeds", "onset_step_mean",
         "onset_step_ci95", "relative_collapsed_seeds", "relative_onset_step_mean",
         "relative_onset_step_ci95", "never_healthy"]
    )  # fmt: skip
    for row in rows:
        values = [v for c in columns for v in (row["metrics"].get(c) or ("", "", ""))[:2]]
        onset, relative = (row["onset"] or ("", ""))[:2], (row["relative_onset"] or ("", ""))[:2]
        extra = [row["collapsed"], *onset, row["relative_collapsed"], *relative, row["never_healthy"]]
        writer.writerow([row["setting"], row["finished"], row["runs"], *values, *extra])
    atomic_write_text(out / "table.csv", buffer.getvalue())
    return [
        out / "table.md", out / "table.csv", write_runs(results, out), write_curves(results, out),
    ]  # fmt: skip


ANALYSIS_FAILED = (
    "The analysis did not run (see the error), so a declared non-start is not applied on this page."
)


def write_comparisons(
    rows: list[dict[str, Any]],
    results: list[RunResult],
    out: Path,
    analysis: AnalysisResult | None = None,
    note: str = "",
) -> Path:
    """comparisons.md: each setting against the first at the final evaluation, paired by seed on
    one machine, a declared non-start left out of the pairs as the analysis does, Holm over the
    page (the analysis's engine, experiments/stats.py)."""
    lines = ["Each setting against the first at the final evaluation: the difference, paired by seed on",
             "one machine (mean ± 95% t half-width); 'higher' / 'lower' only where the Holm-adjusted p",
             "over this page's comparisons is under 0.05 with >= 3 seeds. Exploratory unless the sweep",
             "declared this metric and point (analysis.md).", ""]  # fmt: skip
    if len(rows) > 1:
        baseline = rows[0]
        header = ["setting", *[c for c in table_columns(rows) if c in baseline["metrics"]]]
        runs = {(r.setting_id, r.seed): r for r in results if r.final and r.state == "completed"}
        skipped = {s: seeds for s, (seeds, _) in (analysis.non_starts if analysis else {}).items()}
        tests = {}
        for row in rows[1:]:
            base, out_seeds = baseline["setting"], left_out(skipped, row["setting"], baseline["setting"])
            for column in header[1:]:
                differences = _paired_differences(runs, base, row["setting"], column, out_seeds)
                if len(differences) >= 2:
                    tests[(row["setting"], column)] = paired(differences)
        adjusted = dict(zip(tests, holm([t.p for t in tests.values()]), strict=True))
        lines += [
            f"Baseline: {baseline['setting']}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for row in rows[1:]:
            cells = [row["setting"]]
            for column in header[1:]:
                test = tests.get((row["setting"], column))
                cells.append(
                    "-" if test is None else _comparison_cell(test, adjusted[(row["setting"], column)])
                )
            lines.append("| " + " | ".join(cells) + " |")
        lines += _non_start_note(skipped, analysis)
    lines += ["", note] if note else []
    atomic_write_text(out / "comparisons.md", "\n".join(lines) + "\n")
    return out / "comparisons.md"


def _non_start_note(skipped: dict[str, list[int]], analysis: AnalysisResult | None) -> list[str]:
    if not analysis or not analysis.analysis or not analysis.analysis.get("non_start"):
        return []
    rule, declared = analysis.analysis["non_start"], analysis.declared
    return ["", left_out_note(rule, skipped, declared, "analysis.md", unjudged=analysis.not_judged)]


def _paired_differences(
    runs: dict, base: str, setting: str, metric: str, out_seeds: set[int] = frozenset()
) -> list[float]:
    """setting - base at the final evaluation, for each seed both ran on one machine, but
    `out_seeds` (analysis.pair_seeds and analysis.value_at: the analysis's pairing and censoring)."""
    mine = {seed: machine_of(r) for (name, seed), r in runs.items() if name == setting}
    theirs = {seed: machine_of(r) for (name, seed), r in runs.items() if name == base}
    differences = []
    for seed in [s for s in pair_seeds(theirs, mine)[0] if s not in out_seeds]:
        after, before = (
            value_at(runs[setting, seed], metric, "final"),
            value_at(runs[base, seed], metric, "final"),
        )
        if after is not None and before is not None:
            differences.append(after - before)
    return differences


def _comparison_cell(test: Paired, holm_p: float) -> str:
    difference = f"{test.change:+.3g} ± {test.half_width:.2g}, {test.n} seeds"
    if not is_established(holm_p, test.n):
        return f"not established ({difference})"
    return f"{'higher' if test.change > 0 else 'lower'} ({difference})"


REPLAY_FACTS = ("num_samples", "num_classes")
"""Kept in curves.csv although no table shows them: a replay of the detector needs them."""


def write_curves(results: list[RunResult], out: Path) -> Path:
    """curves.csv: one row per evaluation of every run (setting, seed, step, epoch, scores, the
    sample and class counts, and the run's detector rules where they differ from the defaults:
    all a replay of the detector needs), small enough to commit beside a table."""
    evals = [e for r in results for e in r.evals]
    keys = list(dict.fromkeys(
        k for e in evals for k, v in e.items() if (k not in SKIP or k in REPLAY_FACTS) and number(v)
    ))  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "setting", "seed", "step", "epoch", *keys, "detector_rules"])
    for r in results:
        changed = r.rules_changed()
        rules = "" if changed is None else json.dumps(changed, sort_keys=True)  # "": not recorded
        for e in r.evals:
            writer.writerow([r.run_id, r.setting_id, r.seed, e.get("step", ""), e.get("epoch", ""),
                             *[e.get(k, "") for k in keys], rules])  # fmt: skip
    atomic_write_text(out / "curves.csv", buffer.getvalue())
    return out / "curves.csv"


MACHINE_COLUMNS = ("machine_id", "machine_cpu", "machine_flags", "machine_torch", "machine_threads",
                   "machine_precision", "machine_grading_precision")  # fmt: skip
"""runs.csv's provenance columns (summary.json's "machine"; machine_id joins every session's id
with ' + ', the id analyses pair on), then the run's wall time and CPU time."""


def write_runs(results: list[RunResult], out: Path) -> Path:
    """runs.csv: one row per run (setting, seed, status, steps, final metrics, onsets, machine)."""
    metric_keys = list(
        dict.fromkeys(k for r in results for k, v in r.final.items() if k not in SKIP and number(v))
    )
    onset_keys = [
        "collapse_onset_step", "collapse_onset_epoch", "relative_onset_step", "relative_onset_epoch",
        "never_healthy", "verdict",
    ]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "setting", "seed", "status", "step", *metric_keys, *onset_keys,
                     "last_healthy_step", "stopped_at_collapse", *MACHINE_COLUMNS,
                     "wall_time_s", "cpu_s", "started_at", "ended_at"])  # fmt: skip
    for r in results:
        detector = r.detector if r.final else {}
        kept = r.summary.get("last_healthy") or {}
        machine = {**(r.summary.get("machine") or {}), "id": machine_of(r)}
        writer.writerow(
            [r.run_id, r.setting_id, r.seed, r.state, r.final.get("step", ""),
             *[r.final.get(k, "") for k in metric_keys], *[detector.get(k, "") for k in onset_keys],
             kept.get("step", ""), r.summary.get("stopped_at_collapse", ""),
             *[" ".join(v) if isinstance(v := machine.get(c.removeprefix("machine_"), ""), list) else v
               for c in MACHINE_COLUMNS],
             r.summary.get("wall_time_s", ""), r.summary.get("cpu_s", ""),
             r.summary.get("started_at", ""), r.summary.get("ended_at", "")]
        )  # fmt: skip
    atomic_write_text(out / "runs.csv", buffer.getvalue())
    return out / "runs.csv"


@dataclass
class BuiltReport:
    """What `build_report` wrote (`page`: report.html) and what it read and concluded."""

    page: Path
    results: list[RunResult]
    analysis: AnalysisResult | None


def build_report(folder: Path, allow_cross_machine: bool = False) -> BuiltReport:
    """Write every part of the report into folder/report/: runs read and analysed once."""
    folder = Path(folder)
    results = collect(folder)
    sweep = SweepFolder(folder)
    out = sweep.report
    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate(results)
    write_tables(rows, results, out)  # first: they stand even where the analysis cannot run yet
    analysis = None
    try:
        if sweep.is_sweep():
            index = sweep.read_index()
            analysis = analyse(results, index, allow_cross_machine)
            write_analysis(analysis, out, index["name"])
            write_records(results, index["name"], out)
    except Exception:
        with contextlib.suppress(Exception):  # the analysis's error is the one to show
            write_comparisons(rows, results, out, analysis, ANALYSIS_FAILED)
        raise
    write_comparisons(rows, results, out, analysis)
    plots = plot_metrics(results, out)
    histogram = plot_histograms(results, out)
    grids = copy_sample_grids(results, out)
    translations = plot_translations(results, out / "translations.png")
    if translations:
        grids.insert(0, ("every setting's translations of the same held-out inputs", translations))
    for setting in dict.fromkeys(r.setting_id for r in results):
        first = next(r for r in results if r.setting_id == setting)
        mapped = plot_feature_map(first, out / f"feature-map-{setting}.png")
        if mapped:
            grids.append((f"{setting}: feature map (seed {first.seed})", mapped))
    page = render_html(folder.name, rows, results, plots, histogram, grids)
    atomic_write_text(out / "report.html", page)
    return BuiltReport(out / "report.html", results, analysis)


def _inline(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _figure(path: Path, caption: str) -> str:
    text = html.escape(caption)
    return f'<figure><img src="{_inline(path)}" alt="{text}"><figcaption>{text}</figcaption></figure>\n'


def render_html(
    title: str,
    rows: list[dict[str, Any]],
    results: list[RunResult],
    plots: list[Path],
    histogram: Path | None,
    grids: list[tuple[str, Path]],
) -> str:
    esc = html.escape
    columns = table_columns(rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in ["setting", "seeds", *columns, "collapse onset step"])
    body = ""
    for row in rows:
        cells = [
            row["setting"],
            f"{row['finished']}/{row['runs']}",
            *[cell(row["metrics"].get(c)) for c in columns],
            _onset_cell(row),
        ]
        body += "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>\n"
    runs = "".join(
        f"<tr><td>{esc(r.run_id)}</td><td>{esc(str(r.state))}</td>"
        f"<td>{esc(str(r.summary.get('error') or ''))}</td></tr>\n"
        for r in results
    )
    figures = "".join(_figure(p, p.stem) for p in plots)
    if histogram:
        figures += _figure(histogram, "final class histograms (mean over seeds)")
    samples = "".join(_figure(p, name) for name, p in grids)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}: modecollapse report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
td:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 8px; vertical-align: top; }} img {{ max-width: 560px; }}
figcaption {{ font-size: 12px; color: #444; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>Final evaluation of each completed run; mean ± half-width of the 95% t-interval over seeds. Collapse
onset: the detector's first step of a confirmed collapse (absolute: after being healthy;
relative: a sustained fall from the run's own best), over the seeds that had one.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}</tbody></table>
<h2>Metrics over training</h2>
{figures}
<h2>Samples</h2>
{samples}
<h2>Runs</h2>
<table><thead><tr><th>run</th><th>status</th><th>error</th></tr></thead><tbody>
{runs}</tbody></table>
</body></html>
"""
