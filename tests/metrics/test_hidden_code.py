"""The hidden-code check fires on a translator that hides its input in a faint signal, and not on
one whose reconstruction reads a visible digit or on one that forgets its input."""

import pytest
import torch
from torch import nn

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.hidden_code import hidden_code_scores


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.fixture(scope="module")
def data():
    return load_dataset(DataConfig(name="spatial-one", num_samples=400))


def test_a_faint_copy_of_the_input_is_a_hidden_code(data):
    shown = data.b.batch(torch.arange(1))  # every translation shows the same real B digit ...
    faint = 0.004  # ... mixed with the input at half a grey level

    def decode(b):  # reads the faint part only: whatever does not fit the code is background
        code = (b - (1 - faint) * shown) / faint
        return torch.where(code.abs() <= 1.001, code, torch.full_like(code, -1.0)).clamp(-1, 1)

    g_ab, g_ba = Lambda(lambda a: (1 - faint) * shown + faint * a), Lambda(decode)
    scores = hidden_code_scores(g_ab, g_ba, data, 200)
    assert scores["cycle_identity_kept"] > 0.8 and scores["cycle_identity_kept_noisy"] < 0.3
    assert scores["real_b_identity_kept"] < 0.3 and scores["hidden_code"] == 1.0


def test_a_visible_digit_is_not_a_hidden_code(data):
    same = Lambda(lambda x: x)  # the translation is the input itself: the digit is in plain view
    scores = hidden_code_scores(same, same, data, 200)
    assert scores["cycle_identity_kept"] > 0.8 and scores["cycle_identity_kept_noisy"] > 0.8
    assert scores["hidden_code"] == 0.0


def test_a_translator_that_forgets_its_input_hides_nothing(data):
    blank = Lambda(lambda x: torch.full_like(x, -1.0))
    scores = hidden_code_scores(blank, blank, data, 200)
    assert scores["cycle_identity_kept"] < 0.3 and scores["hidden_code"] == 0.0
