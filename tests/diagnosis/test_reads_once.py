"""diagnose opens its input once: a run's checkpoint, an array file and the classifier are read
one time each per call."""

import numpy as np
import pytest

from modecollapse import diagnose
from modecollapse.diagnosis import inputs
from modecollapse.models import classifier as classifiers
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.loop import train
from tests.conftest import tiny_image_config, tiny_ring_config


def counting(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.slow
def test_a_run_folder_is_read_once(tmp_path, monkeypatch):
    for name, config in (("ring", tiny_ring_config()), ("images", tiny_image_config())):
        train(config, tmp_path / name)
        reads = counting(monkeypatch, ckpt, "load_checkpoint")
        hashes = counting(monkeypatch, classifiers, "build_network")  # once per load_classifier
        diagnose(tmp_path / name, num_samples=200)
        assert len(reads) == 1, name
        assert len(hashes) == (0 if name == "ring" else 1), name
        monkeypatch.undo()


def test_an_array_file_is_read_once(tmp_path, monkeypatch):
    path = tmp_path / "points.npy"
    np.save(path, np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32))
    reads = counting(monkeypatch, inputs, "read_array")
    diagnose(path, dataset="ring8")
    assert len(reads) == 1
