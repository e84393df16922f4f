"""DCGAN (Radford et al. 2016) for any image size 4*2^k or 7*2^k; 64 gives the classic network.

Classic MNIST DCGAN-64: nz=100, ngf=ndf=64; G = ConvTranspose/BatchNorm/ReLU ending in Tanh,
D = Conv/BatchNorm/LeakyReLU(0.2) with 4x4 kernels; the first D layer has no BatchNorm.
The 28x28 variant starts from 7x7 and upsamples twice, a size a CPU trains in minutes.
"""

from __future__ import annotations

import torch
from torch import nn

from modecollapse.errors import ConfigError


def plan(image_size: int) -> tuple[int, int]:
    """(base side, number of 2x stages) such that base * 2**stages == image_size."""
    for base in (4, 7):
        stages, size = 0, image_size
        while size > base and size % 2 == 0:
            size //= 2
            stages += 1
        if size == base and stages >= 1:
            return base, stages
    raise ConfigError(f"DCGAN needs an image size of 4*2^k or 7*2^k (e.g. 28, 32, 64), got {image_size}")


class DCGANGenerator(nn.Module):
    def __init__(
        self, latent_dim: int, channels: int, image_size: int, width: int, activation: str = "relu"
    ) -> None:
        super().__init__()

        def act() -> nn.Module:
            return nn.ReLU(True) if activation == "relu" else nn.LeakyReLU(1.0, inplace=True)

        base, stages = plan(image_size)
        self.latent_dim = latent_dim
        widths = [width * 2 ** (stages - 1 - i) for i in range(stages)]  # e.g. 512,256,128,64
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], base, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            act(),
        ]
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                act(),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


def dcgan_features(in_channels: int, image_size: int, width: int, norm: str) -> tuple[nn.Module, int, int]:
    """D's conv stack; returns (module, output channels, output side)."""
    base, stages = plan(image_size)
    widths = [width * 2**i for i in range(stages)]  # e.g. 64,128,256,512
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, widths[0], 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
    ]
    for c_in, c_out in zip(widths, widths[1:], strict=False):
        layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False))
        if norm == "batch":
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers), widths[-1], base
