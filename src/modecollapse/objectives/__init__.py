"""The GAN objective: a loss plus every training-time switch, configured once.

`Objective.discriminator_loss` and `Objective.generator_loss` are all the training loop
calls; which switches are on is this object's business, not the loop's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import torch
from torch import nn

from modecollapse.objectives import losses, stabilizers

if TYPE_CHECKING:
    from modecollapse.config import ObjectiveConfig


class Objective:
    def __init__(self, config: ObjectiveConfig) -> None:
        self.config = config
        self.history = (
            stabilizers.HistoryBuffer(config.history_buffer_size, config.history_buffer_fraction)
            if config.history_buffer_size
            else None
        )

    def noise_std(self, step: int) -> float:
        return stabilizers.instance_noise_std(
            self.config.instance_noise_std, self.config.instance_noise_anneal_steps, step
        )

    def discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's loss on one real and one fake batch, with flips, smoothing, noise, penalties."""
        cfg = self.config
        fake = fake.detach()
        if self.history is not None:
            fake = self.history.push_and_sample(fake)
        noise = self.noise_std(step)
        real_in = stabilizers.add_instance_noise(real, noise)
        fake_in = stabilizers.add_instance_noise(fake, noise)
        if cfg.r1_gamma:
            real_in = real_in.detach().requires_grad_(True)
        real_logits = discriminator(real_in).float()
        fake_logits = discriminator(fake_in).float()
        device = real_logits.device
        real_targets = stabilizers.discriminator_targets(
            real_logits.shape[0],
            True,
            cfg.label_smoothing,
            cfg.label_flip_fraction,
            cfg.label_flip_rounding,
            device,
        )
        fake_targets = stabilizers.discriminator_targets(
            fake_logits.shape[0],
            False,
            cfg.label_smoothing,
            cfg.label_flip_fraction,
            cfg.label_flip_rounding,
            device,
        )
        per_output = (-1,) + (1,) * (real_logits.dim() - 1)  # a PatchGAN's scores share their image's target
        loss = losses.discriminator_loss(
            cfg.loss, real_logits, fake_logits, real_targets.view(per_output), fake_targets.view(per_output)
        )
        if cfg.loss == "wgan-gp" and cfg.gp_weight:
            loss = loss + cfg.gp_weight * losses.gradient_penalty(discriminator, real_in, fake_in)
        if cfg.r1_gamma:
            pack = getattr(discriminator, "pack", 1)
            loss = loss + 0.5 * cfg.r1_gamma * losses.r1_penalty(real_logits, real_in, pack)
        return loss, {"d_real": self._score(real_logits), "d_fake": self._score(fake_logits)}

    def generator_loss(
        self, discriminator: nn.Module, z: torch.Tensor, fake: torch.Tensor, step: int
    ) -> torch.Tensor:
        """G's loss against D, plus the mode-seeking term when switched on."""
        logits = discriminator(stabilizers.add_instance_noise(fake, self.noise_std(step))).float()
        loss = losses.generator_loss(self.config.loss, logits)
        if self.config.mode_seeking_weight:
            loss = loss + self.config.mode_seeking_weight * stabilizers.mode_seeking_penalty(z, fake)
        return loss

    def unrolled(
        self,
        discriminator: nn.Module,
        optimizer: torch.optim.Optimizer,
        discriminator_step: Callable[[], object],
    ) -> AbstractContextManager[None]:
        """Context in which D has taken `unrolled_steps` look-ahead steps (no-op when 0)."""
        return stabilizers.unrolled_discriminator(
            discriminator, optimizer, self.config.unrolled_steps, discriminator_step
        )

    def _score(self, logits: torch.Tensor) -> torch.Tensor:
        """Mean D output as users know it: probability for bce, raw score otherwise."""
        logits = logits.detach()
        return torch.sigmoid(logits).mean() if self.config.loss == "bce" else logits.mean()

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return self.history.state_tensors() if self.history else {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], device: torch.device) -> None:
        if self.history:
            self.history.load_state_tensors(tensors, device)
