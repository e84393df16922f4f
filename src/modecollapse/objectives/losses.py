"""GAN losses and gradient penalties; pure functions of logits, targets and networks.

Targets are per-sample numbers in [0, 1]: 1 = "real", 0 = "fake". Label flipping and
smoothing only change the targets, so every loss below but the relativistic one (rpgan,
which compares each fake with a real input instead of a target) supports them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def per_sample_d_loss(kind: str, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """D's loss for each output given its target (1 real, 0 fake, or smoothed in between)."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if kind == "lsgan":
        return 0.5 * (logits - targets) ** 2
    if kind == "hinge":
        return targets * F.relu(1 - logits) + (1 - targets) * F.relu(1 + logits)
    if kind == "wgan-gp":
        return (1 - 2 * targets) * logits  # real: -D(x), fake: +D(x)
    raise ValueError(f"unknown loss '{kind}'")


def discriminator_loss(
    kind: str,
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_targets: torch.Tensor,
    fake_targets: torch.Tensor,
) -> torch.Tensor:
    if kind == "rpgan":  # targets do not apply: config refuses flipping and smoothing with it
        return F.softplus(fake_logits - real_logits).mean()
    return (
        per_sample_d_loss(kind, real_logits, real_targets).mean()
        + per_sample_d_loss(kind, fake_logits, fake_targets).mean()
    )


def generator_loss(
    kind: str, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
) -> torch.Tensor:
    """Non-saturating BCE, least squares towards 1, -D(G(z)) for hinge and WGAN, or the
    relativistic pairing loss softplus(D(x) - D(G(z))) over paired real and fake inputs
    (R3GAN, Huang et al. 2024), which needs the real batch's logits."""
    if kind == "rpgan":
        assert real_logits is not None, "the relativistic loss pairs fakes with real inputs"
        return F.softplus(real_logits - fake_logits).mean()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    if kind == "lsgan":
        return 0.5 * ((fake_logits - 1) ** 2).mean()
    if kind in ("hinge", "wgan-gp"):
        return -fake_logits.mean()
    raise ValueError(f"unknown loss '{kind}'")


def _input_gradient_norms(logits: torch.Tensor, inputs: torch.Tensor, pack: int) -> torch.Tensor:
    (grad,) = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    return grad.reshape(grad.shape[0] // pack, -1).norm(2, dim=1)


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    pack: int = 1,
) -> torch.Tensor:
    """WGAN-GP: E[(|grad D(x_hat)| - 1)^2] on random interpolates (Gulrajani et al. 2017);
    packed inputs (PacGAN) share one interpolation weight per pack."""
    alpha = torch.rand(real.shape[0] // pack, device=real.device).repeat_interleave(pack)
    alpha = alpha.view(-1, *([1] * (real.dim() - 1)))
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    norms = _input_gradient_norms(discriminator(mixed), mixed, pack)
    return ((norms - 1) ** 2).mean()


def r1_penalty(real_logits: torch.Tensor, real_inputs: torch.Tensor, pack: int = 1) -> torch.Tensor:
    """E[|grad D(x_real)|^2]; `real_inputs` must have had requires_grad set before D ran."""
    return (_input_gradient_norms(real_logits, real_inputs, pack) ** 2).mean()
