"""records.jsonl and `sweep --restore`: a study's committed records stand in for its run
folders on a new machine."""

import json
import shutil

import pytest

from modecollapse.config import config_to_toml
from modecollapse.errors import ConfigError
from modecollapse.experiments.executors import execute, pending_runs
from modecollapse.experiments.records import read_study_records, restore
from modecollapse.experiments.report import build_report
from modecollapse.experiments.sweep import load_sweep, select
from modecollapse.sweepfolder import SweepFolder
from tests.helpers import ANALYSIS, SWEEP, write


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A declared sweep, run and reported; its report folder is what a study commits."""
    tmp = tmp_path_factory.mktemp("records")
    sweep = load_sweep(write(tmp, SWEEP + ANALYSIS))
    folder = tmp / "sweep"
    execute(sweep, folder, workers=1)
    build_report(folder)
    results = tmp / "results"
    shutil.copytree(folder / "report", results)
    shutil.copyfile(folder / "index.json", results / "index.json")
    return sweep, folder, results


@pytest.mark.slow
def test_a_restored_sweep_skips_its_recorded_runs_and_reports_the_same_analysis(finished, tmp_path):
    sweep, folder, results = finished
    assert len(read_study_records(results)) == 4
    again = tmp_path / "again"
    restored = restore(sweep, again, results)
    assert sorted(restored) == sorted(r.run_id for r in sweep.runs)
    assert pending_runs(sweep, again) == []
    # the declaration keeps its date
    assert SweepFolder(again).read_index()["analysis"] == SweepFolder(folder).read_index()["analysis"]
    build_report(again)
    assert (again / "report" / "analysis.csv").read_text() == (folder / "report" / "analysis.csv").read_text()
    summary = json.loads((again / "runs" / restored[0] / "summary.json").read_text())
    assert summary["restored_from"] == str(results) and summary["status"] == "completed"


@pytest.mark.slow
def test_a_partial_record_leaves_the_other_runs_to_run(finished, tmp_path):
    sweep, _, results = finished
    lines = (results / "records.jsonl").read_text().splitlines()
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "records.jsonl").write_text(lines[0] + "\n")
    restored = restore(sweep, tmp_path / "sweep", partial)
    todo = [r.run_id for r in pending_runs(sweep, tmp_path / "sweep")]
    assert len(restored) == 1 and restored[0] not in todo and len(todo) == 3
    assert {r["id"] for r in SweepFolder(tmp_path / "sweep").read_index()["runs"]} == set(restored)


def test_records_of_another_sweep_or_another_config_are_refused(finished, tmp_path):
    sweep, _, results = finished
    other = load_sweep(write(tmp_path, SWEEP.replace('"mini"', '"other"') + ANALYSIS))
    with pytest.raises(ConfigError, match="records runs of mini, not of other"):
        restore(other, tmp_path / "a", results)
    longer = select(sweep, overrides=["train.epochs=3"])
    with pytest.raises(ConfigError, match="differs from the recorded one"):
        restore(longer, tmp_path / "b", results)
    assert not (tmp_path / "b").exists()


def test_a_torn_or_missing_record_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no records.jsonl"):
        read_study_records(tmp_path)
    (tmp_path / "records.jsonl").write_text('{"sweep": "mini", "id": "x", "summary": {}, "evals": []}\n{"sw')
    with pytest.raises(ConfigError, match="line 2: not a JSON record"):
        read_study_records(tmp_path)


def test_sweep_restore_on_the_command_line_runs_only_what_is_not_recorded(finished, tmp_path, capsys):
    import signal

    from modecollapse.cli import main

    _, _, results = finished
    file = write(tmp_path, SWEEP + ANALYSIS)
    args = ["sweep", str(file), "--out", str(tmp_path / "s"), "--seeds", "1", "--restore", str(results)]
    before = signal.getsignal(signal.SIGTERM)
    assert main(args) == 0
    assert signal.getsignal(signal.SIGTERM) is before  # `kill` stops runs only while the sweep runs
    out = capsys.readouterr().out
    assert "restored 4 finished runs" in out and "2 runs, 2 already completed, 0 to run" in out
    assert main(["sweep", "--status", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert out.count(f"(restored from {results})") == 4
    assert "the sweep file plans 4 runs: 4 completed, 0 to go" in out


def test_a_run_folder_with_local_progress_is_not_overwritten(finished, tmp_path):
    sweep, _, results = finished
    run = tmp_path / "s" / "runs" / sweep.runs[0].run_id
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"type": "train", "step": 10}\n')
    with pytest.raises(ConfigError, match="hold local progress"):
        restore(sweep, tmp_path / "s", results)
    assert (run / "metrics.jsonl").read_text() == '{"type": "train", "step": 10}\n'


def test_a_declaration_made_after_the_recorded_runs_does_not_stay_before_the_runs(finished, tmp_path):
    sweep, _, results = finished
    later = load_sweep(write(tmp_path, SWEEP + ANALYSIS.replace('"final"', "[0, 100]")))
    execute(select(later, seeds=[0], only=["pack=1"]), tmp_path / "s", workers=1)  # declares: before_runs
    assert SweepFolder(tmp_path / "s").read_index()["analysis"]["before_runs"] is True
    records = tmp_path / "records"
    records.mkdir()
    lines = (results / "records.jsonl").read_text().splitlines()
    (records / "records.jsonl").write_text("".join(line + "\n" for line in lines if "seed1" in line))
    restored = restore(later, tmp_path / "s", records)
    assert len(restored) == 2
    assert SweepFolder(tmp_path / "s").read_index()["analysis"]["before_runs"] is False


def test_a_lengthened_run_is_restored_into_the_lengthened_selection(finished, tmp_path):
    sweep, _, results = finished
    record = json.loads((results / "records.jsonl").read_text().splitlines()[0])
    longer = select(sweep, overrides=["train.epochs=3"])
    record["config"] = config_to_toml(next(r for r in longer.runs if r.run_id == record["id"]).config)
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    assert restore(sweep, tmp_path / "s", tmp_path) == [record["id"]]  # longer than the file asks: finished
    assert record["id"] not in [r.run_id for r in pending_runs(sweep, tmp_path / "s")]


def test_finished_runs_of_a_setting_cut_from_the_sweep_file_are_restored_as_recorded(finished, tmp_path):
    from modecollapse.experiments.results import collect

    sweep, _, results = finished
    one_setting = (SWEEP + ANALYSIS).replace('"model.pack" = [1, 2]', '"model.pack" = [1]')
    amended = load_sweep(write(tmp_path, one_setting))
    again = tmp_path / "again"
    assert sorted(restore(amended, again, results)) == sorted(r.run_id for r in sweep.runs)
    assert pending_runs(amended, again) == []
    cut = {r.run_id: r.setting_id for r in collect(again) if r.setting_id == "pack=2"}
    assert sorted(cut) == ["pack=2__seed0", "pack=2__seed1"]
    assert "pack = 2" in (again / "runs" / "pack=2__seed0" / "config.toml").read_text()  # as it ran
    lines = [json.loads(line) for line in (results / "records.jsonl").read_text().splitlines()]
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "records.jsonl").write_text(json.dumps({**lines[0], "id": "pack=3__seed0"}) + "\n")
    shutil.copyfile(results / "index.json", stranger / "index.json")
    with pytest.raises(ConfigError, match="records runs mini does not have: pack=3__seed0"):
        restore(amended, tmp_path / "other", stranger)  # in neither the file nor the recorded index


@pytest.mark.slow
def test_a_failed_analysis_leaves_the_tables_and_comparisons_written(finished, tmp_path, monkeypatch):
    from modecollapse.errors import ModeCollapseError
    from modecollapse.experiments import report

    _, folder, _ = finished
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    shutil.rmtree(copy / "report")

    def broken(*args, **kwargs):
        raise ModeCollapseError("the baseline setting 'x' has no completed run yet")

    monkeypatch.setattr(report, "analyse", broken)
    with pytest.raises(ModeCollapseError, match="no completed run yet"):
        build_report(copy)
    for name in ("table.md", "runs.csv", "comparisons.md"):
        assert (copy / "report" / name).is_file(), name
    assert "The analysis did not run (see the error)" in (copy / "report" / "comparisons.md").read_text()
    assert not (copy / "report" / "analysis.md").exists()
