import json

import pytest
import torch

from modecollapse.errors import CheckpointError, ConfigError, DatasetUnavailable, TrainingDiverged
from modecollapse.metrics.detector import CollapseTracker
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.loop import train
from tests.conftest import tiny_image_config, tiny_ring_config
from tests.helpers import Crash, assert_resume_is_exact, crash_at, final_weights


def test_run_folder_has_everything(tmp_path):
    config = tiny_ring_config(train={"tensorboard": True})
    summary = train(config, tmp_path / "run")
    run = tmp_path / "run"
    assert summary["status"] == "completed" and summary["step"] == 32
    assert (run / "config.toml").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == [
        "step-00000016.png",
        "step-00000032.png",
    ]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["type"] == "train"]
    assert [r["step"] for r in train_records] == list(range(1, 33))
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"):
        assert all(isinstance(r[key], float) for r in train_records)
    evals = [r for r in records if r["type"] == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2]
    assert {"modes", "high_quality", "reverse_kl"} <= set(evals[0])
    saved = json.loads((run / "summary.json").read_text())
    assert saved["modecollapse_version"] and "git_commit" in saved
    assert ckpt.latest_checkpoint(run).name == "step-00000032"


@pytest.mark.slow
@pytest.mark.parametrize(
    "objective, model",
    [
        ({}, {}),
        ({"history_buffer_size": 20, "label_flip_fraction": 0.1, "instance_noise_std": 0.1}, {"pack": 2}),
        ({"unrolled_steps": 2, "mode_seeking_weight": 0.5}, {"minibatch_stddev": True}),
    ],
)
def test_resumed_run_ends_with_identical_weights(tmp_path, objective, model):
    config = tiny_ring_config(objective=objective, model=model)
    summary = assert_resume_is_exact(config, tmp_path, 23, resumes_from="step-00000020")
    assert summary["step"] == 32
    lines = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines if '"train"' in line]
    assert steps == list(range(1, 33))  # no duplicated steps from before the kill


@pytest.mark.slow
def test_dcgan_resume_is_exact(tmp_path):
    assert_resume_is_exact(tiny_image_config(train={"epochs": 2, "checkpoint_every": 6}), tmp_path, 9)


@pytest.mark.slow
@pytest.mark.parametrize(
    "make, short_steps, long_steps",
    [(tiny_ring_config, 16, 32), (tiny_ring_config, 13, 32), (tiny_image_config, 3, 8)],
)
def test_a_finished_run_lengthened_ends_like_the_longer_run(tmp_path, make, short_steps, long_steps):
    """Raising max_steps resumes a finished run without --allow-config-change and ends with
    the weights of a run trained that long from the start: the end of the short run (an
    extra evaluation, sample grid and checkpoint when it is off the schedule) draws nothing
    from the training's random streams and leaves BatchNorm's statistics alone."""
    train(make(train={"max_steps": long_steps}), tmp_path / "straight")
    train(make(train={"max_steps": short_steps}), tmp_path / "run")
    summary = train(make(train={"max_steps": long_steps}), tmp_path / "run", resume=True)
    assert summary["status"] == "completed" and summary["step"] == long_steps
    epochs = make().train.epochs
    entry = {"at_step": short_steps, "max_steps": [short_steps, long_steps], "epochs": [epochs, epochs]}
    assert summary["lengthened"] == [entry]
    assert f"max_steps = {long_steps}" in (tmp_path / "run" / "config.toml").read_text()
    straight, _ = final_weights(tmp_path / "straight")
    lengthened, _ = final_weights(tmp_path / "run")
    for key in straight:
        torch.testing.assert_close(lengthened[key], straight[key], rtol=0, atol=0, msg=key)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines if '"train"' in line] == list(range(1, long_steps + 1))


@pytest.mark.slow
@pytest.mark.parametrize("killed_after_lengthening", [False, True])
def test_a_lengthened_run_judges_the_evaluations_of_the_longer_run(
    tmp_path, monkeypatch, killed_after_lengthening
):
    """The short run's extra last evaluation (off the every-epoch schedule) stays in
    metrics.jsonl but is not replayed into the detector, so its onsets match the longer run's;
    also when the lengthened run is killed and resumed from a checkpoint of its own."""
    judged = []
    observe = CollapseTracker.observe

    def spy(tracker, epoch, record):
        judged.append(record["step"])
        return observe(tracker, epoch, record)

    monkeypatch.setattr(CollapseTracker, "observe", spy)
    train(tiny_ring_config(train={"max_steps": 32}), tmp_path / "straight")
    straight = list(judged)
    judged.clear()
    train(tiny_ring_config(train={"max_steps": 13}), tmp_path / "run")
    assert judged == [13]
    judged.clear()
    if killed_after_lengthening:  # the resume below starts from the longer run's checkpoint at 20
        with pytest.raises(Crash):
            train(
                tiny_ring_config(train={"max_steps": 32}),
                tmp_path / "run",
                resume=True,
                callbacks=[crash_at(24)],
            )
        assert ckpt.latest_checkpoint(tmp_path / "run").name == "step-00000020"
        judged.clear()
    train(tiny_ring_config(train={"max_steps": 32}), tmp_path / "run", resume=True)
    assert judged == straight == [16, 32]
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if r["type"] == "eval"] == [13, 16, 32]


def test_a_lengthening_with_no_steps_to_add_keeps_the_finished_summary(tmp_path):
    done = train(tiny_ring_config(train={"max_steps": 32}), tmp_path / "run")  # 2 epochs: 32 steps
    again = train(tiny_ring_config(train={"max_steps": 64}), tmp_path / "run", resume=True)
    assert again["step"] == 32 and again["final"] == done["final"] and "lengthened" not in again
    assert again["images_per_second"] == done["images_per_second"]


def test_a_shorter_run_is_not_a_lengthening(tmp_path):
    train(tiny_ring_config(train={"max_steps": 16}), tmp_path / "run")
    with pytest.raises(CheckpointError, match=r"train.max_steps: 16 -> 8"):
        train(tiny_ring_config(train={"max_steps": 8}), tmp_path / "run", resume=True)


def test_resume_with_changed_config_is_refused(tmp_path):
    config = tiny_ring_config()
    with pytest.raises(Crash):
        train(config, tmp_path / "run", callbacks=[crash_at(6)])
    changed = tiny_ring_config(train={"lr_g": 1e-2})
    with pytest.raises(CheckpointError, match=r"train.lr_g: 0.0002 -> 0.01.*--allow-config-change"):
        train(changed, tmp_path / "run", resume=True)
    summary = train(changed, tmp_path / "run", resume=True, allow_config_change=True)
    assert summary["status"] == "completed"


def test_resume_from_a_moved_data_folder_is_no_config_change(tmp_path):
    with pytest.raises(Crash):
        train(tiny_ring_config(), tmp_path / "run", callbacks=[crash_at(6)])
    moved = tiny_ring_config(data={"data_dir": str(tmp_path)}, train={"progress": False})  # --data-dir
    assert train(moved, tmp_path / "run", resume=True)["status"] == "completed"


def test_fresh_train_into_a_used_folder_is_refused(tmp_path):
    train(tiny_ring_config(), tmp_path / "run")
    with pytest.raises(CheckpointError, match="already holds a run"):
        train(tiny_ring_config(), tmp_path / "run")
    (tmp_path / "run" / "checkpoints" / "latest").unlink()  # its step-* folders still hold the run
    with pytest.raises(CheckpointError, match="already holds a run"):
        train(tiny_ring_config(), tmp_path / "run")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.toml").write_text("# my notes\n")  # a user's own folder and file
    with pytest.raises(CheckpointError, match="mine is not empty .it holds config.toml.; a run starts"):
        train(tiny_ring_config(), tmp_path / "mine")
    assert (tmp_path / "mine" / "config.toml").read_text() == "# my notes\n"


def test_a_run_refused_before_it_began_leaves_no_folder(tmp_path):
    data = {"name": "mnist", "split": "test", "data_dir": str(tmp_path / "no-such-dir"), "download": False}
    missing = tiny_image_config(data=data)
    with pytest.raises(DatasetUnavailable, match="does not exist"):
        train(missing, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # not a folder holding only run.lock


def test_a_run_whose_latest_pointer_was_emptied_resumes_from_its_newest_checkpoint(tmp_path):
    with pytest.raises(Crash):
        train(tiny_ring_config(), tmp_path / "run", callbacks=[crash_at(23)])
    (tmp_path / "run" / "checkpoints" / "latest").write_text("")
    trained = []
    summary = train(
        tiny_ring_config(), tmp_path / "run", resume=True, callbacks=[lambda s, m: trained.append(s)]
    )
    assert trained == list(range(21, 33)) and summary["step"] == 32  # not from step 0


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    def poison(step, models):
        if step == 12:
            with torch.no_grad():
                next(models["generator"].parameters()).fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match=r"became nan at step 13.*last good checkpoint \(step 10\)"):
        train(tiny_ring_config(), tmp_path / "run", callbacks=[poison])
    assert ckpt.latest_checkpoint(tmp_path / "run").name == "step-00000010"
    tensors, _ = final_weights(tmp_path / "run")
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if t.is_floating_point())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged_at_step"] == 13


def test_separate_learning_rates_reach_the_optimizers(tmp_path):
    train(tiny_ring_config(train={"lr_g": 1e-3, "lr_d": 3e-4}), tmp_path / "run")
    _, state = final_weights(tmp_path / "run")
    assert state["g_optimizer"]["param_groups"][0]["lr"] == 1e-3
    assert state["d_optimizer"]["param_groups"][0]["lr"] == 3e-4


@pytest.mark.slow
def test_every_loss_runs_a_few_dcgan_steps_to_finite_numbers(tmp_path):
    for loss in ("bce", "lsgan", "hinge", "wgan-gp", "rpgan"):
        config = tiny_image_config(
            objective={
                "loss": loss,
                "r1_gamma": 1.0 if loss in ("bce", "rpgan") else 0.0,
                "r2_gamma": 1.0 if loss == "rpgan" else 0.0,
            },
            model={"spectral_norm": loss == "hinge", "minibatch_discrimination": loss == "lsgan"},
        )
        summary = train(config, tmp_path / loss)
        assert summary["status"] == "completed"
        assert all(abs(v) < 1e6 for k, v in summary["final"].items() if isinstance(v, float))


@pytest.mark.slow
def test_image_runs_are_scored_and_judged_each_epoch(tmp_path, capsys):
    config = tiny_image_config(train={"epochs": 2, "eval_samples": 100})
    summary = train(config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["type"] == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2]
    for key in (
        "modes",
        "kl_uniform",
        "fcd",
        "precision",
        "recall",
        "density",
        "coverage",
        "diversity_ratio",
    ):
        assert isinstance(evals[0][key], float)
    assert len(evals[0]["classifier_sha256"]) == 64
    detector = summary["detector"]
    assert detector["verdict"] in ("healthy", "partial collapse", "collapsed")
    assert detector["rules"]["patience"] == 2
    # a 16-step GAN with 4 filters draws one blob: collapsed, but it never learned anything,
    # so there is no onset of a collapse to name
    assert detector["verdict"] == "collapsed" and detector["collapse_onset_epoch"] is None
    assert detector["never_healthy"] is True
    assert "collapse detected" not in capsys.readouterr().out


@pytest.mark.slow
def test_detector_memory_survives_resume(tmp_path):
    config = tiny_ring_config(train={"epochs": 4}, detector={"patience": 3})
    train(config, tmp_path / "straight")
    with pytest.raises(Crash):
        train(config, tmp_path / "killed", callbacks=[crash_at(52)])
    resumed = train(config, tmp_path / "killed", resume=True)
    straight = json.loads((tmp_path / "straight" / "summary.json").read_text())
    assert resumed["detector"] == straight["detector"]


def test_g_steps_update_the_generator_that_many_times_per_step(tmp_path):
    train(tiny_ring_config(train={"g_steps": 2, "epochs": 1}), tmp_path / "run")
    tensors, state = final_weights(tmp_path / "run")
    assert state["step"] == 16
    assert tensors["g_optimizer.state.0.step"].item() == 32
    assert tensors["d_optimizer.state.0.step"].item() == 16


def test_uniform_latents_are_drawn_in_range_and_a_run_trains_on_them(tmp_path):
    from modecollapse.models.latent import LatentSampler

    config = tiny_ring_config(model={"latent_distribution": "uniform"})
    sampler = LatentSampler(config.model, 8)
    z, _ = sampler.sample(4000, "cpu")
    fixed, _ = sampler.fixed(4000, 3, "cpu")
    for draw in (z, fixed):
        assert draw.min() >= -1 and draw.max() <= 1 and draw.min() < -0.99 and draw.max() > 0.99
        torch.testing.assert_close(draw.std(), torch.tensor(1 / 3**0.5), atol=0.01, rtol=0)
    assert train(config, tmp_path / "run")["status"] == "completed"


def test_full_evaluations_score_more_samples_at_their_steps_only(tmp_path):
    config = tiny_image_config(
        train={"epochs": 2, "eval_every_steps": 4, "eval_samples": 100, "full_eval_samples": 300,
               "full_eval_steps": [8]},
    )  # fmt: skip
    train(config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    counts = {r["step"]: (r["num_samples"], r["protocol"]) for r in records if r["type"] == "eval"}
    assert {step: n for step, (n, _) in counts.items()} == {4: 100, 8: 300, 12: 100, 16: 100}
    assert counts[8][1].endswith("/n300") and counts[4][1].endswith("/n100")
    with pytest.raises(ConfigError, match=r"train.full_eval_steps \[6\] are not evaluation steps"):
        tiny_image_config(train={"eval_every_steps": 4, "full_eval_samples": 300, "full_eval_steps": [6]})
