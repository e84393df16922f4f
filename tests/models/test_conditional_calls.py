"""How a user's conditional G is called, read from its forward's parameter names."""

import functools

import pytest
import torch
from torch import nn

from modecollapse.errors import ModeCollapseError
from modecollapse.models.labels import calls_to_try, sample_with_labels
from modecollapse.models.latent import Latent

FLAT, SPATIAL = Latent((16,)), Latent((16, 1, 1))
Z_FIRST = [("z", "indices"), ("z", "one-hot"), ("label", "indices"), ("label", "one-hot")]
LABEL_FIRST = Z_FIRST[2:]


class LabelFirstOneHot(nn.Module):
    """Runs on (z, one-hot) swapped too (the widths add up): only its names tell the order."""

    def __init__(self) -> None:
        super().__init__()
        self.joint = nn.Linear(10 + 16, 10)

    def forward(self, one_hot, noise):
        self.joint(torch.cat([one_hot, noise], 1))
        return one_hot.float()  # the label it was given, to check which input got it


class Asserts(nn.Module):
    def forward(self, z, labels):
        assert labels.dtype == torch.float32, "one-hot labels only"
        return labels


def test_the_label_named_first_or_z_named_second_is_given_first():
    named = [lambda labels, z: z, lambda y, z: z, lambda class_idx, z: z, lambda cls, x: x]
    for g in [*named, lambda c, noise: noise, lambda y_onehot, a: a, lambda inputs, latent: latent]:
        assert calls_to_try(g, FLAT).order == LABEL_FIRST


def test_z_named_first_tries_both_orders_z_first():
    for g in (lambda z, labels: z, lambda noise, y: noise, lambda x, c: x, lambda seconds, labels: 0):
        calls = calls_to_try(g, FLAT)
        assert calls.order == Z_FIRST and not calls.guessed


def test_unnamed_inputs_are_a_guess_the_note_says():
    assert calls_to_try(lambda a, b: a, FLAT).guessed
    for g in (lambda *inputs: 0, lambda z, *extra: 0):  # *args: every call, the appended one too
        calls = calls_to_try(g, FLAT)
        assert calls.order == [*Z_FIRST, ("appended", "one-hot")] and calls.guessed


def test_one_input_gets_the_label_appended_to_a_flat_z_only():
    assert calls_to_try(lambda x: x, FLAT).order == [("appended", "one-hot")]
    assert calls_to_try(lambda x: x, SPATIAL).order == Z_FIRST  # nothing to append to: G will say why


WRAPPERS = [lambda g: g, nn.DataParallel, torch.compile, functools.partial]


@pytest.mark.parametrize("wrap", WRAPPERS, ids=["plain", "dp", "compile", "partial"])
def test_a_wrapped_generator_is_read_through_its_wrapper(wrap):
    g = wrap(LabelFirstOneHot())
    assert calls_to_try(g, FLAT).order == LABEL_FIRST
    if wrap is not torch.compile:  # (compiling costs seconds; its reading is checked above)
        out, labels, note = sample_with_labels(g, FLAT, 10, 40, seed=0)
        assert note.startswith("G(label, z) with labels as one-hot rows")
        assert out.argmax(1).tolist() == labels.tolist()  # the label went where G wants it


def test_an_assert_in_g_means_try_the_next_call():
    out, labels, note = sample_with_labels(Asserts(), FLAT, 10, 20, seed=0)
    assert note.startswith("G(z, label) with labels as one-hot rows")
    assert out.argmax(1).tolist() == labels.tolist()


def test_a_g_that_refuses_every_call_hears_each_refusal():
    def no_label_at_all(z, labels):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(ModeCollapseError, match=r"forward\(z, labels\) takes z first\): as G\(z, label\)"):
        sample_with_labels(no_label_at_all, FLAT, 10, 20, seed=0)
