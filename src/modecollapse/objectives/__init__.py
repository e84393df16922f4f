"""The GAN objective: a loss plus every training-time switch, configured once.

The contract with the trainers: `discriminator_loss(...)` and `generator_loss(...)` each return
`(loss, stats)`, where stats is a dict of 0-d tensors the trainer logs as it is; and G's loss is
taken inside `generator_view(...)`, which is where a look-ahead D is set up when unrolling is on.
Which switches are on is this package's business: the trainers name none of them.

Every discriminator this module sees has the interface of `models.layers.Discriminator`:
`pack` (samples judged together, PacGAN) and `conditioning` (None, "embedding" or "acgan").
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.objectives import losses, stabilizers
from modecollapse.objectives.guided import GuideTerm, build_guide_term

if TYPE_CHECKING:
    from modecollapse.config import Config, ObjectiveConfig
    from modecollapse.data import Dataset
    from modecollapse.speed import SpeedPlan


class Objective:
    def __init__(self, config: ObjectiveConfig, guide: GuideTerm | None = None) -> None:
        self.config = config
        self.guide = guide
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
        self,
        discriminator: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        step: int,
        real_labels: torch.Tensor | None = None,
        fake_labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's loss on one real and one fake batch, with flips, smoothing, noise, penalties;
        stats: d_loss, d_real, d_fake. Conditional discriminators also get each batch's classes."""
        cfg = self.config
        fake = fake.detach()
        if self.history is not None:
            fake = self.history.push_and_sample(fake)
        noise = self.noise_std(step)
        real_in = stabilizers.add_instance_noise(real, noise)
        fake_in = stabilizers.add_instance_noise(fake, noise)
        if cfg.r1_gamma:
            real_in = real_in.detach().requires_grad_(True)
        if cfg.r2_gamma:
            fake_in = fake_in.detach().requires_grad_(True)
        real_logits, real_classes = judge(discriminator, real_in, real_labels)
        fake_logits, fake_classes = judge(discriminator, fake_in, fake_labels)
        real_targets, fake_targets = (
            stabilizers.discriminator_targets(
                logits.shape[0], is_real, cfg.label_smoothing, cfg.label_flip_fraction,
                cfg.label_flip_rounding, logits.device,
            )
            for logits, is_real in ((real_logits, True), (fake_logits, False))
        )  # fmt: skip
        per_output = (-1,) + (1,) * (real_logits.dim() - 1)  # a PatchGAN's scores share their image's target
        loss = losses.discriminator_loss(
            cfg.loss, real_logits, fake_logits, real_targets.view(per_output), fake_targets.view(per_output)
        )
        if discriminator.conditioning == "acgan" and cfg.acgan_class_weight:
            class_loss = F.cross_entropy(real_classes, real_labels) + F.cross_entropy(
                fake_classes, fake_labels
            )
            loss = loss + cfg.acgan_class_weight * class_loss
        pack = discriminator.pack
        if cfg.loss == "wgan-gp" and cfg.gp_weight:
            critic = (
                discriminator
                if discriminator.conditioning is None
                else (lambda x: judge(discriminator, x, real_labels)[0])
            )
            loss = loss + cfg.gp_weight * losses.gradient_penalty(critic, real_in, fake_in, pack)
        if cfg.r1_gamma:
            loss = loss + 0.5 * cfg.r1_gamma * losses.r1_penalty(real_logits, real_in, pack)
        if cfg.r2_gamma:
            loss = loss + 0.5 * cfg.r2_gamma * losses.r1_penalty(fake_logits, fake_in, pack)
        stats = {
            "d_loss": loss.detach(),
            "d_real": self._score(real_logits),
            "d_fake": self._score(fake_logits),
        }
        return loss, stats

    def generator_loss(
        self,
        discriminator: nn.Module,
        z: torch.Tensor | None,
        fake: torch.Tensor,
        step: int,
        labels: torch.Tensor | None = None,
        real: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss against D, plus the mode-seeking, AC-GAN and guide terms when switched on;
        stats: g_loss and the guide's parts. `real` (a real batch) is needed by the relativistic
        loss only; `z` by mode seeking only."""
        noise = self.noise_std(step)
        noisy = stabilizers.add_instance_noise(fake, noise)
        logits, classes = judge(discriminator, noisy, labels)
        real_logits = None
        if self.config.loss == "rpgan":
            assert real is not None, "objective.loss = 'rpgan' needs the real batch for G's loss"
            real_logits = judge(discriminator, stabilizers.add_instance_noise(real, noise), labels)[0]
        loss = losses.generator_loss(self.config.loss, logits, real_logits)
        if classes is not None and self.config.acgan_class_weight:
            loss = loss + self.config.acgan_class_weight * F.cross_entropy(classes, labels)
        guide_stats: dict[str, torch.Tensor] = {}
        if self.guide is not None:
            guide_loss, guide_stats = self.guide(fake, labels, step, loss)
            loss = loss + guide_loss
        if self.config.mode_seeking_weight:
            assert z is not None, "mode seeking compares outputs with the latents they came from"
            loss = loss + self.config.mode_seeking_weight * stabilizers.mode_seeking_penalty(z, fake)
        return loss, {"g_loss": loss.detach().float(), **{k: v.float() for k, v in guide_stats.items()}}

    def generator_view(
        self,
        discriminator: nn.Module,
        optimizer: torch.optim.Optimizer,
        discriminator_step: Callable[[], object],
    ) -> AbstractContextManager[None]:
        """The D that G's loss is taken against: D itself, or with unrolled_steps = k, D after k
        look-ahead `discriminator_step()`s, restored afterwards (Metz et al. 2017)."""
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


def build_objective(config: Config, dataset: Dataset, generator: nn.Module, speed: SpeedPlan) -> Objective:
    """The objective a GAN config asks for, with its guide term when the latent is guided."""
    guide = None
    if config.model.conditioning == "guided":
        guide = build_guide_term(config, dataset, generator, speed)
    return Objective(config.objective, guide)


def judge(
    discriminator: nn.Module, x: torch.Tensor, labels: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(real/fake scores, class logits or None) from any discriminator, conditional or not."""
    if discriminator.conditioning == "embedding":
        return discriminator(x, labels).float(), None
    if discriminator.conditioning == "acgan":
        logits, classes = discriminator(x)
        return logits.float(), classes.float()
    return discriminator(x).float(), None
