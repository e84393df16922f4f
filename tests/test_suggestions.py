"""'What to try next': built only from measured runs.csv rows, cited only where established."""

import json

import numpy as np

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.diagnose import diagnose, format_report
from modecollapse.diagnose.suggest import collapse_kinds, suggest
from modecollapse.experiments.suggestions import build

MANIFEST = """
[[comparison]]
folder = "study"
data = "ring8"
switch = "model.pack = 4"
setting = "a test study"
baseline = {{ setting = "vanilla" }}
fix = {{ setting = "{fix}" }}
metrics = {{ modes = "higher", reverse_kl = "lower" }}
addresses = ["dropped modes"]
"""


def write_study(root, rows, fix="pacgan4"):
    (root / "study").mkdir(parents=True)
    lines = ["run,setting,seed,modes,reverse_kl"] + [
        f"r{i},{s},{seed},{m},{k}" for i, (s, seed, m, k) in enumerate(rows)
    ]
    (root / "study" / "runs.csv").write_text("\n".join(lines) + "\n")
    (root / "suggestions.toml").write_text(MANIFEST.format(fix=fix))


def test_a_fix_is_established_only_when_its_paired_interval_excludes_zero(tmp_path):
    rows = [("vanilla", s, 1 + s % 2, 2.0) for s in range(5)] + [
        ("pacgan4", s, 7 + s % 2, 2.0 + d) for s, d in enumerate((0.3, -0.5, 0.2, -0.4, 0.1))
    ]
    write_study(tmp_path, rows)
    (entry,) = build(tmp_path)
    modes, kl = entry["metrics"]["modes"], entry["metrics"]["reverse_kl"]
    assert modes["change"] == 6.0 and modes["seeds"] == 5 and modes["established"]
    assert kl["change"] < 0 and not kl["established"]  # lower on average, but the interval spans 0


def test_seeds_are_paired_and_unmatched_runs_left_out(tmp_path):
    rows = [("vanilla", 0, 1, 2), ("vanilla", 1, 1, 2), ("pacgan4", 1, 8, 0), ("pacgan4", 2, 8, 0)]
    write_study(tmp_path, rows)
    (entry,) = build(tmp_path)
    assert entry["metrics"] == {}  # a single matched seed is no evidence


def test_the_shipped_table_is_what_the_results_give():
    from pathlib import Path

    from modecollapse.diagnose.suggest import TABLE

    results = Path(__file__).resolve().parents[1] / "results"
    assert json.loads(TABLE.read_text()) == json.loads(json.dumps(build(results)))


def one_mode_ring(path):
    ring = load_dataset(DataConfig(name="ring8", num_samples=2500))
    points = ring.mode_means[0] + 0.01 * np.random.default_rng(0).standard_normal((2500, 2))
    np.save(
        path, points.numpy().astype(np.float32) if hasattr(points, "numpy") else points.astype(np.float32)
    )
    return path


def test_a_collapsed_ring_is_told_the_measured_fix(tmp_path):
    report = diagnose(one_mode_ring(tmp_path / "one.npy"), "ring8")
    assert report["verdict"] == "collapsed"
    assert "dropped modes" in collapse_kinds(report)
    assert any(
        "model.pack = 4" in line and "results/ring8-pacgan-20k" in line for line in report["suggestions"]
    )
    assert "try next" in format_report(report)


def test_healthy_gets_no_suggestion_and_unmeasured_kinds_are_said_plainly():
    healthy = {"verdict": "healthy", "reasons": [], "scores": {}}
    assert suggest(healthy, "mnist") == []
    blurry = {
        "verdict": "partial collapse",
        "reasons": ["only 10% of samples are recognizable as real data"],
        "scores": {},
    }
    (line,) = suggest(blurry, "mnist")
    assert line == "no fix for low quality has a measured effect in this project's results yet"


def test_a_fix_measured_on_other_data_says_so():
    one_image = {
        "verdict": "collapsed",
        "reasons": ["only 1 of 10 modes covered"],
        "scores": {"near_duplicate_rate": 1.0},
    }
    lines = suggest(one_image, "mnist")
    assert any("measured on ring8, not on data like yours" in line for line in lines)
