import pytest

from modecollapse.config import DataConfig
from modecollapse.data import DATASETS, load_dataset, sample_shape, spec
from modecollapse.data.registry import DatasetSpec, register
from modecollapse.errors import DatasetUnavailable

CHEAP = {
    "mnist-5k": {},
    "stacked-mnist": {"num_samples": 50},
    "ring8": {"num_samples": 50},
    "grid25": {"num_samples": 50},
    "mnist-rgb": {"num_samples": 20},
    "spatial-one": {"num_samples": 20},
    "spatial-two": {"num_samples": 20},
}


@pytest.mark.parametrize("name", sorted(CHEAP))
def test_each_spec_says_what_loading_gives(name):
    config = DataConfig(name=name, **CHEAP[name])
    data = load_dataset(config)
    assert data.kind == spec(name).kind
    assert data.sample_shape == sample_shape(config)  # known without loading
    if data.kind != "translation":
        assert data.num_classes == spec(name).num_classes


def test_specs_carry_the_facts_others_used_to_hard_code():
    assert spec("mnist-5k").reference == "mnist" and spec("mnist-5k").classifier == "mnist"
    assert spec("fashion-mnist").classifier == "fashion-mnist"
    assert {name for name, s in DATASETS.items() if s.conditional} == {"mnist", "mnist-5k", "fashion-mnist"}
    assert spec("mnist-svhn").files.key == "svhn" and spec("ring8").classifier is None
    assert sample_shape(DataConfig(name="mnist", image_size=64)) == (1, 64, 64)


def test_unknown_and_duplicate_names_are_refused():
    with pytest.raises(DatasetUnavailable, match=r"'mnits' \(did you mean 'mnist'\?\); choose one of mnist"):
        spec("mnits")
    assert spec("MNIST").name == "mnist"  # case aside
    with pytest.raises(ValueError, match="registered twice"):
        register(DatasetSpec("mnist", "image", "again", print, print, print, num_classes=10))
