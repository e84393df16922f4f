"""The PyTorch Lightning callback on a tiny LightningModule GAN (manual optimisation)."""

import json

import pytest
import torch
from torch import nn

pl = pytest.importorskip("lightning.pytorch", reason="the lightning extra is not installed")

from modecollapse.data.mixtures import ring_means  # noqa: E402
from modecollapse.integrations.lightning import CollapseMonitor  # noqa: E402
from tests.helpers import ScriptedRing  # noqa: E402


class TinyGAN(pl.LightningModule):
    def __init__(self, generator):
        super().__init__()
        self.automatic_optimization = False
        self.generator = generator
        self.learned = nn.Linear(3, 2)  # G's stand-in parameters for the optimizers
        self.discriminator = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def training_step(self, batch, index):
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
        self.generator.step.fill_(self.generator.step + 1)
        self.log_dict({"d_loss": d_loss, "g_loss": g_loss})

    def configure_optimizers(self):
        return torch.optim.Adam(self.learned.parameters(), 1e-3), torch.optim.Adam(
            self.discriminator.parameters(), 1e-3
        )


def test_the_callback_alarms_stops_and_rolls_back(tmp_path):
    points = ring_means(8, 2.0)[torch.arange(64 * 60) % 8]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(points), batch_size=64)
    generator = ScriptedRing(collapse_at=25)
    generator.step.fill_(-1)  # becomes the batch index before the monitor looks
    callback = CollapseMonitor(
        "ring8",
        every=10,
        latent_dim=3,
        out=tmp_path / "mon",
        stop_on_collapse=True,
        rollback=True,
        verbose=False,
    )
    trainer = pl.Trainer(
        max_epochs=1, callbacks=[callback], logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(TinyGAN(generator), loader)
    status = callback.status
    assert status.collapsed and status.onset_step == 30 and status.step == 40  # stopped at the confirmation
    assert generator.step.item() == 20.0  # rolled back to the weights of the last healthy evaluation
    records = [json.loads(line) for line in (tmp_path / "mon" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [0, 10, 20, 30, 40]
    assert "train_d_loss" in records[1] and "train_g_loss" in records[1]
    assert json.loads((tmp_path / "mon" / "summary.json").read_text())["status"] == "completed"
