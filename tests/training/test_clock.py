import json
import time

import pytest

from modecollapse.training.clock import RunClock
from modecollapse.training.loop import train
from tests.conftest import tiny_ring_config
from tests.helpers import Crash, crash_at


def test_the_clock_counts_the_process_cpu_time_not_the_wall_time(monkeypatch):
    assert RunClock(0, previous_cpu_s=None).cpu_s() is None  # an earlier session kept none
    cpu = iter([100.0, 100.0, 102.5])  # the process's CPU seconds at each reading
    monkeypatch.setattr(time, "process_time", lambda: next(cpu))
    clock = RunClock(0, previous_cpu_s=5.0)
    time.sleep(0.2)  # a paused process: wall time passes, its CPU time does not
    assert clock.wall_s() >= 0.2 and clock.cpu_s() == 5.0
    assert clock.cpu_s() == 7.5  # 2.5 s of work on top of the earlier sessions' 5


def _killed_run(tmp_path):
    config = tiny_ring_config(train={"checkpoint_every": 10})
    with pytest.raises(Crash):
        train(config, tmp_path / "run", callbacks=[crash_at(25)])
    path = tmp_path / "run" / "summary.json"
    return config, path, json.loads(path.read_text())


def test_a_resumed_run_adds_its_sessions_cpu_time(tmp_path):
    config, path, summary = _killed_run(tmp_path)
    assert summary["cpu_s"] > 0
    path.write_text(json.dumps({**summary, "cpu_s": 1000.0}))  # as if the first session had run long
    resumed = train(config, tmp_path / "run", resume=True)
    assert 1000.0 < resumed["cpu_s"] < 1000.0 + resumed["wall_time_s"] * 4


def test_a_run_resumed_from_a_session_without_cpu_time_records_none(tmp_path):
    config, path, summary = _killed_run(tmp_path)
    path.write_text(json.dumps({k: v for k, v in summary.items() if k != "cpu_s"}))
    assert train(config, tmp_path / "run", resume=True)["cpu_s"] is None


def test_cpu_shares_leave_out_a_pause_that_wall_time_shares_count(monkeypatch):
    cpu = iter([0.0, 0.0, 1.0, 10.0, 10.0])  # start; evaluation from 0 to 1; training to 10
    monkeypatch.setattr(time, "process_time", lambda: next(cpu))
    clock = RunClock(0)
    with clock.section("evaluation"):
        time.sleep(0.3)  # stopped mid-evaluation: wall time passes, CPU time does not
    assert clock.time_shares()["evaluation"] > 0.9
    parts = {"training": 9.0, "evaluation": 1.0, "samples_checkpoints": 0.0, "logging": 0.0}
    assert clock.cpu_time_s() == parts
    assert clock.cpu_shares()["evaluation"] == 0.1


def test_cpu_parts_carry_over_a_resume_and_are_unknown_after_a_session_without_them(monkeypatch):
    monkeypatch.setattr(time, "process_time", lambda: 0.0)
    earlier = {"training": 8.0, "evaluation": 2.0}
    assert RunClock(5, {"training": 9.0}, 10.0, earlier).cpu_time_s()["evaluation"] == 2.0
    assert RunClock(5, {"training": 9.0}, 10.0, None).cpu_shares() is None


def test_a_finished_run_records_its_cpu_shares(tmp_path):
    summary = train(tiny_ring_config(), tmp_path / "run")
    assert summary["cpu_shares"]["evaluation"] > 0 and abs(sum(summary["cpu_shares"].values()) - 1) < 1e-3
