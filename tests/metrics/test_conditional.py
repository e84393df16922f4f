import pytest
import torch

from modecollapse.metrics.conditional import conditional_scores, per_class_diversity
from modecollapse.metrics.detector import judge


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
    verdict, reasons = judge({"per_class_diversity_min": scores["per_class_diversity_min"]})
    assert verdict == "collapsed" and "within-class variety" in reasons[0]


def test_class_conditional_accuracy_counts_wrong_classes():
    features, labels, _ = real_set()
    predictions = labels.clone()
    predictions[:100] = (predictions[:100] + 1) % 10
    scores = conditional_scores(features, predictions, labels, features, labels, 10)
    assert scores["class_conditional_accuracy"] == pytest.approx(0.8)
