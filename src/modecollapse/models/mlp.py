"""Small fully connected G and D for 2-D mixtures (ReLU generator, LeakyReLU discriminator)."""

from __future__ import annotations

import torch
from torch import nn


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int, out_dim: int, width: int, hidden_layers: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        size = latent_dim
        for _ in range(hidden_layers):
            layers += [nn.Linear(size, width), nn.ReLU(True)]
            size = width
        layers.append(nn.Linear(size, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def mlp_features(in_dim: int, width: int, hidden_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    size = in_dim
    for _ in range(hidden_layers):
        layers += [nn.Linear(size, width), nn.LeakyReLU(0.2, inplace=True)]
        size = width
    return nn.Sequential(*layers)
