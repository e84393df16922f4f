import math

import torch

from modecollapse.metrics import classes


def test_kl_to_uniform_and_prior():
    counts = torch.tensor([50.0, 50.0, 0, 0])
    torch.testing.assert_close(classes.kl_to_reference(counts), math.log(2))
    torch.testing.assert_close(classes.kl_to_reference(torch.full((10,), 7.0)), 0.0)
    prior = torch.tensor([1.0, 1.0, 2.0, 0.0])
    torch.testing.assert_close(classes.kl_to_reference(torch.tensor([1.0, 1.0, 2.0, 0.0]), prior), 0.0)


def test_modes_covered_threshold():
    counts = torch.tensor([100.0, 100, 100, 2, 0, 0, 0, 0, 0, 0])
    assert classes.modes_covered(counts, 0.0) == 4
    assert classes.modes_covered(counts, 0.1) == 3  # 2 samples < 10% of a uniform share (3.02)


def test_stacked_labels():
    digits = torch.tensor([[1, 2, 3], [0, 0, 9]])
    assert classes.stacked_labels(digits).tolist() == [123, 9]


def test_classifier_score_extremes():
    confident_uniform = torch.eye(10).repeat(1000, 1)
    mean, std = classes.classifier_score(confident_uniform, splits=10)
    torch.testing.assert_close(mean, 10.0, rtol=0.01, atol=0)  # 1,000 per split: near-uniform
    sorted_by_class = torch.eye(10).repeat_interleave(1000, dim=0)
    torch.testing.assert_close(classes.classifier_score(sorted_by_class)[0], mean, rtol=0.005, atol=0)
    single_class = torch.zeros(1000, 10)
    single_class[:, 3] = 1
    torch.testing.assert_close(classes.classifier_score(single_class)[0], 1.0, rtol=1e-6, atol=0)


def test_stacked_sampling_floor_is_small():
    """A perfect uniform generator over 1,000 modes, 26k samples: KL ~0.019 (sampling noise)."""
    torch.manual_seed(0)
    counts = classes.class_counts(torch.randint(1000, (26_000,)), 1000)
    assert classes.modes_covered(counts, 0.0) == 1000
    torch.testing.assert_close(classes.kl_to_reference(counts), 0.019, rtol=0, atol=0.004)
