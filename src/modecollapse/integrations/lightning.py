"""A PyTorch Lightning callback around the Monitor (`pip install modecollapse[lightning]`).

    from modecollapse.integrations.lightning import CollapseMonitor
    trainer = L.Trainer(callbacks=[CollapseMonitor("mnist", every=938, latent_dim=100, out="runs/m")])

After every training batch it hands the LightningModule's generator (the attribute named by
`generator`, "generator" by default) and the scalars logged so far to `Monitor.update`; the step
is the number of batches trained, so GANs with manual optimisation (two optimizer steps a batch)
count as they read. With `stop_on_collapse` a confirmed collapse stops the trainer, and with
`rollback` the generator gets the last healthy weights back first.
"""

from __future__ import annotations

from typing import Any

try:
    import lightning.pytorch as pl
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "modecollapse.integrations.lightning needs PyTorch Lightning: pip install modecollapse[lightning]"
    ) from error
import torch

from modecollapse.monitor import Monitor, Status


class CollapseMonitor(pl.Callback):
    """See the module docstring; other keyword arguments go to `Monitor`."""

    def __init__(
        self,
        dataset: str,
        generator: str = "generator",
        stop_on_collapse: bool = False,
        rollback: bool = False,
        **monitor: Any,
    ) -> None:
        super().__init__()
        self.generator_name, self.stop_on_collapse, self.rollback = generator, stop_on_collapse, rollback
        self.monitor = Monitor(dataset, **monitor)
        self.batches = 0
        self.status: Status | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        generator = getattr(pl_module, self.generator_name, None)
        if generator is None:
            raise AttributeError(
                f"CollapseMonitor looks for the generator at {type(pl_module).__name__}."
                f"{self.generator_name}; pass generator='<attribute>'"
            )
        signals = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if isinstance(value, torch.Tensor) and value.numel() == 1 and not key.startswith("collapse/")
        }
        self.status = self.monitor.update(self.batches, generator, **signals)
        self.batches += 1
        if self.status.evaluated:
            for key in ("modes", "kl_uniform", "recognizable_share", "high_quality", "fcd"):
                if key in self.status.scores:
                    pl_module.log(f"collapse/{key}", float(self.status.scores[key]), on_step=True)
        if self.status.collapsed and self.stop_on_collapse and not trainer.should_stop:
            if self.rollback and self.monitor.last_healthy_state is not None:
                generator.load_state_dict(self.monitor.last_healthy_state)
            trainer.should_stop = True

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.monitor.close()
