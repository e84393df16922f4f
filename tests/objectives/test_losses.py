import math

import torch
from torch import nn

from modecollapse.objectives import losses


def test_bce_matches_the_textbook_formula():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    loss = losses.discriminator_loss("bce", real, fake, torch.ones(2), torch.zeros(2))
    expected = -(torch.sigmoid(real).log().mean() + (1 - torch.sigmoid(fake)).log().mean())
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(losses.generator_loss("bce", fake), -torch.sigmoid(fake).log().mean())


def test_lsgan_hinge_wgan_values():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([-0.5, 1.0])
    ones, zeros = torch.ones(2), torch.zeros(2)
    torch.testing.assert_close(
        losses.discriminator_loss("lsgan", real, fake, ones, zeros),
        torch.tensor(0.5 * (0.25 + 1) / 2 + 0.5 * (0.25 + 1) / 2),
    )
    # hinge: relu(1 - 0.5)=0.5, relu(1-2)=0 ; relu(1-0.5)=0.5, relu(1+1)=2
    torch.testing.assert_close(
        losses.discriminator_loss("hinge", real, fake, ones, zeros), torch.tensor(0.25 + 1.25)
    )
    torch.testing.assert_close(
        losses.discriminator_loss("wgan-gp", real, fake, ones, zeros), torch.tensor(-1.25 + 0.25)
    )
    torch.testing.assert_close(losses.generator_loss("hinge", fake), torch.tensor(-0.25))
    torch.testing.assert_close(losses.generator_loss("lsgan", fake), torch.tensor(0.5 * (2.25 + 0) / 2))


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_on_a_linear_critic():
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    torch.testing.assert_close(losses.gradient_penalty(Linear([0.6, 0.8]), real, fake), torch.tensor(0.0))
    torch.testing.assert_close(losses.gradient_penalty(Linear([0.0, 2.0]), real, fake), torch.tensor(1.0))


def test_r1_penalty_is_squared_input_gradient():
    d = Linear([3.0, 4.0])
    x = torch.randn(8, 2, requires_grad=True)
    torch.testing.assert_close(losses.r1_penalty(d(x), x), torch.tensor(25.0))


def test_bce_loss_at_chance_is_2_ln2():
    loss = losses.discriminator_loss("bce", torch.zeros(4), torch.zeros(4), torch.ones(4), torch.zeros(4))
    torch.testing.assert_close(loss.item(), 2 * math.log(2))


def test_relativistic_pairing_loss_compares_each_fake_with_its_real_partner():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    d_loss = losses.discriminator_loss("rpgan", real, fake, torch.ones(2), torch.zeros(2))
    expected_d = (math.log1p(math.exp(0.5 - 2.0)) + math.log1p(math.exp(-3.0 + 1.0))) / 2
    torch.testing.assert_close(d_loss, torch.tensor(expected_d))
    g_loss = losses.generator_loss("rpgan", fake, real)
    expected_g = (math.log1p(math.exp(2.0 - 0.5)) + math.log1p(math.exp(-1.0 + 3.0))) / 2
    torch.testing.assert_close(g_loss, torch.tensor(expected_g))
    # a D that cannot tell the pair apart sits at ln 2 for both players
    tie = losses.discriminator_loss("rpgan", real, real, torch.ones(2), torch.zeros(2))
    torch.testing.assert_close(tie, torch.tensor(math.log(2)))
    # pairing matters: the same scores in another order give another loss
    assert losses.discriminator_loss("rpgan", real, fake.flip(0), torch.ones(2), torch.zeros(2)) != d_loss
