"""How a user's conditional G is called, read from its forward's parameter names."""

from torch import nn

from modecollapse.models.latent import Latent, calls_to_try

FLAT, SPATIAL = Latent((16,)), Latent((16, 1, 1))
Z_FIRST = [("z", "indices"), ("z", "one-hot"), ("label", "indices"), ("label", "one-hot")]


class Takes(nn.Module):
    def forward(self, *inputs):
        return inputs[0]


def test_the_label_named_first_is_given_first():
    named = [lambda labels, z: z, lambda y, z: z, lambda class_idx, z: z, lambda condition, z: z]
    for g in [*named, lambda c, noise: noise]:
        assert calls_to_try(g, FLAT) == Z_FIRST[2:]


def test_z_named_first_tries_both_orders_z_first():
    assert calls_to_try(lambda z, labels: z, FLAT) == Z_FIRST
    assert calls_to_try(lambda noise, y: noise, FLAT) == Z_FIRST


def test_one_input_gets_the_label_appended_to_a_flat_z_only():
    assert calls_to_try(lambda x: x, FLAT) == [("appended", "one-hot")]
    assert calls_to_try(lambda x: x, SPATIAL) == Z_FIRST  # nothing to append to: G will say why


def test_an_unreadable_forward_tries_every_call():
    assert calls_to_try(Takes(), FLAT) == [*Z_FIRST, ("appended", "one-hot")]
