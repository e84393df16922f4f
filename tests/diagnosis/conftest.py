import pytest

from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.scores import extract
from modecollapse.models.classifier import load_classifier


@pytest.fixture(scope="module")
def mnist_test(mnist_digits):
    images, labels, _ = mnist_digits
    half = len(images) // 2
    # Samples come from the first half and the reference from the second: judged against
    # itself, a real set is (rightly) all copies of its reference.
    reference = extract(load_classifier("mnist"), prepare_images(images[half:], "0-255")[0])
    return images[:half], labels[:half], reference
