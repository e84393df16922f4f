"""The PyTorch Lightning callback on a tiny LightningModule GAN (manual optimisation: two optimizer
steps a batch, so trainer.global_step counts two a batch)."""

import csv
import json

import pytest
import torch
from torch import nn

pl = pytest.importorskip("lightning.pytorch", reason="the lightning extra is not installed")

from modecollapse.data.mixtures import ring_means  # noqa: E402
from modecollapse.errors import ModeCollapseError  # noqa: E402
from modecollapse.integrations.lightning import CollapseMonitor  # noqa: E402
from tests.helpers import ScriptedRing  # noqa: E402


class TinyGAN(pl.LightningModule):
    def __init__(self, generator, crash_at=None):
        super().__init__()
        self.automatic_optimization = False
        self.generator, self.crash_at = generator, crash_at
        self.learned = nn.Linear(3, 2)  # G's stand-in parameters for the optimizers
        self.discriminator = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def training_step(self, batch, index):
        if self.crash_at is not None and self.trainer.global_step >= self.crash_at:
            raise RuntimeError("the loss went NaN")
        opt_g, opt_d = self.optimizers()
        real = batch[0]
        fake = self.learned(torch.randn(len(real), 3))
        bce = nn.functional.binary_cross_entropy_with_logits
        d_loss = bce(self.discriminator(real), torch.ones(len(real), 1)) + bce(
            self.discriminator(fake.detach()), torch.zeros(len(real), 1)
        )
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        g_loss = bce(self.discriminator(fake), torch.ones(len(real), 1))
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.generator.step.fill_(float(self.trainer.global_step))  # the weights' "age", in global steps
        self.log_dict({"d_loss": d_loss, "g_loss": g_loss})

    def configure_optimizers(self):
        return torch.optim.Adam(self.learned.parameters(), 1e-3), torch.optim.Adam(
            self.discriminator.parameters(), 1e-3
        )


def ring_loader(batches=60):
    points = ring_means(8, 2.0)[torch.arange(64 * batches) % 8]
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(points), batch_size=64)


def trainer_for(callback, tmp_path, **options):
    settings = dict(
        max_epochs=1, callbacks=[callback], logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    return pl.Trainer(**{**settings, **options})


def records(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_the_callback_alarms_stops_and_rolls_back_counting_global_steps(tmp_path):
    generator = ScriptedRing(collapse_at=50)
    callback = CollapseMonitor(
        "ring8", every=20, latent_dim=3, out=tmp_path / "mon", stop_on_collapse=True, rollback=True,
        verbose=False,
    )  # fmt: skip
    trainer = trainer_for(callback, tmp_path)
    trainer.fit(TinyGAN(generator), ring_loader())
    status = callback.status
    # the first batch ends at global step 2; then every multiple of 20 is met exactly
    assert [r["step"] for r in records(tmp_path / "mon")] == [2, 20, 40, 60, 80]
    assert status.collapsed and status.onset_step == 60 and status.step == 80 == trainer.global_step
    assert generator.step.item() == 40.0  # rolled back to the weights of the last healthy evaluation
    assert "train_d_loss" in records(tmp_path / "mon")[1] and "epoch" not in records(tmp_path / "mon")[1]
    assert json.loads((tmp_path / "mon" / "summary.json").read_text())["status"] == "completed"


def test_every_evaluation_reaches_the_logger_whatever_log_every_n_steps(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    callback = CollapseMonitor("ring8", every=10, latent_dim=3, verbose=False)
    logger = CSVLogger(tmp_path / "logs", name="", version=0)
    trainer = trainer_for(callback, tmp_path, logger=logger)
    trainer.fit(TinyGAN(ScriptedRing(collapse_at=10**6)), ring_loader(30))
    with open(tmp_path / "logs" / "version_0" / "metrics.csv") as handle:
        logged = [row for row in csv.DictReader(handle) if row.get("collapse/modes")]
    assert [int(row["step"]) for row in logged] == [2, 10, 20, 30, 40, 50, 60]  # 30 batches = 60 steps
    assert all(float(row["collapse/modes"]) == 8 for row in logged)


def test_two_monitors_keep_their_state_apart():
    ring = CollapseMonitor("ring8", every=10, latent_dim=3, out="runs/a")
    grid = CollapseMonitor("grid25", every=10, latent_dim=3, out="runs/b")
    assert ring.state_key != grid.state_key


def test_bad_options_fail_when_the_callback_is_built():
    with pytest.raises(ModeCollapseError, match="unknown dataset 'ring9' \\(did you mean 'ring8'\\?\\)"):
        CollapseMonitor("ring9", every=10)
    with pytest.raises(ModeCollapseError, match="every and num_samples must be positive"):
        CollapseMonitor("ring8", every=0)
    said = "no option lantent_dim: did you mean 'latent_dim'\\? it takes "
    with pytest.raises(ModeCollapseError, match=said):
        CollapseMonitor("ring8", every=10, latent_dim=3, lantent_dim=3)


def test_a_crash_marks_the_records_failed(tmp_path):
    callback = CollapseMonitor("ring8", every=10, latent_dim=3, out=tmp_path / "mon", verbose=False)
    with pytest.raises(RuntimeError, match="NaN"):
        trainer_for(callback, tmp_path).fit(TinyGAN(ScriptedRing(10**6), crash_at=30), ring_loader())
    summary = json.loads((tmp_path / "mon" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["step"] == 30


def test_fit_from_a_checkpoint_continues_the_records(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    def fit(max_steps, ckpt_path=None):
        callback = CollapseMonitor("ring8", every=10, latent_dim=3, out=tmp_path / "mon", verbose=False)
        saving = ModelCheckpoint(tmp_path / "ckpt", every_n_train_steps=10, save_top_k=-1)
        trainer = trainer_for(callback, tmp_path, callbacks=[callback, saving], enable_checkpointing=True,
                              max_steps=max_steps, max_epochs=-1)  # fmt: skip
        trainer.fit(TinyGAN(ScriptedRing(10**6)), ring_loader(), ckpt_path=ckpt_path)
        return callback

    fit(40)
    first = [r["step"] for r in records(tmp_path / "mon")]
    checkpoint = next(p for p in (tmp_path / "ckpt").iterdir() if "step=20" in p.name)
    again = fit(60, ckpt_path=checkpoint)
    assert first == [2, 10, 20, 30, 40]
    assert again.monitor is None and again.status.step == 60
    assert [r["step"] for r in records(tmp_path / "mon")] == [2, 10, 20, 30, 40, 50, 60]
