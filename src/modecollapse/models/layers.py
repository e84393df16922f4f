"""Building blocks shared by every model family, and the architectural anti-collapse switches."""

from __future__ import annotations

import torch
from torch import nn


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) for conv/linear weights, N(1, 0.02) for norm scales (Radford et al. 2016)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every conv and linear weight of `module` in spectral normalization."""
    for layer in list(module.modules()):
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(layer)
    return module


class MinibatchStdDev(nn.Module):
    """Append the mean over features of the within-group std as one extra feature (ProGAN)."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        group = min(self.group_size, n)
        while n % group:
            group -= 1
        grouped = x.reshape(group, n // group, *x.shape[1:])
        std = grouped.var(dim=0, unbiased=False).add(1e-8).sqrt()
        stat = std.reshape(n // group, -1).mean(dim=1)  # (n // group,)
        stat = stat.repeat(group).reshape(n, *([1] * (x.dim() - 1)))
        return torch.cat([x, stat.expand(n, 1, *x.shape[2:])], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: per-sample closeness to the rest of the batch as extra features."""

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = (x @ self.T).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)  # (kernels, N, dim)
        l1 = torch.cdist(m, m, p=1)  # (kernels, N, N); 2x faster than broadcasting on a CPU
        closeness = (torch.exp(-l1).sum(dim=2) - 1.0).t()  # minus the sample's own term
        return torch.cat([x, closeness], dim=1)


def build_head(
    channels: int,
    spatial: int | None,
    minibatch_stddev: bool,
    stddev_group: int,
    minibatch_discrimination: bool,
    kernels: int,
    kernel_dim: int,
) -> nn.Sequential:
    """D's last stage: optional minibatch features, then one logit per input."""
    layers: list[nn.Module] = []
    if minibatch_stddev:
        layers.append(MinibatchStdDev(stddev_group))
        channels += 1
    if spatial and not minibatch_discrimination:
        layers += [nn.Conv2d(channels, 1, spatial, 1, 0, bias=False), nn.Flatten(0)]
        return nn.Sequential(*layers)
    features = channels * (spatial or 1) ** 2
    layers.append(nn.Flatten(1))
    if minibatch_discrimination:
        layers.append(MinibatchDiscrimination(features, kernels, kernel_dim))
        features += kernels
    layers += [nn.Linear(features, 1), nn.Flatten(0)]
    return nn.Sequential(*layers)


class Discriminator(nn.Module):
    """features -> head, with PacGAN packing: `pack` consecutive samples form one input.

    The interface the objectives rely on, shared by the conditional wrappers in
    models/guided.py: `pack` (samples per input) and `conditioning` (None here)."""

    conditioning: str | None = None

    def __init__(self, features: nn.Module, head: nn.Module, pack: int = 1) -> None:
        super().__init__()
        self.features, self.head, self.pack = features, head, pack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pack > 1:
            x = pack_samples(x, self.pack)
        return self.head(self.features(x))


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """(B, C, ...) -> (B / pack, pack * C, ...): consecutive samples stacked along channels."""
    if x.shape[0] % pack:
        raise ValueError(f"batch of {x.shape[0]} cannot be packed in groups of {pack}")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])
