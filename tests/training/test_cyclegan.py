import json

import numpy as np
import pytest
import torch
from PIL import Image

from modecollapse.errors import ConfigError
from modecollapse.metrics.detector import verdict_of
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.cyclegan import lr_factor
from modecollapse.training.loop import train
from tests.conftest import tiny_cyclegan


def test_linear_decay_follows_the_reference_policy():
    # reference: lr_l = 1 - max(0, epoch + 1 - n_epochs) / (n_epochs_decay + 1), epochs from 0
    factors = [lr_factor(epoch, 6, 3) for epoch in range(6)]
    assert factors == pytest.approx([1, 1, 1, 0.75, 0.5, 0.25])
    assert lr_factor(4, 6, 0) == 1.0


@pytest.mark.slow
def test_cyclegan_run_writes_translations_and_scores(tmp_path):
    summary = train(tiny_cyclegan(), tmp_path / "run")
    assert summary["status"] == "completed" and summary["step"] == 12
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["type"] == "train"]
    assert [r["step"] for r in steps] == list(range(1, 13))
    assert all(r["cycle_loss"] > 0 and r["identity_loss"] > 0 for r in steps)
    evals = [r for r in records if r["type"] == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2]
    for key in ("identity_kept", "modes", "fcd", "diversity_ratio", "cycle_error_a", "identity_kept_b_to_a"):
        assert key in evals[0]
    assert summary["detector"]["verdict"] == verdict_of(evals[-1])[0]  # the last evaluation's own verdict
    assert sorted(p.name for p in (tmp_path / "run" / "samples").glob("*.png")) == [
        "step-00000006.png",
        "step-00000012.png",
    ]
    grid = np.asarray(Image.open(tmp_path / "run" / "samples" / "step-00000012.png"))
    assert (grid[:, :2] == 128).all() and (grid[:2] == 128).all()  # grey between black tiles


@pytest.mark.slow
def test_spatial_runs_report_the_spatial_rule(tmp_path):
    config = tiny_cyclegan(data={"name": "spatial-one", "num_samples": 32}, train={"epochs": 1})
    summary = train(config, tmp_path / "run")
    assert {"spatial_accuracy", "position_error_px", "size_error"} <= set(summary["last_eval"])


@pytest.mark.slow
def test_identity_loss_off_is_zero(tmp_path):
    train(tiny_cyclegan(objective={"identity_weight": 0.0}, train={"epochs": 1}), tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["identity_loss"] == 0 for r in records if r["type"] == "train")


@pytest.mark.slow
def test_resumed_cyclegan_ends_with_identical_weights(tmp_path):
    config = tiny_cyclegan()
    train(config, tmp_path / "whole")
    stopped = tiny_cyclegan(train={"max_steps": 5})
    train(stopped, tmp_path / "parts")
    assert ckpt.latest_checkpoint(tmp_path / "parts").name == "step-00000005"
    train(config, tmp_path / "parts", resume=True, allow_config_change=True)
    whole, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "whole"))
    parts, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "parts"))
    assert set(whole) == set(parts) and any(k.startswith("pool_a.") for k in whole)
    for key in whole:
        torch.testing.assert_close(parts[key], whole[key], rtol=0, atol=0, msg=key)


@pytest.mark.slow
def test_evaluating_more_often_trains_the_same_weights(tmp_path):
    # the evaluator (translation scores, the cycle, the hidden-code check's noise) leaves the
    # training's random state alone: evaluating at every other step changes no weight
    spatial = {"name": "spatial-one", "num_samples": 32}
    train(tiny_cyclegan(data=spatial, train={"epochs": 1}), tmp_path / "once")
    train(tiny_cyclegan(data=spatial, train={"epochs": 1, "eval_every_steps": 2}), tmp_path / "often")
    evals = [json.loads(line) for line in (tmp_path / "often" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if r["type"] == "eval"]
    assert len(evals) >= 2 and "hidden_code" in evals[-1]
    once, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "once"))
    often, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "often"))
    for key in once:
        torch.testing.assert_close(often[key], once[key], rtol=0, atol=0, msg=key)


def test_config_mismatches_are_named():
    with pytest.raises(ConfigError, match="translation pairs"):
        tiny_cyclegan(data={"name": "mnist-5k"})
    with pytest.raises(ConfigError, match="minibatch_discrimination does not apply"):
        tiny_cyclegan(model={"minibatch_discrimination": True})
    with pytest.raises(ConfigError, match="lr_decay_epochs"):
        tiny_cyclegan(train={"lr_decay_epochs": 5})


@pytest.mark.slow
def test_translation_switches_train_and_the_averaged_translator_is_what_loads(tmp_path):
    from modecollapse.trained import load_translator

    config = tiny_cyclegan(
        model={"coord_channels": "gd", "cyclegan_generator": "unet", "cyclegan_discriminator": "image",
               "g_ema": True, "g_ema_decay": 0.5},
    )  # fmt: skip
    summary = train(config, tmp_path / "run")
    assert summary["status"] == "completed" and summary["step"] == 12
    tensors = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "run"))[0]
    assert any(k.startswith("g_ab_ema.") for k in tensors) and any(k.startswith("g_ba_ema.") for k in tensors)
    translator = load_translator(tmp_path / "run")
    averaged = {k.removeprefix("g_ab_ema."): v for k, v in tensors.items() if k.startswith("g_ab_ema.")}
    raw = {k.removeprefix("g_ab."): v for k, v in tensors.items() if k.startswith("g_ab.")}
    loaded = translator.g_ab.state_dict()
    name = next(iter(averaged))
    torch.testing.assert_close(loaded[name], averaged[name])
    assert not torch.equal(averaged[name], raw[name])  # the average is not the last weights


@pytest.mark.slow
def test_the_semantic_term_is_logged_and_refused_off_the_spatial_datasets(tmp_path):
    config = tiny_cyclegan(
        data={"name": "spatial-one", "num_samples": 48}, objective={"semantic_weight": 1.0}
    )
    summary = train(config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    semantic = [r["semantic_loss"] for r in records if r["type"] == "train"]
    assert summary["status"] == "completed" and len(semantic) == 12 and all(v > 0 for v in semantic)
    with pytest.raises(ConfigError, match="semantic_weight needs a spatial"):
        tiny_cyclegan(objective={"semantic_weight": 1.0})


@pytest.mark.slow
def test_gcgan_trains_a_second_d_per_domain_and_resumes_exactly(tmp_path):
    spatial = {"name": "spatial-one", "num_samples": 48}
    config = tiny_cyclegan(data=spatial, objective={"geometry_weight": 20.0})
    summary = train(config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert summary["status"] == "completed"
    assert all(r["geometry_loss"] > 0 for r in records if r["type"] == "train")
    tensors, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "run"))
    assert any(k.startswith("d_gc_a.") for k in tensors) and any(k.startswith("pool_gc_b.") for k in tensors)
    # stopped at step 4 and resumed, it ends where the uninterrupted run ended
    short = tiny_cyclegan(data=spatial, objective={"geometry_weight": 20.0}, train={"max_steps": 4})
    train(short, tmp_path / "again")
    train(config, tmp_path / "again", resume=True, allow_config_change=True)
    again, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "again"))
    for key in ("g_ab.1.weight", "d_gc_b.features.0.weight"):
        torch.testing.assert_close(again[key], tensors[key], rtol=0, atol=0)


@pytest.mark.slow
def test_patch_nce_trains_its_heads_with_g(tmp_path):
    config = tiny_cyclegan(data={"name": "spatial-one", "num_samples": 48}, objective={"nce_weight": 1.0})
    summary = train(config, tmp_path / "run")
    tensors, _ = ckpt.load_checkpoint(ckpt.latest_checkpoint(tmp_path / "run"))
    assert summary["status"] == "completed" and any(k.startswith("nce_ab.heads.") for k in tensors)
    with pytest.raises(ConfigError, match="nce_weight needs model.cyclegan_generator = 'resnet'"):
        tiny_cyclegan(objective={"nce_weight": 1.0}, model={"cyclegan_generator": "unet"})
