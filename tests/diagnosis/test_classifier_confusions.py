"""Fashion-MNIST's classifier reads real shirts as T-shirts, pullovers and coats too (79 % right on
the held-out split): one real class alone must still be called collapsed, and three classes not."""

from pathlib import Path

import numpy as np
import pytest

from modecollapse import diagnose
from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.scores import extract
from modecollapse.models.classifier import load_classifier

SHIRT, T_SHIRT, PULLOVER = 6, 0, 2


@pytest.fixture(scope="module")
def fashion():
    """Training images (the card's confusion is the test split's, so these are out of its sample)
    and a reference drawn from the test split (copies are counted against it, not the training
    images these are)."""
    if not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    train = load_dataset(DataConfig(name="fashion-mnist", split="train"))
    test = load_dataset(DataConfig(name="fashion-mnist", split="test"))
    held = test.data[5000:9000, 0].numpy()  # uint8 (N, 28, 28), as users post them
    reference = extract(load_classifier("fashion-mnist"), prepare_images(held, "0-255")[0])
    return train.data[:, 0].numpy(), train.labels.numpy(), reference


def _modes_reason(report) -> str:
    return next(r for r in report.reasons if "modes" in r)


def test_one_confusable_class_alone_is_collapsed(fashion):
    images, labels, reference = fashion
    report = diagnose(images[labels == SHIRT][:1000], dataset="fashion-mnist", reference=reference)
    assert report.scores["modes"] >= 3  # the raw count sees the classifier's confusions
    assert report.scores["modes_beyond_confusion"] == 1
    assert report.verdict == "collapsed"
    assert _modes_reason(report).startswith("only 1 of 10 modes beyond the classifier's confusions")


def test_three_confusable_classes_are_a_partial_collapse(fashion):
    images, labels, reference = fashion
    chosen = np.isin(labels, [SHIRT, T_SHIRT, PULLOVER])
    report = diagnose(images[chosen][:1500], dataset="fashion-mnist", reference=reference)
    assert report.scores["modes_beyond_confusion"] == 3
    assert report.verdict == "partial collapse"
    assert _modes_reason(report).startswith("3 of 10 modes beyond the classifier's confusions")


def test_every_class_is_healthy(fashion):
    images, _, reference = fashion
    report = diagnose(images[-2000:], dataset="fashion-mnist", reference=reference)
    assert report.scores["modes_beyond_confusion"] == 10
    assert report.verdict == "healthy", report.reasons


def test_every_class_but_shirts_is_a_partial_collapse(fashion):
    """The classifier reads T-shirts, pullovers and coats as shirts often enough that the raw count
    may still see 10 classes and the histogram stays near uniform; beyond confusion it is 9."""
    images, labels, reference = fashion
    report = diagnose(images[labels != SHIRT][:2000], dataset="fashion-mnist", reference=reference)
    assert report.scores["modes_beyond_confusion"] == 9
    assert report.verdict == "partial collapse"
    assert _modes_reason(report).startswith("9 of 10 modes beyond the classifier's confusions")
