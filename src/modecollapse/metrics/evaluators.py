"""Per-epoch evaluation plugged into the training loop: `Evaluator(generator, epoch) -> scores`.

Image datasets are scored with the shipped evaluation classifier against a fixed real
reference set (features computed once per run); 2-D mixtures with the PacGAN protocol.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from modecollapse.data.datasets import Dataset
from modecollapse.metrics.diversity import seeded_subset
from modecollapse.metrics.features import CLASSIFIER_FOR, classifier_for, load_classifier, prepare_images
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES, mixture_scores
from modecollapse.metrics.scores import FeatureSet, extract, extract_cached, score

Evaluator = Callable[[nn.Module, int], dict[str, float]]
EVAL_SEED = 20_170_101  # evaluation draws from its own generator, never the training RNG


def default_evaluator(
    dataset: Dataset, latent_dim: int, device: torch.device, num_samples: int = 2000
) -> Evaluator | None:
    if dataset.kind == "points" and dataset.mode_means is not None:
        return _mixture_evaluator(dataset, latent_dim, device)
    if dataset.name in CLASSIFIER_FOR:
        return image_evaluator(dataset, latent_dim, device, num_samples)
    return None


def _fixed_latent(count: int, latent_dim: int, device: torch.device) -> torch.Tensor:
    return torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(EVAL_SEED)).to(device)


def _mixture_evaluator(dataset: Dataset, latent_dim: int, device: torch.device) -> Evaluator:
    means, std = dataset.mode_means, dataset.mode_std
    latent = _fixed_latent(PROTOCOL_SAMPLES, latent_dim, device)

    @torch.no_grad()
    def evaluate(generator: nn.Module, epoch: int) -> dict[str, float]:
        return mixture_scores(generator(latent).float(), means, std)

    return evaluate


def reference_features(dataset: Dataset, classifier_name: str, size: int = 10_000) -> FeatureSet:
    """Classifier features of a seeded subset of `dataset`'s real images (cached on disk)."""
    classifier = load_classifier(classifier_name)
    index = seeded_subset(torch.arange(len(dataset)), size).to(dataset.data.device)
    images = torch.cat([dataset.batch(chunk).cpu() for chunk in index.split(1000)])
    return extract_cached(classifier, prepare_images(images, "-1-1")[0])


def image_evaluator(dataset: Dataset, latent_dim: int, device: torch.device, num_samples: int) -> Evaluator:
    name = classifier_for(dataset.name)
    classifier = load_classifier(name)
    real = reference_features(dataset, name)
    latent = _fixed_latent(num_samples, latent_dim, device)

    @torch.no_grad()
    def evaluate(generator: nn.Module, epoch: int) -> dict[str, float]:
        images = torch.cat([generator(chunk).float().cpu() for chunk in latent.split(500)])
        fake = extract(classifier, prepare_images(images, "-1-1")[0])
        record: dict = {**score(fake, real), "classifier_sha256": classifier.sha256}
        if fake.num_classes <= 25:
            record["class_counts"] = torch.bincount(fake.predictions, minlength=fake.num_classes).tolist()
        return record

    return evaluate
