"""CycleGAN's objective (Zhu et al. 2017): two GAN objectives, cycle consistency and identity.

G's loss: adversarial (each translation against its domain's D) + cycle_weight * L1 cycle
+ cycle_weight * identity_weight * L1 identity. Each D has its own `Objective`, so every D switch
(flips, smoothing, instance noise, R1, GP, history pool, packing, spectral norm,
minibatch-stddev) applies to both; the history pools are their state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.objectives import Objective

if TYPE_CHECKING:
    from modecollapse.config import ObjectiveConfig


class CycleObjective:
    def __init__(self, config: ObjectiveConfig) -> None:
        self.config = config
        self.for_a, self.for_b = Objective(config), Objective(config)
        # our lsgan generator loss is 0.5 * MSE; the reference's is MSE: scale to keep its balance
        self.adversarial_scale = 2.0 if config.loss == "lsgan" else 1.0

    def generator_loss(
        self,
        g_ab: nn.Module,
        g_ba: nn.Module,
        d_a: nn.Module,
        d_b: nn.Module,
        real_a: torch.Tensor,
        real_b: torch.Tensor,
        step: int,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """(G's loss, its stats, the translations (fake_a, fake_b) for D's step)."""
        cfg = self.config
        fake_b, fake_a = g_ab(real_a), g_ba(real_b)
        adversarial = self.adversarial_scale * (
            self.for_b.generator_loss(d_b, None, fake_b, step)[0]
            + self.for_a.generator_loss(d_a, None, fake_a, step)[0]
        )
        cycle = F.l1_loss(g_ba(fake_b), real_a) + F.l1_loss(g_ab(fake_a), real_b)
        identity = torch.zeros((), device=real_a.device)
        if cfg.identity_weight:
            identity = F.l1_loss(g_ab(real_b), real_b) + F.l1_loss(g_ba(real_a), real_a)
        loss = (
            adversarial.float()
            + cfg.cycle_weight * cycle.float()
            + cfg.cycle_weight * cfg.identity_weight * identity.float()
        )
        stats = {
            "g_loss": loss.detach().float(),
            "g_adversarial": adversarial.detach().float(),
            "cycle_loss": cycle.detach().float(),
            "identity_loss": identity.detach().float(),
        }
        return loss, stats, (fake_a, fake_b)

    def discriminator_loss(
        self,
        d_a: nn.Module,
        d_b: nn.Module,
        real_a: torch.Tensor,
        real_b: torch.Tensor,
        fake_a: torch.Tensor,
        fake_b: torch.Tensor,
        step: int,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Both Ds on real images and fakes drawn through their history pools; stats averaged."""
        loss_a, stats_a = self.for_a.discriminator_loss(d_a, real_a, fake_a, step)
        loss_b, stats_b = self.for_b.discriminator_loss(d_b, real_b, fake_b, step)
        stats = {
            "d_loss": (loss_a + loss_b).detach().float(),
            "d_real": (stats_a["d_real"] + stats_b["d_real"]).float() / 2,
            "d_fake": (stats_a["d_fake"] + stats_b["d_fake"]).float() / 2,
        }
        return loss_a + loss_b, stats

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {
            **{f"pool_a.{k}": v for k, v in self.for_a.state_tensors().items()},
            **{f"pool_b.{k}": v for k, v in self.for_b.state_tensors().items()},
        }

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], device: torch.device) -> None:
        for prefix, objective in (("pool_a.", self.for_a), ("pool_b.", self.for_b)):
            objective.load_state_tensors(
                {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}, device
            )
