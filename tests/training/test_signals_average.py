"""Training signals in evaluation records, machine provenance, and the moving average of G."""

import json

import pytest
import torch

from modecollapse.models.average import GeneratorAverage
from modecollapse.speed import KERNEL_FLAGS, machine
from modecollapse.trained import load_run
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.loop import train
from tests.conftest import tiny_ring_config
from tests.helpers import assert_resume_is_exact


def records(run, kind):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


def test_each_evaluation_carries_the_training_signals_since_the_last_one(tmp_path):
    train(tiny_ring_config(train={"eval_every_steps": 10}), tmp_path / "run")
    steps = records(tmp_path / "run", "train")
    evals = records(tmp_path / "run", "eval")
    assert [e["step"] for e in evals] == [10, 20, 30, 32]
    previous = 0
    for e in evals:
        window = [s for s in steps if previous < s["step"] <= e["step"]]
        assert e["train_steps"] == len(window) == e["step"] - previous
        for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"):
            expected = sum(s[key] for s in window) / len(window)
            assert e[f"train_{key}"] == pytest.approx(expected, rel=1e-9), key
        previous = e["step"]


@pytest.mark.slow
def test_a_resumed_run_counts_the_steps_before_the_kill_towards_the_next_evaluation(tmp_path):
    config = tiny_ring_config(train={"eval_every_steps": 10, "checkpoint_every": 7})
    assert_resume_is_exact(config, tmp_path, crash_step=9)  # killed after checkpoint 7, before eval 10
    straight = records(tmp_path / "straight", "eval")
    resumed = records(tmp_path / "killed", "eval")
    assert [e["train_steps"] for e in resumed] == [e["train_steps"] for e in straight] == [10, 10, 10, 2]
    for a, b in zip(straight, resumed, strict=True):
        assert a["train_d_loss"] == b["train_d_loss"]  # the resume is exact


def test_summary_records_the_machine(tmp_path):
    summary = train(tiny_ring_config(), tmp_path / "run")
    recorded = summary["machine"]
    here = machine()
    assert recorded["id"] == here["id"] and recorded["cpu"] == here["cpu"]
    assert recorded["precision"] == "fp32" and recorded["torch"] == torch.__version__
    assert set(recorded["flags"]) <= set(KERNEL_FLAGS)


def test_the_average_follows_its_decay_and_copies_buffers():
    torch.manual_seed(0)
    generator = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    average = GeneratorAverage(generator, decay=0.9)
    before = [p.detach().clone() for p in average.average.parameters()]
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(1.0)
        generator[1].running_mean.fill_(3.0)
    average.update()
    for old, new, current in zip(before, average.average.parameters(), generator.parameters(), strict=True):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * current)
    torch.testing.assert_close(average.average[1].running_mean, torch.full((4,), 3.0))
    assert average.evaluated is average.average and not average.average.training
    off = GeneratorAverage(generator, decay=None)
    off.update()
    assert off.evaluated is generator and off.modules() == {}


def test_a_run_with_g_ema_is_evaluated_and_exported_through_the_average(tmp_path):
    config = tiny_ring_config(model={"g_ema": True, "g_ema_decay": 0.5})
    train(config, tmp_path / "run")
    tensors, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "run"))

    def part(prefix):
        return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}

    raw, averaged = part("generator."), part("generator_ema.")
    assert raw.keys() == averaged.keys()
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw)  # the average is not G itself
    loaded = load_run(tmp_path / "run")
    for key, value in loaded.generator.state_dict().items():
        torch.testing.assert_close(value, averaged[key], rtol=0, atol=0)


@pytest.mark.slow
def test_a_run_with_g_ema_resumes_exactly(tmp_path):
    assert_resume_is_exact(tiny_ring_config(model={"g_ema": True}), tmp_path, crash_step=13)


def test_g_ema_is_allowed_for_cyclegan_and_mode_seeking_is_not():
    """Issue 38 allows the average of both CycleGAN generators (tests/training/test_cyclegan.py
    trains one); mode seeking stays refused: a translator has no latent."""
    from modecollapse.config import config_from_dict
    from modecollapse.errors import ConfigError

    base = {"name": "c", "data": {"name": "spatial-one"}, "model": {"family": "cyclegan", "g_ema": True}}
    assert config_from_dict(base).model.g_ema
    with pytest.raises((ConfigError, ValueError), match="mode_seeking_weight"):
        config_from_dict({**base, "objective": {"mode_seeking_weight": 1.0}})


def test_a_run_resumed_on_another_machine_lists_both():
    from modecollapse.training.run import machines

    a, b = {"id": "cpu A"}, {"id": "cpu B"}
    assert machines({}, a) == {"machine": a, "machines": [a]}
    assert machines({"machine": a}, a)["machines"] == [a]
    assert machines({"machine": a}, b) == {"machine": b, "machines": [a, b]}
    assert machines({"machines": [a, b]}, a)["machines"] == [a, b]


def test_evaluation_sees_the_average_not_g(tmp_path):
    seen = []

    def evaluator(generator, epoch):
        seen.append({k: v.clone() for k, v in generator.state_dict().items()})
        return {"modes": 8.0, "modes_well_formed": 8.0, "high_quality": 1.0, "num_classes": 8.0}

    train(tiny_ring_config(model={"g_ema": True, "g_ema_decay": 0.5}), tmp_path / "run", evaluator=evaluator)
    tensors, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "run"))
    averaged = {
        k.removeprefix("generator_ema."): v for k, v in tensors.items() if k.startswith("generator_ema.")
    }
    raw = {k.removeprefix("generator."): v for k, v in tensors.items() if k.startswith("generator.")}
    for key, value in seen[-1].items():
        torch.testing.assert_close(value, averaged[key], rtol=0, atol=0)
    assert any(not torch.equal(seen[-1][k], raw[k]) for k in raw)
