"""CycleGAN networks as in Zhu et al. 2017 and their reference code (junyanz/pytorch-CycleGAN-and-pix2pix),
and the architectural switches the translation testbed compares.

Generator: c7s1-w, d2w, d4w, `blocks` residual blocks, u2w, uw, c7s1-C with Tanh; reflection
padding and InstanceNorm (no affine, no running stats), as the reference's `resnet_6blocks` /
`resnet_9blocks` with w = 64; `downsamplings` = 3 adds one more halving (a deeper encoder). The
U-Net of pix2pix (Isola et al. 2017) as an alternative. Discriminator: the PatchGAN (`n_layers`
= 3 gives the 70x70 receptive field; 2 suits 28-32 pixel images), LeakyReLU 0.2, one score per
patch; or a dilated context D (GANimorph, Gokaslan et al. 2018) or an image-level D (one score
per image). CoordConv (Liu et al. 2018): two coordinate channels at the input of G and/or D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.models.layers import Discriminator, MinibatchStdDev


class AddCoords(nn.Module):
    """CoordConv's input channels: row and column coordinates, linear in [-1, 1] (corners at +-1),
    without the radius channel, as the CoordConv GAN code (uber-research/CoordConv)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        rows = torch.linspace(-1, 1, height, device=x.device, dtype=x.dtype).view(1, 1, height, 1)
        cols = torch.linspace(-1, 1, width, device=x.device, dtype=x.dtype).view(1, 1, 1, width)
        return torch.cat([x, rows.expand(n, 1, height, width), cols.expand(n, 1, height, width)], dim=1)


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


def resnet_generator(
    in_channels: int,
    out_channels: int,
    width: int = 64,
    blocks: int = 9,
    downsamplings: int = 2,
    coords: bool = False,
) -> nn.Sequential:
    """The reference ResNet generator; image sides must be multiples of 2**downsamplings. With
    `coords`, CoordConv's two channels join the input after its reflection padding (a padded ramp
    would fold back at the border)."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(3)]
    if coords:
        layers.append(AddCoords())
    layers += [nn.Conv2d(in_channels + 2 * coords, width, 7), nn.InstanceNorm2d(width), nn.ReLU(True)]
    for level in range(downsamplings):  # d128, d256 (, d512)
        mult = 2**level
        layers += [
            nn.Conv2d(width * mult, width * mult * 2, 3, stride=2, padding=1),
            nn.InstanceNorm2d(width * mult * 2),
            nn.ReLU(True),
        ]
    bottleneck = width * 2**downsamplings
    layers += [ResidualBlock(bottleneck) for _ in range(blocks)]
    for level in reversed(range(downsamplings)):  # (u256,) u128, u64
        mult = 2 ** (level + 1)
        layers += [
            nn.ConvTranspose2d(width * mult, width * mult // 2, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(width * mult // 2),
            nn.ReLU(True),
        ]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
    return nn.Sequential(*layers)


class UNetGenerator(nn.Module):
    """pix2pix's U-Net (`UnetGenerator`, InstanceNorm, no dropout as CycleGAN runs it): 4x4
    stride-2 convolutions down to a 1x1 bottleneck and back, each level's encoder output joined to
    its decoder input. Sides that are not a power of two are reflection-padded up to one (56 ->
    64, six levels) and cropped back, so the encoder sees the whole image, as unet_128/256 do."""

    def __init__(
        self, in_channels: int, out_channels: int, width: int = 64, size: int = 56, coords: bool = False
    ) -> None:
        super().__init__()
        self.size, self.padded = size, 1 << (size - 1).bit_length()
        levels = self.padded.bit_length() - 1  # halvings to 1x1
        channels = [width * min(2**level, 8) for level in range(levels)]
        self.coords = AddCoords() if coords else None
        self.down = nn.ModuleList()
        previous = in_channels + 2 * coords
        for level, out in enumerate(channels):
            block: list[nn.Module] = [] if level == 0 else [nn.LeakyReLU(0.2, True)]
            block.append(nn.Conv2d(previous, out, 4, stride=2, padding=1))
            if 0 < level < levels - 1:  # no norm at the outermost and innermost levels, as the reference
                block.append(nn.InstanceNorm2d(out))
            self.down.append(nn.Sequential(*block))
            previous = out
        self.up = nn.ModuleList()
        for level in reversed(range(levels)):
            joined = channels[level] if level == levels - 1 else 2 * channels[level]
            out = out_channels if level == 0 else channels[level - 1]
            block = [nn.ReLU(True), nn.ConvTranspose2d(joined, out, 4, stride=2, padding=1)]
            block.append(nn.Tanh() if level == 0 else nn.InstanceNorm2d(out))
            self.up.append(nn.Sequential(*block))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        extra = self.padded - self.size
        if extra:
            x = F.pad(x, (extra // 2, extra - extra // 2, extra // 2, extra - extra // 2), mode="reflect")
        if self.coords is not None:
            x = self.coords(x)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.up[0](skips.pop())
        for block in self.up[1:]:
            x = block(torch.cat([skips.pop(), x], dim=1))
        if extra:
            x = x[..., extra // 2 : extra // 2 + self.size, extra // 2 : extra // 2 + self.size]
        return x


def patch_discriminator(
    in_channels: int,
    width: int = 64,
    n_layers: int = 3,
    minibatch_stddev: bool = False,
    stddev_group: int = 4,
    pack: int = 1,
    coords: bool = False,
    kind: str = "patch",
) -> Discriminator:
    """The reference PatchGAN (`NLayerDiscriminator` with InstanceNorm); output (N, 1, h, w).

    Packing and minibatch-stddev are the foundation's switches: PacGAN packs `pack` images
    along channels; the batch's standard deviation joins as one more channel before the last
    convolution (where the PatchGAN has its head). `kind` "image" averages the last features over
    the image into one score per image (a global D); "dilated" replaces the deepest layers with a
    context stack of dilated 3x3 convolutions (GANimorph's D; rates 1, 2, 3, scaled down from its
    2, 4, 8 to our 7x7 maps) whose output joins its input before the last convolutions."""
    first = in_channels * pack + 2 * coords
    layers: list[nn.Module] = [AddCoords()] if coords else []
    layers += [nn.Conv2d(first, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
    channels = width
    if kind == "dilated":
        for n in (1, 2):  # two more halvings: 56 -> 28 -> 14 -> 7
            layers += list(_conv_norm_act(channels, width * 2**n, 4, 2, 1))
            channels = width * 2**n
        layers.append(DilatedContext(channels, rates=(1, 2, 3)))
    else:
        for n in range(1, n_layers + 1):
            out = width * min(2**n, 8)
            layers += list(_conv_norm_act(channels, out, 4, 2 if n < n_layers else 1, 1))
            channels = out
    head: list[nn.Module] = []
    if minibatch_stddev:
        head.append(MinibatchStdDev(stddev_group))
        channels += 1
    if kind == "image":
        head += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(channels, 1)]
    else:
        head.append(nn.Conv2d(channels, 1, 4 if kind == "patch" else 3, stride=1, padding=1))
    return Discriminator(nn.Sequential(*layers), nn.Sequential(*head), pack=pack)


def _conv_norm_act(
    channels: int, out: int, kernel: int, stride: int, padding: int, dilation: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels, out, kernel, stride=stride, padding=padding, dilation=dilation),
        nn.InstanceNorm2d(out),
        nn.LeakyReLU(0.2, True),
    )


class DilatedContext(nn.Module):
    """GANimorph's context stack: a 3x3 conv, dilated 3x3 convs at growing rates, their output
    joined to the stack's input and merged by one more 3x3 conv."""

    def __init__(self, channels: int, rates: tuple[int, ...] = (1, 2, 3)) -> None:
        super().__init__()
        self.entry = _conv_norm_act(channels, channels, 3, 1, 1)
        self.dilated = nn.Sequential(*[_conv_norm_act(channels, channels, 3, 1, r, r) for r in rates])
        self.merge = _conv_norm_act(2 * channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.entry(x)
        return self.merge(torch.cat([x, self.dilated(x)], dim=1))


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """The reference's 'normal' init: conv weights N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
