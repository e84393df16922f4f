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


def test_the_reference_layout_is_unchanged_by_the_translation_switches():
    """Switches off, the networks' parameter names and counts are the reference's (old checkpoints load)."""
    g = resnet_generator(1, 1, 8, 6)
    assert count(g) == count(resnet_generator(1, 1, 8, 6, downsamplings=2, coords=False))
    assert [name for name, _ in g.named_parameters()][:2] == ["1.weight", "1.bias"]
    d = patch_discriminator(1, 8, 3)
    assert [name for name, _ in d.named_parameters()][:2] == ["features.0.weight", "features.0.bias"]


def test_coordinate_channels_are_row_and_column_ramps():
    from modecollapse.models.cyclegan import AddCoords

    out = AddCoords()(torch.zeros(2, 1, 5, 7))
    assert out.shape == (2, 3, 5, 7)
    torch.testing.assert_close(out[0, 1, :, 0], torch.linspace(-1, 1, 5))  # rows, corners at +-1
    torch.testing.assert_close(out[0, 2, 0, :], torch.linspace(-1, 1, 7))
    config = ModelConfig(family="cyclegan", g_width=4, d_width=4, resnet_blocks=1, coord_channels="gd")
    g_ab, _, d_a, _ = build_cyclegan(config, (1, 56, 56))
    assert next(m for m in g_ab.modules() if isinstance(m, nn.Conv2d)).in_channels == 3
    assert next(m for m in d_a.modules() if isinstance(m, nn.Conv2d)).in_channels == 3
    seen = {}
    first = next(m for m in g_ab.modules() if isinstance(m, nn.Conv2d))
    first.register_forward_hook(lambda module, inputs, output: seen.update(input=inputs[0]))
    assert g_ab(torch.randn(2, 1, 56, 56)).shape == (2, 1, 56, 56)
    # G's first convolution sees the image (reflection-padded to 62 px) and the two ramps over it
    torch.testing.assert_close(seen["input"][0, 2, 0], torch.linspace(-1, 1, 62))
    torch.testing.assert_close(seen["input"][1, 1, :, 30], torch.linspace(-1, 1, 62))


@pytest.mark.parametrize(
    "switch",
    [
        {"cyclegan_generator": "unet"},
        {"g_downsamplings": 3},
        {"cyclegan_discriminator": "image"},
        {"cyclegan_discriminator": "dilated"},
    ],
)
def test_each_architecture_switch_builds_and_keeps_shapes(switch):
    config = ModelConfig(family="cyclegan", g_width=4, d_width=4, resnet_blocks=1, **switch)
    g_ab, _, d_a, _ = build_cyclegan(config, (1, 56, 56))
    plain_config = ModelConfig(family="cyclegan", g_width=4, d_width=4, resnet_blocks=1)
    reference = build_cyclegan(plain_config, (1, 56, 56))
    x = torch.randn(4, 1, 56, 56)
    assert g_ab(x).shape == x.shape and g_ab(x).abs().max() <= 1
    scores = d_a(x)
    assert scores.shape[0] == 4
    if "cyclegan_generator" in switch or "g_downsamplings" in switch:
        assert count(g_ab) != count(reference[0])
    else:
        assert count(d_a) != count(reference[2])
    if switch.get("cyclegan_discriminator") == "image":
        assert scores.shape == (4, 1)  # one score per image


def test_the_unet_joins_each_encoder_level_to_its_decoder_and_reaches_1x1():
    from modecollapse.models.cyclegan import UNetGenerator

    g = UNetGenerator(1, 1, 4, size=56)
    assert len(g.down) == 6 and len(g.up) == 6  # 56 is padded to 64: six halvings to 1x1
    seen = []
    g.down[-1].register_forward_hook(lambda module, inputs, output: seen.append(output.shape[-1]) and None)
    assert g(torch.randn(2, 1, 56, 56)).shape == (2, 1, 56, 56) and seen == [1]
