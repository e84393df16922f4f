"""recognizable_share against its nulls: pixel noise, blobs, one digit repeated; real digits pass."""

import pytest
import torch
import torch.nn.functional as F

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.detector import verdict_of
from modecollapse.metrics.scores import extract, score
from modecollapse.models.classifier import load_classifier


@pytest.fixture(scope="module")
def reference():
    classifier = load_classifier("mnist")
    digits = load_dataset(DataConfig(name="mnist-5k"))
    images = digits.batch(torch.randperm(5000, generator=torch.Generator().manual_seed(0)))
    return classifier, extract(classifier, images[:3000]), images[3000:]


def blobs(n=1000):
    smooth = F.interpolate(
        torch.randn(n, 1, 7, 7, generator=torch.Generator().manual_seed(1)), size=28, mode="bilinear"
    )
    return F.avg_pool2d(smooth, 5, 1, 2).clamp(-1, 1)


@pytest.mark.slow
def test_real_digits_are_recognizable(reference):
    classifier, real, held_out = reference
    scores = score(extract(classifier, held_out), real)
    assert scores["recognizable_share"] > 0.97
    assert scores["modes_recognizable"] == 10 and scores["kl_uniform_recognizable"] < 0.02


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, images",
    [
        ("pixel noise", torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1),
        ("blobs", blobs()),
    ],
)
def test_noise_and_blobs_are_not_digits(reference, name, images):
    classifier, real, _ = reference
    fake = extract(classifier, images)
    assert fake.probabilities.max(1).values.median() > 0.99  # the classifier alone is fooled ...
    scores = score(fake, real)
    assert scores["recognizable_share"] < 0.01  # ... the recognizable share is not
    verdict, reasons = verdict_of(scores)
    assert verdict == "collapsed" and any("recognizable" in r for r in reasons)


def test_blank_images_are_not_recognizable_however_the_classifier_reads_them(reference):
    classifier, real, held_out = reference
    black, faint = -torch.ones(200, 1, 28, 28), held_out[:200] * 0.1 - 0.9  # a 10 %-contrast shadow
    for blank in (black, faint):
        assert score(extract(classifier, blank), real)["recognizable_share"] == 0
    stacked_real = extract(classifier, held_out[900:1800].reshape(300, 3, 28, 28))
    stacks = held_out[:600].reshape(200, 3, 28, 28).clone()
    assert score(extract(classifier, stacks), stacked_real)["recognizable_share"] > 0.9
    stacks[:, 2] = -1  # one channel of each stack left blank
    assert score(extract(classifier, stacks), stacked_real)["recognizable_share"] == 0


@pytest.mark.slow
def test_stacks_need_every_channel_legible(reference):
    classifier, _, held_out = reference
    real_stacks = held_out[:900].reshape(300, 3, 28, 28)
    real = extract(classifier, held_out[900:1800].reshape(300, 3, 28, 28))
    good = score(extract(classifier, real_stacks), real)["recognizable_share"]
    spoiled = real_stacks.clone()
    spoiled[:, 1] = torch.rand(300, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    assert good > 0.9 and score(extract(classifier, spoiled), real)["recognizable_share"] < 0.01
