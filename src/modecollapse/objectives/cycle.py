"""CycleGAN's objective (Zhu et al. 2017): two GAN objectives, cycle consistency and identity.

G's loss: adversarial (each translation against its domain's D) + cycle_weight * L1 cycle
+ cycle_weight * identity_weight * L1 identity, and the translation switches: semantic_weight *
CyCADA's semantic consistency, GcGAN's geometry consistency (geometry_weight), nce_weight * CUT's
PatchNCE (objectives/patchnce.py). Each D has its own `Objective`, so every D switch (flips,
smoothing, instance noise, R1, GP, history pool, packing, spectral norm, minibatch-stddev)
applies to both; the history pools are their state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.data.spatial import Layout, slot_theta
from modecollapse.objectives import Objective
from modecollapse.objectives.patchnce import PatchNCE

if TYPE_CHECKING:
    from modecollapse.config import ObjectiveConfig


class SemanticConsistency:
    """CyCADA's semantic loss (Hoffman et al. 2018, Eq. 4): a translation must keep the class a
    fixed pretrained classifier f gives its input, CE(f(G_AB(a)), argmax f(a)) and the same from B.
    f reads each layout slot's digit, cut out of the canvas by the inverse of the slot's placement
    (differentiable, so G learns through f); f stays frozen and in eval mode."""

    def __init__(self, classifier: nn.Module, a_layout: Layout, b_layout: Layout, canvas: int) -> None:
        self.classifier = classifier.eval().requires_grad_(False)
        self.a, self.b = slot_crops(a_layout, canvas), slot_crops(b_layout, canvas)

    def __call__(self, real_a, fake_b, real_b, fake_a) -> torch.Tensor:
        return self._term(real_a, self.a, fake_b, self.b) + self._term(real_b, self.b, fake_a, self.a)

    def _term(
        self, source: torch.Tensor, source_slots: torch.Tensor, made: torch.Tensor, made_slots: torch.Tensor
    ) -> torch.Tensor:
        with torch.no_grad():
            labels = self._logits(source.float(), source_slots).argmax(1)
        return F.cross_entropy(self._logits(made.float(), made_slots), labels)

    def _logits(self, canvases: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        digits = cut_digits(canvases, slots)
        with torch.autocast(canvases.device.type, enabled=False):
            return self.classifier(digits)[0]


def slot_crops(layout: Layout, canvas: int) -> torch.Tensor:
    """(slots, 2, 3) affine maps from a 28x28 digit frame to each slot of the canvas: the inverse
    of the placement spatial.render draws the digit with."""
    maps = []
    for slot in layout:
        forward = slot_theta(slot, canvas)  # canvas -> digit coordinates
        inverse = torch.linalg.inv(forward[:, :2])
        maps.append(torch.cat([inverse, -inverse @ forward[:, 2:]], dim=1))
    return torch.stack(maps)


def cut_digits(canvases: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
    """(N * slots, C, 28, 28): each slot's digit of each canvas, resampled into a 28x28 frame."""
    n, channels = canvases.shape[:2]
    theta = slots.to(canvases.device, canvases.dtype).repeat(n, 1, 1)
    grid = F.affine_grid(theta, [n * len(slots), channels, 28, 28], align_corners=False)
    repeated = canvases.repeat_interleave(len(slots), dim=0)
    return F.grid_sample(repeated, grid, align_corners=False, padding_mode="border")


def vertical_flip(images: torch.Tensor) -> torch.Tensor:
    """GcGAN's `vf` geometry transform (its own inverse)."""
    return images.flip(-2)


class GeometryConsistency:
    """GcGAN (Fu et al. 2019; hufu6371/GcGAN gc_gan_share_model.py), in both directions beside the
    cycle: each G also translates the vertically flipped input, a second D per domain judges those
    translations against flipped real images, and each translation is pulled to the other branch's
    (detached) output under the flip: L1(G(x), f(G(f(x)))) + L1(G(f(x)), f(G(x))). The vertical
    flip commutes with our layouts' left-to-right move (the reference's default is a 90-degree
    rotation, which would turn the task into another)."""

    def __init__(self, config: ObjectiveConfig, d_gc_a: nn.Module, d_gc_b: nn.Module) -> None:
        self.d_gc_a, self.d_gc_b = d_gc_a, d_gc_b
        self.for_a, self.for_b = Objective(config), Objective(config)
        self.fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def generator_terms(
        self, g_ab: nn.Module, g_ba: nn.Module, real_a, real_b, fake_a, fake_b, step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(adversarial terms of the flipped branch, the geometry-consistency L1)."""
        flipped_b, flipped_a = g_ab(vertical_flip(real_a)), g_ba(vertical_flip(real_b))
        self.fakes = (flipped_a, flipped_b)
        adversarial = (
            self.for_b.generator_loss(self.d_gc_b, None, flipped_b, step)[0]
            + self.for_a.generator_loss(self.d_gc_a, None, flipped_a, step)[0]
        )
        consistency = (
            F.l1_loss(fake_b, vertical_flip(flipped_b).detach())
            + F.l1_loss(flipped_b, vertical_flip(fake_b).detach())
            + F.l1_loss(fake_a, vertical_flip(flipped_a).detach())
            + F.l1_loss(flipped_a, vertical_flip(fake_a).detach())
        )
        return adversarial, consistency

    def discriminator_loss(self, real_a, real_b, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The flipped-domain Ds on flipped real images and the pooled flipped-branch fakes."""
        assert self.fakes is not None, "generator_terms runs before the discriminators' step"
        flipped_a, flipped_b = self.fakes
        loss_a, _ = self.for_a.discriminator_loss(self.d_gc_a, vertical_flip(real_a), flipped_a, step)
        loss_b, _ = self.for_b.discriminator_loss(self.d_gc_b, vertical_flip(real_b), flipped_b, step)
        return loss_a, loss_b


class CycleObjective:
    def __init__(
        self,
        config: ObjectiveConfig,
        semantic: SemanticConsistency | None = None,
        geometry: GeometryConsistency | None = None,
        contrastive: tuple[PatchNCE, PatchNCE] | None = None,
    ) -> None:
        self.config = config
        self.for_a, self.for_b = Objective(config), Objective(config)
        # our lsgan generator loss is 0.5 * MSE; the reference's is MSE: scale to keep its balance
        self.adversarial_scale = 2.0 if config.loss == "lsgan" else 1.0
        self.semantic, self.geometry, self.contrastive = semantic, geometry, contrastive

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
            "g_adversarial": adversarial.detach().float(),
            "cycle_loss": cycle.detach().float(),
            "identity_loss": identity.detach().float(),
        }
        if self.semantic is not None:
            semantic = self.semantic(real_a, fake_b, real_b, fake_a)
            loss = loss + cfg.semantic_weight * semantic
            stats["semantic_loss"] = semantic.detach().float()
        if self.geometry is not None:
            geometry = self.geometry.generator_terms(g_ab, g_ba, real_a, real_b, fake_a, fake_b, step)
            flipped, consistency = geometry
            loss = loss + self.adversarial_scale * flipped.float() + cfg.geometry_weight * consistency.float()
            if cfg.identity_weight:  # GcGAN's identity also on the flipped domain
                turned_a, turned_b = vertical_flip(real_a), vertical_flip(real_b)
                flipped_identity = F.l1_loss(g_ab(turned_b), turned_b) + F.l1_loss(g_ba(turned_a), turned_a)
                loss = loss + cfg.cycle_weight * cfg.identity_weight * flipped_identity.float()
            stats["geometry_loss"] = consistency.detach().float()
        if self.contrastive is not None:
            nce_ab, nce_ba = self.contrastive
            nce = nce_ab.loss(g_ab, real_a, fake_b) + nce_ba.loss(g_ba, real_b, fake_a)
            loss = loss + cfg.nce_weight * nce.float()
            stats["nce_loss"] = nce.detach().float()
        stats = {"g_loss": loss.detach().float(), **stats}
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
        if self.geometry is not None:
            gc_a, gc_b = self.geometry.discriminator_loss(real_a, real_b, step)
            loss_a, loss_b = loss_a + gc_a, loss_b + gc_b
        stats = {
            "d_loss": (loss_a + loss_b).detach().float(),
            "d_real": (stats_a["d_real"] + stats_b["d_real"]).float() / 2,
            "d_fake": (stats_a["d_fake"] + stats_b["d_fake"]).float() / 2,
        }
        return loss_a + loss_b, stats

    def _pools(self) -> dict[str, Objective]:
        pools = {"pool_a.": self.for_a, "pool_b.": self.for_b}
        if self.geometry is not None:
            pools |= {"pool_gc_a.": self.geometry.for_a, "pool_gc_b.": self.geometry.for_b}
        return pools

    def state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {}
        for prefix, objective in self._pools().items():
            tensors |= {f"{prefix}{k}": v for k, v in objective.state_tensors().items()}
        return tensors

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], device: torch.device) -> None:
        for prefix, objective in self._pools().items():
            objective.load_state_tensors(
                {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}, device
            )
