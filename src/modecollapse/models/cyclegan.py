"""CycleGAN networks as in Zhu et al. 2017 and their reference code (junyanz/pytorch-CycleGAN-and-pix2pix).

Generator: c7s1-w, d2w, d4w, `blocks` residual blocks, u2w, uw, c7s1-C with Tanh; reflection
padding and InstanceNorm (no affine, no running stats), as the reference's `resnet_6blocks` /
`resnet_9blocks` with w = 64. Discriminator: the PatchGAN (`n_layers` = 3 gives the 70x70
receptive field; 2 suits 28-32 pixel images), LeakyReLU 0.2, one score per patch.
"""

from __future__ import annotations

from torch import nn

from modecollapse.models.layers import Discriminator, MinibatchStdDev


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x):
        return x + self.body(x)


def resnet_generator(in_channels: int, out_channels: int, width: int = 64, blocks: int = 9) -> nn.Sequential:
    """The reference ResNet generator; image sides must be multiples of 4."""
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(3),
        nn.Conv2d(in_channels, width, 7),
        nn.InstanceNorm2d(width),
        nn.ReLU(True),
    ]
    for mult in (1, 2):  # d128, d256
        layers += [
            nn.Conv2d(width * mult, width * mult * 2, 3, stride=2, padding=1),
            nn.InstanceNorm2d(width * mult * 2),
            nn.ReLU(True),
        ]
    layers += [ResidualBlock(width * 4) for _ in range(blocks)]
    for mult in (4, 2):  # u128, u64
        layers += [
            nn.ConvTranspose2d(width * mult, width * mult // 2, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(width * mult // 2),
            nn.ReLU(True),
        ]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patch_discriminator(
    in_channels: int,
    width: int = 64,
    n_layers: int = 3,
    minibatch_stddev: bool = False,
    stddev_group: int = 4,
    pack: int = 1,
) -> Discriminator:
    """The reference PatchGAN (`NLayerDiscriminator` with InstanceNorm); output (N, 1, h, w).

    Packing and minibatch-stddev are the foundation's switches: PacGAN packs `pack` images
    along channels; the batch's standard deviation joins as one more channel before the last
    convolution (where the PatchGAN has its head).
    """
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels * pack, width, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2, True),
    ]
    channels = width
    for n in range(1, n_layers + 1):
        out = width * min(2**n, 8)
        stride = 2 if n < n_layers else 1
        layers += [
            nn.Conv2d(channels, out, 4, stride=stride, padding=1),
            nn.InstanceNorm2d(out),
            nn.LeakyReLU(0.2, True),
        ]
        channels = out
    head: list[nn.Module] = []
    if minibatch_stddev:
        head.append(MinibatchStdDev(stddev_group))
        channels += 1
    head.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
    return Discriminator(nn.Sequential(*layers), nn.Sequential(*head), pack=pack)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """The reference's 'normal' init: conv weights N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
