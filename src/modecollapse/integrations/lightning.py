"""A PyTorch Lightning callback around the Monitor (`.venv/bin/pip install -e '.[lightning]'` in a checkout).

    from modecollapse.integrations.lightning import CollapseMonitor
    trainer = L.Trainer(callbacks=[CollapseMonitor("mnist", every=1000, latent_dim=100, out="runs/m")])

After every training batch it hands the LightningModule's generator (the attribute named by
`generator`, "generator" by default) and the scalars logged so far to `Monitor.update`. Its step
is `trainer.global_step`, the step every Lightning logger plots against: the number of optimizer
steps, so a GAN with manual optimisation and two optimizers counts two a batch, and `every` is
counted in those steps (G is scored at the first batch at or past each multiple). Each
evaluation's `collapse/*` numbers go to every logger at once, whatever `log_every_n_steps` says.

Resuming: `trainer.fit(..., ckpt_path=...)` continues the Monitor's records from the checkpoint's
step (records after it are replaced). A crash marks the records "failed" (Ctrl-C: "interrupted").
Only the global-zero process monitors; with `stop_on_collapse` a confirmed collapse stops every
process (the decision is broadcast), and with `rollback` the generator gets the last healthy
weights back first (on the global-zero process: under DDP, roll back before saving, as its
weights are the ones written).
"""

from __future__ import annotations

from typing import Any

try:
    import lightning.pytorch as pl
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "modecollapse.integrations.lightning needs PyTorch Lightning: pip install lightning "
        "(in a checkout: .venv/bin/pip install -e '.[lightning]')"
    ) from error
import torch

from modecollapse.monitor import Monitor, Status

LOGGED = ("modes", "kl_uniform", "recognizable_share", "high_quality", "fcd", "translation_score")


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
        if "resume" in monitor:
            raise TypeError("CollapseMonitor resumes when trainer.fit is given ckpt_path; drop resume=")
        Monitor.check_options(dataset, **monitor)  # bad options fail here, before training starts
        self.generator_name, self.stop_on_collapse, self.rollback = generator, stop_on_collapse, rollback
        self.dataset, self.options = dataset, monitor
        self.monitor: Monitor | None = None
        self.status: Status | None = None

    @property
    def state_key(self) -> str:
        """Two monitors of one trainer (two datasets, two folders) keep apart in checkpoints."""
        return self._generate_state_key(dataset=self.dataset, out=str(self.options.get("out")))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero and self.monitor is None:  # only one process writes the records
            resume = trainer.ckpt_path is not None and self.options.get("out") is not None
            self.monitor = Monitor(self.dataset, resume=resume, **self.options)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        generator = getattr(pl_module, self.generator_name, None)
        if generator is None:
            raise AttributeError(
                f"CollapseMonitor looks for the generator at {type(pl_module).__name__}."
                f"{self.generator_name}; pass generator='<attribute>'"
            )
        stop = False
        if self.monitor is not None:
            self.status = self.monitor.update(trainer.global_step, generator, **_signals(trainer))
            if self.status.evaluated:
                _log(trainer, self.status)
            stop = self.status.collapsed and self.stop_on_collapse
            if stop and self.rollback and self.monitor.last_healthy_state is not None:
                generator.load_state_dict(self.monitor.last_healthy_state)
        if self.stop_on_collapse and trainer.world_size > 1:
            stop = trainer.strategy.broadcast(stop, src=0)
        if stop:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "step": self.status.step if self.status else None}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Nothing to restore: the step is trainer.global_step, the records live under `out`."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.monitor is not None:
            self.monitor.close()
            self.monitor = None

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if self.monitor is not None:
            self.monitor.close("interrupted" if isinstance(exception, KeyboardInterrupt) else "failed")
            self.monitor = None


def _signals(trainer: pl.Trainer) -> dict[str, float]:
    """The module's logged scalars (not the monitor's own collapse/* numbers)."""
    return {
        key: float(value)
        for key, value in trainer.callback_metrics.items()
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not key.startswith("collapse/")
    }


def _log(trainer: pl.Trainer, status: Status) -> None:
    """One evaluation's headline numbers to every logger, at trainer.global_step."""
    metrics = {f"collapse/{key}": float(status.scores[key]) for key in LOGGED if key in status.scores}
    metrics["collapse/healthy"] = float(status.verdict == "healthy")
    if trainer.is_global_zero:
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
