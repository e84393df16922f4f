"""train.on_collapse: the last healthy checkpoint is kept out of the rotation; "stop" ends the run."""

import json

import pytest

from modecollapse.diagnosis import diagnose
from modecollapse.training.loop import train
from tests.conftest import tiny_ring_config

STEPS_PER_EPOCH = 16  # tiny_ring_config: 512 points, batch 32


def scripted(healthy_until_step: int):
    """An evaluator (train's public `evaluator` argument) that reads healthy up to
    `healthy_until_step`, then one mode of eight."""

    def evaluate(generator, epoch):
        good = round(epoch * STEPS_PER_EPOCH) <= healthy_until_step
        return {"modes": 8.0 if good else 1.0, "modes_well_formed": 8.0 if good else 1.0,
                "high_quality": 0.99 if good else 0.1, "num_classes": 8.0, "num_samples": 2500.0}  # fmt: skip

    return evaluate


def config(on_collapse):
    return tiny_ring_config(
        train={
            "epochs": 8,
            "eval_every_steps": 8,
            "checkpoint_every": 64,
            "keep_checkpoints": 1,
            "on_collapse": on_collapse,
        }  # fmt: skip
    )


def test_stop_ends_the_run_and_keeps_the_last_healthy_checkpoint(tmp_path):
    summary = train(config("stop"), tmp_path / "run", evaluator=scripted(24))
    assert summary["stopped_at_collapse"] is True
    assert summary["step"] == 40  # unhealthy at 32 and 40: confirmed (patience 2) at 40
    assert summary["last_healthy"] == {"step": 24, "checkpoint": "checkpoints/last-healthy"}
    state = json.loads((tmp_path / "run" / "checkpoints" / "last-healthy" / "state.json").read_text())
    assert state["step"] == 24
    report = diagnose(tmp_path / "run", "ring8")
    assert any("last healthy: step 24" in note for note in report["input_notes"])


@pytest.mark.slow
def test_continue_runs_to_the_end_and_the_healthy_copy_survives_rotation(tmp_path):
    summary = train(config("continue"), tmp_path / "run", evaluator=scripted(24))
    assert summary["stopped_at_collapse"] is False and summary["step"] == summary["total_steps"]
    folders = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir() if p.is_dir())
    assert "last-healthy" in folders and len([f for f in folders if f.startswith("step-")]) == 1
    assert summary["last_healthy"]["step"] == 24


@pytest.mark.slow
def test_a_run_stopped_at_collapse_stays_stopped_when_lengthened(tmp_path):
    stopped = train(config("stop"), tmp_path / "run", evaluator=scripted(24))
    longer = config("stop").model_copy(deep=True)
    longer.train.epochs = 16
    again = train(longer, tmp_path / "run", resume=True, evaluator=scripted(24))
    assert again["step"] == 40 and again["stopped_at_collapse"] is True
    assert again["final"] == stopped["final"] and again["images_per_second"] == stopped["images_per_second"]
    # a short run whose collapse was confirmed at its very last evaluation stops at once, too
    short = config("stop").model_copy(deep=True)
    short.train.max_steps = 40
    assert train(short, tmp_path / "short", evaluator=scripted(24))["stopped_at_collapse"] is False
    short.train.max_steps = 80  # nothing was left to stop; lengthened, it stops at once
    assert train(short, tmp_path / "short", resume=True, evaluator=scripted(24))["step"] == 40


def test_stop_ends_a_run_collapsed_from_the_start_and_says_so(tmp_path, capsys):
    summary = train(config("stop"), tmp_path / "run", evaluator=scripted(-1))
    # evaluations at 8, 16, 24, 32: the first 2 are the start's grace; collapsed at 24 and 32 confirms
    assert summary["stopped_at_collapse"] is True and summary["step"] == 32
    assert summary["detector"]["collapsed_from_start_step"] == 24 and "last_healthy" not in summary
    said = capsys.readouterr().out
    assert "collapsed from the start: judged collapsed at every evaluation since step 24" in said
    assert "stopping at step 32" in said
