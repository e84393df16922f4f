"""Class-conditional generators: does sub-space (or label) k draw class k, with real variety?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from modecollapse.data.registry import spec
from modecollapse.errors import ModeCollapseError
from modecollapse.metrics.features import classify
from modecollapse.models.classifier import EvalClassifier, load_classifier

if TYPE_CHECKING:
    from modecollapse.metrics.samples import Reference, Scored


def class_conditional_accuracy(predictions: torch.Tensor, intended: torch.Tensor) -> float:
    """Share of samples the evaluation classifier puts in the class they were drawn for.
    Null: a generator that ignores the class it is asked for (~1/K, tests/metrics/test_conditional.py)."""
    return float((predictions.cpu() == intended.cpu()).float().mean())


def load_grader(dataset: str) -> EvalClassifier | None:
    """The independent grader of `dataset`'s conditional samples (its spec names it), or None."""
    name = spec(dataset).grader
    return load_classifier(name) if name else None


@torch.no_grad()
def grader_scores(grader: EvalClassifier, images: torch.Tensor, intended: torch.Tensor) -> dict[str, float]:
    """`grader_class_accuracy`: class-conditional accuracy as the independent grader reads it
    (a LeNet trained on MNIST digits none of our GANs, guides or evaluation classifier saw).
    `images` are 28x28 in [-1, 1], graded like every score (fp32, `features.classify`). Nulls:
    a generator that ignores the class it is asked for, and a constant image (~1/K;
    tests/metrics/test_conditional.py)."""
    probabilities, _ = classify(grader, images)
    return {"grader_class_accuracy": class_conditional_accuracy(probabilities.argmax(1), intended)}


def feature_spread(features: torch.Tensor) -> float:
    """Total variance: the sum over feature dimensions of each dimension's variance."""
    if len(features) < 2:
        return 0.0
    return float(features.float().var(dim=0, unbiased=True).sum())


def per_class_diversity(
    fake_features: torch.Tensor,
    intended: torch.Tensor,
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    num_classes: int,
) -> list[float]:
    """Per class k: total feature variance of samples drawn for k / that of real class k.

    1 means as varied as the real class. Null: one fixed image per class (0).
    """
    ratios = []
    for k in range(num_classes):
        real = feature_spread(real_features[real_labels.cpu() == k])
        fake = feature_spread(fake_features[intended.cpu() == k])
        ratios.append(fake / real if real > 0 else float("nan"))
    return ratios


def conditional_scores(
    fake_features: torch.Tensor,
    fake_predictions: torch.Tensor,
    intended: torch.Tensor,
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    num_classes: int,
) -> dict[str, float | list[float]]:
    ratios = per_class_diversity(fake_features, intended, real_features, real_labels, num_classes)
    finite = [r for r in ratios if r == r]
    return {
        "class_conditional_accuracy": class_conditional_accuracy(fake_predictions, intended),
        "per_class_diversity_mean": sum(finite) / len(finite) if finite else float("nan"),
        "per_class_diversity_min": min(finite) if finite else float("nan"),
        "per_class_diversity": ratios,
    }


def judge_by_class(
    scored: Scored, reference: Reference, intended: torch.Tensor
) -> dict[str, float | list[float]]:
    """A conditional generator's samples scored by the class each was drawn for (label k is the
    reference's class k): accuracy, per-class variety, and the grader's accuracy where one ships."""
    if int(intended.max()) + 1 != reference.num_classes:  # diagnose and the Monitor refuse this first
        raise ModeCollapseError(
            f"labels 0-{int(intended.max())} drawn, but {reference.dataset} has "
            f"{reference.num_classes} classes"
        )
    fake = scored.features
    if fake is None or reference.real is None:  # non-finite outputs: nothing to judge by class
        return {}
    real_labels = reference.real_labels if reference.real_labels is not None else reference.real.predictions
    scores = conditional_scores(
        fake.features, fake.predictions, intended, reference.real.features, real_labels, fake.num_classes
    )
    grader = load_grader(reference.dataset)
    if grader is not None and scored.samples is not None and scored.samples.shape[1] == 1:
        scores.update(grader_scores(grader, scored.samples, intended))
    return scores


def pca_2d(reference: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Project `reference` and `others` onto the reference's first two principal components."""
    centre = reference.float().mean(0, keepdim=True)
    _, _, components = torch.pca_lowrank(reference.float() - centre, q=2, center=False)
    return [(x.float() - centre) @ components for x in (reference, *others)]
