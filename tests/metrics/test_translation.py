import pytest
import torch

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.detector import judge
from modecollapse.metrics.scores import extract
from modecollapse.metrics.translation import ink, measure_digits, spatial_errors, translation_scores
from modecollapse.models.classifier import load_classifier


@pytest.fixture(scope="module")
def classifier():
    return load_classifier("mnist")


def scores_of(data, translated, index, classifier):
    truth = measure_digits(data.a_to_b_truth(index).float() / 127.5 - 1, data.b_layout)
    measured = measure_digits(translated, data.b_layout)
    real = extract(classifier, measure_digits(data.b.batch(index), data.b_layout).crops)
    scores = translation_scores(extract(classifier, measured.crops), data.a_digits[index], real)
    scores.update(spatial_errors(measured, truth, position_tolerance=2.8, size_tolerance=0.25))
    return scores


@pytest.mark.parametrize("name", ["spatial-one", "spatial-two"])
def test_perfect_translator_scores_about_100_percent(name, classifier):
    data = load_dataset(DataConfig(name=name, num_samples=400))
    index = torch.arange(400)
    perfect = data.a_to_b_truth(index).float() / 127.5 - 1
    scores = scores_of(data, perfect, index, classifier)
    assert scores["identity_kept"] == pytest.approx(1.0, abs=0.02)
    assert scores["spatial_accuracy"] == 1.0 and scores["position_error_px"] == 0.0
    assert scores["modes"] == 10
    assert judge(scores)[0] == "healthy"


@pytest.mark.parametrize("name", ["spatial-one", "spatial-two"])
def test_constant_translator_is_flagged_collapsed(name, classifier):
    data = load_dataset(DataConfig(name=name, num_samples=400))
    index = torch.arange(400)
    constant = (data.a_to_b_truth(index[:1]).float() / 127.5 - 1).expand(400, -1, -1, -1)
    scores = scores_of(data, constant, index, classifier)
    assert judge(scores)[0] == "collapsed"
    assert scores["near_duplicate_rate"] == 1.0
    assert scores["identity_kept"] < 0.2


def test_translation_in_the_wrong_place_fails_the_spatial_rule(classifier):
    data = load_dataset(DataConfig(name="spatial-one", num_samples=200))
    index = torch.arange(200)
    perfect = data.a_to_b_truth(index).float() / 127.5 - 1
    moved = torch.roll(perfect, shifts=-8, dims=3)  # 8 pixels too far left
    scores = scores_of(data, moved, index, classifier)
    assert scores["position_error_px"] == pytest.approx(8.0, abs=0.5)
    assert scores["spatial_accuracy"] == 0.0
    assert scores["identity_kept"] > 0.95  # the right digit, in the wrong place


def test_translation_that_swaps_digits_loses_identity(classifier):
    data = load_dataset(DataConfig(name="spatial-one", num_samples=200))
    index = torch.arange(200)
    shuffled = data.a_to_b_truth(index.roll(1)).float() / 127.5 - 1  # someone else's digit
    scores = scores_of(data, shuffled, index, classifier)
    assert scores["identity_kept"] < 0.25 and scores["spatial_accuracy"] > 0.4  # right place, wrong digit
    assert judge(scores)[0] == "healthy"  # diverse and balanced: only identity shows it


def test_rgb_digits_are_read_on_any_background(classifier):
    data = load_dataset(DataConfig(name="mnist-rgb", num_samples=300))
    index = torch.arange(300)
    coloured = data.a_to_b_truth(index).float() / 127.5 - 1
    level = ink(coloured)
    assert level.shape == (300, 1, 32, 32) and float(level.amax()) == pytest.approx(1.0)
    real = extract(classifier, measure_digits(data.b.batch(index), None).crops)
    scores = translation_scores(
        extract(classifier, measure_digits(coloured, None).crops), data.a_digits, real
    )
    assert scores["identity_kept"] > 0.97


def test_empty_output_counts_as_missing_digit(classifier):
    data = load_dataset(DataConfig(name="spatial-one", num_samples=50))
    index = torch.arange(50)
    blank = -torch.ones(50, 1, 56, 56)
    truth = measure_digits(data.a_to_b_truth(index).float() / 127.5 - 1, data.b_layout)
    errors = spatial_errors(measure_digits(blank, data.b_layout), truth, 2.8, 0.25)
    assert errors["empty_slot_rate"] == 1.0 and errors["spatial_accuracy"] == 0.0


def test_speckled_background_does_not_hide_the_digit(classifier):
    data = load_dataset(DataConfig(name="mnist-rgb", num_samples=300))
    index = torch.arange(300)
    coloured = data.a_to_b_truth(index).float() / 127.5 - 1
    speckled = (
        coloured + 0.25 * torch.rand(coloured.shape, generator=torch.Generator().manual_seed(0))
    ).clamp(-1, 1)
    real = extract(classifier, measure_digits(data.b.batch(index), None).crops)
    scores = translation_scores(
        extract(classifier, measure_digits(speckled, None).crops), data.a_digits, real
    )
    assert scores["identity_kept"] > 0.9
