"""Model families; `build_models` makes G and D from the [model] config and the data shape,
`build_cyclegan` the four CycleGAN networks, and `generate` runs any of them in chunks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from modecollapse.models.cyclegan import UNetGenerator, init_normal, patch_discriminator, resnet_generator
from modecollapse.models.dcgan import DCGANGenerator, dcgan_features
from modecollapse.models.guided import AuxiliaryClassifierDiscriminator, ConditionalDiscriminator
from modecollapse.models.latent import LatentSampler
from modecollapse.models.layers import (
    Discriminator,
    apply_spectral_norm,
    build_head,
    init_dcgan_weights,
)
from modecollapse.models.mlp import MLPGenerator, mlp_features

if TYPE_CHECKING:
    from modecollapse.config import ModelConfig


def build_models(
    config: ModelConfig, sample_shape: tuple[int, ...], num_classes: int = 10
) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator with every architectural switch of `config` applied."""
    if config.family == "dcgan":
        channels, image_size = sample_shape[0], sample_shape[-1]
        input_dim = LatentSampler(config, num_classes).input_dim
        generator: nn.Module = DCGANGenerator(
            input_dim, channels, image_size, config.g_width, config.g_activation, config.dcgan_layout
        )
        extra = 1 if config.conditioning == "embedding" else 0  # the class plane
        features, feature_channels, spatial = dcgan_features(
            (channels + extra) * config.pack, image_size, config.d_width, config.d_norm, config.dcgan_layout
        )
    else:
        (dim,) = sample_shape
        generator = MLPGenerator(
            config.latent_dim, dim, config.g_width, config.mlp_hidden_layers, config.mlp_g_batch_norm
        )
        d_layers = config.mlp_d_hidden_layers or config.mlp_hidden_layers
        features = mlp_features(dim * config.pack, config.d_width, d_layers, config.mlp_d_maxout_pieces)
        feature_channels, spatial = config.d_width, None
    head = build_head(
        feature_channels,
        spatial,
        config.minibatch_stddev,
        config.minibatch_stddev_group,
        config.minibatch_discrimination,
        config.minibatch_discrimination_kernels,
        config.minibatch_discrimination_kernel_dim,
    )
    discriminator: nn.Module = Discriminator(features, head, pack=config.pack)
    if config.conditioning == "embedding":
        discriminator = ConditionalDiscriminator(discriminator, num_classes, sample_shape[-1])
    elif config.conditioning == "acgan":
        discriminator = AuxiliaryClassifierDiscriminator(
            discriminator, feature_channels * (spatial or 1) ** 2, num_classes
        )
    init_dcgan_weights(generator)
    init_dcgan_weights(discriminator)
    if config.spectral_norm:
        apply_spectral_norm(discriminator)
    return generator, discriminator


def build_cyclegan(
    config: ModelConfig, sample_shape: tuple[int, ...]
) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module]:
    """G_AB, G_BA, D_A, D_B for two domains of the same shape, with D's switches applied."""
    channels, size = sample_shape[0], sample_shape[-1]
    coords_g, coords_d = "g" in config.coord_channels, "d" in config.coord_channels

    def generator() -> nn.Module:
        if config.cyclegan_generator == "unet":
            return UNetGenerator(channels, channels, config.g_width, size, coords_g)
        return resnet_generator(
            channels, channels, config.g_width, config.resnet_blocks, config.g_downsamplings, coords_g
        )

    generators = [generator() for _ in "ab"]
    discriminators = [
        patch_discriminator(
            channels,
            config.d_width,
            config.patch_layers,
            config.minibatch_stddev,
            config.minibatch_stddev_group,
            config.pack,
            coords_d,
            config.cyclegan_discriminator,
        )
        for _ in "ab"
    ]
    for module in (*generators, *discriminators):
        init_normal(module)
    if config.spectral_norm:
        for module in discriminators:
            apply_spectral_norm(module)
    return generators[0], generators[1], discriminators[0], discriminators[1]


@torch.no_grad()
def generate(network: nn.Module, inputs: torch.Tensor, chunk: int | None = 500) -> torch.Tensor:
    """network(inputs) in fp32, `chunk` rows at a time, autocast off: what evaluation, diagnose
    and reports see does not depend on the precision or memory format a run trained with."""
    with torch.autocast(inputs.device.type, enabled=False):
        parts = inputs.split(chunk) if chunk else (inputs,)
        return torch.cat([network(part.float()).float().contiguous() for part in parts])
