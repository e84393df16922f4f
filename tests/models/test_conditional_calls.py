"""How a user's conditional G is called, read from its forward's parameter names."""

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.errors import ModeCollapseError
from modecollapse.models.labels import CALLS, calls_to_try, sample_with_labels
from modecollapse.models.latent import Latent, placement, sample_from
from modecollapse.monitor_scoring import GeneratorScorer

FLAT, SPATIAL = Latent((16,)), Latent((16, 1, 1))
Z_FIRST = [("z", "indices"), ("z", "one-hot"), ("label", "indices"), ("label", "one-hot")]
LABEL_FIRST = Z_FIRST[2:]


class LabelFirstOneHot(nn.Module):
    """Runs on (z, one-hot) swapped too (the widths add up): only its names tell the order."""

    def __init__(self) -> None:
        super().__init__()
        self.joint = nn.Linear(10 + 16, 10)

    def forward(self, one_hot, noise):
        if one_hot.dim() != 2:
            raise ValueError("one-hot rows of shape (N, K)")  # (scripted, cat takes a (N,) tensor)
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
    for g in (lambda a, b: a, lambda cond_z, z_class: 0, lambda z_y, noise: 0):  # neither, or both kinds
        calls = calls_to_try(g, FLAT)
        assert calls.order == Z_FIRST and calls.guessed
    note = sample_with_labels(lambda a, b: b.float(), FLAT, 10, 20, seed=0).note
    assert "forward(a, b) does not say which input is the label: the order is a guess" in note
    for g in (lambda *inputs: 0, lambda z, *extra: 0, lambda **inputs: 0):  # every call, appended too
        calls = calls_to_try(g, FLAT)
        assert calls.order == [*Z_FIRST, ("appended", "one-hot")] and calls.guessed


def test_one_input_gets_the_label_appended_to_a_flat_z_only():
    assert calls_to_try(lambda x: x, FLAT).order == [("appended", "one-hot")]
    assert calls_to_try(lambda x: x, SPATIAL).order == Z_FIRST  # nothing to append to: G will say why


def scripted_and_loaded(g, tmp_path):
    torch.jit.save(torch.jit.script(g), tmp_path / "G.ts")
    return torch.jit.load(tmp_path / "G.ts")


WRAPPERS = [
    lambda g, _: g, lambda g, _: nn.DataParallel(g), lambda g, _: torch.compile(g),
    lambda g, _: functools.partial(g), scripted_and_loaded,
]  # fmt: skip


@pytest.mark.parametrize("wrap", WRAPPERS, ids=["plain", "dp", "compile", "partial", "torchscript"])
def test_a_wrapped_generator_is_read_through_its_wrapper(wrap, tmp_path):
    g = wrap(LabelFirstOneHot(), tmp_path)
    assert calls_to_try(g, FLAT).order == LABEL_FIRST
    if not hasattr(g, "_orig_mod"):  # (compiling costs seconds; its reading is checked above)
        out, labels, note, _ = sample_with_labels(g, FLAT, 10, 40, seed=0)
        assert note.startswith("G(label, z) with labels as one-hot rows")
        assert out.argmax(1).tolist() == labels.tolist()  # the label went where G wants it


def test_an_assert_in_g_means_try_the_next_call():
    out, labels, note, _ = sample_with_labels(Asserts(), FLAT, 10, 20, seed=0)
    assert note.startswith("G(z, label) with labels as one-hot rows")
    assert out.argmax(1).tolist() == labels.tolist()


def test_a_g_that_refuses_every_call_hears_each_refusal():
    def no_label_at_all(z, labels):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    said = r"forward\(z, labels\) takes z first\): as G\(z, label\)"
    with pytest.raises(ModeCollapseError, match=said) as refused:
        sample_with_labels(no_label_at_all, FLAT, 10, 20, seed=0)
    tried = [said for said in CALLS.values() if "appended" not in said and "label=" not in said]
    assert len(tried) == 4 and all(said in str(refused.value) for said in tried)


def test_a_partial_with_bound_arguments_is_read_after_them():
    def g(scale, labels, noise):
        return labels

    calls = calls_to_try(functools.partial(g, 2.0), FLAT)
    assert calls.order == LABEL_FIRST and calls.why == "forward(labels, noise) takes the label first"


class WantsSpatialZ(nn.Module):
    def forward(self, z):
        if z.dim() != 4:
            raise ValueError("G wants z of shape (N, 16, 1, 1)")
        return z


def test_a_torchscript_gs_own_error_is_quoted_not_the_interpreters_headline(tmp_path):
    g = scripted_and_loaded(WantsSpatialZ(), tmp_path)
    with pytest.raises(ModeCollapseError, match=r"builtins.ValueError: G wants z of shape \(N, 16, 1, 1\)"):
        sample_from(g, FLAT, 10, seed=0)


def test_z_is_drawn_for_the_network_inside_a_wrapper():
    bf16 = nn.Linear(16, 4).to(torch.bfloat16)
    for wrapped in (functools.partial(bf16), nn.DataParallel(bf16)):
        assert placement(wrapped) == (torch.device("cpu"), torch.bfloat16)


class KeywordLabel(nn.Module):
    def forward(self, z, *, labels):
        return F.one_hot(labels, 10).float() + 0 * z[:, :1]


class KeywordAfterAnOption(nn.Module):
    def forward(self, z, truncation=1.0, *, labels):
        return F.one_hot(labels, 10).float() * truncation + 0 * z[:, :1]


def test_a_required_keyword_only_label_is_given_by_its_name_first(tmp_path):
    for g in (KeywordLabel(), torch.jit.script(KeywordLabel()), KeywordAfterAnOption()):
        calls = calls_to_try(g, FLAT)
        assert calls.keyword == "labels" and calls.order[:2] == [
            ("keyword", "indices"),
            ("keyword", "one-hot"),
        ]
        out, labels, note, _ = sample_with_labels(g, FLAT, 10, 20, seed=0)
        assert note.startswith("G(z, labels=...) with labels as class indices") and "guess" not in note
        assert out.argmax(1).tolist() == labels.tolist()
    loaded = scripted_and_loaded(KeywordLabel(), tmp_path)  # a saved file's schema drops the *:
    out, labels, note, _ = sample_with_labels(loaded, FLAT, 10, 20, seed=0)  # positional, which it takes
    assert (
        note.startswith("G(z, label) with labels as class indices")
        and out.argmax(1).tolist() == labels.tolist()
    )


def test_an_optional_keyword_only_option_is_not_taken_for_the_label():
    def one_input(x, *, target_size=None):  # "target" is a label word; with a default it is an option
        return x

    assert calls_to_try(one_input, FLAT).order == [("appended", "one-hot")]
    calls = calls_to_try(lambda **inputs: 0, FLAT)
    assert calls.guessed and calls.why == "forward names no positional input"


class CountsCalls(nn.Module):
    """Takes only (one-hot, z), under names that say nothing (so every order is tried): counts calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, a, b):
        self.calls += 1
        if a.dim() != 2 or a.shape[1] != 10:
            raise ValueError("one-hot rows first")
        return a + 0 * b[:, :1]


def test_the_monitor_calls_g_only_the_way_it_took_its_label_after_the_first_draw():
    scorer = GeneratorScorer("mnist", "image", FLAT, ("normal", 1.0), None, 10, "-1-1", 40, None)
    g = CountsCalls()
    first, _ = scorer._draw(g, 40)
    tried = g.calls
    assert tried == 4 and scorer.call.order == [("label", "one-hot")]  # three refusals, then the call
    again, labels = scorer._draw(g, 40)
    assert g.calls == tried + 1 and torch.equal(first, again) and again.argmax(1).tolist() == labels.tolist()
    assert (
        scorer.read_note.startswith("G(label, z) with labels as one-hot rows")
        and "a guess" in scorer.read_note
    )


class ZFirstIndices(nn.Module):
    def forward(self, z, labels):
        if labels.dim() != 1:
            raise ValueError("class indices only")
        return F.one_hot(labels, 10).float() + 0 * z[:, :1]


def test_the_monitors_kept_call_gives_way_when_it_is_handed_another_g():
    scorer = GeneratorScorer("mnist", "image", FLAT, ("normal", 1.0), None, 10, "-1-1", 40, None)
    scorer._draw(CountsCalls(), 40)  # kept: G(label, z) with one-hot rows
    out, labels = scorer._draw(ZFirstIndices(), 40)  # an EMA copy written otherwise
    assert out.argmax(1).tolist() == labels.tolist() and scorer.call.order == [("z", "indices")]
