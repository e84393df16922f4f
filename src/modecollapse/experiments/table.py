"""`modecollapse table`: a study's Markdown tables from its committed runs.csv and curves.csv
(as `modecollapse report` writes them), the one tool the results READMEs print their tables with.

    modecollapse table results/ring8-pacgan-20k --columns modes:.1f high_quality:.2f \\
        --window 14000 --baseline gan --per-run --per-step modes:.1f

Each setting: mean ± half-width of the 95% t-interval over seeds, of each run's final
evaluation or of its mean over a window of steps; each other setting minus the baseline, paired
by seed on one machine and tested as every analysis is (experiments/stats.py: paired t-test,
Holm over the table's paired cells, >= 3 seeds; 'not established' otherwise), leaving out the
seeds a declared non_start names (the sweep's index.json beside runs.csv, or above a report/
folder) as the analysis does. The per-run
and per-step tables: run_tables.py.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modecollapse.errors import ConfigError, did_you_mean
from modecollapse.experiments.analysis import UNRECORDED, censored_onset, did_not_start, left_out, pair_seeds
from modecollapse.experiments.analysis_page import left_out_note
from modecollapse.experiments.stats import holm, is_established, paired, seed_cell
from modecollapse.metrics.kinds import ONSET_METRICS


@dataclass
class Study:
    """A study's completed runs (runs.csv rows) and each run's evaluations, by step."""

    runs: list[dict[str, str]]
    curves: dict[str, list[dict[str, str]]]
    label_by: str | None = None
    """Name settings by this key alone ('label_flip_fraction=0.1'), not by their whole id."""
    declared: dict[str, Any] | None = None
    """The sweep's [analysis] (read_declaration), for its non_start rule."""

    def label(self, setting: str) -> str:
        if self.label_by:
            return f"{self.label_by}={_key_value(setting, self.label_by)}"
        return label(setting)

    def settings(self, sort_by: str | None = None) -> list[str]:
        settings = list(dict.fromkeys(r["setting"] for r in self.runs))
        if sort_by:
            settings.sort(key=lambda s: float(_key_value(s, sort_by)))
        return settings

    def group(self, setting: str) -> list[dict[str, str]]:
        return sorted((r for r in self.runs if r["setting"] == setting), key=lambda r: int(r["seed"]))


RUN_COLUMNS = ("run", "setting", "seed", "status")
"""The runs.csv columns a table needs (`modecollapse report` writes them)."""


def read_study(folder: Path, runs: str = "runs.csv") -> Study:
    """The completed runs of every file in `folder` matching the glob `runs`, with the
    evaluations of the curves files beside them (the same names with 'runs' -> 'curves')."""
    folder = Path(folder)
    files = sorted(folder.glob(runs))
    if not files:
        raise ConfigError(f"no file matches {runs!r} in {folder} (a study's results folder holds runs.csv)")
    rows, curves, source = [], {}, {}
    for file in files:
        reader = csv.DictReader(file.open())
        missing = [column for column in RUN_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(
                f"{file} has no {', '.join(missing)} column: it is not a runs.csv that "
                "`modecollapse report` writes, so `table` cannot read it"
            )
        mine = [r for r in reader if r["status"] == "completed"]
        for row in mine:
            for key in (row["run"], (row["setting"], row["seed"])):
                if key in source:
                    raise ConfigError(
                        f"{file.name} and {source[key]} both hold {key}: a table counts each run once; "
                        "narrow --runs to one of them"
                    )
                source[key] = file.name
        rows += mine
        partner = file.with_name(_rreplace(file.name, "runs", "curves"))
        if partner.is_file():
            for row in csv.DictReader(partner.open()):
                if source.get(row["run"]) == file.name:
                    curves.setdefault(row["run"], []).append(row)
    if not rows:
        raise ConfigError(f"no completed run in {', '.join(f.name for f in files)} (status 'completed')")
    for run in curves.values():
        run.sort(key=lambda c: int(c["step"]))
    return Study(rows, curves, declared=read_declaration(folder))


def read_declaration(folder: Path) -> dict[str, Any] | None:
    """The [analysis] a study's index.json records (beside runs.csv, or in the sweep folder above a
    report/ folder), with the ids of the runs it covers ("runs"; None where it names none); None
    without one."""
    folder = Path(folder).resolve()
    above = folder.parent / "index.json" if (folder.parent / "sweep.toml").is_file() else None  # SWEEP/report
    path = next((p for p in (folder / "index.json", above) if p and p.is_file()), None)
    if path is None:
        return None
    try:
        index = json.loads(path.read_text())
        analysis = index.get("analysis")
    except (json.JSONDecodeError, AttributeError) as error:
        raise ConfigError(f"{path} is not a sweep's index.json ({error}); move it aside") from None
    if not analysis:
        return None
    runs = {r["id"] for r in index.get("runs", []) if isinstance(r, dict) and "id" in r}
    runs |= set(index.get("planned") or [])
    return {**analysis, "runs": runs or None}  # None: the index names no runs, so it covers all


def judge_starts(study: Study) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per setting, by the study's declared non_start, judged at the declared point as
    analysis.judge_starts judges it: the seeds whose run did not start, and, only for settings that
    have any, the seeds whose run has no value there. Both empty when none is declared."""
    rule = (study.declared or {}).get("non_start")
    if not rule:
        return {}, {}
    at, covered = study.declared["at"], study.declared["runs"]
    window = None if at == "final" else (int(at[0]), int(at[1]))

    def value(run: dict[str, str]) -> float | None:
        try:
            return run_value(study, run, rule["metric"], window)
        except ConfigError:  # no evaluation in the window, or no such column: says nothing
            return None

    skipped, unjudged = {}, {}
    for setting in study.settings():
        values = {
            int(run["seed"]): value(run)
            for run in study.group(setting)
            if covered is None or run["run"] in covered
        }
        skipped[setting] = [s for s, v in values.items() if did_not_start(v, rule)]
        if missing := [s for s, v in values.items() if v is None or not math.isfinite(v)]:
            unjudged[setting] = missing
    return skipped, unjudged


def parse_column(text: str) -> tuple[str, str]:
    """'modes:.1f' -> ('modes', '{:.1f}'); a bare name gets 3 significant digits."""
    name, _, form = text.partition(":")
    try:
        ("{:+" + (form or ".3g").lstrip("+") + "}").format(1.5)  # as the cells and paired cells use it
    except ValueError:
        raise ConfigError(
            f"column {text!r}: {form!r} is not a number format; write METRIC:FORMAT, e.g. modes:.1f"
        ) from None
    return name, "{:" + (form or ".3g") + "}"


def label(setting: str) -> str:
    """A setting's name in a table: its id without the 'variant=' of a lone variant."""
    return setting.removeprefix("variant=") if setting.count("=") == 1 else setting


def find_setting(study: Study, name: str) -> str:
    matches = [s for s in study.settings() if name in (s, label(s), study.label(s))]
    if len(matches) > 1:
        raise ConfigError(f"--baseline {name!r} names {len(matches)} settings: {', '.join(matches)}")
    if not matches:
        raise ConfigError(f"--baseline {name!r} names no setting; settings: {', '.join(study.settings())}")
    return matches[0]


def run_value(study: Study, run: dict[str, str], name: str, window: tuple[int, int] | None) -> float:
    """The run's final `name`, or its mean over its evaluations inside `window` (both ends in;
    an evaluation without the metric, NaN, is left out). An onset is the run's, censored as the
    analysis counts it (analysis.censored_onset)."""
    if name in ONSET_METRICS:
        onset = None if run.get(name, "") == "" else float(run[name])
        return censored_onset(name, onset, column_value(run, "step"), run.get("never_healthy") == "True")
    if window is None:
        return column_value(run, name)
    inside = [c for c in study.curves.get(run["run"], []) if window[0] <= int(c["step"]) <= window[1]]
    if not inside:
        raise ConfigError(f"{run['run']} has no evaluation between steps {window[0]:,} and {window[1]:,}")
    values = [v for v in (column_value(c, name) for c in inside) if math.isfinite(v)]
    return statistics.mean(values) if values else math.nan


def summary_table(
    study: Study,
    columns: list[tuple[str, str]],
    window: tuple[int, int] | None = None,
    baseline: str | None = None,
    sort_by: str | None = None,
    allow_cross_machine: bool = False,
) -> str:
    """Each setting over seeds, then each setting minus the baseline paired by seed, on one
    machine (runs.csv's machine_id, where recorded) unless `allow_cross_machine`."""
    settings = study.settings(sort_by)
    names = [n for n, _ in columns]
    if window is None:
        lines = ["Final evaluation (mean ± 95% t-interval over seeds):", ""]
    else:
        lines = [f"Mean over each run's evaluations from step {_span(window)}, then mean ± 95% t-interval "
                 "over seeds:", ""]  # fmt: skip
    lines += [
        "| setting | seeds | steps | " + " | ".join(names) + " | verdicts |",
        "|---" * (len(names) + 4) + "|",
    ]
    values, machines = {}, {}
    for setting in settings:
        group = study.group(setting)
        for run in group:
            values[(setting, int(run["seed"]))] = {n: run_value(study, run, n, window) for n in names}
            machines[(setting, int(run["seed"]))] = run.get("machine_id") or UNRECORDED
        seeds = [int(r["seed"]) for r in group]
        steps = ", ".join(sorted({r["step"] for r in group}, key=int))
        verdicts = ", ".join(sorted({r["verdict"] for r in group}))
        cells = [seed_cell([values[(setting, s)][n] for s in seeds], form) for n, form in columns]
        name = study.label(setting)
        lines.append(
            f"| {name} | {len(seeds)} ({_seeds(seeds)}) | {steps} | " + " | ".join(cells) + f" | {verdicts} |"
        )
    base = find_setting(study, baseline) if baseline else settings[0]
    lines += _paired_rows(study, settings, base, values, machines, columns, allow_cross_machine)
    return "\n".join(lines) + "\n"


def _paired_rows(
    study: Study, settings: list[str], base: str, values: dict, machines: dict,
    columns: list[tuple[str, str]], allow_cross_machine: bool,
) -> list[str]:  # fmt: skip
    """Each setting minus the baseline, paired by seed on one machine, a declared non-start left
    out (analysis.left_out), Holm over every cell of these rows (stats.paired, stats.holm,
    stats.is_established: the analysis's engine)."""
    rows, cells, (skipped, unjudged) = [], [], judge_starts(study)
    for setting in settings:
        if setting == base:
            continue
        mine = {s: m for (st, s), m in machines.items() if st == setting}
        seeds, refused = pair_seeds(
            {s: m for (st, s), m in machines.items() if st == base}, mine, allow_cross_machine
        )
        seeds = [s for s in seeds if s not in left_out(skipped, setting, base)]
        name = f"{study.label(setting)} - {study.label(base)}, paired"
        note = f" ({len(refused)} seeds ran on another machine than the baseline's)" * bool(refused)
        differences = [[values[(setting, s)][n] - values[(base, s)][n] for s in seeds] for n, _ in columns]
        tests = [paired(d) if len(seeds) >= 2 else None for d in differences]
        rows.append((name, note, seeds, differences, tests))
        cells += [t.p for t in tests if t is not None]
    adjusted = iter(holm(cells))
    lines = []
    for name, note, seeds, differences, tests in rows:
        if len(seeds) < 2:
            lines.append(
                f"| {name} | {len(seeds)} | | fewer than 2 seeds paired{note} |" + " |" * len(columns)
            )
            continue
        shown = [
            seed_cell(d, "{:+" + form[2:], paired=True, established=is_established(next(adjusted), t.n))
            for d, t, (_, form) in zip(differences, tests, columns, strict=True)
        ]
        lines.append(f"| {name}{note} | {len(seeds)} | | " + " | ".join(shown) + " | |")
    if cells:
        lines += ["", f"Paired rows: **bold** where the Holm-adjusted p over these {len(cells)} comparisons "
                  "is under 0.05 with >= 3 seeds; exploratory unless the study declared this point and "
                  "metric."]  # fmt: skip
    if skipped:
        rule, declared = study.declared["non_start"], bool(study.declared.get("before_runs"))
        lines += ["", left_out_note(rule, skipped, declared, "index.json", study.label, unjudged)]
    return lines


def redraw_plots(study: Study, folder: Path) -> list[Path]:
    """figures/metric-*.png from the curves (mean over seeds per step, ±1 std shaded, as the report draws
    them): for a study whose runs came from more than one sweep folder."""
    from modecollapse.experiments.plots import plot_metrics
    from modecollapse.experiments.results import RunResult

    results = []
    for run in study.runs:
        evals = [
            {
                k: (int(v) if k == "step" else float(v))
                for k, v in c.items()
                if k not in IDS and _is_number(v)
            }
            for c in study.curves.get(run["run"], [])
        ]
        results.append(RunResult(run["run"], run["setting"], int(run["seed"]), Path(folder), {}, evals))
    (Path(folder) / "figures").mkdir(exist_ok=True)
    return plot_metrics(results, Path(folder) / "figures")


IDS = ("run", "setting", "seed")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_window(text: str) -> tuple[int, int]:
    """'14000' (to the end) or '16000-20000' -> (first, last) steps."""
    first, _, last = text.replace(",", "").partition("-")
    try:
        return int(first), int(last) if last else 10**12
    except ValueError:
        raise ConfigError(f"--window takes steps like 14000 or 16000-20000, not {text!r}") from None


def column_value(row: dict[str, Any], name: str) -> float:
    """A runs.csv or curves.csv row's `name` as a number (NaN where empty)."""
    if name not in row:
        close = did_you_mean(name, row)
        hint = f"did you mean {close!r}? " if close else ""
        where = row.get("run", "this study")
        raise ConfigError(f"no column {name!r} in {where}; {hint}columns: {', '.join(row)}")
    return float(row[name]) if row[name] != "" else float("nan")


def _key_value(setting: str, key: str) -> str:
    for part in setting.split(","):
        name, _, value = part.partition("=")
        if name == key:
            return value
    raise ConfigError(f"setting {setting!r} has no key {key!r}")


def _span(window: tuple[int, int]) -> str:
    return f"{window[0]:,} to the end" if window[1] >= 10**12 else f"{window[0]:,} to {window[1]:,}"


def _seeds(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds))


def _rreplace(text: str, old: str, new: str) -> str:
    head, found, tail = text.rpartition(old)
    return head + new + tail if found else text
