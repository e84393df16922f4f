"""diagnose's messages name an option as its caller gave it: --weights-key on the command line,
weights_key= from Python."""

import numpy as np
import pytest
import torch

from modecollapse import ModeCollapseError  # the public name a user catches
from modecollapse.cli import main
from modecollapse.diagnosis import diagnose
from modecollapse.options import Metavar, command_line, invocation, option


def test_each_caller_reads_its_own_spelling():
    assert option("weights_key", "G_ema") == "weights_key='G_ema'"
    assert option("arch_kwargs", {"nz": 100}) == "arch_kwargs={'nz': 100}"
    assert option("latent_dim", Metavar("N")) == "latent_dim=N"
    assert invocation("G.pt", arch="m.py:G") == "modecollapse.diagnose('G.pt', arch='m.py:G')"
    with command_line():
        assert option("g_ba_weights_key", "G_BA") == "--g-ba-weights-key G_BA"
        assert option("arch_kwargs", {"nz": 100}) == """--arch-kwargs '{"nz": 100}'"""
        assert option("latent_dim", Metavar("N")) == "--latent-dim N"
        assert invocation("G.pt", arch="m.py:G") == "modecollapse diagnose G.pt --arch m.py:G"
    assert option("padding") == "padding"  # the command line's spelling ends with its call


def test_a_refusal_names_the_keyword_in_python_and_the_flag_on_the_command_line(tmp_path, capsys):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "weights.pt")
    with pytest.raises(ModeCollapseError) as refused:
        diagnose(tmp_path / "weights.pt", "mnist")
    assert "arch='models.py:Generator'" in str(refused.value) and "--arch" not in str(refused.value)
    assert main(["diagnose", str(tmp_path / "weights.pt"), "--dataset", "mnist"]) != 0
    err = capsys.readouterr().err
    assert "--arch models.py:Generator" in err and "arch='" not in err
    with pytest.raises(ModeCollapseError, match="g_ba_weights_key names an entry of G_BA's weights file"):
        diagnose(tmp_path / "weights.pt", "mnist", g_ba_weights_key="G_BA")


def test_the_scoring_code_diagnose_reaches_speaks_the_same(tmp_path, mnist_test):
    reference = mnist_test[2]
    rgb = np.random.default_rng(0).integers(0, 256, (64, 3, 28, 28)).astype(np.uint8)
    np.save(tmp_path / "rgb.npy", rgb)
    with pytest.raises(ModeCollapseError, match="or pass dataset='stacked-mnist' for Stacked MNIST stacks"):
        diagnose(tmp_path / "rgb.npy", "mnist", reference=reference)


def test_a_bad_value_range_is_refused_before_anything_is_read(tmp_path):
    with pytest.raises(ModeCollapseError, match=r"value_range must be auto, 0-255, 0-1, -1-1 or 'MEAN,STD'"):
        diagnose(tmp_path / "not-even-there", dataset="mnist", value_range="0-100")
