import math

import pytest
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


def _confusion(accuracy: dict[int, tuple[float, dict[int, float]]]) -> torch.Tensor:
    """Identity, with the rows given as (diagonal, {other class: share})."""
    confusion = torch.eye(10, dtype=torch.float64)
    for row, (diagonal, others) in accuracy.items():
        confusion[row] = 0
        confusion[row, row] = diagonal
        for column, share in others.items():
            confusion[row, column] = share
    return confusion


def test_modes_beyond_confusion_discounts_what_the_classifier_confuses():
    """Fashion-MNIST's classifier reads 79 % of real shirts as shirts and the rest as T-shirts,
    pullovers and coats: shirts alone show 4 modes to the raw count, one beyond confusion."""
    confusion = _confusion({6: (0.79, {0: 0.1, 2: 0.06, 4: 0.05})})
    shirts_alone = torch.tensor([100.0, 0, 60, 0, 50, 0, 790, 0, 0, 0])
    assert classes.modes_covered(shirts_alone) == 4
    assert classes.modes_beyond_confusion(shirts_alone, confusion) == 1
    everything = confusion.sum(0) * 100  # every class equally, as the classifier reads them
    assert classes.modes_beyond_confusion(everything, confusion) == 10
    three = confusion[[0, 2, 6]].sum(0) * 100
    assert classes.modes_beyond_confusion(three, confusion) == 3


def test_modes_beyond_confusion_is_the_raw_count_for_a_perfect_classifier():
    counts = torch.tensor([100.0, 100, 100, 2, 0, 0, 0, 0, 0, 0])
    assert classes.modes_beyond_confusion(counts, torch.eye(10)) == classes.modes_covered(counts) == 3
    assert classes.modes_beyond_confusion(counts, torch.eye(10), 0.0) == 4


def test_classifier_score_of_few_samples_does_not_split_them_into_ones():
    """Ten confident samples of ten classes: one split scores 10; ten splits of one sample each
    would each read as a single class (score 1), whatever the samples."""
    ten_classes = torch.eye(10)
    assert classes.classifier_score(ten_classes)[0] == pytest.approx(10.0)
    one_class = torch.zeros(10, 10)
    one_class[:, 4] = 1
    assert classes.classifier_score(one_class)[0] == pytest.approx(1.0)
    shuffled = ten_classes[torch.randperm(10, generator=torch.Generator().manual_seed(1))]
    assert classes.classifier_score(shuffled) == classes.classifier_score(ten_classes)


def test_modes_beyond_confusion_of_nothing_or_with_a_broken_matrix():
    assert classes.modes_beyond_confusion(torch.zeros(10), torch.eye(10)) == 0
    assert classes.modes_beyond_confusion_sd(torch.zeros(10), torch.eye(10)) == 0.0
    with pytest.raises(ValueError, match="finite 10 x 10"):
        classes.modes_beyond_confusion(torch.ones(10), torch.full((10, 10), float("nan")))
    with pytest.raises(ValueError, match="finite 10 x 10"):
        classes.modes_beyond_confusion(torch.ones(10), torch.eye(9))


def test_the_spread_of_modes_beyond_confusion_shrinks_with_samples():
    confusion = _confusion({6: (0.79, {0: 0.1, 2: 0.06, 4: 0.05}), 0: (0.9, {6: 0.1})})
    two_classes = confusion[[0, 6]].sum(0)
    few, many = (classes.modes_beyond_confusion_sd(two_classes * n / 2, confusion) for n in (40, 4000))
    assert few > 0.2 and many == 0.0


def test_classifier_score_splits_are_equal_and_hold_enough_samples():
    probabilities = torch.eye(10).repeat(51, 1)[:505]  # 505 samples: 10 splits of 50-51
    sizes = []
    original = torch.Tensor.tensor_split

    def recording(self, *args, **kwargs):
        parts = original(self, *args, **kwargs)
        sizes.extend(len(p) for p in parts)
        return parts

    torch.Tensor.tensor_split = recording
    try:
        classes.classifier_score(probabilities)
    finally:
        torch.Tensor.tensor_split = original
    assert len(sizes) == 10 and min(sizes) >= classes.MIN_SPLIT_SAMPLES
