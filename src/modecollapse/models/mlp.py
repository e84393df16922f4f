"""Small fully connected G and D for 2-D mixtures: a ReLU generator (optionally with BatchNorm)
and a LeakyReLU or maxout discriminator. PacGAN's 2-D networks (fjxmlzn/PacGAN,
synthetic_data_experiments) are G = 4 x 400 units with BatchNorm and ReLU, D = 3 maxout
layers of 200 units x 5 pieces."""

from __future__ import annotations

import torch
from torch import nn


class MLPGenerator(nn.Module):
    def __init__(
        self, latent_dim: int, out_dim: int, width: int, hidden_layers: int, batch_norm: bool = False
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        size = latent_dim
        for _ in range(hidden_layers):
            layers += [
                nn.Linear(size, width),
                *([nn.BatchNorm1d(width)] if batch_norm else []),
                nn.ReLU(True),
            ]
            size = width
        layers.append(nn.Linear(size, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Maxout(nn.Module):
    """A linear layer to `width` x `pieces` units, then the max over each unit's pieces."""

    def __init__(self, in_dim: int, width: int, pieces: int) -> None:
        super().__init__()
        self.width, self.pieces = width, pieces
        self.linear = nn.Linear(in_dim, width * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(-1, self.width, self.pieces).amax(dim=2)


def mlp_features(in_dim: int, width: int, hidden_layers: int, maxout_pieces: int = 1) -> nn.Sequential:
    """D's hidden layers: LeakyReLU(0.2), or maxout with `maxout_pieces` > 1."""
    layers: list[nn.Module] = []
    size = in_dim
    for _ in range(hidden_layers):
        if maxout_pieces > 1:
            layers.append(Maxout(size, width, maxout_pieces))
        else:
            layers += [nn.Linear(size, width), nn.LeakyReLU(0.2, inplace=True)]
        size = width
    return nn.Sequential(*layers)
