import hashlib
import json

import numpy as np
import pytest
import torch

from modecollapse.errors import ModeCollapseError
from modecollapse.metrics.features import guess_value_range, prepare_images
from modecollapse.metrics.scores import extract, extract_cached
from modecollapse.models.classifier import ASSETS, load_classifier


def test_shipped_cards_match_their_weights():
    cards = sorted(ASSETS.glob("classifier-*.json"))
    assert {c.stem for c in cards} == {
        "classifier-mnist",
        "classifier-fashion-mnist",
        "classifier-guide-mnist",
        "classifier-grader-mnist",
    }
    for card_path in cards:
        card = json.loads(card_path.read_text())
        weights = card_path.with_suffix(".safetensors").read_bytes()
        assert hashlib.sha256(weights).hexdigest() == card["sha256"]
        assert card["feature_dim"] == (500 if card.get("network") == "LeNet" else 128)
        assert "[-1, 1]" in card["input"]


@pytest.mark.slow
def test_mnist_classifier_meets_its_accuracy_target(mnist_digits):
    images, labels, full = mnist_digits
    labels = torch.from_numpy(labels.astype(np.int64))
    classifier = load_classifier("mnist")
    features = extract(classifier, prepare_images(images)[0])
    accuracy = (features.predictions == labels).float().mean().item()
    assert accuracy >= 0.985
    if full:  # the card's number is on all 10,000 test digits
        assert abs(accuracy - classifier.card["test_accuracy"]) < 2e-3  # the card tells the truth


def test_tampered_weights_are_refused(tmp_path):
    for suffix in (".json", ".safetensors"):
        (tmp_path / f"classifier-mnist{suffix}").write_bytes(
            (ASSETS / f"classifier-mnist{suffix}").read_bytes()
        )
    data = bytearray((tmp_path / "classifier-mnist.safetensors").read_bytes())
    data[-1] ^= 1
    (tmp_path / "classifier-mnist.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModeCollapseError, match="does not match its card"):
        load_classifier("mnist", tmp_path)


def test_unknown_classifier_lists_shipped_ones():
    with pytest.raises(ModeCollapseError, match="shipped: .*mnist"):
        load_classifier("cifar10")


@pytest.mark.parametrize(
    "array, note",
    [
        (np.full((2, 28, 28), 255, np.uint8), "0..255"),
        (np.ones((2, 1, 28, 28), np.float32), "[0, 1]"),
        (-np.ones((2, 28, 28, 1), np.float32), "[-1, 1]"),
    ],
)
def test_value_ranges_and_layouts(array, note):
    images, notes = prepare_images(array)
    assert images.shape == (2, 1, 28, 28)
    assert any(note in n for n in notes)
    expected = -1.0 if array.min() < 0 else 1.0
    torch.testing.assert_close(images, torch.full((2, 1, 28, 28), expected))


@pytest.mark.parametrize("size", [32, 64])
def test_larger_images_are_resized(size):
    images, notes = prepare_images(torch.zeros(3, 1, size, size))
    assert images.shape == (3, 1, 28, 28) and any("resized" in n for n in notes)


@pytest.mark.parametrize("shape", [(2, 5, 28, 28), (2, 1, 30, 30), (2, 1, 28, 32), (28, 28)])
def test_bad_shapes_are_refused(shape):
    with pytest.raises(ModeCollapseError, match="images"):
        prepare_images(np.zeros(shape, np.float32))


def test_the_range_is_read_from_the_values_and_one_that_fits_none_is_refused(mnist_digits):
    digits = torch.as_tensor(np.asarray(mnist_digits[0][:500])).float()
    read = {
        "0-255": digits, "0-1": digits / 255, "-1-1": digits / 127.5 - 1,
        "-1-1 (a linear output overshooting a little)": (digits / 127.5 - 1) * 1.05,
    }  # fmt: skip
    for expected, images in read.items():
        assert guess_value_range(images) == expected.split()[0]
    dim = digits.to(torch.uint8) // 4  # uint8 up to 63: 0..255 by its type
    assert prepare_images(dim)[1][0].endswith("read as 0..255 and rescaled to [-1, 1]")
    refused = {
        "normalised by another mean and std": (digits / 255 - 0.2) / 0.25,
        "scaled past [-1, 1]": (digits / 127.5 - 1) * 1.6,
        "in [0, 2]": digits / 127.5,
        "Gaussian noise": torch.randn(500, 28, 28, generator=torch.Generator().manual_seed(0)),
    }
    for name, images in refused.items():
        assert guess_value_range(images) is None, name
        said = r"fits none of 0..255, \[0, 1\], \[-1, 1\] or \[0, 1\] normalised"
        with pytest.raises(ModeCollapseError, match=said):
            prepare_images(images)
    assert prepare_images(refused["in [0, 2]"], "0-1")[0].max() == 1  # an explicit range is taken


def test_explicit_range_beats_the_guess():
    bright = torch.full((1, 1, 28, 28), 0.5)  # a [-1, 1] image that only uses its upper half
    assert prepare_images(bright)[0].mean() == 0.0  # guessed [0, 1]
    assert prepare_images(bright, "-1-1")[0].mean() == 0.5


def test_a_given_range_the_values_plainly_are_not_in_is_refused(mnist_digits):
    digits = torch.as_tensor(np.asarray(mnist_digits[0][:500])).float()  # 0..255 as floats
    said = "not the range given, -1-1: they read as 0-255; pass value_range='0-255'"
    with pytest.raises(ModeCollapseError, match=said):
        prepare_images(digits, "-1-1")  # else clamped to white squares: a wrong option, not a collapse
    with pytest.raises(ModeCollapseError, match="not the range given, 0-255: they read as -1-1"):
        prepare_images(digits / 127.5 - 1, "0-255")  # else all but black
    assert prepare_images(digits / 127.5 - 1, "-1-1")[1] == ["values -1..1 read as [-1, 1]"]
    assert prepare_images((digits / 127.5 - 1) * 1.6, "-1-1")[0].abs().max() == 1  # overshooting: taken


def test_feature_cache_hits_and_keys_on_pixels(monkeypatch):
    from modecollapse.metrics import scores

    computed = []
    monkeypatch.setattr(scores, "extract", lambda *args: computed.append(1) or extract(*args))
    classifier = load_classifier("mnist")
    images = torch.rand(20, 1, 28, 28) * 2 - 1
    first = extract_cached(classifier, images)
    again = extract_cached(classifier, images)
    assert len(computed) == 1  # the second call read the cache
    torch.testing.assert_close(first.features, again.features)
    other = extract_cached(classifier, images.flip(0))
    assert len(computed) == 2 and not torch.equal(other.features, first.features)


def test_a_cached_sets_statistics_are_computed_once_across_processes_and_by_this_code_only(monkeypatch):
    from modecollapse.metrics import diversity, scores

    classifier = load_classifier("mnist")
    images = torch.rand(30, 1, 28, 28) * 2 - 1
    first = extract_cached(classifier, images)
    threshold = first.remember("copy-threshold", lambda: diversity.copy_threshold(first.features))
    first.remember("nearest-table", lambda: first.features[:2])  # a tensor: never written
    again = extract_cached(classifier, images)  # another process would read the same files
    assert again.remember("copy-threshold", lambda: pytest.fail("recomputed")) == threshold
    assert again.remember("nearest-table", lambda: "recomputed") == "recomputed"
    other = extract_cached(classifier, images.flip(0))  # other pixels: their own statistics
    assert other.remember("copy-threshold", lambda: -1.0) == -1.0
    monkeypatch.setattr(scores, "STATISTICS_CODE", "changed code")
    changed = extract_cached(classifier, images)
    assert changed.remember("copy-threshold", lambda: -2.0) == -2.0  # numbers of other code: not read


def test_a_long_first_summary_is_announced_on_the_command_line_only(monkeypatch, capsys):
    from modecollapse.metrics import scores
    from modecollapse.options import command_line

    monkeypatch.setattr(scores, "LONG_SUMMARY", 16)  # 60,000 Stacked MNIST stacks, in the real case
    classifier = load_classifier("mnist")
    images = torch.rand(20, 1, 28, 28) * 2 - 1
    extract_cached(classifier, images)
    assert capsys.readouterr().err == ""  # from Python: silent
    with command_line():
        extract_cached(classifier, images * 0.5)
        said = capsys.readouterr().err
        extract_cached(classifier, images * 0.5)  # cached now: nothing to announce
    assert said.startswith("modecollapse: reading 20 real images with the mnist classifier once")
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_guide_is_a_different_network_and_still_accurate(mnist_digits):

    guide, grader = load_classifier("guide-mnist"), load_classifier("mnist")
    assert guide.card["width"] != grader.card.get("width", 32) and guide.card["seed"] != grader.card["seed"]
    images = mnist_digits[0][:2000]
    labels = torch.from_numpy(mnist_digits[1][:2000].astype(np.int64))
    x = torch.from_numpy(images).float().unsqueeze(1) / 127.5 - 1
    with torch.no_grad():
        accuracy = float((guide.model(x)[0].argmax(1) == labels).float().mean())
    assert accuracy > 0.97


def test_images_normalised_as_the_tutorials_do_are_read_back(mnist_digits):
    """[0, 1] digits through Normalize((0.1307,), (0.3081,)), as the MNIST tutorials load them: read
    as such and undone; any other mean and std is given as "MEAN,STD"."""
    digits = torch.as_tensor(np.asarray(mnist_digits[0][:500])).float()
    as_tutorials = (digits / 255 - 0.1307) / 0.3081
    assert guess_value_range(as_tutorials) == "0.1307,0.3081"
    images, notes = prepare_images(as_tutorials)
    torch.testing.assert_close(images, prepare_images(digits, "0-255")[0], atol=1e-5, rtol=0)
    assert "normalised by mean 0.1307 and std 0.3081, undone" in notes[0]
    other = (digits / 255 - 0.2) / 0.25
    torch.testing.assert_close(prepare_images(other, "0.2,0.25")[0], images, atol=1e-5, rtol=0)
    with pytest.raises(ModeCollapseError, match=r"not the range given, 0.1307,0.3081: they read as 0-255"):
        prepare_images(digits, "0.1307,0.3081")
    with pytest.raises(ModeCollapseError, match=r"must be auto, 0-255, 0-1, -1-1 or 'MEAN,STD'.*not '0-100'"):
        prepare_images(digits, "0-100")


def test_a_given_normalisation_the_values_are_not_in_is_refused(mnist_digits):
    digits = torch.as_tensor(np.asarray(mnist_digits[0][:500])).float()
    said = "not the range given, 0.1307,0.3081: they read as -1-1"
    with pytest.raises(ModeCollapseError, match=said):
        prepare_images(digits / 127.5 - 1, "0.1307,0.3081")  # below pixel 0's level: a wrong option
    grey = prepare_images(digits / 255, "0.1307,0.3081")[0]  # could be a collapsed G: judged, not refused
    assert grey.min() > -0.8
    for not_mean_std in ("-1,1", "0,255", "0.5,inf", "0.5,0", "0.5"):
        with pytest.raises(ModeCollapseError, match="a mean in \\[0, 1\\] and a std in \\(0, 1\\]"):
            prepare_images(digits, not_mean_std)


def test_the_tutorials_normalisation_is_read_through_noise_but_not_from_a_diverged_g(mnist_digits):
    digits = torch.as_tensor(np.asarray(mnist_digits[0][:500])).float()
    noise = torch.randn(digits.shape, generator=torch.Generator().manual_seed(0))
    noisy = (digits / 255 - 0.1307) / 0.3081 + 0.1 * noise  # a generator's background is not exact
    noisy.view(-1)[:5] = -3.0  # and a few stray pixels
    assert guess_value_range(noisy) == "0.1307,0.3081"
    fashion_like = (digits / 255 - 0.2860) / 0.3530
    assert guess_value_range(fashion_like) == "0.286,0.353"
    diverged = torch.empty(500, 28, 28).uniform_(-0.5, 2.5, generator=torch.Generator().manual_seed(1))
    assert guess_value_range(diverged) is None  # no background: not read as a normalisation
