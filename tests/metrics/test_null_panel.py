"""The null panel: constructed generators that must fail every image metric built to catch
them, and real data that must pass. One row per null; each metric's docstring names its null.

| null | fails |
|---|---|
| constant output | modes, KL, diversity_ratio, near_duplicate_rate, vendi, FCD, recall |
| one image repeated with noise | modes, diversity_ratio, near_duplicate_rate, vendi, recall |
| pixel noise | recognizable_share, FCD, precision |
| smooth blobs | recognizable_share, FCD, precision |
| three classes only | modes, KL (kl_uniform, kl_prior), recall, coverage |
| memorized training images | copy_rate |
"""

import pytest
import torch
import torch.nn.functional as F

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.detector import verdict_of
from modecollapse.metrics.scores import METRICS, extract, score
from modecollapse.models.classifier import load_classifier

N = 1000
pytestmark = pytest.mark.slow  # the panel scores 7,000 real and made-up images once


@pytest.fixture(scope="module")
def panel():
    classifier = load_classifier("mnist")
    digits = load_dataset(DataConfig(name="mnist-5k"))
    order = torch.randperm(5000, generator=torch.Generator().manual_seed(0))
    train_images, fresh = digits.batch(order[:3000]), digits.batch(order[3000 : 3000 + N])
    real = extract(classifier, train_images)
    g = torch.Generator().manual_seed(1)
    one = fresh[:1].repeat(N, 1, 1, 1)
    labels = digits.labels[order[3000:]]
    three = digits.batch(order[3000:][(labels == 2) | (labels == 5) | (labels == 8)][:N])
    smooth = F.interpolate(torch.randn(N, 1, 7, 7, generator=g), size=28, mode="bilinear")
    cases = {
        "real": fresh,
        "constant": torch.zeros(N, 1, 28, 28),
        "one image with noise": (one + 0.03 * torch.randn(one.shape, generator=g)).clamp(-1, 1),
        "pixel noise": torch.rand(N, 1, 28, 28, generator=g) * 2 - 1,
        "blobs": F.avg_pool2d(smooth, 5, 1, 2).clamp(-1, 1),
        "three classes": three,
        "memorized": train_images[:N],
    }
    return {name: score(extract(classifier, images), real) for name, images in cases.items()}


@pytest.mark.slow
def test_real_data_passes(panel):
    real = panel["real"]
    assert real["modes"] == 10 and real["kl_uniform"] < 0.02 and real["recognizable_share"] > 0.97
    assert 0.9 < real["diversity_ratio"] < 1.1 and 0.9 < real["vendi_ratio"] < 1.15
    assert real["near_duplicate_rate"] < 0.05 and real["copy_rate"] < 0.05
    assert real["fcd"] < 5 and real["precision"] > 0.6 and real["recall"] > 0.6
    assert verdict_of(real)[0] == "healthy"


LOW, HIGH = "at most", "at least"


@pytest.mark.parametrize(
    "null, failed",
    [
        ("constant", {"modes": (LOW, 1), "diversity_ratio": (LOW, 0.05), "near_duplicate_rate": (HIGH, 0.99),
                      "vendi": (LOW, 1.5), "recall": (LOW, 0.05), "coverage": (LOW, 0.05),
                      "classifier_score": (LOW, 1.05), "kl_uniform": (HIGH, 2.0)}),
        ("one image with noise", {"modes": (LOW, 1), "diversity_ratio": (LOW, 0.3),
                                  "near_duplicate_rate": (HIGH, 0.9), "vendi": (LOW, 3),
                                  "recall": (LOW, 0.1)}),
        ("pixel noise", {"recognizable_share": (LOW, 0.01), "precision": (LOW, 0.05)}),
        ("blobs", {"recognizable_share": (LOW, 0.01), "precision": (LOW, 0.05)}),
        ("three classes", {"modes": (LOW, 3), "recall": (LOW, 0.5), "coverage": (LOW, 0.5)}),
    ],
)  # fmt: skip
def test_each_null_fails_the_metrics_built_to_catch_it(panel, null, failed):
    scores = panel[null]
    for metric, (side, bound) in failed.items():
        assert scores[metric] <= bound if side == LOW else scores[metric] >= bound, (metric, scores[metric])
    assert scores["fcd"] > 10 * panel["real"]["fcd"] or null == "three classes"
    assert verdict_of(scores)[0] != "healthy"


def test_three_classes_fail_the_histogram(panel):
    assert panel["three classes"]["kl_uniform"] > 1.0 and panel["three classes"]["kl_prior"] > 1.0


def test_memorized_training_images_are_caught_only_by_the_copy_rate(panel):
    memorized = panel["memorized"]
    assert memorized["fcd"] <= panel["real"]["fcd"] and memorized["precision"] > 0.9  # fooled ...
    assert memorized["copy_rate"] > 0.95  # ... the copy rate is not
    verdict, reasons = verdict_of(memorized)
    assert verdict == "partial collapse" and any("copies of real images" in r for r in reasons)


def test_every_registered_metric_names_its_null():
    unnamed = [name for name, function in METRICS.items() if "null" not in (function.__doc__ or "").lower()]
    assert not unnamed, unnamed
