"""`modecollapse atlas`: declared fix-vs-baseline studies (one sweep folder per testbed) gathered
into one results folder, with the fix x testbed matrix that diagnose's "try next" is built from.

    modecollapse atlas sweeps/fix-atlas-ring8 sweeps/fix-atlas-mnist --out results/fix-atlas

For each testbed it writes OUT/<testbed>/: the report's analysis.md/.csv, table.md, runs.csv,
curves.csv, records.jsonl and the sweep's index.json (what `sweep --restore` reads), the
baseline's and the best fix's sample grids (figures/; for translators also every setting's
translations of the same held-out inputs), and testbed.json (the dataset, the sweep's
description, each setting's overrides, machines, CPU-hours and, with a declared non_start, each
setting's runs that did not start). Across testbeds:
OUT/matrix.md and OUT/figures/matrix.png, each fix's declared primary effects (paired difference ±
95% t, Holm-established or not).
"""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from modecollapse.config import config_differences, config_from_toml
from modecollapse.experiments.analysis import AnalysisResult, Comparison
from modecollapse.experiments.analysis_page import write_analysis
from modecollapse.experiments.report import build_report
from modecollapse.files import atomic_write_json, atomic_write_text, read_toml
from modecollapse.sweepfolder import INDEX, SweepFolder, run_cost

COPIED = ("table.md", "runs.csv", "curves.csv", "records.jsonl")


def testbed_name(index: dict[str, Any]) -> str:
    """A testbed's short name: the sweep's name without its study prefix."""
    return index["name"].removeprefix("fix-atlas-")


def switch_text(overrides: dict[str, Any]) -> str:
    """A setting's overrides as a user types them: `key = value, ...`."""
    return ", ".join(f"{key} = {json.dumps(value)}" for key, value in overrides.items()) or "(the baseline)"


def _ran_with(sweep: SweepFolder, run: dict[str, Any], baselines: list[dict[str, Any]]) -> dict[str, Any]:
    """The keys a run's config sets apart from a baseline run's (of its seed if there is one;
    `name` aside): a setting the sweep file no longer lists, as it ran."""
    same_seed = [e for e in baselines if e["seed"] == run["seed"]] or baselines
    if not same_seed:
        return {}
    mine, theirs = (config_from_toml(sweep.folder_of(e).config.read_text()) for e in (run, same_seed[0]))
    return {key: value for key, (_, value) in config_differences(theirs, mine, ignore=("name",)).items()}


def _settings(sweep: SweepFolder, variants: dict[str, Any], baseline: str | None) -> dict[str, str]:
    """Each setting's overrides as switch_text, from the sweep file's variants, or, for a setting
    an amended file cut, from its runs' configs."""
    settings = {}
    entries = sweep.entries()
    baselines = [e for e in entries if e["setting_id"] == baseline]
    for run in entries:
        variant = run["setting"].get("variant")
        if variant and variant not in variants:  # cut by an amended sweep file: as the run ran
            overrides = _ran_with(sweep, run, baselines)
        else:
            overrides = dict(variants.get(variant, {})) if variant else {}
        overrides.update({k: v for k, v in run["setting"].items() if k != "variant"})
        settings[run["setting_id"]] = switch_text(overrides)
    return settings


def gather(sweep_dir: Path, out: Path, allow_cross_machine: bool = False) -> tuple[str, AnalysisResult]:
    """One testbed's folder under `out` (see the module docstring); its name and analysis."""
    sweep = SweepFolder(sweep_dir)
    index = sweep.read_index()
    name = testbed_name(index)
    target = out / name
    target.mkdir(parents=True, exist_ok=True)
    built = build_report(sweep.path, allow_cross_machine)
    results, result = built.results, built.analysis
    assert result is not None  # a sweep folder's report always analyses it
    write_analysis(result, target, index["name"])
    for file in COPIED:
        shutil.copyfile(sweep.report / file, target / file)
    shutil.copyfile(sweep.index, target / INDEX)  # with records.jsonl: what `sweep --restore` reads
    source = read_toml(sweep.sweep_file)
    baseline = (index.get("analysis") or {}).get("baseline")
    settings = _settings(sweep, source.get("variants", {}), baseline)
    best = _best_fix(result)
    grids = {}
    for role, setting in (("baseline", baseline), ("best fix", best)):
        grid = sweep.report / f"samples-{setting}.png"
        if setting and grid.is_file():
            (target / "figures").mkdir(exist_ok=True)
            shutil.copyfile(grid, target / "figures" / f"samples-{setting}.png")
            grids[role] = f"figures/samples-{setting}.png"
    if (sweep.report / "translations.png").is_file():  # a translator testbed: every setting's translations
        (target / "figures").mkdir(exist_ok=True)
        shutil.copyfile(sweep.report / "translations.png", target / "figures" / "translations.png")
        grids["translations"] = "figures/translations.png"
    completed = [r for r in results if r.state == "completed"]
    atomic_write_json(
        target / "testbed.json",
        {
            "testbed": name,
            "sweep": index["name"],
            "description": source.get("description", ""),
            "data": _dataset(completed),
            "baseline": baseline,
            "settings": settings,
            "analysis": index.get("analysis"),
            "machines": result.machines,
            "runs_completed": len(completed),
            "runs": len(results),
            "runs_planned": len(index.get("planned") or results),
            "runs_to_finish": result.unfinished,
            "runs_closed": len(result.closed),
            "non_starts": {s: {"seeds": ids, "runs": n} for s, (ids, n) in result.non_starts.items()},
            **_cpu_hours(completed),
            "evaluation_share": _evaluation_share(completed),
            "grids": grids,
        },
    )
    return name, result


def _dataset(runs: list[Any]) -> str | None:
    """The testbed's dataset, from its runs' summaries (a run restored from older records may
    lack it)."""
    return next(
        (r.summary["dataset"]["name"] for r in runs if (r.summary.get("dataset") or {}).get("name")), None
    )


def _cpu_hours(runs: list[Any]) -> dict[str, Any]:
    """The runs' cost: each run's process CPU time (`cpu_s`, every session) where recorded, else
    its wall time over every session (`time_s`), else its last session's wall time; and how many
    runs each basis covers."""
    total, counted = 0.0, Counter()
    for run in runs:
        seconds, basis = run_cost(run.summary)
        total, counted[basis] = total + (seconds or 0.0), counted[basis] + 1
    return {"cpu_hours": round(total / 3600, 2), "cpu_hours_from": dict(counted)}


def _evaluation_share(runs: list[Any]) -> dict[str, Any] | None:
    """The share of each run's time spent evaluating, median and largest over the runs: of its
    CPU time where recorded (a pause or a busy core does not move it), else of its wall time."""
    shares, counted = [], {"cpu_shares": 0, "time_shares": 0}
    for run in runs:
        basis = "cpu_shares" if run.summary.get("cpu_shares") else "time_shares"
        if run.summary.get(basis):
            shares.append(run.summary[basis]["evaluation"])
            counted[basis] += 1
    if not shares:
        return None
    shares.sort()
    return {"median": shares[len(shares) // 2], "max": shares[-1], "from": counted}


def _best_fix(result: AnalysisResult) -> str | None:
    """The setting with the most established primary improvements (ties: the larger sum of its
    primaries' standardised changes, change / half-width, signed so that better is positive)."""
    scores: dict[str, tuple[int, float]] = {}
    for c in result.comparisons:
        if not c.primary:
            continue
        good = c.established and c.improved
        sign = 1 if c.better == "higher" else -1
        size = sign * c.change / c.half_width if c.half_width and math.isfinite(c.half_width) else 0.0
        count, total = scores.get(c.setting, (0, 0.0))
        scores[c.setting] = (count + good, total + size)
    return max(scores, key=lambda s: scores[s]) if scores else None


def _cell(c: Comparison | None, result: AnalysisResult, fix: str) -> str:
    """The paired change and its mark; with a declared non_start, how many of the fix's runs did not
    start (left out of the pairs, so the change speaks of the runs that did)."""
    if c is None:
        unpaired = _none_paired(result, fix)
        return f"none paired ({len(unpaired[0])} of {unpaired[1]} did not start)" if unpaired else "-"
    mark = (" **better**" if c.improved else " **worse**") if c.established else ""
    failed, runs = result.non_starts.get(c.setting, ([], 0))
    note = f" ({len(failed)} of {runs} did not start)" if failed else ""
    if len(c.seeds) < 2 or not math.isfinite(c.half_width):  # no interval yet
        seeds = f"{len(c.seeds)} seed" + ("s" if len(c.seeds) != 1 else "")
        return f"{c.change:+.3g} ({seeds}, no interval){note}"
    return f"{c.change:+.3g} ± {c.half_width:.2g}{mark}{note}"


def _none_paired(result: AnalysisResult, fix: str) -> tuple[list[int], int] | None:
    """(seeds that did not start, runs) of a fix some of whose runs did not start, else None."""
    failed, runs = next((v for s, v in result.non_starts.items() if _fix(s) == fix), ([], 0))
    return (failed, runs) if failed else None


def write_matrix(results: dict[str, AnalysisResult], out: Path) -> list[Path]:
    """matrix.md and figures/matrix.png: fixes (rows) x each testbed's primary metrics (columns)."""
    columns = [
        (name, metric)
        for name, r in results.items()
        if r.declared
        for metric in (r.analysis or {}).get("primary", {})
    ]
    fixes = list(dict.fromkeys(_fix(c.setting) for r in results.values() for c in r.comparisons if c.primary))
    fixes = list(dict.fromkeys([*fixes, *[  # a fix none of whose runs started has no comparison
        _fix(s) for r in results.values() if r.declared for s, (failed, _) in r.non_starts.items()
        if failed and s != r.analysis["baseline"]
    ]]))  # fmt: skip
    cells: dict[tuple[str, str, str], Comparison] = {
        (name, _fix(c.setting), c.metric): c
        for name, r in results.items()
        for c in r.comparisons
        if c.primary
    }
    header = ["fix", *[f"{name}: {metric}{_provisional(results[name])}" for name, metric in columns]]
    lines = [
        "Each fix minus the baseline on the same seeds and machine, at each testbed's declared point:",
        "mean ± half-width of the 95% t-interval; **better** / **worse**: established after Holm's",
        "correction across that testbed's (fix x primary) family; '-': not run on that testbed; 'none",
        "paired': no seed left to pair once the runs that did not start (a declared non-start) are put",
        "aside.",
    ]
    if any(results[name].provisional for name, _ in columns):
        lines.append("A provisional testbed has runs still to finish: its marks may change when they do.")
    lines.append("")
    for name, r in results.items():
        if not r.declared:
            lines += [f"Not in the matrix: {name} ({r.why_exploratory or 'no [analysis] declared'}).", ""]
    figure = out / "figures" / "matrix.png"
    if not columns or not fixes:
        figure.unlink(missing_ok=True)  # an earlier atlas's figure would contradict this page
        if columns:
            empty = ["No fix has a paired value at its testbed's declared point yet."]
            empty += _baseline_non_starts(results)
        else:
            empty = ["No testbed declares an analysis."]
        atomic_write_text(out / "matrix.md", "\n".join([*lines, *empty]) + "\n")
        return [out / "matrix.md"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for fix in fixes:
        row = [_cell(cells.get((n, fix, m)), results[n], fix) for n, m in columns]
        lines.append("| " + " | ".join([fix, *row]) + " |")
    lines += _baseline_non_starts(results)
    atomic_write_text(out / "matrix.md", "\n".join(lines) + "\n")
    (out / "figures").mkdir(parents=True, exist_ok=True)
    labels = heatmap_labels(fixes, columns, cells, results)
    return [out / "matrix.md", _heatmap(fixes, columns, cells, labels, figure)]


def heatmap_labels(
    fixes: list[str],
    columns: list[tuple[str, str]],
    cells: dict[tuple[str, str, str], Comparison],
    results: dict[str, AnalysisResult],
) -> dict[tuple[int, int], tuple[str, bool]]:
    """Each heatmap cell's text and whether it is established: the change (* established), or
    "none paired" where no pair is left once the fix's runs that did not start are put aside."""
    labels = {}
    for i, fix in enumerate(fixes):
        for j, (name, metric) in enumerate(columns):
            c = cells.get((name, fix, metric))
            if c is not None:
                labels[i, j] = (f"{c.change:+.2g}" + ("*" if c.established else ""), c.established)
            elif _none_paired(results[name], fix):
                labels[i, j] = ("none\npaired", False)
    return labels


def _baseline_non_starts(results: dict[str, AnalysisResult]) -> list[str]:
    notes = []
    for name, r in results.items():
        if not r.declared:
            continue
        baseline = (r.analysis or {}).get("baseline")
        failed, runs = r.non_starts.get(baseline, ([], 0))
        if failed:
            notes.append(f"{name}: the baseline did not start in {len(failed)} of {runs} runs (seeds "
                         f"{', '.join(map(str, failed))}), left out of every fix's pairs.")  # fmt: skip
    return ["", *notes] if notes else []


def _provisional(result: AnalysisResult) -> str:
    left = result.unfinished
    return f" (provisional: {left} run{'s' * (left != 1)} to finish)" if result.provisional else ""


def _fix(setting: str) -> str:
    return setting.removeprefix("variant=")


def _heatmap(
    fixes: list[str],
    columns: list[tuple[str, str]],
    cells: dict[tuple[str, str, str], Comparison],
    labels: dict[tuple[int, int], tuple[str, bool]],
    path: Path,
) -> Path:
    """Colour: the paired change in units of its 95% half-width, signed so that better is blue
    (clipped at ±3); established cells are labelled with the change, the others greyed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.full((len(fixes), len(columns)), np.nan)
    for i, fix in enumerate(fixes):
        for j, (name, metric) in enumerate(columns):
            c = cells.get((name, fix, metric))
            if c is not None and c.half_width and math.isfinite(c.half_width):
                sign = 1 if c.better == "higher" else -1
                values[i, j] = np.clip(sign * c.change / c.half_width, -3, 3)
    fig, ax = plt.subplots(figsize=(1.4 * len(columns) + 3, 0.35 * len(fixes) + 1.5), dpi=110)
    image = ax.imshow(values, cmap="RdBu", vmin=-3, vmax=3, aspect="auto")
    for (i, j), (text, established) in labels.items():
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color="black" if established else "0.45")
    ax.set_xticks(range(len(columns)), [f"{n}\n{m}" for n, m in columns], fontsize=7)
    ax.set_yticks(range(len(fixes)), fixes, fontsize=7)
    ax.set_title(
        "fix - baseline (* established, Holm); colour: change / 95% half-width, blue = better", fontsize=8
    )
    fig.colorbar(image, ax=ax, shrink=0.6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def build_atlas(sweep_dirs: list[Path], out: Path, allow_cross_machine: bool = False) -> list[Path]:
    """Every testbed's folder, then the matrix; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    results = dict(gather(Path(d), out, allow_cross_machine) for d in sweep_dirs)
    return write_matrix(results, out)
