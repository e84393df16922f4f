import json

import pytest

from modecollapse.errors import CheckpointError
from modecollapse.training.loop import train
from modecollapse.training.run import epoch_of, evaluates_at
from tests.conftest import tiny_ring_config


def test_epoch_clock_and_step_clock():
    cfg = tiny_ring_config(train={"eval_every_epochs": 2}).train
    assert [s for s in range(1, 41) if evaluates_at(cfg, s, 10, s == 35)] == [20, 35, 40]
    steps = tiny_ring_config(train={"eval_every_steps": 15}).train
    assert [s for s in range(1, 41) if evaluates_at(steps, s, 10, s == 40)] == [15, 30, 40]
    assert (epoch_of(20, 10), epoch_of(25, 10)) == (2, 2.5)


def test_a_resume_with_another_config_names_the_change(tmp_path):
    train(tiny_ring_config(train={"max_steps": 10}), tmp_path / "run")
    with pytest.raises(CheckpointError, match=r"train.max_steps: 10 -> None"):
        train(tiny_ring_config(), tmp_path / "run", resume=True)


def test_the_summary_records_the_run_for_reproduction(tmp_path):
    summary = train(tiny_ring_config(), tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    # compared as JSON text: a metric with no value is NaN, and NaN != NaN
    assert json.dumps(saved, sort_keys=True) == json.dumps(summary, sort_keys=True)
    for key in ("git_commit", "modecollapse_version", "torch", "speed", "dataset", "time_shares"):
        assert key in saved
    assert saved["speed"]["precision"] == "fp32"  # the MLP trains in fp32 everywhere


def test_a_run_folder_has_one_writer_at_a_time(tmp_path):
    from modecollapse.errors import LockedError
    from modecollapse.files import exclusive_lock
    from modecollapse.runfolder import RunFolder

    run = tmp_path / "run"
    with exclusive_lock(RunFolder(run).lock, "held"):  # as if another process were training it
        with pytest.raises(LockedError, match=r"run folder .* is in use by pid \d+"):
            train(tiny_ring_config(train={"max_steps": 5}), run)
    assert not (run / "config.toml").exists()  # refused before writing anything
    assert train(tiny_ring_config(train={"max_steps": 5}), run)["status"] == "completed"  # lock released


def test_a_run_records_when_it_started_and_ended_across_a_resume(tmp_path):
    from datetime import datetime

    from modecollapse.experiments.report import write_runs
    from modecollapse.experiments.results import collect

    train(tiny_ring_config(train={"max_steps": 8}), tmp_path / "run")
    first = json.loads((tmp_path / "run" / "summary.json").read_text())
    train(tiny_ring_config(train={"max_steps": 16}), tmp_path / "run", resume=True)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["started_at"] == first["started_at"]  # the first session's start is kept
    assert datetime.fromisoformat(summary["ended_at"]) >= datetime.fromisoformat(first["ended_at"])
    assert datetime.fromisoformat(summary["started_at"]) <= datetime.fromisoformat(summary["ended_at"])
    runs = write_runs(collect(tmp_path / "run"), tmp_path).read_text().splitlines()
    header, row = runs[0].split(","), runs[1].split(",")
    assert row[header.index("started_at")] == summary["started_at"]

