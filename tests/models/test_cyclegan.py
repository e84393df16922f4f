import pytest
import torch
from torch import nn

from modecollapse.config import ModelConfig
from modecollapse.models import build_cyclegan
from modecollapse.models.cyclegan import patch_discriminator, resnet_generator


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_reference_sizes():
    # the reference code prints 11.378 M (resnet_9blocks) and 2.765 M (basic PatchGAN) parameters
    assert count(resnet_generator(3, 3, 64, 9)) == 11_378_179
    assert count(patch_discriminator(3, 64, 3)) == 2_764_737
    d = patch_discriminator(3, 64, 3)
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)  # 70x70 patches on 256 px


def test_generator_layout():
    g = resnet_generator(1, 1, 8, 2)
    kinds = [type(m).__name__ for m in g]
    assert kinds[:4] == ["ReflectionPad2d", "Conv2d", "InstanceNorm2d", "ReLU"]
    assert kinds[-3:] == ["ReflectionPad2d", "Conv2d", "Tanh"]
    assert kinds.count("ResidualBlock") == 2 and kinds.count("ConvTranspose2d") == 2
    norms = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and not any(m.affine or m.track_running_stats for m in norms)
    x = torch.randn(2, 1, 56, 56)
    assert g(x).shape == x.shape and g(x).abs().max() <= 1


@pytest.mark.parametrize("size", [32, 56, 64])
def test_small_patchgan(size):
    d = patch_discriminator(3, 8, 2)
    assert d(torch.zeros(2, 3, size, size)).shape[:2] == (2, 1)


def test_discriminator_switches_apply():
    config = ModelConfig(
        family="cyclegan", g_width=4, d_width=4, resnet_blocks=1, patch_layers=2, spectral_norm=True, pack=2
    )
    g_ab, g_ba, d_a, d_b = build_cyclegan(config, (1, 32, 32))
    assert g_ab is not g_ba and d_a is not d_b
    first = next(m for m in d_a.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 2  # PacGAN: two images stacked along channels
    assert hasattr(first, "parametrizations")  # spectral norm
    assert d_a(torch.zeros(4, 1, 32, 32)).shape[0] == 2
    stddev = build_cyclegan(ModelConfig(family="cyclegan", d_width=4, minibatch_stddev=True), (1, 32, 32))[2]
    assert stddev(torch.randn(4, 1, 32, 32)).shape[0] == 4
