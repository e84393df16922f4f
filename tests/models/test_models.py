import pytest
import torch
from torch import nn

from modecollapse.config import ModelConfig
from modecollapse.errors import ConfigError
from modecollapse.models import build_models
from modecollapse.models.dcgan import plan


def classic_dcgan64(nz=100, ngf=64, ndf=64, nc=1):
    """PyTorch examples/dcgan's networks, transcribed layer by layer (D without Sigmoid)."""
    g = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 8),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    d = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 4),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 8),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
    )
    return g, d


def layer_signature(module):
    out = []
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            out.append(
                (
                    type(layer).__name__,
                    tuple(layer.weight.shape),
                    layer.stride,
                    layer.padding,
                    layer.bias is None,
                )
            )
        elif isinstance(layer, nn.BatchNorm2d):
            out.append(("BN", layer.num_features))
        elif isinstance(layer, (nn.ReLU, nn.Tanh)):
            out.append(type(layer).__name__)
        elif isinstance(layer, nn.LeakyReLU):
            out.append(("LeakyReLU", layer.negative_slope))
    return out


def test_dcgan64_is_the_classic_network():
    generator, discriminator = build_models(ModelConfig(), (1, 64, 64))
    classic_g, classic_d = classic_dcgan64()
    assert layer_signature(generator) == layer_signature(classic_g)
    assert layer_signature(discriminator) == layer_signature(classic_d)
    z = torch.randn(3, 100)
    assert generator(z).shape == (3, 1, 64, 64)
    assert discriminator(torch.randn(3, 1, 64, 64)).shape == (3,)


@pytest.mark.parametrize("size, base, stages", [(28, 7, 2), (32, 4, 3), (64, 4, 4), (56, 7, 3)])
def test_one_builder_for_every_size(size, base, stages):
    assert plan(size) == (base, stages)
    generator, discriminator = build_models(ModelConfig(latent_dim=8, g_width=4, d_width=4), (3, size, size))
    images = generator(torch.randn(2, 8))
    assert images.shape == (2, 3, size, size)
    assert discriminator(images).shape == (2,)


def test_unsupported_size_is_explained():
    with pytest.raises(ConfigError, match="4\\*2\\^k or 7\\*2\\^k"):
        plan(30)


def test_dcgan_init_is_normal_0_02():
    generator, _ = build_models(ModelConfig(), (1, 64, 64))
    weights = torch.cat(
        [m.weight.flatten() for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    )
    torch.testing.assert_close(weights.std().item(), 0.02, rtol=0.02, atol=0)
    torch.testing.assert_close(weights.mean().item(), 0.0, rtol=0, atol=2e-4)
    bn = torch.cat([m.weight for m in generator.modules() if isinstance(m, nn.BatchNorm2d)])
    torch.testing.assert_close(bn.mean().item(), 1.0, rtol=0, atol=0.01)


def test_mlp_models():
    config = ModelConfig(family="mlp", latent_dim=2, g_width=32, d_width=16, mlp_hidden_layers=3)
    generator, discriminator = build_models(config, (2,))
    points = generator(torch.randn(5, 2))
    assert points.shape == (5, 2)
    assert discriminator(points).shape == (5,)
    linears = [m for m in generator.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4


def test_published_leaky_relu_true_is_an_identity():
    """nn.LeakyReLU(True) sets negative_slope=True=1.0: the 'activation' passes x through."""
    generator, _ = build_models(ModelConfig(g_activation="identity"), (1, 64, 64))
    slopes = [m.negative_slope for m in generator.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [1.0] * 4 and not any(isinstance(m, nn.ReLU) for m in generator.modules())
    x = torch.randn(100)
    torch.testing.assert_close(nn.LeakyReLU(True)(x.clone()), x)


def test_pacgan_layout_matches_dcgan_tensorflow_as_pacgan_builds_it():
    from modecollapse.models.dcgan import pacgan_sides

    assert pacgan_sides(28) == [14, 7, 4, 2]
    model = ModelConfig(dcgan_layout="pacgan", g_width=64, d_width=64)
    generator, discriminator = build_models(model, (3, 28, 28))
    # DCGAN-tensorflow's G for Stacked MNIST by hand: linear 100 -> 2x2x512 (its bias is
    # redundant before BatchNorm), 5x5 transposed convs 512-256-128-64-3 with BatchNorm, + output bias
    by_hand = 100 * 2048 + 2 * 512 + 512 * 256 * 25 + 2 * 256 + 256 * 128 * 25 + 2 * 128
    by_hand += 128 * 64 * 25 + 2 * 64 + 64 * 3 * 25 + 3
    assert sum(p.numel() for p in generator.parameters()) == by_hand == 4_512_323
    convs = [m for m in discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs[:4]] == [(5, 5)] * 4
    assert [c.out_channels for c in convs[:4]] == [64, 128, 256, 512]
    x = generator(torch.randn(5, 100))
    assert x.shape == (5, 3, 28, 28) and x.abs().max() <= 1
    assert discriminator.features(x).shape == (5, 512, 2, 2) and discriminator(x).shape == (5,)


def test_metz_layout_matches_the_d_capacity_study_as_pacgan_builds_it():
    """G 64-32-16-8 filters (g_width 8); D 2-4-8 (1/4 of G) or 4-8-16 (1/2), BN in every D layer."""
    model = ModelConfig(dcgan_layout="metz", latent_dim=256, g_width=8, d_width=2)
    generator, discriminator = build_models(model, (3, 28, 28))
    # by hand, without the biases that BatchNorm makes redundant: linear 256 -> 4x4x64, 3x3
    # transposed convs 64-32-16-8 with BatchNorm, a 3x3 stride-1 conv to RGB with its bias
    by_hand = 256 * 1024 + 2 * 64 + 64 * 32 * 9 + 2 * 32 + 32 * 16 * 9 + 2 * 16 + 16 * 8 * 9 + 2 * 8
    by_hand += 8 * 3 * 9 + 3
    assert sum(p.numel() for p in generator.parameters()) == by_hand
    convs = [m for m in discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs[:3]] == [(3, 3)] * 3
    assert [c.out_channels for c in convs[:3]] == [2, 4, 8]
    norms = [m for m in discriminator.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    slopes = {m.negative_slope for m in discriminator.modules() if isinstance(m, nn.LeakyReLU)}
    assert len(norms) == 3 and slopes == {0.3}
    x = generator(torch.randn(5, 256))
    assert x.shape == (5, 3, 28, 28) and x.abs().max() <= 1
    assert [m.shape[-1] for m in _feature_maps(generator, torch.randn(5, 256))] == [4, 7, 14, 28, 28]
    assert discriminator.features(x).shape == (5, 8, 4, 4) and discriminator(x).shape == (5,)
    half = build_models(model.model_copy(update={"d_width": 4, "pack": 2}), (3, 28, 28))[1]
    assert [c.out_channels for c in half.modules() if isinstance(c, torch.nn.Conv2d)][:3] == [4, 8, 16]
    assert half(torch.cat([x, x])[:6]).shape == (3,)  # packing 2: D judges pairs


def _feature_maps(generator: nn.Module, z: torch.Tensor) -> list[torch.Tensor]:
    """The outputs of G's 4-D layers that change the side or end the net (BatchNorm inputs, the image)."""
    maps, x = [], z
    for layer in generator.net:
        x = layer(x)
        if isinstance(layer, (nn.Unflatten, nn.ConvTranspose2d, nn.Conv2d)):
            maps.append(x)
    return maps
