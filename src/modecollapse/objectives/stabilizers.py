"""Training-time anti-collapse switches: each a small function or object, off by default."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


def flip_mask(n: int, fraction: float, rounding: str, device: torch.device) -> torch.Tensor:
    """Which of n labels to flip: each with probability p, or exactly int(n * p) of them."""
    if fraction <= 0:
        return torch.zeros(n, dtype=torch.bool, device=device)
    if rounding == "bernoulli":
        return torch.rand(n, device=device) < fraction
    mask = torch.zeros(n, dtype=torch.bool, device=device)
    mask[torch.randperm(n, device=device)[: int(n * fraction)]] = True
    return mask


def discriminator_targets(
    n: int, real: bool, smoothing: float, flip_fraction: float, rounding: str, device: torch.device
) -> torch.Tensor:
    """D's targets: real 1 - smoothing (one-sided), fake 0; a flipped label takes the other."""
    real_value, fake_value = 1.0 - smoothing, 0.0
    own, other = (real_value, fake_value) if real else (fake_value, real_value)
    flipped = flip_mask(n, flip_fraction, rounding, device)
    return torch.where(flipped, other, own).float()


def instance_noise_std(std: float, anneal_steps: int, step: int) -> float:
    """Linearly annealed noise level (Sønderby et al. 2017; Arjovsky & Bottou 2017)."""
    if std <= 0:
        return 0.0
    if anneal_steps <= 0:
        return std
    return std * max(0.0, 1.0 - step / anneal_steps)


def add_instance_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    return x + std * torch.randn_like(x) if std > 0 else x


def mode_seeking_penalty(z: torch.Tensor, fake: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + eps) over the batch's two halves (MSGAN)."""
    half = fake.shape[0] // 2
    image_distance = (fake[:half] - fake[half : 2 * half]).abs().mean()
    latent_distance = (z[:half] - z[half : 2 * half]).abs().mean()
    return 1.0 / (image_distance / latent_distance + eps)


class HistoryBuffer:
    """Past fakes shown to D again (Shrivastava et al. 2017; CycleGAN's image pool).

    While filling, new fakes are stored and passed through. When full, each fake is, with
    probability `swap_probability`, replaced in the batch by a random stored one, which the
    new fake then replaces in the buffer.
    """

    def __init__(self, capacity: int, swap_probability: float = 0.5) -> None:
        self.capacity, self.swap_probability = capacity, swap_probability
        self.images: torch.Tensor | None = None
        self.filled = 0

    def push_and_sample(self, fake: torch.Tensor) -> torch.Tensor:
        fake = fake.detach()
        if self.images is None:
            self.images = torch.empty(self.capacity, *fake.shape[1:], dtype=fake.dtype, device=fake.device)
        out = fake.clone()
        take = min(self.capacity - self.filled, fake.shape[0])
        if take:
            self.images[self.filled : self.filled + take] = fake[:take]
            self.filled += take
        rest = torch.arange(take, fake.shape[0], device=fake.device)
        if len(rest):
            swap = torch.rand(len(rest), device=fake.device) < self.swap_probability
            rest = rest[swap]
            slots = torch.randint(self.filled, (len(rest),), device=fake.device)
            out[rest] = self.images[slots]
            self.images[slots] = fake[rest]
        return out

    def state_tensors(self) -> dict[str, torch.Tensor]:
        if self.images is None or self.filled == 0:
            return {}
        return {"history_buffer": self.images[: self.filled].contiguous()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], device: torch.device) -> None:
        stored = tensors.get("history_buffer")
        if stored is None:
            return
        self.images = torch.empty(self.capacity, *stored.shape[1:], dtype=stored.dtype, device=device)
        self.filled = stored.shape[0]
        self.images[: self.filled] = stored.to(device)


@contextmanager
def unrolled_discriminator(
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    steps: int,
    discriminator_step: Callable[[], object],
) -> Iterator[None]:
    """Inside the block D has taken `steps` look-ahead updates; afterwards it is restored.

    First-order unrolling (no gradient through the look-ahead steps), as in the widely used
    reimplementations of Metz et al. 2017; the paper's full version backpropagates through
    the unrolled updates.
    """
    if steps <= 0:
        yield
        return
    saved_model = copy.deepcopy(discriminator.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    try:
        for _ in range(steps):
            discriminator_step()
        yield
    finally:
        discriminator.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
