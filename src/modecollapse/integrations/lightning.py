"""A PyTorch Lightning callback around the Monitor (`pip install modecollapse[lightning]`).

    from modecollapse.integrations.lightning import CollapseMonitor
    trainer = L.Trainer(callbacks=[CollapseMonitor("mnist", every=938, latent_dim=100, out="runs/m")])

After every training batch it hands the LightningModule's generator (the attribute named by
`generator`, "generator" by default) and the scalars logged so far to `Monitor.update`; the step
is the batch's index counted from the start of training (0, 1, ...), so GANs with manual
optimisation (two optimizer steps a batch) count as they read; the count is saved with
Lightning's checkpoints. Only the global-zero process monitors; with `stop_on_collapse` a
confirmed collapse stops every process (the decision is broadcast), and with `rollback` the
generator gets the last healthy weights back first (on the global-zero process: under DDP,
roll back before saving, as its weights are the ones written).
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
        self.dataset, self.options = dataset, monitor
        Monitor(dataset, **{k: v for k, v in monitor.items() if k != "out"})  # bad options fail here, early
        self.monitor: Monitor | None = None
        self.batches = 0
        self.status: Status | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.is_global_zero and self.monitor is None:  # only one process writes the records
            self.monitor = Monitor(self.dataset, **self.options)

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
        step, self.batches = self.batches, self.batches + 1
        stop = False
        if self.monitor is not None:
            self.status = self.monitor.update(step, generator, **signals)
            if self.status.evaluated:
                for key in ("modes", "kl_uniform", "recognizable_share", "high_quality", "fcd"):
                    if key in self.status.scores:
                        value = float(self.status.scores[key])
                        pl_module.log(f"collapse/{key}", value, on_step=True, rank_zero_only=True)
            stop = self.status.collapsed and self.stop_on_collapse
            if stop and self.rollback and self.monitor.last_healthy_state is not None:
                generator.load_state_dict(self.monitor.last_healthy_state)
        if self.stop_on_collapse and trainer.world_size > 1:
            stop = trainer.strategy.broadcast(stop, src=0)
        if stop:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self.batches}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.batches = int(state_dict.get("batches", 0))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.monitor is not None:
            self.monitor.close()
