import json

import pytest

from modecollapse.cli import main


@pytest.mark.slow
def test_classifier_training_is_deterministic_and_writes_a_card(tmp_path, mnist_dir, capsys, monkeypatch):
    args = ["classifier", "train", "--dataset", "mnist", "--epochs", "1", "--data-dir", str(mnist_dir.parent)]
    monkeypatch.chdir(tmp_path)  # the default folder is ./classifiers, never the shipped assets
    assert main(args) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    printed = capsys.readouterr().out
    assert printed.count("not the shipped classifier's weights") == 2  # one epoch, not the shipped recipe
    card_a = json.loads((tmp_path / "classifiers" / "classifier-mnist.json").read_text())
    card_b = json.loads((tmp_path / "b" / "classifier-mnist.json").read_text())
    assert card_a["sha256"] == card_b["sha256"]
    assert card_a["trained_on"] == "mnist-5k (5000 images)"
    assert card_a["tested_on"] == "mnist test split (10000 images)"
    assert 0.5 < card_a["test_accuracy"] <= 1.0  # one epoch already learns digits


def test_excluded_digits_are_removed_by_pixels():
    import torch

    from modecollapse.data import Dataset
    from modecollapse.training.classifier import without_digits

    images = torch.arange(5 * 4, dtype=torch.uint8).reshape(5, 1, 2, 2)
    full = Dataset("full", "image", images, torch.arange(5), 10, "here", image_size=2)
    seen = Dataset("seen", "image", images[[1, 3]].clone(), torch.zeros(2, dtype=torch.long), 10, "x")
    kept = without_digits(full, seen)
    assert kept.labels.tolist() == [0, 2, 4]
    assert "minus seen" in kept.source
