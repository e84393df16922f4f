"""train.on_collapse: the last healthy checkpoint is kept out of the rotation; "stop" ends the run."""

import json

from modecollapse.diagnose import diagnose
from modecollapse.training import run as run_module
from modecollapse.training.loop import train
from tests.conftest import tiny_ring_config


def scripted_verdicts(monkeypatch, healthy_until_step: int):
    """Evaluations read healthy up to `healthy_until_step`, then one mode of eight."""
    original = run_module.Run._evaluate

    def evaluate(self, step):
        real = self.parts.evaluate

        def scripted(epoch):
            scores = real(epoch)
            good = step <= healthy_until_step
            return {**scores, "modes": 8.0 if good else 1.0, "modes_well_formed": 8.0 if good else 1.0,
                    "high_quality": 0.99 if good else 0.1}  # fmt: skip

        self.parts.evaluate = scripted
        try:
            return original(self, step)
        finally:
            self.parts.evaluate = real

    monkeypatch.setattr(run_module.Run, "_evaluate", evaluate)


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


def test_stop_ends_the_run_and_keeps_the_last_healthy_checkpoint(tmp_path, monkeypatch):
    scripted_verdicts(monkeypatch, healthy_until_step=24)
    summary = train(config("stop"), tmp_path / "run")
    assert summary["stopped_at_collapse"] is True
    assert summary["step"] == 40  # unhealthy at 32 and 40: confirmed (patience 2) at 40
    assert summary["last_healthy"] == {"step": 24, "checkpoint": "checkpoints/last-healthy"}
    state = json.loads((tmp_path / "run" / "checkpoints" / "last-healthy" / "state.json").read_text())
    assert state["step"] == 24
    report = diagnose(tmp_path / "run", "ring8")
    assert any("last healthy: step 24" in note for note in report["input_notes"])


def test_continue_runs_to_the_end_and_the_healthy_copy_survives_rotation(tmp_path, monkeypatch):
    scripted_verdicts(monkeypatch, healthy_until_step=24)
    summary = train(config("continue"), tmp_path / "run")
    assert summary["stopped_at_collapse"] is False and summary["step"] == summary["total_steps"]
    folders = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir() if p.is_dir())
    assert "last-healthy" in folders and len([f for f in folders if f.startswith("step-")]) == 1
    assert summary["last_healthy"]["step"] == 24


def test_a_run_stopped_at_collapse_stays_stopped_when_lengthened(tmp_path, monkeypatch):
    scripted_verdicts(monkeypatch, healthy_until_step=24)
    stopped = train(config("stop"), tmp_path / "run")
    longer = config("stop").model_copy(deep=True)
    longer.train.epochs = 16
    again = train(longer, tmp_path / "run", resume=True)
    assert again["step"] == 40 and again["stopped_at_collapse"] is True
    assert again["final"] == stopped["final"] and again["images_per_second"] == stopped["images_per_second"]
    # a short run whose collapse was confirmed at its very last evaluation stops at once, too
    short = config("stop").model_copy(deep=True)
    short.train.max_steps = 40
    assert train(short, tmp_path / "short")["stopped_at_collapse"] is False  # nothing left to stop
    short.train.max_steps = 80
    assert train(short, tmp_path / "short", resume=True)["step"] == 40
