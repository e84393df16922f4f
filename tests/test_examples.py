"""The examples a user copies run (short variants)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_the_own_loop_example_runs_and_leaves_records(tmp_path):
    out = tmp_path / "own-loop"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "own_loop.py"), "--steps", "41", "--every", "20", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("step")] == ["0", "20", "40"]
    assert (
        lines[-1].startswith("final: ")
        and (out / "metrics.jsonl").is_file()
        and (out / "summary.json").is_file()
    )
