"""results/replay_onsets.py: a committed curves.csv through the current detector, each run judged
with its own class count, sample count and rules, never with silent defaults."""

import importlib.util
import json
from pathlib import Path

import pytest

from modecollapse.config import config_from_dict, config_to_toml
from tests.conftest import tiny_image_config

SCRIPT = Path(__file__).resolve().parents[2] / "results" / "replay_onsets.py"
spec = importlib.util.spec_from_file_location("replay_onsets", SCRIPT)
replay_onsets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(replay_onsets)

# ten classes, evenly drawn until step 3, then half the classes with a lopsided histogram
HEALTHY = {"modes": 10, "kl_uniform": 0.01, "recognizable_share": 0.99, "recall": 0.8}
FALLEN = {"modes": 5, "kl_uniform": 0.8, "recognizable_share": 0.99, "recall": 0.2}


def write_curves(path: Path) -> Path:
    keys = list(HEALTHY)
    lines = [",".join(["run", "setting", "seed", "step", "epoch", *keys])]
    for step in range(1, 7):
        scores = HEALTHY if step < 4 else FALLEN
        lines.append(",".join(["a__seed0", "a", "0", str(step), str(step), *[str(scores[k]) for k in keys]]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_records(path: Path, detector: dict) -> Path:
    config = config_from_dict(
        {**tiny_image_config().model_dump(mode="json"), "detector": detector}, source="test"
    )
    record = {"sweep": "s", "id": "a__seed0", "setting_id": "a", "seed": 0, "summary": {}, "evals": [],
              "config": config_to_toml(config)}  # fmt: skip
    path.write_text(json.dumps(record) + "\n")
    return path


def test_a_run_without_its_rules_or_counts_is_refused_not_replayed_with_defaults(tmp_path):
    curves = write_curves(tmp_path / "curves.csv")
    with pytest.raises(
        SystemExit, match="records no detector rules; give --records or --sweep, or --default"
    ):
        replay_onsets.replay(str(curves), samples=2000, classes=10)
    with pytest.raises(SystemExit, match="records no num_classes; give --records, --sweep or --classes"):
        replay_onsets.replay(str(curves), default_rules=True)
    (row,) = replay_onsets.replay(str(curves), samples=2000, classes=10, default_rules=True)
    assert row["absolute_onset_step"] == 4 and row["verdict"] != "healthy"


def test_the_runs_own_records_give_its_counts_and_rules(tmp_path):
    curves = write_curves(tmp_path / "curves.csv")
    # a rule loose enough that half the classes still count as healthy: no onset
    records = write_records(
        tmp_path / "records.jsonl", {"partial_modes_fraction": 0.4, "partial_kl_uniform": 1.0}
    )
    (row,) = replay_onsets.replay(str(curves), records=str(records))
    assert row["absolute_onset_step"] is None and row["verdict"] == "healthy"
    with pytest.raises(SystemExit, match="contradicts"):
        replay_onsets.replay(str(curves), classes=3, records=str(records))


def test_the_rules_the_run_recorded_in_curves_come_first_and_a_contradiction_is_refused(tmp_path):
    curves = write_curves(tmp_path / "curves.csv")
    loose = {"partial_modes_fraction": 0.4, "partial_kl_uniform": 1.0}
    lines = curves.read_text().splitlines()
    rules = '"' + json.dumps(loose).replace('"', '""') + '"'  # a CSV field holding JSON
    curves.write_text(
        "\n".join([lines[0] + ",detector_rules", *[line + "," + rules for line in lines[1:]]]) + "\n"
    )
    (row,) = replay_onsets.replay(str(curves), samples=2000, classes=10)  # no config needed for the rules
    assert row["absolute_onset_step"] is None and row["verdict"] == "healthy"
    records = write_records(tmp_path / "records.jsonl", {})  # a config with the default rules
    with pytest.raises(SystemExit, match="contradicts curves.csv's detector_rules"):
        replay_onsets.replay(str(curves), records=str(records))
