import json

import pytest
import torch
import torch.nn.functional as F

from modecollapse import speed
from modecollapse.config import config_from_dict
from modecollapse.data import load_dataset
from modecollapse.errors import ConfigError
from modecollapse.metrics.evaluators import image_evaluator
from modecollapse.metrics.scores import extract
from modecollapse.models import build_models
from modecollapse.models.classifier import load_classifier
from modecollapse.models.latent import LatentSampler
from modecollapse.training import run as run_module
from modecollapse.training.loop import train
from tests.conftest import tiny_cyclegan, tiny_image_config, tiny_ring_config
from tests.helpers import assert_resume_is_exact

AVX2_ONLY = {"fpu", "sse2", "avx", "avx2", "fma"}
SAPPHIRE_RAPIDS = AVX2_ONLY | {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}


def test_cpu_flags_are_read_from_x86_and_arm_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512_bf16\n\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")
    assert speed.cpu_flags(x86) == {"fpu", "avx2", "avx512_bf16"}
    assert "bf16" in speed.cpu_flags(arm)
    assert speed.cpu_flags(tmp_path / "missing") == set()


@pytest.mark.parametrize(
    "flags, family, precision, reason",
    [
        (AVX2_ONLY, "dcgan", "fp32", "no AVX512-BF16"),
        (SAPPHIRE_RAPIDS, "dcgan", "bf16", "amx_bf16, avx512_bf16"),
        (SAPPHIRE_RAPIDS, "cyclegan", "bf16", "avx512_bf16"),
        (SAPPHIRE_RAPIDS, "mlp", "fp32", "2-D points"),
        (set(), "dcgan", "fp32", "unknown"),
    ],
)
def test_auto_precision_follows_the_hardware_and_the_family(monkeypatch, flags, family, precision, reason):
    monkeypatch.setattr(speed, "cpu_flags", lambda: flags)
    train_cfg = tiny_image_config().train.model_copy(update={"device": "cpu"})
    plan = speed.plan_speed(train_cfg, family)
    assert plan.precision == precision
    assert reason in plan.reasons["precision"]


def test_forced_precision_and_memory_format_are_kept_and_said(monkeypatch):
    monkeypatch.setattr(speed, "cpu_flags", lambda: AVX2_ONLY)
    cfg = tiny_image_config(train={"precision": "bf16", "memory_format": "contiguous", "device": "cpu"})
    plan = speed.plan_speed(cfg.train, "dcgan")
    assert (plan.precision, plan.memory_format) == ("bf16", "contiguous")
    assert "not native here" in plan.reasons["precision"]
    auto = speed.plan_speed(tiny_image_config(train={"device": "cpu"}).train, "dcgan")
    assert auto.memory_format == "channels_last"
    cyclegan = speed.plan_speed(tiny_cyclegan(train={"device": "cpu"}).train, "cyclegan")
    assert cyclegan.memory_format == "contiguous"


def test_bf16_autocast_keeps_losses_norm_statistics_and_adam_state_in_fp32():
    config = tiny_image_config(train={"precision": "bf16", "device": "cpu"})
    plan = speed.plan_speed(config.train, "dcgan")
    generator, discriminator = (plan.prepare(m) for m in build_models(config.model, (1, 28, 28)))
    optimizer = plan.adam(generator.parameters(), 2e-4, (0.5, 0.999))
    with plan.autocast():
        fake = generator(torch.randn(8, 8))
        logits = discriminator(fake)
        loss = F.binary_cross_entropy_with_logits(logits.float(), torch.ones(8))
    assert fake.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    optimizer.step()
    norm = next(m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert norm.running_mean.dtype == torch.float32 and norm.weight.dtype == torch.float32
    assert all(v.dtype == torch.float32 for s in optimizer.state.values() for v in s.values() if v.dim())
    assert next(generator.parameters()).is_contiguous(memory_format=torch.channels_last)


@pytest.mark.slow
def test_bf16_run_resumes_exactly_and_records_its_speed_plan(tmp_path):
    config = tiny_image_config(train={"epochs": 2, "checkpoint_every": 6, "precision": "bf16"})
    summary = assert_resume_is_exact(config, tmp_path, 9)
    assert summary["speed"]["precision"] == "bf16"
    assert summary["speed"]["memory_format"] == "channels_last"
    assert set(summary["speed"]["reasons"]) == {"precision", "memory_format", "adam", "threads"}


@pytest.mark.slow
def test_grading_does_not_depend_on_training_precision_or_layout(tmp_path):
    """The evaluator called inside a bf16 autocast region (as if from a bf16 training step)
    scores exactly as outside it, and the same images in either memory format get the same
    classifier features."""
    config = tiny_image_config(data={"num_samples": 300})
    dataset = load_dataset(config.data)
    generator, _ = build_models(config.model, dataset.sample_shape)
    generator = generator.to(memory_format=torch.channels_last).eval()
    sampler = LatentSampler(config.model, dataset.num_classes)
    evaluate = image_evaluator(dataset, sampler, torch.device("cpu"), 200)
    plain = evaluate(generator, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside_bf16 = evaluate(generator, 1)
    assert inside_bf16 == plain and plain["fcd"] > 0
    classifier = load_classifier("mnist")
    images = dataset.batch(torch.arange(200))
    contiguous = extract(classifier, images)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        channels_last = extract(classifier, images.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(channels_last.features, contiguous.features, rtol=0, atol=0)


def test_eval_every_steps_scores_on_a_step_clock(tmp_path):
    config = tiny_ring_config(train={"epochs": 3, "eval_every_steps": 10})  # 16 steps per epoch
    summary = train(config, tmp_path / "run")
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    evals = [json.loads(line) for line in lines if '"eval"' in line]
    assert [r["step"] for r in evals] == [10, 20, 30, 40, 48]
    assert [r["epoch"] for r in evals] == [0.625, 1.25, 1.875, 2.5, 3]
    assert summary["last_eval"]["step"] == 48


def test_eval_clocks_cannot_both_be_set():
    with pytest.raises(ConfigError, match="eval_every_steps and train.eval_every_epochs are both set"):
        tiny_ring_config(train={"eval_every_steps": 10, "eval_every_epochs": 2})


@pytest.mark.slow
@pytest.mark.parametrize("make", [tiny_image_config, tiny_cyclegan])
def test_both_trainers_split_their_wall_time_and_rate_training_alone(tmp_path, make):
    summary = train(make(train={"eval_samples": 100}), tmp_path / "run")
    shares = summary["time_shares"]
    assert set(shares) == {"training", "evaluation", "samples_checkpoints", "logging"}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert shares["evaluation"] > 0 and shares["samples_checkpoints"] > 0
    seconds = summary["time_s"]
    assert sum(seconds.values()) == pytest.approx(summary["wall_time_s"], rel=0.05, abs=0.05)
    assert 0 < summary["cpu_s"]
    # the steady rate leaves evaluation and bookkeeping out: at least the all-inclusive rate
    items = summary["step"] * make().train.batch_size
    assert summary["images_per_second"] >= items / summary["wall_time_s"]


@pytest.mark.slow
def test_time_spent_adds_up_over_a_resume(tmp_path):
    settings = {"epochs": 2, "eval_samples": 100}
    first = train(tiny_image_config(train={**settings, "max_steps": 10}), tmp_path / "run")
    config = tiny_image_config(train=settings)
    resumed = train(config, tmp_path / "run", resume=True, allow_config_change=True)
    assert resumed["time_s"]["training"] > first["time_s"]["training"]
    assert resumed["time_s"]["evaluation"] > first["time_s"]["evaluation"]


def test_unsupported_precision_is_refused_on_mps(monkeypatch):
    cfg = config_from_dict({"train": {"precision": "bf16"}}).train
    monkeypatch.setattr(speed, "pick_device", lambda name: torch.device("mps"))
    with pytest.raises(ConfigError, match="not supported on Apple MPS"):
        speed.plan_speed(cfg, "dcgan")


def test_a_run_can_pin_one_scorer_whatever_the_machine_grades_in(tmp_path, monkeypatch):
    """A study whose seeds run on CPUs with and without native bf16 pins train.grading_precision
    = "fp32": the run grades in fp32 and records it, where "auto" would grade in bf16; once the
    run returns, the process grades as the machine says again (diagnose, Monitor)."""
    monkeypatch.setattr(speed, "native_bf16", lambda device: (True, "pretend: the CPU has amx_bf16"))
    assert speed.grading_precision() == "bf16"
    config = tiny_image_config(train={"precision": "fp32", "grading_precision": "fp32"})
    seen = []
    monkeypatch.setattr(run_module, "plan_speed", _recording(speed.plan_speed, seen))
    summary = train(config, tmp_path / "run")
    assert summary["machine"]["grading_precision"] == "fp32" and seen == ["fp32"]
    assert speed.grading_precision() == "bf16"
    with pytest.raises(ConfigError, match="applies to the evaluators this trainer builds"):
        train(config, tmp_path / "other", evaluator=lambda generator, epoch: {})
    with pytest.raises(ConfigError, match="grading_precision"):
        tiny_image_config(train={"grading_precision": "fp16"})


def _recording(plan, seen):
    def recorded(*args, **kwargs):
        seen.append(speed.grading_precision())  # what the run grades in while it trains
        return plan(*args, **kwargs)

    return recorded


def test_a_pinned_grading_precision_is_restored_when_the_run_fails(monkeypatch):
    monkeypatch.setattr(speed, "_pinned_grading", None)
    monkeypatch.setattr(speed, "native_bf16", lambda device: (True, "pretend: the CPU has amx_bf16"))
    assert speed.grading_precision() == "bf16"  # so that pinning fp32 is seen
    with pytest.raises(RuntimeError), speed.grading_pinned("fp32"):
        assert speed.grading_precision() == "fp32"
        raise RuntimeError("a NaN loss, say")
    assert speed._pinned_grading is None and speed.grading_precision() == "bf16"
