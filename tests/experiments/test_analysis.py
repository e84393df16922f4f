"""The declared [analysis]: validation, the declaration record, and the paired Holm comparisons."""

import csv
import json
import math
from pathlib import Path

import pytest
from scipy import stats

from modecollapse.errors import ConfigError
from modecollapse.experiments.analysis import analyse, value_at
from modecollapse.experiments.analysis_page import render_markdown
from modecollapse.experiments.executors import execute
from modecollapse.experiments.report import build_report
from modecollapse.experiments.results import RunResult
from modecollapse.experiments.stats import holm
from modecollapse.experiments.sweep import load_sweep, write_index
from modecollapse.sweepfolder import SweepFolder
from tests.helpers import ANALYSIS, SWEEP, write


def test_holm_matches_the_step_down_rule():
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    assert holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])
    assert holm([0.5, math.nan]) == pytest.approx([0.5, math.nan], nan_ok=True)
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    "block, message",
    [
        (ANALYSIS.replace('modes = "higher"', 'modez = "higher"'), "primary metric 'modez'"),
        (ANALYSIS.replace('modes = "higher"', 'modes = "lower"'), "'modes' is better higher, not lower"),
        (
            ANALYSIS.replace('"pack=1"', '"pack=3"'),
            "baseline 'pack=3' names no single setting; settings: pack=1, pack=2",
        ),
        (ANALYSIS.replace('at = "final"', "at = [500, 100]"), "must run from a first step to a later one"),
        (ANALYSIS + "alpah = 0.1\n", "alpah"),
    ],
)
def test_a_bad_analysis_block_is_named(tmp_path, block, message):
    with pytest.raises(ConfigError, match=message):
        load_sweep(write(tmp_path, SWEEP + block))


def test_the_declaration_is_recorded_once_and_a_later_change_kept_apart(tmp_path):
    sweep = load_sweep(write(tmp_path, SWEEP + ANALYSIS))
    folder = tmp_path / "sweep"
    write_index(sweep, folder)
    declared = SweepFolder(folder).read_index()["analysis"]
    assert declared["before_runs"] is True and declared["baseline"] == "pack=1"
    changed = load_sweep(
        write(
            tmp_path,
            SWEEP
            + ANALYSIS.replace("high_quality", "reverse_kl").replace(
                'reverse_kl = "higher"', 'reverse_kl = "lower"'
            ),
        )
    )
    write_index(changed, folder)
    index = SweepFolder(folder).read_index()
    assert index["analysis"] == declared
    assert index["analysis_amended"]["primary"] == {"modes": "higher", "reverse_kl": "lower"}


@pytest.mark.slow
def test_an_analysis_added_after_the_runs_started_is_exploratory(tmp_path):
    folder = tmp_path / "sweep"
    execute(load_sweep(write(tmp_path, SWEEP.replace("seeds = [0, 1]", "seeds = [0]"))), folder, workers=1)
    write_index(
        load_sweep(write(tmp_path, SWEEP.replace("seeds = [0, 1]", "seeds = [0]") + ANALYSIS)), folder
    )
    assert SweepFolder(folder).read_index()["analysis"]["before_runs"] is False
    build_report(folder)
    text = (folder / "report" / "analysis.md").read_text()
    assert "**Not declared**: the [analysis] was first recorded after runs had started" in text
    assert "## Declared comparisons\n\nNone." in text


def fake_run(setting, seed, modes, machine="cpu A", quality=0.5):
    evals = [
        {"step": 100, "modes": modes - 1, "high_quality": quality},
        {"step": 200, "modes": modes, "high_quality": quality},
    ]
    status = {"status": "completed", "machine": {"id": machine}}
    return RunResult(f"{setting}__seed{seed}", setting, seed, None, status, evals)


INDEX = {
    "name": "synthetic",
    "analysis": {"baseline": "base", "primary": {"modes": "higher", "high_quality": "higher"}, "at": "final",
                 "alpha": 0.05, "before_runs": True, "declared_at": "2026-12-02T00:00:00+00:00"},
}  # fmt: skip


def test_a_clear_paired_gain_is_established_and_noise_is_not():
    base = [fake_run("base", s, m) for s, m in enumerate([1, 2, 1, 3, 2])]
    fix = [fake_run("fix", s, m) for s, m in enumerate([6, 7, 7, 8, 6])]
    noise = [fake_run("noise", s, m) for s, m in enumerate([2, 1, 3, 1, 3])]
    result = analyse(base + fix + noise, INDEX)
    by = {(c.setting, c.metric): c for c in result.comparisons}
    gain = by["fix", "modes"]
    differences = [5, 5, 6, 5, 4]
    assert gain.change == pytest.approx(5.0) and gain.seeds == [0, 1, 2, 3, 4]
    assert gain.p == pytest.approx(stats.ttest_1samp(differences, 0).pvalue)
    assert gain.established and gain.verdict == "better (established)"
    assert not by["noise", "modes"].established and by["noise", "modes"].verdict == "not established"
    # equal quality everywhere: a zero difference, p = 1, in the family but never established
    assert by["fix", "high_quality"].p == 1.0 and not by["fix", "high_quality"].established
    family = [c for c in result.comparisons if c.primary]
    assert len(family) == 4
    assert gain.holm_p == pytest.approx(min(1.0, 4 * gain.p))


def test_two_seeds_establish_nothing_however_large_the_gain():
    base = [fake_run("base", s, m) for s, m in enumerate([1, 2])]
    fix = [fake_run("fix", s, m) for s, m in enumerate([7, 8.001])]  # p of a t-test: ~1e-4
    gain = {(c.setting, c.metric): c for c in analyse(base + fix, INDEX).comparisons}["fix", "modes"]
    assert gain.holm_p < 0.05 and not gain.established


def test_runs_from_another_machine_are_not_paired_unless_asked():
    base = [fake_run("base", s, 1) for s in range(3)]
    fix = [fake_run("fix", s, 5, machine="cpu B" if s == 2 else "cpu A") for s in range(3)]
    result = analyse(base + fix, INDEX)
    modes = next(c for c in result.comparisons if c.metric == "modes")
    assert modes.seeds == [0, 1]
    assert result.refused == ["fix seed 2: ran on cpu B, the baseline on cpu A"]
    assert "Refused pairs" in render_markdown(result, "synthetic")
    allowed = analyse(base + fix, INDEX, allow_cross_machine=True)
    assert next(c for c in allowed.comparisons if c.metric == "modes").seeds == [0, 1, 2]


def test_a_window_averages_the_evaluations_inside_it():
    run = fake_run("base", 0, 4)
    assert value_at(run, "modes", "final") == 4
    assert value_at(run, "modes", [100, 200]) == 3.5
    assert value_at(run, "modes", [150, 300]) == 4
    assert value_at(run, "modes", [300, 400]) is None


@pytest.mark.slow
def test_report_writes_the_declared_analysis(tmp_path):
    folder = tmp_path / "sweep"
    execute(load_sweep(write(tmp_path, SWEEP + ANALYSIS)), folder, workers=1)
    build_report(folder)
    text = (folder / "report" / "analysis.md").read_text()
    assert "- Baseline: `pack=1`" in text and "before the first run started" in text
    rows = (folder / "report" / "analysis.csv").read_text().splitlines()
    primary = [r for r in rows[1:] if r.split(",")[4] == "True"]
    assert sorted(r.split(",")[1] for r in primary) == ["high_quality", "modes"]
    runs = (folder / "report" / "runs.csv").read_text().splitlines()
    assert (
        "machine_id" in runs[0]
        and json.loads((folder / "runs" / "pack=1__seed0" / "summary.json").read_text())["machine"]["id"]
        in runs[1]
    )


@pytest.mark.slow
def test_the_atlas_gathers_a_declared_sweep_into_a_testbed_folder_and_matrix(tmp_path):
    from modecollapse.experiments.atlas import build_atlas
    from modecollapse.experiments.suggestions import build

    folder = tmp_path / "sweeps" / "fix-atlas-mini"
    sweep = load_sweep(write(tmp_path, SWEEP.replace('"mini"', '"fix-atlas-mini"') + ANALYSIS))
    execute(sweep, folder, workers=1)
    out = tmp_path / "results" / "fix-atlas"
    written = build_atlas([folder], out)
    matrix = out / "figures" / "matrix.png"
    assert written == [out / "matrix.md", matrix] and matrix.stat().st_size > 1000
    testbed = json.loads((out / "mini" / "testbed.json").read_text())
    assert testbed["testbed"] == "mini" and testbed["data"] == "ring8" and testbed["runs_completed"] == 4
    assert testbed["cpu_hours_from"] == {"cpu_s": 4} and testbed["cpu_hours"] >= 0
    assert testbed["settings"] == {"pack=1": "model.pack = 1", "pack=2": "model.pack = 2"}
    for name in ("analysis.md", "analysis.csv", "runs.csv", "curves.csv", "table.md"):
        assert (out / "mini" / name).is_file(), name
    matrix = (out / "matrix.md").read_text()
    assert "| fix | mini: high_quality | mini: modes |" in matrix and "| pack=2 |" in matrix
    assert testbed["runs_planned"] == 4 and testbed["runs_to_finish"] == 0
    # two seeds establish nothing: the fix enters the table as measured, with nothing improved
    (entry,) = build(tmp_path / "results")
    assert entry["fix"] == "pack=2" and not any(m["improved"] for m in entry["metrics"].values())


@pytest.mark.slow
def test_a_setting_cut_by_an_amended_sweep_file_keeps_its_overrides_in_the_atlas(tmp_path):
    from modecollapse.experiments.atlas import build_atlas

    variants = '\n[variants.baseline]\n[variants.packed]\n"model.pack" = 2\n"train.batch_size" = 64\n'
    whole = SWEEP.replace('"mini"', '"fix-atlas-mini"').split("[grid]")[0] + variants
    folder, analysis = tmp_path / "sweeps" / "fix-atlas-mini", ANALYSIS.replace("pack=1", "variant=baseline")
    execute(load_sweep(write(tmp_path, whole + analysis)), folder, workers=1)
    amended = whole.replace('[variants.packed]\n"model.pack" = 2\n"train.batch_size" = 64\n', "")
    execute(load_sweep(write(tmp_path, amended + analysis)), folder, workers=1)  # runs nothing
    build_atlas([folder], tmp_path / "atlas")
    settings = json.loads((tmp_path / "atlas" / "mini" / "testbed.json").read_text())["settings"]
    packed = "model.pack = 2, train.batch_size = 64"  # read from its config: the file lists it no more
    assert settings == {"variant=baseline": "(the baseline)", "variant=packed": packed}


def falling_run(setting, seed, fall_at):
    """A run of 10 evaluations, healthy (10 modes, KL 0) until step `fall_at` (None: never), then
    fallen (5 modes, KL 0.7)."""
    healthy = {"modes": 10, "num_classes": 10, "num_samples": 2000, "kl_uniform": 0.0}
    fallen = {"modes": 5, "num_classes": 10, "num_samples": 2000, "kl_uniform": 0.7}
    evals = [
        {"step": s, "epoch": s, **(fallen if fall_at and s >= fall_at else healthy)} for s in range(1, 11)
    ]
    status = {"status": "completed", "machine": {"id": "A"}}
    return RunResult(f"{setting}{seed}", setting, seed, Path("/nonexistent"), status, evals)


def test_an_onset_is_compared_as_a_metric_and_a_run_without_one_counts_at_its_last_step():
    index = {"analysis": {**INDEX["analysis"], "primary": {"relative_onset_step": "higher"}}}
    base = [falling_run("base", s, f) for s, f in enumerate([3, 4, 3])]
    later = [falling_run("later", s, f) for s, f in enumerate([7, None, 8])]
    result = analyse(base + later, index)
    (onset,) = [c for c in result.comparisons if c.metric == "relative_onset_step"]
    assert onset.baseline_mean == pytest.approx(10 / 3) and onset.setting_mean == pytest.approx(25 / 3)
    assert result.censored == {"relative_onset_step": 1}
    assert "1 of 6 completed runs have none" in render_markdown(result, "onsets")


def test_a_constant_difference_gets_the_sign_flip_p_not_zero():
    base = [fake_run("base", s, 7) for s in range(2)]
    fix = [fake_run("fix", s, 8) for s in range(2)]
    modes = next(c for c in analyse(base + fix, INDEX).comparisons if c.metric == "modes")
    assert modes.p == 0.5 and not modes.established  # 2 of 2^2 sign patterns are as extreme
    base = [fake_run("base", s, 7) for s in range(6)]
    fix = [fake_run("fix", s, 8) for s in range(6)]
    modes = next(c for c in analyse(base + fix, INDEX).comparisons if c.metric == "modes")
    assert modes.p == pytest.approx(2 / 64)


def test_a_never_healthy_run_counts_at_step_zero_for_the_absolute_onset_only():
    never = {"modes": 1, "num_classes": 10, "num_samples": 2000, "kl_uniform": 2.0}
    healthy = {"modes": 10, "num_classes": 10, "num_samples": 2000, "kl_uniform": 0.0}

    def run(setting, seed, scores):
        evals = [{"step": s, "epoch": s, **scores} for s in range(1, 6)]
        status = {"status": "completed", "machine": {"id": "A"}}
        return RunResult(f"{setting}{seed}", setting, seed, Path("/nonexistent"), status, evals)

    index = {"analysis": {**INDEX["analysis"], "primary": {"collapse_onset_step": "higher"}}}
    runs = [run("base", s, healthy) for s in range(3)] + [run("fix", s, never) for s in range(3)]
    result = analyse(runs, index)
    onset = next(c for c in result.comparisons if c.metric == "collapse_onset_step")
    assert onset.baseline_mean == 5 and onset.setting_mean == 0  # censored at 5 vs collapsed from the start
    assert result.censored == {"collapse_onset_step": 3} and result.never_healthy == 3
    # the relative onset needs no healthy evaluation: a run that never falls from its best is censored
    index = {"analysis": {**INDEX["analysis"], "primary": {"relative_onset_step": "higher"}}}
    result = analyse(runs, index)
    onset = next(c for c in result.comparisons if c.metric == "relative_onset_step")
    assert onset.baseline_mean == 5 and onset.setting_mean == 5
    assert result.censored == {"relative_onset_step": 6} and result.never_healthy == 0
    assert "never healthy" not in render_markdown(result, "onsets")


def test_runs_resumed_on_another_machine_pair_with_none():
    base = [fake_run("base", s, 1) for s in range(3)]
    fix = [fake_run("fix", s, 5) for s in range(3)]
    fix[0].summary["machines"] = [{"id": "cpu A"}, {"id": "cpu B"}]
    result = analyse(base + fix, INDEX)
    assert result.refused == ["fix seed 0: ran on cpu A + cpu B, the baseline on cpu A"]


def test_runs_csv_names_every_machine_a_resumed_run_trained_on(tmp_path):
    from modecollapse.experiments.report import write_runs

    runs = [fake_run("base", 0, 1), fake_run("fix", 0, 5)]
    runs[1].summary["machines"] = [{"id": "cpu A"}, {"id": "cpu B"}]
    for r in runs:
        r.evals = [{**e, "epoch": e["step"] / 100} for e in r.evals]
    rows = list(csv.DictReader(write_runs(runs, tmp_path).open()))
    assert [r["machine_id"] for r in rows] == ["cpu A", "cpu A + cpu B"]


def test_an_analysis_added_after_a_selection_ran_is_not_declared(tmp_path):
    from modecollapse.experiments.sweep import select

    folder = tmp_path / "sweep"
    execute(select(load_sweep(write(tmp_path)), ["pack=1"], [0]), folder, workers=1)
    write_index(select(load_sweep(write(tmp_path, SWEEP + ANALYSIS)), ["pack=2"], [0]), folder)
    assert SweepFolder(folder).read_index()["analysis"]["before_runs"] is False


def test_the_atlas_counts_cpu_time_where_recorded_else_wall_time_over_every_session():
    from types import SimpleNamespace

    from modecollapse.experiments.atlas import _cpu_hours

    runs = [
        SimpleNamespace(summary={"cpu_s": 1800.0, "time_s": {"training": 9000.0}, "wall_time_s": 9000.0}),
        SimpleNamespace(summary={"time_s": {"training": 1000.0, "evaluation": 800.0}, "wall_time_s": 900.0}),
        SimpleNamespace(summary={"wall_time_s": 3600.0}),  # restored from CSV records
    ]
    counted = _cpu_hours(runs)
    assert counted == {"cpu_hours": 2.0, "cpu_hours_from": {"cpu_s": 1, "time_s": 1, "wall_time_s": 1}}


def test_the_atlas_evaluation_share_prefers_cpu_time_where_recorded():
    from types import SimpleNamespace

    from modecollapse.experiments.atlas import _evaluation_share

    paused = {"time_shares": {"evaluation": 0.5}, "cpu_shares": {"evaluation": 0.05}}
    older = {"time_shares": {"evaluation": 0.08}}
    share = _evaluation_share([SimpleNamespace(summary=paused), SimpleNamespace(summary=older)])
    assert share == {"median": 0.08, "max": 0.08, "from": {"cpu_shares": 1, "time_shares": 1}}


def test_an_analysis_with_runs_still_to_finish_says_it_is_provisional():
    base = [fake_run("base", s, m) for s, m in enumerate([1, 2, 1])]
    fix = [fake_run("fix", s, m) for s, m in enumerate([6, 7, 7])]
    assert "Provisional" not in render_markdown(analyse(base + fix, INDEX), "done")
    waiting = fake_run("other", 0, 5)
    waiting.summary["status"] = "running"
    result = analyse([*base, *fix, waiting], INDEX)
    assert (
        result.unfinished == 1
        and "**Provisional**: runs of the sweep still to finish: 1." in render_markdown(result, "part")
    )
    failed = fake_run("other", 1, 5)
    failed.summary["status"] = "failed"  # the sweep retries it when run again
    assert analyse([*base, *fix, failed], INDEX).unfinished == 1


def test_a_diverged_run_and_non_finite_window_values_are_named_not_dropped_silently():
    base = [fake_run("base", s, m) for s, m in enumerate([1, 2, 1])]
    fix = [fake_run("fix", s, m) for s, m in enumerate([6, 7, 7])]
    fix[2].summary["status"] = "diverged"  # its seed cannot pair: the page must say why
    base[1].evals[-1]["high_quality"] = float("nan")  # left out of the run's value at the point
    window = {**INDEX, "analysis": {**INDEX["analysis"], "at": [100, 200]}}
    result = analyse(base + fix, window)
    assert result.diverged == {"fix": [2]} and result.unfinished == 0
    assert result.non_finite == {"high_quality": ["base seed 1 (1 of 2 evaluations)"]}
    page = render_markdown(result, "synthetic")
    assert "- Diverged (a NaN or infinite loss stopped the run; its seed is in no pair): fix: seed 2" in page
    said = "no value there, and its seed is in no pair for this metric): high_quality: base seed 1"
    assert said in page
    assert next(c for c in result.comparisons if c.metric == "modes").seeds == [0, 1]


def test_holms_family_is_every_declared_fix_even_one_without_a_testable_pair():
    base = [fake_run("base", s, m) for s, m in enumerate([1, 2, 1, 3, 2])]
    fix = [fake_run("fix", s, m) for s, m in enumerate([6, 7, 7, 8, 6])]
    lonely = [fake_run("lonely", 0, 4)]  # one pair: no p, yet one of the declared comparisons
    assert analyse(base + fix, {**INDEX, "planned": ["unrun__seed0"]}).family_size == 4  # planned, unrun
    result = analyse(base + fix + lonely, INDEX)
    gain = next(c for c in result.comparisons if (c.setting, c.metric) == ("fix", "modes"))
    assert result.family_size == 4  # 2 fixes x 2 primaries, as declared
    assert gain.holm_p == pytest.approx(min(1.0, 4 * gain.p))  # not 2 x: the family did not shrink
    assert holm([0.01, math.nan], family=3) == pytest.approx([0.03, math.nan], nan_ok=True)
    said = "primary metric (4 comparisons; 2 without a p value, for want of pairs, each count as p = 1)"
    assert said in render_markdown(result, "synthetic")
    full = render_markdown(analyse(base + fix, INDEX), "synthetic")
    assert "(2 comparisons), Holm's correction" in full


def test_an_analysis_runs_the_detector_once_per_run(monkeypatch):
    from modecollapse.experiments import results

    calls = []

    def counting(evals, rules):
        calls.append(len(evals))
        return {"collapse_onset_step": None, "never_healthy": False}

    monkeypatch.setattr(results, "detect", counting)
    runs = [fake_run(setting, s, 2) for setting in ("base", "fix") for s in range(3)]
    for r in runs:
        r.evals = [{**e, "epoch": e["step"] / 100} for e in r.evals]
    index = {**INDEX, "analysis": {**INDEX["analysis"], "primary": {"collapse_onset_step": "higher"}}}
    result = analyse(runs, index)
    assert len(calls) == len(runs)
    assert result.censored == {"collapse_onset_step": 6} and result.never_healthy == 0


def test_the_reports_comparisons_use_the_analysis_engine_paired_and_holm(tmp_path):
    from modecollapse.experiments.report import aggregate, write_comparisons

    base = [fake_run("base", s, m) for s, m in enumerate([1, 2, 1, 3, 2])]
    fix = [fake_run("fix", s, m) for s, m in enumerate([6, 7, 7, 8, 6])]
    # every seed 0.4 above its own baseline: unpaired intervals overlap, the paired test does not
    shifted = [fake_run("shifted", s, m + 0.4 + 0.01 * s) for s, m in enumerate([1, 2, 1, 3, 2])]
    other = [fake_run("other", s, 5, machine="cpu B") for s in range(5)]  # pairs with nothing
    results = base + fix + shifted + other
    text = write_comparisons(aggregate(results), results, tmp_path).read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert "| higher (+5 ± 0.88, 5 seeds) |" in rows["fix"]
    assert "higher (+0.42 ±" in rows["shifted"]
    assert rows["other"].count("| -") >= 1 and "higher" not in rows["other"]
    assert "Holm-adjusted p" in text


def test_table_report_and_analysis_give_the_same_runs_the_same_verdicts(tmp_path):
    from modecollapse.experiments import table as tables
    from modecollapse.experiments.report import aggregate, write_comparisons, write_curves, write_runs

    def run(setting, seed, modes, machine="cpu A"):
        evals = [{"step": 100, "modes": modes - 1}, {"step": 200, "modes": modes}]
        status = {"status": "completed", "machine": {"id": machine}}
        return RunResult(f"{setting}__seed{seed}", setting, seed, None, status, evals)

    base = [1, 2, 1, 3, 2]
    results = [run("base", s, m) for s, m in enumerate(base)]
    results += [run("fix", s, m) for s, m in enumerate([6, 7, 7, 8, 6])]
    results += [run("noise", s, m) for s, m in enumerate([2, 1, 3, 1, 3])]
    # +0.4 on every seed but one that ran elsewhere: 4 pairs, established by all three
    results += [
        run("shifted", s, m + 0.4 + 0.01 * s, "cpu B" if s == 4 else "cpu A") for s, m in enumerate(base)
    ]
    index = {"analysis": {**INDEX["analysis"], "primary": {"modes": "higher"}}}
    verdicts = {c.setting: (c.established, len(c.seeds)) for c in analyse(results, index).comparisons}
    assert verdicts == {"fix": (True, 5), "noise": (False, 5), "shifted": (True, 4)}

    write_runs(results, tmp_path), write_curves(results, tmp_path)
    table = tables.summary_table(tables.read_study(tmp_path), [("modes", "{:.2f}")], baseline="base")
    page = write_comparisons(aggregate(results), results, tmp_path).read_text()
    for setting, (established, seeds) in verdicts.items():
        (row,) = [line for line in table.splitlines() if line.startswith(f"| {setting} - base, paired")]
        assert ("**" in row) == established and f" | {seeds} | " in row
        (cell,) = [line for line in page.splitlines() if line.startswith(f"| {setting} |")]
        assert ("higher (" in cell) == established and f"{seeds} seeds" in cell


def test_table_and_analysis_count_a_censored_onset_at_the_runs_last_step(tmp_path):
    from modecollapse.experiments import table as tables
    from modecollapse.experiments.report import write_curves, write_runs

    results = [falling_run("base", s, f) for s, f in enumerate([3, 4, 3])]
    results += [falling_run("later", s, f) for s, f in enumerate([7, None, 8])]
    index = {"analysis": {**INDEX["analysis"], "primary": {"relative_onset_step": "higher"}}}
    (onset,) = [c for c in analyse(results, index).comparisons if c.metric == "relative_onset_step"]
    write_runs(results, tmp_path), write_curves(results, tmp_path)
    table = tables.summary_table(
        tables.read_study(tmp_path), [("relative_onset_step", "{:.3f}")], baseline="base"
    )
    row = next(line for line in table.splitlines() if line.startswith("| later |"))
    paired = next(line for line in table.splitlines() if line.startswith("| later - base, paired"))
    assert f"{onset.setting_mean:.3f} ±" in row  # 25 / 3: the censored run counts at step 10
    assert f"+{onset.change:.3f} ±" in paired


def test_a_study_run_seed_by_seed_is_provisional_until_every_planned_run_finishes(tmp_path):
    from modecollapse.experiments.sweep import select

    whole = load_sweep(write(tmp_path, SWEEP + ANALYSIS))
    folder = tmp_path / "sweep"
    write_index(select(whole, seeds=[0]), folder)  # the first seed's selection only
    index = SweepFolder(folder).read_index()
    assert len(index["runs"]) == len(whole.runs) // 2 and index["planned"] == [r.run_id for r in whole.runs]
    base = [fake_run("pack=1", 0, 1), fake_run("pack=1", 1, 2), fake_run("pack=1", 2, 1)]
    fix = [fake_run("pack=2", s, 6) for s in range(3)]
    planned = [r.run_id for r in base + fix] + ["pack=2__seed3", "pack=1__seed3"]
    index = {**INDEX, "analysis": {**INDEX["analysis"], "baseline": "pack=1"}, "planned": planned}
    assert analyse(base + fix, index).unfinished == 2  # the next seed's runs: not started, still to come


def test_a_study_closed_short_is_not_provisional_and_says_what_it_did_not_run(tmp_path, capsys):
    from modecollapse.cli import main
    from modecollapse.experiments.executors import pending_runs
    from modecollapse.experiments.results import collect
    from modecollapse.experiments.sweep import select
    from modecollapse.sweepfolder import work_left_s

    closed = '[closed]\nreason = "the machine was lost."\nruns = { "pack=2" = [1, 1] }\n'
    sweep = load_sweep(write(tmp_path, SWEEP + ANALYSIS + closed))
    assert len(sweep.runs) == len(sweep.planned) == 4  # listed and checked, never started
    assert sweep.closed == {"reason": "the machine was lost.", "runs": ["pack=2__seed1"]}
    folder = tmp_path / "sweep"
    assert "pack=2__seed1" not in [r.run_id for r in pending_runs(sweep, folder)]
    write_index(select(sweep, seeds=[1]), folder)  # a fresh folder, one seed's selection
    index = SweepFolder(folder).read_index()
    assert index["closed"]["runs"] == ["pack=2__seed1"] and len(index["planned"]) == 4
    status = {row["id"]: row["status"] for row in SweepFolder(folder).status_rows()}
    assert status == {"pack=1__seed1": "pending", "pack=2__seed1": "closed"}
    begun = SweepFolder(folder).run("pack=2__seed1")
    begun.write_summary({"status": "interrupted", "step": 5})  # begun, then its machine lost
    rows = SweepFolder(folder).status_rows()
    assert [r["status"] for r in rows if r["id"] == "pack=2__seed1"] == ["closed"]
    assert work_left_s([*rows, {**rows[0], "status": "completed", "seconds": 60.0}]) == 60.0  # pack=1 only
    assert main(["sweep", "--status", str(folder)]) == 0
    assert "plans 4 runs: 0 completed, 1 closed ([closed]), 3 to go" in capsys.readouterr().out
    assert {r.run_id: r.state for r in collect(folder)}["pack=2__seed1"] == "closed"  # runs.csv's status
    runs = [fake_run("pack=1", 0, 1), fake_run("pack=1", 1, 2), fake_run("pack=2", 0, 6)]
    result = analyse(runs, index)
    assert result.unfinished == 0 and not result.provisional and result.closed == ["pack=2__seed1"]
    assert analyse(runs, {**index, "closed": None}).unfinished == 1  # without [closed]: still awaited
    page = render_markdown(result, "mini")
    assert "**Closed short**" in page and "pack=2__seed1. Why: the machine was lost." in page
    assert "Provisional" not in page
    write_index(load_sweep(write(tmp_path, SWEEP + ANALYSIS, "open.toml")), folder)  # [closed] out: reopened
    assert "closed" not in SweepFolder(folder).read_index()


@pytest.mark.parametrize(
    "runs, message",
    [('{ "pack=3" = [1] }', "names 'pack=3', which matches no setting; settings: pack=1, pack=2"),
     ('{ "pack=2" = [7] }', r"pack=2 names seeds \[7\] the file does not run")],
)  # fmt: skip
def test_a_closed_run_the_file_does_not_plan_is_named(tmp_path, runs, message):
    with pytest.raises(ConfigError, match=message):
        load_sweep(write(tmp_path, SWEEP + f'[closed]\nreason = "x"\nruns = {runs}\n'))


def test_the_matrix_labels_provisional_testbeds_and_leaves_undeclared_ones_out(tmp_path):
    from modecollapse.experiments.analysis import AnalysisResult, Comparison
    from modecollapse.experiments.atlas import write_matrix

    gain = Comparison("variant=r1", "modes", "higher", [0, 1, 2], 5.0, 9.0, 4.0, 1.0, 0.001, True, 0.003)
    gain.established = True
    declared = {"baseline": "baseline", "primary": {"modes": "higher"}}

    def result(analysis, unfinished, why=""):
        return AnalysisResult(analysis, not why, why, {"A": 6}, [], [gain], unfinished=unfinished)

    late = result(declared, 0, "the [analysis] was first recorded after runs had started")
    testbeds = {"ring8": result(declared, 0), "grid25": result(declared, 5), "mnist": late}
    written = write_matrix(testbeds, tmp_path)
    matrix = (tmp_path / "matrix.md").read_text()
    assert "| fix | ring8: modes | grid25: modes (provisional: 5 runs to finish) |" in matrix
    assert "| r1 | +4 ± 1 **better** | +4 ± 1 **better** |" in matrix and len(written) == 2
    assert "Not in the matrix: mnist (the [analysis] was first recorded after runs had started)." in matrix
    written = write_matrix({"pilot": result(None, 0, "the sweep file declares no [analysis]")}, tmp_path)
    matrix = (tmp_path / "matrix.md").read_text()
    assert "Not in the matrix: pilot (the sweep file declares no [analysis])." in matrix
    assert "No testbed declares an analysis." in matrix and "| fix |" not in matrix
    assert "provisional" not in matrix
    assert written == [tmp_path / "matrix.md"] and not (tmp_path / "figures" / "matrix.png").exists()
    first_seed = analyse([fake_run("base", 0, 2), fake_run("fix", 0, 7)], INDEX)  # a study's first seed
    write_matrix({"ring8": first_seed}, tmp_path)
    matrix = (tmp_path / "matrix.md").read_text()
    assert "| fix | +5 (1 seed, no interval) | +0 (1 seed, no interval) |" in matrix
    later = {**INDEX, "analysis": {**INDEX["analysis"], "at": [9000, 9999]}}  # no run has reached it
    early = analyse([fake_run("base", 0, 2), fake_run("fix", 0, 7)], later)
    written = write_matrix({"ring8": early}, tmp_path)
    matrix = (tmp_path / "matrix.md").read_text()
    assert "No fix has a paired value at its testbed's declared point yet." in matrix
    assert "| fix |" not in matrix
    assert written == [tmp_path / "matrix.md"] and not (tmp_path / "figures" / "matrix.png").exists()


def test_a_declared_non_start_is_its_own_outcome_not_a_pair():
    # PacGAN2 on Stacked MNIST: some seeds stay at one mode (D wins), the rest reach ~800
    base = [fake_run("base", s, m) for s, m in enumerate([100, 128, 162, 120, 140, 1])]
    pack = [fake_run("pack", s, m) for s, m in enumerate([1, 802, 760, 1, 790, 700])]
    index = {**INDEX, "analysis": {**INDEX["analysis"], "non_start": {"metric": "modes", "at_most": 1}}}
    result = analyse(base + pack, index)
    gain = {(c.setting, c.metric): c for c in result.comparisons}["pack", "modes"]
    assert gain.seeds == [1, 2, 4]  # 0, 3: pack did not start; 5: the baseline did not
    assert gain.change == pytest.approx((674 + 598 + 650) / 3)
    assert result.non_starts == {"base": ([5], 6), "pack": ([0, 3], 6)}
    text = render_markdown(result, "stacked")
    assert "- Non-start (declared): modes <= 1 at the declared point" in text
    assert "  - pack: 2 of 6 did not start (95 % 0.04-0.78): seeds 0, 3" in text
    undeclared = {(c.setting, c.metric): c for c in analyse(base + pack, INDEX).comparisons}
    assert undeclared["pack", "modes"].seeds == [0, 1, 2, 3, 4, 5]  # without it, every pair counts


def test_a_run_without_the_non_start_metric_at_the_declared_point_is_not_judged():
    base = [fake_run("base", s, m) for s, m in enumerate([100, 128, 162, 1])]
    pack = [fake_run("pack", s, m) for s, m in enumerate([1, 802, 760])]
    short = fake_run("pack", 3, 790)
    short.evals = short.evals[:1]  # it ended at step 100, before the declared point
    rule = {"metric": "modes", "at_most": 1}
    index = {**INDEX, "analysis": {**INDEX["analysis"], "at": [200, 200], "non_start": rule}}
    result = analyse(base + pack + [short], index)
    assert result.non_starts == {"base": ([3], 4), "pack": ([0], 3)}  # 1 of 3 judged, not 1 of 4
    assert result.not_judged == {"pack": [3]}
    gain = {(c.setting, c.metric): c for c in result.comparisons}["pack", "modes"]
    assert gain.seeds == [1, 2]
    text = render_markdown(result, "stacked")
    assert "  - pack: 1 of 3 did not start (95 % 0.01-0.91): seeds 0; 1 more not judged, no modes at" in text
    assert "  - base: 1 of 4 did not start (95 % 0.01-0.81): seeds 3\n" in text


def test_table_report_and_analysis_leave_the_same_non_starts_out_of_the_pairs(tmp_path):
    import json

    from modecollapse.experiments import table as tables
    from modecollapse.experiments.report import aggregate, write_comparisons, write_curves, write_runs

    # a pack that stays at one mode on seeds 0 and 3 would drag a paired mean to "not established"
    results = [fake_run("base", s, m) for s, m in enumerate([100, 128, 162, 120, 140, 1])]
    results += [fake_run("pack", s, m) for s, m in enumerate([1, 802, 760, 1, 790, 700])]
    rule = {"metric": "modes", "at_most": 1}
    index = {**INDEX, "analysis": {**INDEX["analysis"], "primary": {"modes": "higher"}, "non_start": rule}}
    result = analyse(results, index)
    (gain,) = [c for c in result.comparisons if (c.setting, c.metric) == ("pack", "modes")]
    assert gain.seeds == [1, 2, 4] and gain.established
    write_runs(results, tmp_path), write_curves(results, tmp_path)
    (tmp_path / "index.json").write_text(json.dumps(index))
    table = tables.summary_table(tables.read_study(tmp_path), [("modes", "{:.1f}")], baseline="base")
    (row,) = [line for line in table.splitlines() if line.startswith("| pack - base, paired")]
    assert f"**{gain.change:+.1f} ±" in row and " | 3 | " in row
    assert "Declared non-start (modes <= 1 at the declared point, index.json): left out of that " \
        "setting's pairs, a baseline's out of every setting's: base: seeds 5; pack: seeds 0, 3." in table
    page = write_comparisons(aggregate(results), results, tmp_path, result).read_text()
    assert "Declared non-start (modes <= 1 at the declared point, analysis.md)" in page
    (cell,) = [line for line in page.splitlines() if line.startswith("| pack |")]
    assert f"higher ({gain.change:+.3g} ±" in cell and "3 seeds" in cell
    assert "base: seeds 5; pack: seeds 0, 3." in page
    windowed = {**index["analysis"], "at": [150, 250]}
    planned = [r.run_id for r in results]
    (tmp_path / "index.json").write_text(json.dumps({"analysis": windowed, "planned": planned}))
    table = tables.summary_table(tables.read_study(tmp_path), [("modes", "{:.1f}")], baseline="base")
    assert "base: seeds 5; pack: seeds 0, 3." in table  # judged over the window: the same runs
    other = {"analysis": windowed, "planned": ["base__seed0"]}  # an index.json of another study's runs
    (tmp_path / "index.json").write_text(json.dumps(other))
    table = tables.summary_table(tables.read_study(tmp_path), [("modes", "{:.1f}")], baseline="base")
    assert "every setting's: none." in table
    late = {**index["analysis"], "before_runs": False}  # recorded after the runs began: not declared
    (tmp_path / "index.json").write_text(json.dumps({"analysis": late}))
    table = tables.summary_table(tables.read_study(tmp_path), [("modes", "{:.1f}")], baseline="base")
    exploratory = analyse(results, {**index, "analysis": late})
    page = write_comparisons(aggregate(results), results, tmp_path, exploratory)
    assert "Exploratory non-start" in table and "Exploratory non-start" in page.read_text()
    assert "Declared non-start" not in table + page.read_text()
    (tmp_path / "index.json").unlink()  # undeclared: every pair counts, and the gain drowns
    table = tables.summary_table(tables.read_study(tmp_path), [("modes", "{:.1f}")], baseline="base")
    (row,) = [line for line in table.splitlines() if line.startswith("| pack - base, paired")]
    assert " | 6 | " in row and "(not established)" in row and "Declared non-start" not in table


def test_table_and_report_name_the_runs_the_non_start_rule_could_not_judge(tmp_path):
    import json

    from modecollapse.experiments import table as tables
    from modecollapse.experiments.report import aggregate, write_comparisons, write_curves, write_runs

    results = [fake_run("base", s, m) for s, m in enumerate([100, 128, 162, 1])]
    results += [fake_run("pack", s, m) for s, m in enumerate([1, 802, 760, 790])]
    results[-1].evals = results[-1].evals[:1]  # pack seed 3 ended at step 100, before the window
    rule = {"metric": "modes", "at_most": 1}
    index = {**INDEX, "analysis": {**INDEX["analysis"], "at": [200, 200], "non_start": rule}}
    result = analyse(results, index)
    assert result.not_judged == {"pack": [3]}
    write_runs(results, tmp_path), write_curves(results, tmp_path)
    (tmp_path / "index.json").write_text(json.dumps(index))
    table = tables.summary_table(tables.read_study(tmp_path), [("modes", "{:.1f}")], baseline="base")
    page = write_comparisons(aggregate(results), results, tmp_path, result).read_text()
    for text in (table, page):
        assert "every setting's: base: seeds 3; pack: seeds 0." in text
        assert "Not judged, no modes at the declared point: pack: seeds 3." in text
    assert tables.judge_starts(tables.read_study(tmp_path)) == (
        {"base": [3], "pack": [0]}, {"pack": [3]}
    )  # fmt: skip


def test_the_matrix_says_how_many_runs_did_not_start(tmp_path):
    from modecollapse.experiments.atlas import heatmap_labels, write_matrix

    base = [fake_run("base", s, m) for s, m in enumerate([100, 128, 162, 120, 140, 1])]
    pack = [fake_run("pack", s, m) for s, m in enumerate([1, 802, 760, 1, 790, 700])]
    rule = {"metric": "modes", "at_most": 1}
    index = {**INDEX, "analysis": {**INDEX["analysis"], "primary": {"modes": "higher"}, "non_start": rule}}
    write_matrix({"stacked": analyse(base + pack, index)}, tmp_path)
    matrix = (tmp_path / "matrix.md").read_text()
    assert "**better** (2 of 6 did not start) |" in matrix
    assert "stacked: the baseline did not start in 1 of 6 runs (seeds 5), left out of every fix" in matrix
    stuck = [fake_run("stuck", s, 1) for s in range(6)]  # every run at one mode: nothing to pair
    write_matrix({"stacked": analyse(base + pack + stuck, index)}, tmp_path)
    assert "| stuck | none paired (6 of 6 did not start) |" in (tmp_path / "matrix.md").read_text()
    stacked = analyse(base + pack + stuck, index)
    cells = {("stacked", c.setting, c.metric): c for c in stacked.comparisons if c.primary}
    labels = heatmap_labels(["pack", "stuck"], [("stacked", "modes")], cells, {"stacked": stacked})
    assert labels[1, 0] == ("none\npaired", False) and labels[0, 0][0].endswith("*")  # drawn, not blank
    stuck_base = [fake_run("base", s, 1) for s in range(6)]  # the baseline never started: no pair at all
    started = [fake_run("pack", s, 800) for s in range(6)]
    write_matrix({"stacked": analyse(stuck_base + started, index)}, tmp_path)
    matrix = (tmp_path / "matrix.md").read_text()
    assert "No fix has a paired value" in matrix and "the baseline did not start in 6 of 6 runs" in matrix
    write_matrix({"stacked": analyse(base[:5] + pack[1:3], index)}, tmp_path)
    assert "did not start)" not in (tmp_path / "matrix.md").read_text()


def test_a_study_run_in_seed_blocks_on_two_machines_shows_each_machines_pairs():
    # seeds 0-2 ran on one machine, 3-5 on the next: every pair on one machine, the test pools them
    machine = {s: "cpu A" if s < 3 else "cpu B" for s in range(6)}
    base = [fake_run("base", s, m, machine[s]) for s, m in enumerate([1, 2, 1, 3, 2, 2])]
    fix = [fake_run("fix", s, m, machine[s]) for s, m in enumerate([6, 7, 7, 5, 5, 6])]
    result = analyse(base + fix, INDEX)
    gain = {(c.setting, c.metric): c for c in result.comparisons}["fix", "modes"]
    assert gain.seeds == [0, 1, 2, 3, 4, 5] and gain.by_machine == {"cpu A": [5, 5, 6], "cpu B": [2, 3, 4]}
    text = render_markdown(result, "two machines")
    assert "## Per machine (a check, not a test)" in text
    assert "- none (each seed's runs shared a machine)" in text
    assert "| fix | modes | cpu A | 3 | +5.33 ± 1.4 |" in text
    assert "| fix | modes | cpu B | 3 | +3 ± 2.5 |" in text
    one = analyse([fake_run(r.setting_id, r.seed, 1 + r.seed) for r in base + fix], INDEX)
    assert "Per machine" not in render_markdown(one, "one machine")


def test_a_non_start_rule_must_name_a_recorded_metric(tmp_path):
    block = ANALYSIS + 'non_start = { metric = "modez", at_most = 1 }\n'
    with pytest.raises(ConfigError, match="non_start metric 'modez' is not a recorded metric"):
        load_sweep(write(tmp_path, SWEEP + block))
    declared = load_sweep(
        write(tmp_path, SWEEP + ANALYSIS + 'non_start = { metric = "modes", at_most = 1 }\n')
    )
    assert declared.analysis["non_start"] == {"metric": "modes", "at_most": 1.0}
    assert "non_start" not in load_sweep(write(tmp_path, SWEEP + ANALYSIS)).analysis  # old declarations match
