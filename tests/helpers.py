"""Helpers several test modules share (fixtures and config builders are in conftest.py)."""

import pytest
import torch
from torch import nn

from modecollapse.data.mixtures import ring_means
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.loop import train


class Crash(Exception):
    pass


def crash_at(step_to_crash):
    def callback(step, models):
        if step == step_to_crash:
            raise Crash(step)

    return callback


def final_weights(run_dir):
    tensors, state = ckpt.load_checkpoint(ckpt.latest_checkpoint(run_dir))
    return tensors, state


def assert_resume_is_exact(config, tmp_path, crash_step, resumes_from=None):
    """A run killed at `crash_step` (its last checkpoint then `resumes_from`, when given) and
    resumed ends with the weights of one never killed."""
    train(config, tmp_path / "straight")
    with pytest.raises(Crash):
        train(config, tmp_path / "killed", callbacks=[crash_at(crash_step)])
    if resumes_from is not None:
        assert ckpt.latest_checkpoint(tmp_path / "killed").name == resumes_from
    summary = train(config, tmp_path / "killed", resume=True)
    straight, _ = final_weights(tmp_path / "straight")
    resumed, _ = final_weights(tmp_path / "killed")
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0, msg=key)
    return summary


class ScriptedRing(nn.Module):
    """Draws the 8-Gaussian ring from z (healthy) until `collapse_at`, then one mode only."""

    def __init__(self, collapse_at: int):
        super().__init__()
        self.collapse_at = collapse_at
        self.step = nn.Parameter(torch.zeros(()), requires_grad=False)  # tells the weights apart
        self.register_buffer("means", ring_means(8, 2.0))

    def forward(self, z):
        modes = (torch.special.ndtr(z[:, 0]) * 8).long().clamp(0, 7)
        if self.step >= self.collapse_at:
            modes = torch.zeros_like(modes)
        return self.means[modes] + 0.02 * z[:, 1:3]


SWEEP = """
name = "mini"
seeds = [0, 1]
[base]
[base.data]
name = "ring8"
num_samples = 512
[base.model]
family = "mlp"
latent_dim = 4
g_width = 16
d_width = 16
mlp_hidden_layers = 2
[base.train]
epochs = 2
batch_size = 32
tensorboard = false
progress = false
sample_every = 16
[grid]
"model.pack" = [1, 2]
"""


ANALYSIS = """
[analysis]
baseline = "pack=1"
primary = { modes = "higher", high_quality = "higher" }
at = "final"
"""
"""A declared analysis for SWEEP."""


def write(tmp_path, text=SWEEP, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path
