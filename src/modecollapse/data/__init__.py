"""Data: where bytes come from (sources), how they are parsed (idx), what datasets exist
(registry), and the loaders that register them (digits, mixtures, translation; spatial draws
the translation pairs' layouts)."""

from modecollapse.data import digits, mixtures, translation  # noqa: F401  (each registers its datasets)
from modecollapse.data.registry import (
    DATASETS,
    DEFAULT_IMAGES,
    Dataset,
    DatasetSpec,
    check_class_count,
    dataset_kind,
    dataset_name,
    load_dataset,
    names_of,
    sample_shape,
    spec,
)

__all__ = [
    "DATASETS", "DEFAULT_IMAGES", "Dataset", "DatasetSpec", "check_class_count", "dataset_kind",
    "dataset_name", "load_dataset", "names_of", "sample_shape", "spec",
]  # fmt: skip
