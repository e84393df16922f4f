"""PacGAN's 2-D networks: G 4 x 400 with BatchNorm, D 3 maxout layers of 200 units x 5 pieces."""

import torch

from modecollapse.config import ModelConfig
from modecollapse.models import build_models
from modecollapse.models.mlp import Maxout


def test_maxout_takes_the_largest_piece_of_each_unit():
    layer = Maxout(3, width=2, pieces=4)
    x = torch.randn(5, 3)
    pieces = layer.linear(x).view(5, 2, 4)
    assert torch.equal(layer(x), pieces.max(dim=2).values)


def test_pacgan_2d_networks_have_their_sizes():
    config = ModelConfig(
        family="mlp", latent_dim=2, g_width=400, d_width=200, mlp_hidden_layers=4,
        mlp_d_hidden_layers=3, mlp_g_batch_norm=True, mlp_d_maxout_pieces=5,
    )  # fmt: skip
    generator, discriminator = build_models(config, (2,), 8)
    g_params = sum(p.numel() for p in generator.parameters())
    d_params = sum(p.numel() for p in discriminator.parameters())
    # G: 2->400, 3 x 400->400, 400->2 linear layers plus 4 BatchNorms (2 x 400 each)
    assert g_params == (2 * 400 + 400) + 3 * (400 * 400 + 400) + (400 * 2 + 2) + 4 * 800
    # D: maxout 2->200x5, 2 x 200->200x5, head 200->1
    assert d_params == (2 * 1000 + 1000) + 2 * (200 * 1000 + 1000) + (200 + 1)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in generator.modules()) == 4
    assert discriminator(generator(torch.randn(16, 2))).shape[0] == 16
