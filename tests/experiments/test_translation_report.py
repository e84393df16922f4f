"""A translator sweep's report and atlas show every setting's translations of the same inputs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modecollapse.experiments.atlas import gather
from modecollapse.experiments.executors import execute
from modecollapse.experiments.plots import _one_run_per_setting
from modecollapse.experiments.report import build_report
from modecollapse.experiments.results import RunResult
from modecollapse.experiments.sweep import load_sweep

SWEEP = """
name = "fix-atlas-tiny-spatial"
seeds = [0]
[base.data]
name = "spatial-one"
num_samples = 48
[base.model]
family = "cyclegan"
g_width = 4
d_width = 4
resnet_blocks = 1
patch_layers = 2
[base.objective]
loss = "lsgan"
history_buffer_size = 8
[base.train]
epochs = 1
batch_size = 8
eval_samples = 100
tensorboard = false
progress = false
[variants.reference]
[variants.cycle_1]
"objective.cycle_weight" = 1.0
[variants.two_digits]
"data.name" = "spatial-two"
[analysis]
baseline = "reference"
primary = { translation_score = "higher" }
"""


def _run(setting: str, seed: int) -> RunResult:
    return RunResult(f"{setting}__seed{seed}", setting, seed, Path("."), {"status": "completed"}, [])


def test_one_run_per_setting_prefers_the_lowest_seed_all_settings_share():
    runs = [_run("a", 2), _run("a", 1), _run("b", 1), _run("b", 0), _run("c", 3)]
    assert [(r.setting_id, r.seed) for r in _one_run_per_setting(runs)] == [("a", 1), ("b", 0), ("c", 3)]
    shared = [_run("a", 2), _run("a", 1), _run("b", 2), _run("b", 1)]
    assert [(r.setting_id, r.seed) for r in _one_run_per_setting(shared)] == [("a", 1), ("b", 1)]


@pytest.mark.slow
def test_translator_report_and_atlas_show_every_settings_translations(tmp_path):
    (tmp_path / "sweep.toml").write_text(SWEEP)
    execute(load_sweep(tmp_path / "sweep.toml"), tmp_path / "out", workers=1, report=lambda line: None)
    page = build_report(tmp_path / "out").page
    figure = page.parent / "translations.png"
    assert figure.is_file()
    assert "every setting&#x27;s translations of the same held-out inputs" in page.read_text()
    rows = np.asarray(Image.open(figure).convert("L")).shape[0]
    assert rows > 250  # three rows of 56-pixel tiles (two datasets, each with its own inputs), titled
    gather(tmp_path / "out", tmp_path / "atlas")
    testbed = json.loads((tmp_path / "atlas" / "tiny-spatial" / "testbed.json").read_text())
    assert testbed["grids"]["translations"] == "figures/translations.png"
    assert (tmp_path / "atlas" / "tiny-spatial" / "figures" / "translations.png").is_file()
    # a spoiled checkpoint costs its row, not the report
    broken = next((tmp_path / "out" / "runs").glob("variant=cycle_1*"))
    for weights in (broken / "checkpoints").rglob("*.safetensors"):
        weights.write_bytes(b"not weights")
    build_report(tmp_path / "out")
    assert np.asarray(Image.open(figure).convert("L")).shape[0] < rows
    # no checkpoint left at all: no figure, and the atlas does not copy an earlier one
    for run in (tmp_path / "out" / "runs").iterdir():
        shutil.rmtree(run / "checkpoints")
    build_report(tmp_path / "out")
    assert not figure.exists()
    gather(tmp_path / "out", tmp_path / "atlas2")
    assert (
        "translations"
        not in json.loads((tmp_path / "atlas2" / "tiny-spatial" / "testbed.json").read_text())["grids"]
    )
