"""The own-loop Monitor: a live alarm at the right step, rollback weights, files, and a loop that
trains bit-identically with and without it."""

import contextlib
import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from modecollapse import Monitor
from modecollapse.cli import main
from modecollapse.data.mixtures import ring_means
from modecollapse.errors import ModeCollapseError
from tests.helpers import ScriptedRing


def test_a_collapse_is_flagged_at_the_first_evaluation_after_it_and_never_before(tmp_path, capsys):
    generator = ScriptedRing(collapse_at=45)
    monitor = Monitor(dataset="ring8", every=10, latent_dim=3, out=tmp_path / "mon")
    seen = []
    for step in range(100):
        generator.step.fill_(step)
        status = monitor.update(step, generator, g_loss=float(step))
        if status.evaluated:
            seen.append((step, status.verdict, status.collapsed))
    before = [verdict for step, verdict, _ in seen if step < 45]
    assert before == ["healthy"] * 5
    assert seen[5] == (50, "collapsed", False)  # judged at the first evaluation after the collapse
    assert seen[6] == (60, "collapsed", True)  # confirmed by the second, as train.on_collapse does
    assert status.onset_step == 50 and status.last_healthy_step == 40
    assert status.kinds == ["dropped modes"] and any("modes well formed" in r for r in status.reasons)
    assert monitor.last_healthy_state["step"].item() == 40.0  # the weights of the last healthy step
    alarm = capsys.readouterr().out
    assert (
        alarm.count("collapse detected") == 1
        and "since step 50" in alarm
        and "last healthy: step 40" in alarm
    )
    saved = load_file(str(tmp_path / "mon" / "last-healthy.safetensors"))
    assert saved["step"].item() == 40.0
    records = [json.loads(line) for line in (tmp_path / "mon" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(0, 100, 10))
    # the signals between evaluations are averaged into the next record
    assert (
        records[1]["train_g_loss"] == pytest.approx(sum(range(1, 11)) / 10)
        and records[1]["train_steps"] == 10
    )
    monitor.close()
    summary = json.loads((tmp_path / "mon" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["detector"]["collapse_onset_step"] == 50
    assert main(["report", str(tmp_path / "mon")]) == 0  # modecollapse report reads a monitor's folder
    assert "modes" in (tmp_path / "mon" / "report" / "table.md").read_text()
    said = capsys.readouterr().out  # it names the files it wrote, and no analysis.md it did not
    assert "table.md" in said and not (tmp_path / "mon" / "report" / "analysis.md").exists()
    assert "analysis.md" not in said


def tiny_gan():
    torch.manual_seed(0)
    generator = nn.Sequential(
        nn.Linear(4, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2)
    )
    generator[1].eval()  # a frozen submodule: it must stay in eval mode
    discriminator = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return generator, discriminator


def train_loop(monitor=None, steps=40):
    generator, discriminator = tiny_gan()
    g_opt = torch.optim.Adam(generator.parameters(), 1e-3)
    d_opt = torch.optim.Adam(discriminator.parameters(), 1e-3)
    means = ring_means(8, 2.0)
    bce = nn.functional.binary_cross_entropy_with_logits
    for step in range(steps):
        real = means[torch.randint(8, (64,))] + 0.02 * torch.randn(64, 2)
        fake = generator(torch.randn(64, 4))
        d_real, d_fake = discriminator(real), discriminator(fake.detach())
        d_loss = bce(d_real, torch.ones(64, 1)) + bce(d_fake, torch.zeros(64, 1))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = bce(discriminator(fake), torch.ones(64, 1))
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        if monitor is not None:
            monitor.update(step, generator, d_loss=d_loss.item(), g_loss=g_loss.item())
    return generator.state_dict(), discriminator.state_dict(), [m.training for m in generator.modules()]


def global_rng_sampler(generator, count, draw):
    """A user's sampler that draws from the global RNG (the monitor must put it back)."""
    return generator(torch.randn(count, 4))


def test_a_loop_trains_bit_identical_weights_with_and_without_the_monitor():
    plain_g, plain_d, plain_modes = train_loop()
    for monitor in (
        Monitor(dataset="ring8", every=7, latent_dim=4, verbose=False),
        Monitor(dataset="ring8", every=7, sample=global_rng_sampler, verbose=False),
    ):
        monitored_g, monitored_d, modes = train_loop(monitor)
        assert modes == plain_modes == [True, True, False, True, True, True]  # the frozen BN stays frozen
        for plain, monitored in ((plain_g, monitored_g), (plain_d, monitored_d)):
            for key in plain:
                torch.testing.assert_close(monitored[key], plain[key], rtol=0, atol=0, msg=key)


def test_a_signal_given_on_some_steps_is_averaged_over_those_steps():
    monitor = Monitor(dataset="ring8", every=10, latent_dim=3, verbose=False)
    for step in range(11):
        extra = {"d_loss": 4.0} if step % 2 else {}
        status = monitor.update(step, ScriptedRing(100), g_loss=1.0, **extra)
    assert status.scores["train_d_loss"] == 4.0 and status.scores["train_g_loss"] == 1.0
    assert status.scores["train_steps"] == 10


def test_nan_outputs_are_a_collapse_not_a_crash():
    class Broken(nn.Module):
        def forward(self, z):
            return torch.full((len(z), 2), math.nan)

    monitor = Monitor(dataset="ring8", every=1, latent_dim=2, verbose=False)
    status = monitor.update(0, Broken())
    assert status.verdict == "collapsed"
    assert status.reasons == ["2,500 of 2,500 outputs (100%) are NaN or infinite: G diverged"]


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (lambda: nn.Linear(4, 3), {"latent_dim": 4}, r"2-D points: expected N x 2 samples, got \(2500, 3\)"),
        (
            lambda: nn.Linear(4, 2),
            {"latent_dim": 5},
            r"G failed on z ~ N\(0, I\) of shape \(5,\) \(a batch of shape \(500, 5\).*does the latent law",
        ),
        (
            lambda: "not a network",
            {"latent_dim": 4},
            r"needs the generator \(an nn.Module or a callable\), got str",
        ),
    ],
)
def test_bad_input_is_named(make, kwargs, message):
    monitor = Monitor(dataset="ring8", every=1, verbose=False, **kwargs)
    with pytest.raises(ModeCollapseError, match=message):
        monitor.update(0, make())


def test_z_is_read_from_gs_first_layer_when_no_option_gives_it():
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
    read = Monitor(dataset="ring8", verbose=False).update(0, generator)
    given = Monitor(dataset="ring8", latent_dim=3, verbose=False).update(0, generator)
    assert json.dumps(read.scores) == json.dumps(given.scores)  # NaN as NaN
    assert "of shape (3,), its size read from G's first layer, Linear(3, ...)" in read.notes[0]
    assert not any("first layer" in note for note in given.notes)


def test_the_latent_law_is_required_and_a_used_folder_is_not_overwritten(tmp_path):
    unreadable = Monitor(dataset="ring8", verbose=False)  # ScriptedRing's first parameter is its own
    said = r"^Monitor needs the latent law G takes: latent_dim.*\(G's first layer with weights, ScriptedRing,"
    with pytest.raises(ModeCollapseError, match=said):
        unreadable.update(0, ScriptedRing(10))
    first = Monitor(dataset="ring8", every=1, latent_dim=3, out=tmp_path / "m", verbose=False)
    first.update(0, ScriptedRing(10))
    with pytest.raises(ModeCollapseError, match="already holds a monitor's records; pass resume=True"):
        Monitor(dataset="ring8", every=1, latent_dim=3, out=tmp_path / "m")
    again = Monitor(dataset="ring8", every=1, latent_dim=3, out=tmp_path / "m", resume=True, verbose=False)
    again.update(1, ScriptedRing(10))  # the records before step 1 are replayed first
    assert again.status.last_healthy_step == 1 and [h["step"] for h in again.tracker.history] == [0, 1]


@pytest.mark.slow
def test_an_image_generator_out_of_shape_is_named():
    monitor = Monitor(dataset="mnist-5k", every=1, latent_dim=8, num_samples=64, verbose=False)
    with pytest.raises(ModeCollapseError, match="G's output does not fit mnist-5k"):
        monitor.update(0, lambda z: torch.zeros(len(z), 1, 20, 20))
    with pytest.raises(ModeCollapseError, match="one number each, as a discriminator's output does: pass"):
        monitor.update(0, lambda z: torch.zeros(len(z), 1))  # D's score given in place of G


def test_too_few_samples_for_the_classes_is_said_with_the_option_that_fixes_it(mnist_digits):
    real = torch.as_tensor(np.asarray(mnist_digits[0][:100])).float()[:, None] / 127.5 - 1  # in [-1, 1]
    monitor = Monitor(dataset="mnist-5k", every=1, latent_dim=8, num_samples=64, verbose=False)
    notes = monitor.update(0, lambda z: real[: len(z)]).notes
    said = "only 64 samples for 10 classes: modes and KL are judged against what that many samples can show"
    assert f"{said}; pass num_samples=100 for a firm verdict" in notes  # mnist-5k's 10 classes: 100
    enough = Monitor(dataset="mnist-5k", every=1, latent_dim=8, num_samples=100, verbose=False)
    notes = enough.update(0, lambda z: real[: len(z)]).notes
    assert not any("samples for 10 classes" in note for note in notes)


def test_a_step_that_goes_back_is_refused_before_it_silences_the_alarm():
    monitor = Monitor(dataset="ring8", every=4, latent_dim=2, verbose=False)
    generator = nn.Linear(2, 2)
    for step in range(6):  # epoch 1: batches 0-5
        monitor.update(step, generator)
    with pytest.raises(ModeCollapseError, match="update got step 0 after step 5: pass a step that counts up"):
        monitor.update(0, generator)  # epoch 2's first batch index: evaluations would stop at step 8
    monitor.update(5, generator)  # the same step twice (a D and a G update) is fine


def test_a_step_that_is_not_a_whole_number_is_named():
    monitor = Monitor(dataset="ring8", every=4, latent_dim=2, verbose=False)
    generator = nn.Linear(2, 2)
    with pytest.raises(ModeCollapseError, match=r"update\(step, G\) takes the step first: got a Linear"):
        monitor.update(generator, 0)  # the arguments swapped
    with pytest.raises(ModeCollapseError, match=r"evaluate\(step, G\) takes the step first: got a Linear"):
        monitor.evaluate(generator, 0)
    for step in (0.5, float("inf"), float("nan"), torch.tensor(float("nan")), -1, 2**63, True):
        with pytest.raises(ModeCollapseError, match="step must be a whole number of steps from 0, got"):
            monitor.update(step, generator)  # a fractional epoch, a diverged counter, out of range
    monitor.update(torch.tensor(0), generator)  # a step counter kept as a tensor is fine
    monitor.update(np.int64(4), generator)
    monitor.update(np.array(5), generator)
    assert monitor.status.step == 5 and isinstance(monitor.status.step, int)


class PacganRing(nn.Module):
    """PacGAN's ring (radius 1, std 0.01): z's first coordinate picks one of 8 modes."""

    def forward(self, z):
        angle = torch.floor((torch.tanh(z[:, 0]) + 1) * 4).clamp(max=7) * (2 * math.pi / 8)
        return torch.stack([angle.cos(), angle.sin()], 1) + 0.01 * z[:, 1:3]


def test_a_loop_on_pacgans_half_scale_ring_is_judged_at_its_own_scale():
    wrong = Monitor(dataset="ring8", every=1, latent_dim=3, verbose=False)
    assert wrong.update(0, PacganRing()).verdict == "collapsed"  # radius 1 against the radius-2 ring
    right = Monitor(dataset="ring8", every=1, latent_dim=3, mixture_scale=0.5, verbose=False)
    status = right.update(0, PacganRing())
    assert status.verdict == "healthy" and status.scores["modes_well_formed"] == 8
    for bad in (0, float("inf")):
        with pytest.raises(ModeCollapseError, match="mixture_scale takes a positive number .*, not (0|inf)"):
            Monitor(dataset="ring8", mixture_scale=bad, verbose=False)
    Monitor(dataset="ring8", mixture_scale=np.float32(0.5), verbose=False)  # a numpy scale is a number
    with pytest.raises(ModeCollapseError, match="mixture_scale is for the 2-D mixtures .ring8, grid25."):
        Monitor(dataset="mnist-5k", mixture_scale=0.5, verbose=False)


def test_a_resume_keeps_the_records_scale_and_says_again_how_g_is_read(tmp_path, capsys):
    first = Monitor(dataset="ring8", every=1, latent_dim=3, mixture_scale=0.5, out=tmp_path / "m")
    first.update(0, PacganRing())
    first.close()
    with pytest.raises(ModeCollapseError, match="these records judged G as ring8 at mixture_scale 0.5, not"):
        Monitor(dataset="ring8", every=1, latent_dim=3, out=tmp_path / "m", resume=True)
    capsys.readouterr()
    again = Monitor("ring8", every=1, latent_dim=3, mixture_scale=0.5, out=tmp_path / "m", resume=True)
    assert again.evaluate(1, PacganRing()).verdict == "healthy"  # evaluate first continues the records too
    said = capsys.readouterr().out
    assert "modecollapse: judging G every 1 steps (protocol ring8(scale 0.5)/n2500)" in said


def test_the_first_evaluation_says_once_how_g_is_judged(capsys):
    monitor = Monitor(dataset="ring8", every=4, verbose=True)  # z's size read from G's first layer
    generator = nn.Linear(2, 2)
    monitor.update(0, generator)
    said = capsys.readouterr().out
    assert "modecollapse: judging G every 4 steps (protocol ring8/n2500)" in said
    assert "  - z ~ N(0, I) of shape (2,), its size read from G's first layer" in said
    monitor.update(4, generator)
    assert "judging G every" not in capsys.readouterr().out
    Monitor(dataset="ring8", every=4, verbose=False).update(0, generator)
    assert capsys.readouterr().out == ""


def test_a_latent_shape_that_is_not_a_tuple_gets_a_sentence():
    with pytest.raises(ModeCollapseError, match=r"latent_shape takes a tuple of sizes, e.g. \(100, 1, 1\)"):
        Monitor("mnist-5k", latent_shape=100, verbose=False)


def test_diagnose_reads_a_monitors_folder(tmp_path):
    from modecollapse import diagnose

    generator = ScriptedRing(collapse_at=25)
    monitor = Monitor(dataset="ring8", every=10, latent_dim=3, out=tmp_path / "mon", verbose=False)
    for step in range(41):
        generator.step.fill_(step)
        monitor.update(step, generator)
    report = diagnose(tmp_path / "mon")
    assert report.verdict == "collapsed" and report["dataset"] == "ring8"
    notes = " ".join(report["input_notes"])
    assert "last evaluation (step 40)" in notes and "collapse confirmed since step 30" in notes
    assert "last healthy: step 20" in notes
    # the Monitor's rollback weights, judged from their file with the user's class: still healthy
    weights = tmp_path / "mon" / "last-healthy.safetensors"
    kept = diagnose(
        weights, "ring8", latent_dim=3, arch="tests.helpers:ScriptedRing", arch_kwargs={"collapse_at": 25}
    )
    assert kept.verdict == "healthy" and "tests.helpers:ScriptedRing with weights" in kept["input_notes"][0]


@pytest.mark.slow
def test_a_translator_is_monitored_on_held_out_inputs(capsys):
    monitor = Monitor(dataset="spatial-one", every=1, num_samples=200)
    status = monitor.update(0, nn.Identity())  # copies A: the wrong place and size for B
    said = capsys.readouterr().out
    assert said.startswith("modecollapse: judging G every 1 steps\n") and "None" not in said
    assert status.verdict != "healthy" and status.scores["translation_score"] == pytest.approx(0.0, abs=0.05)
    assert "lost identity" in status.kinds
    assert "for translators" in status.suggestions[0]  # the alarm cites translator evidence, not 2-D rows
    with_cycle = Monitor(dataset="spatial-one", every=1, num_samples=200, verbose=False)
    scores = with_cycle.update(0, nn.Identity(), g_ba=nn.Identity()).scores  # the digit in plain view
    assert scores["cycle_error_a"] == 0.0 and scores["cycle_identity_kept"] > 0.8
    assert scores["hidden_code"] == 0.0
    with pytest.raises(ModeCollapseError, match="g_ba is for translators"):
        points = Monitor(dataset="ring8", every=1, latent_dim=2, verbose=False)
        points.update(0, nn.Linear(2, 2), g_ba=nn.Identity())


@pytest.mark.parametrize("last", [nn.Identity(), nn.Tanh()])
def test_nan_images_are_a_collapse_not_a_value_range_error(last):
    class Diverged(nn.Module):
        def forward(self, z):
            return torch.full((len(z), 784), math.nan)

    monitor = Monitor(dataset="mnist-5k", every=1, latent_dim=4, num_samples=200, verbose=False)
    status = monitor.update(0, nn.Sequential(Diverged(), last))
    assert status.verdict == "collapsed"
    assert status.reasons == ["200 of 200 outputs (100%) are NaN or infinite: G diverged"]


def test_nan_samples_leave_no_stale_samples_behind(tmp_path):
    from modecollapse import diagnose

    class BreaksAt(ScriptedRing):
        def forward(self, z):
            out = super().forward(z)
            return out * math.nan if self.step >= 25 else out

    generator = BreaksAt(collapse_at=1000)
    monitor = Monitor(dataset="ring8", every=10, latent_dim=3, out=tmp_path / "mon", verbose=False)
    for step in range(31):
        generator.step.fill_(step)
        monitor.update(step, generator)
    assert not (tmp_path / "mon" / "samples.npy").exists()
    with pytest.raises(ModeCollapseError, match="left no samples to judge .* judged it collapsed"):
        diagnose(tmp_path / "mon")


def test_a_resumed_monitor_replaces_later_records_and_takes_back_the_healthy_weights(tmp_path):
    generator = ScriptedRing(collapse_at=45)
    first = Monitor(dataset="ring8", every=10, latent_dim=3, out=tmp_path / "mon", verbose=False)
    for step in range(61):
        generator.step.fill_(step)
        first.update(step, generator)
    again = Monitor(dataset="ring8", every=10, latent_dim=3, out=tmp_path / "mon", resume=True, verbose=False)
    generator.step.fill_(30)
    status = again.update(30, generator)  # the loop restarted from its step-30 checkpoint
    records = [json.loads(line) for line in (tmp_path / "mon" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 10, 20, 30]
    assert status.verdict == "healthy" and again.last_healthy_state["step"].item() == 30.0
    resumed = Monitor(
        dataset="ring8", every=10, latent_dim=3, out=tmp_path / "mon", resume=True, verbose=False
    )
    resumed.update(31, generator)  # between evaluations: the records up to 30 are kept and replayed
    assert resumed.status.last_healthy_step == 30 and resumed.last_healthy_state["step"].item() == 30.0


@pytest.mark.slow
def test_a_translator_giving_nan_is_a_collapse_not_a_crash():
    monitor = Monitor(dataset="spatial-one", every=1, num_samples=100, verbose=False)
    status = monitor.update(0, lambda x: x * math.nan)
    assert status.verdict == "collapsed" and "NaN" in status.reasons[0]


def test_a_run_collapsed_from_the_start_raises_the_alarm_after_its_grace(capsys):
    """The README's `if status.collapsed:` fired only after a healthy evaluation; a run collapsed
    from its first evaluation never raised it (issue 39, item 5)."""
    generator = ScriptedRing(collapse_at=-1)  # one mode from the start
    monitor = Monitor(dataset="ring8", every=10, latent_dim=3)
    seen = [(step, monitor.update(step, generator)) for step in range(0, 60)]
    seen = [(step, status.collapsed, status.verdict) for step, status in seen if status.evaluated]
    # evaluations at 0 and 10 are the start's grace; 20 and 30 collapsed in a row confirm it
    assert [collapsed for _, collapsed, _ in seen] == [False, False, False, True, True, True]
    assert all(verdict == "collapsed" for _, _, verdict in seen)  # collapsed and verdict agree from 30 on
    assert monitor.status.from_start and monitor.status.onset_step == 20
    alarm = capsys.readouterr().out
    assert alarm.count("collapsed from the start") == 1 and "since step 20" in alarm


def test_signals_that_are_not_single_numbers_get_a_sentence():
    monitor = Monitor(dataset="ring8", every=10, latent_dim=3, verbose=False)
    monitor.update(1, ScriptedRing(collapse_at=100), d_loss=torch.tensor([0.5]))  # one element is fine
    with pytest.raises(ModeCollapseError, match=r"g_loss=a Tensor of shape \(64,\): signals are single"):
        monitor.update(2, ScriptedRing(collapse_at=100), g_loss=torch.rand(64))
    with pytest.raises(ModeCollapseError, match="signal d_loss=None"):
        monitor.update(3, ScriptedRing(collapse_at=100), d_loss=None)


def test_the_alarm_cites_the_measured_fixes(capsys):
    generator = ScriptedRing(collapse_at=25)
    monitor = Monitor(dataset="ring8", every=10, latent_dim=3)
    for step in range(50):
        generator.step.fill_(step)
        status = monitor.update(step, generator)
    assert status.collapsed and "evidence results/fix-atlas/ring8" in status.suggestions[0]
    assert "  try next: " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("error", "status"), [(None, "completed"), (RuntimeError, "failed"), (KeyboardInterrupt, "interrupted")]
)
def test_leaving_the_with_block_records_how_the_loop_ended(tmp_path, error, status):
    generator = ScriptedRing(collapse_at=1000)
    with pytest.raises(error) if error else contextlib.nullcontext():
        with Monitor(dataset="ring8", every=10, latent_dim=3, out=tmp_path / "mon", verbose=False) as monitor:
            for step in range(20):
                generator.step.fill_(step)
                monitor.update(step, generator)
            if error:
                raise error
    assert json.loads((tmp_path / "mon" / "summary.json").read_text())["status"] == status


def test_a_value_range_is_checked_when_the_monitor_is_made(tmp_path):
    with pytest.raises(ModeCollapseError, match=r"must be auto, 0-255, 0-1, -1-1 or 'MEAN,STD'.*not '0-100'"):
        Monitor(dataset="mnist", every=1, verbose=False, value_range="0-100", out=tmp_path / "a")
    Monitor(dataset="mnist", every=1, verbose=False, value_range="0.1307,0.3081", out=tmp_path / "b")


def test_rules_may_be_a_dict_as_for_diagnose(tmp_path):
    options = dict(dataset="ring8", every=1, latent_dim=3, verbose=False)
    ring = ScriptedRing(collapse_at=10**6)  # healthy: 99.2 % of its points within 3 std of a mode
    assert Monitor(**options).update(0, ring).verdict == "healthy"
    strict = Monitor(**options, rules={"partial_high_quality": 0.9999})
    status = strict.update(0, ring)  # the dict's limit, not the default 0.9, judges it
    assert status.verdict == "partial collapse" and "within 3 std of a mode" in status.reasons[0]
    with pytest.raises(ModeCollapseError, match="rules: .*partial_kl_uniform"):
        Monitor(**options, rules={"partial_kl_unifrom": 0.2})  # a typo gets the key it meant
