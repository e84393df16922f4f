"""DCGAN (Radford et al. 2016) in two layouts (`model.dcgan_layout`).

classic: the PyTorch example's network, for any image size 4*2^k or 7*2^k; 64 gives the
classic MNIST DCGAN-64 (nz=100, ngf=ndf=64; G = ConvTranspose/BatchNorm/ReLU ending in Tanh,
D = Conv/BatchNorm/LeakyReLU(0.2) with 4x4 kernels; the first D layer has no BatchNorm).
The 28x28 variant starts from 7x7 and upsamples twice, a size a CPU trains in minutes.

pacgan: DCGAN-tensorflow's layout as PacGAN's Stacked MNIST code builds it (fjxmlzn/PacGAN,
stacked_MNIST_experiments/VEEGAN_experiment/model.py): 5x5 kernels, four stride-2 stages in
G and D (28 px: 2 -> 4 -> 7 -> 14 -> 28), G starting with a linear layer to 2x2 x 8w, widths
8w, 4w, 2w, w in G and w, 2w, 4w, 8w in D (w = 64 in their code), BatchNorm in every layer
but D's first and G's output, D ending in a linear layer.

metz: the small DCGAN of the unrolled-GAN paper's discriminator-capacity study (Metz et al.
2017) as PacGAN's code builds it (fjxmlzn/PacGAN, stacked_MNIST_experiments/unrolled_GAN_experiment):
3x3 kernels; G a linear layer to 4x4 x 8w, then transposed convolutions to 4w, 2w, w
(28 px: 4 -> 7 -> 14 -> 28) with BatchNorm and ReLU, then a stride-1 convolution to the image;
D three stride-2 convolutions of w, 2w, 4w, each with BatchNorm (the first too) and
LeakyReLU(0.3), then a linear layer. g_width 8 gives their G (64, 32, 16, 8 filters); d_width
2 or 4 their D at 1/4 or 1/2 of G's filters (2, 4, 8 or 4, 8, 16).
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


def pacgan_sides(image_size: int) -> list[int]:
    """Feature-map sides of the pacgan layout, largest first: four ceil-halvings (28: 14, 7, 4, 2)."""
    sides = [image_size]
    for _ in range(4):
        sides.append((sides[-1] + 1) // 2)
    return sides[1:]


class DCGANGenerator(nn.Module):
    def __init__(
        self,
        latent_dim: int,
        channels: int,
        image_size: int,
        width: int,
        activation: str = "relu",
        layout: str = "classic",
    ) -> None:
        super().__init__()

        def act() -> nn.Module:
            return nn.ReLU(True) if activation == "relu" else nn.LeakyReLU(1.0, inplace=True)

        self.latent_dim = latent_dim
        if layout == "pacgan":
            self.net = _pacgan_generator(latent_dim, channels, image_size, width, act)
            return
        if layout == "metz":
            self.net = _metz_generator(latent_dim, channels, image_size, width, act)
            return
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


def _pacgan_generator(latent_dim: int, channels: int, image_size: int, width: int, act) -> nn.Sequential:
    sides = pacgan_sides(image_size)[::-1] + [image_size]  # 2, 4, 7, 14, 28
    widths = [width * 8, width * 4, width * 2, width]
    layers = _projection(latent_dim, widths[0], sides[0], act)
    for i, (c_in, c_out) in enumerate(zip(widths, [*widths[1:], channels], strict=True)):
        layers.append(_upsample(c_in, c_out, 5, sides[i], sides[i + 1], bias=c_out == channels))
        layers += [nn.BatchNorm2d(c_out), act()] if c_out != channels else [nn.Tanh()]
    return nn.Sequential(*layers)


def _metz_generator(latent_dim: int, channels: int, image_size: int, width: int, act) -> nn.Sequential:
    sides = pacgan_sides(image_size)[2::-1] + [image_size]  # 4, 7, 14, 28
    widths = [width * 8, width * 4, width * 2, width]
    layers = _projection(latent_dim, widths[0], sides[0], act)
    for i, (c_in, c_out) in enumerate(zip(widths, widths[1:], strict=False)):
        layers += [
            _upsample(c_in, c_out, 3, sides[i], sides[i + 1], bias=False),
            nn.BatchNorm2d(c_out),
            act(),
        ]
    layers += [nn.Conv2d(widths[-1], channels, 3, 1, 1), nn.Tanh()]
    return nn.Sequential(*layers)


def _projection(latent_dim: int, channels: int, side: int, act) -> list[nn.Module]:
    """DCGAN-tensorflow's first G layer: a linear map from z to a side x side map, BatchNorm, act."""
    return [
        nn.Flatten(1),
        nn.Linear(latent_dim, channels * side**2, bias=False),  # BatchNorm follows
        nn.Unflatten(1, (channels, side, side)),
        nn.BatchNorm2d(channels),
        act(),
    ]


def _upsample(
    c_in: int, c_out: int, kernel: int, side: int, next_side: int, bias: bool
) -> nn.ConvTranspose2d:
    """A stride-2 transposed conv from `side` to `next_side` (2x, or one less: TF's 'SAME' sides)."""
    extra = next_side - 2 * side + 1  # output_padding that lands on the next side
    return nn.ConvTranspose2d(c_in, c_out, kernel, 2, kernel // 2, output_padding=extra, bias=bias)


def dcgan_features(
    in_channels: int, image_size: int, width: int, norm: str, layout: str = "classic"
) -> tuple[nn.Module, int, int]:
    """D's conv stack; returns (module, output channels, output side)."""
    if layout == "pacgan":
        widths = [width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip([in_channels, *widths[:-1]], widths, strict=True)):
            layers.append(nn.Conv2d(c_in, c_out, 5, 2, 2, bias=i == 0))
            if i and norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        return nn.Sequential(*layers), widths[-1], pacgan_sides(image_size)[-1]
    if layout == "metz":
        widths = [width, width * 2, width * 4]
        layers = []
        for c_in, c_out in zip([in_channels, *widths[:-1]], widths, strict=True):
            layers.append(nn.Conv2d(c_in, c_out, 3, 2, 1, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.3, inplace=True))
        return nn.Sequential(*layers), widths[-1], pacgan_sides(image_size)[2]
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
