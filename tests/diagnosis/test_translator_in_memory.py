"""diagnose on a user's own translators in memory: G_AB fed the dataset's held-out A inputs, with
or without its G_BA, whatever their output range; NaN outputs judged, not a crash."""

import pytest
import torch
from torch import nn

from modecollapse import diagnose
from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.errors import ModeCollapseError


class Lookup(nn.Module):
    """A perfect translator: each held-out input's own digit drawn in B's layout, in [0, 1] as a
    Sigmoid output gives it."""

    def __init__(self, data):
        super().__init__()
        self.inputs = data.held_out.a.batch(torch.arange(len(data.held_out.a)))
        self.truth = data.held_out.truth.float() / 255

    def forward(self, x):
        return self.truth[torch.cdist(x.flatten(1), self.inputs.flatten(1)).argmin(1)]


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        layers = (nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1), nn.Sigmoid())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


@pytest.fixture(scope="module")
def data():
    return load_dataset(DataConfig(name="spatial-one"))


@pytest.mark.slow
def test_a_perfect_translator_in_memory_is_healthy(data):
    report = diagnose(Lookup(data), dataset="spatial-one", num_samples=300)
    assert report.verdict == "healthy" and report.scores["translation_score"] > 0.95
    assert "cycle_identity_kept" not in report.scores  # no G_BA given: the cycle is not judged
    assert "no G_BA given" in report["input_notes"][0]


@pytest.mark.slow
def test_an_untrained_pair_is_collapsed_and_its_cycle_judged(tmp_path):
    torch.manual_seed(0)
    g_ab, g_ba = Tiny().train(), Tiny().train()
    report = diagnose(g_ab, dataset="spatial-one", g_ba=g_ba, num_samples=300)
    assert report.verdict == "collapsed" and report.scores["translation_score"] < 0.1
    assert report.scores["hidden_code"] == 0.0 and "cycle_identity_kept" in report.scores
    assert g_ab.training and g_ba.training  # judged in eval mode, handed back as they came
    assert [p.name for p in report.save(tmp_path)] == ["samples.png", "class_histogram.png"]


def test_nan_translations_are_judged_collapsed_and_draw_nothing(tmp_path):
    report = diagnose(lambda x: x * float("nan"), dataset="spatial-one", num_samples=100)
    assert report.verdict == "collapsed" and report.scores["nonfinite_share"] == 1.0
    assert report.save(tmp_path) == []


def test_g_ba_needs_a_translation_dataset():
    with pytest.raises(ModeCollapseError, match="g_ba is for translators"):
        diagnose(Tiny(), dataset="mnist", latent_dim=4, g_ba=Tiny())


@pytest.mark.slow
def test_torchscript_translators_from_the_command_line(tmp_path, capsys):
    from modecollapse.cli import main

    torch.manual_seed(0)
    for name in ("G_AB", "G_BA"):
        torch.jit.script(Tiny()).save(str(tmp_path / f"{name}.ts"))
    g_ab, g_ba = str(tmp_path / "G_AB.ts"), str(tmp_path / "G_BA.ts")
    assert main(["diagnose", g_ab, "--dataset", "spatial-one", "--g-ba", g_ba, "--num-samples", "200"]) == 5
    out = capsys.readouterr().out
    assert "verdict: COLLAPSED" in out and "cycle's digit" in out and "; G_BA: TorchScript from" in out
    assert main(["diagnose", g_ab, "--dataset", "spatial-one", "--g-ba", str(tmp_path / "none.ts")]) == 2
    assert "none.ts: no such file" in capsys.readouterr().err
    assert main(["diagnose", g_ab, "--dataset", "mnist", "--latent-dim", "4", "--g-ba", g_ba]) == 2
    assert "--g-ba is for a translator" in capsys.readouterr().err
