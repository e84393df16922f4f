import pytest
import torch

from modecollapse.metrics.conditional import conditional_scores, per_class_diversity
from modecollapse.metrics.detector import verdict_of


def real_set():
    torch.manual_seed(0)
    labels = torch.arange(500) % 10
    centres = torch.randn(10, 16) * 5
    return centres[labels] + torch.randn(500, 16), labels, centres


def test_real_like_samples_have_diversity_one():
    features, labels, centres = real_set()
    fake = centres[labels] + torch.randn(500, 16)
    ratios = per_class_diversity(fake, labels, features, labels, 10)
    assert all(0.7 < r < 1.4 for r in ratios)


def test_one_fixed_image_per_class_is_flagged():
    features, labels, centres = real_set()
    fake = centres[labels]  # every sample of class k is the same point
    scores = conditional_scores(fake, labels, labels, features, labels, 10)
    assert scores["per_class_diversity_min"] == 0.0
    assert scores["class_conditional_accuracy"] == 1.0
    verdict, reasons = verdict_of({"per_class_diversity_min": scores["per_class_diversity_min"]})
    assert verdict == "collapsed" and "within-class variety" in reasons[0]


def test_class_conditional_accuracy_counts_wrong_classes():
    features, labels, _ = real_set()
    predictions = labels.clone()
    predictions[:100] = (predictions[:100] + 1) % 10
    scores = conditional_scores(features, predictions, labels, features, labels, 10)
    assert scores["class_conditional_accuracy"] == pytest.approx(0.8)


def test_grader_is_another_network_trained_on_other_digits():
    from modecollapse.models.classifier import LeNet, load_classifier

    grader, evaluation = load_classifier("grader-mnist"), load_classifier("mnist")
    assert isinstance(grader.model, LeNet) and not isinstance(evaluation.model, LeNet)
    assert "minus the 5000 mnist-5k digits" in grader.card["trained_on"]
    assert evaluation.card["trained_on"].startswith("mnist-5k")


def test_grader_passes_real_digits_and_fails_its_nulls(mnist_digits):
    import numpy as np

    from modecollapse.metrics.conditional import grader_scores, load_grader
    from modecollapse.metrics.features import prepare_images

    images = prepare_images(mnist_digits[0][:2000])[0]
    labels = torch.from_numpy(mnist_digits[1][:2000].astype(np.int64))
    grader = load_grader("mnist-5k")
    assert grader_scores(grader, images, labels)["grader_class_accuracy"] >= 0.98
    ignored = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]
    assert grader_scores(grader, images, ignored)["grader_class_accuracy"] < 0.15
    constant = images[:1].expand(len(images), -1, -1, -1)
    assert grader_scores(grader, constant, labels)["grader_class_accuracy"] < 0.15


def test_a_dataset_without_a_grader_has_none():
    from modecollapse.metrics.conditional import load_grader

    assert load_grader("fashion-mnist") is None
