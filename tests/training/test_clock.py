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
