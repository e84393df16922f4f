"""Samples of a named dataset in, scores out: the real reference (summarised once) and the scorer
the Monitor and diagnose call on what a generator drew."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset, spec
from modecollapse.errors import DatasetUnavailable, ModeCollapseError
from modecollapse.metrics.evaluators import reference_features
from modecollapse.metrics.features import classifier_for, prepare_images
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES, mixture_scores
from modecollapse.metrics.scores import FeatureSet, extract, score
from modecollapse.models.classifier import EvalClassifier, load_classifier

SampleScorer = Callable[[torch.Tensor], tuple[dict[str, Any], np.ndarray | None]]
"""Raw samples (fp32, CPU) -> (the evaluation record, the samples kept as evidence, or None)."""


def real_reference(
    dataset: str, data_dir: str | None = None, size: int = 10_000, classifier: EvalClassifier | None = None
) -> tuple[FeatureSet, str]:
    """Features of real images (the test split where the dataset has one; its spec's fallback
    reference, e.g. mnist-5k for MNIST, when the files are not on disk) and a label."""
    try:
        data = load_dataset(DataConfig(name=dataset, split="test", data_dir=data_dir, download=False))
    except DatasetUnavailable:
        fallback = spec(dataset).fallback_reference
        if fallback is None:
            raise
        data = load_dataset(DataConfig(name=fallback))
    reference = reference_features(data, classifier or classifier_for(dataset), size)
    split = " test split" if spec(data.name).test_split else ""
    return reference, f"{data.name}{split}, {min(size, len(data))} real images"


def points_scorer(dataset: str) -> SampleScorer:
    """Scores of N x 2 samples against the named 2-D mixture (PacGAN's protocol)."""
    mixture = load_dataset(DataConfig(name=dataset, num_samples=1))

    def points(out: torch.Tensor) -> tuple[dict[str, Any], np.ndarray | None]:
        if out.dim() != 2 or out.shape[1] != 2:
            shape = tuple(out.shape)
            raise ModeCollapseError(f"{dataset} is 2-D points: G should give N x 2, it gave {shape}")
        finite = torch.isfinite(out).all(1)
        if not finite.all():
            return nonfinite_record(finite, len(mixture.mode_means)), None
        scores = mixture_scores(out[:PROTOCOL_SAMPLES], mixture.mode_means, mixture.mode_std)
        return scores, out.numpy()

    return points


def image_scorer(dataset: str, data_dir: str | None = None) -> SampleScorer:
    """Scores of images in [-1, 1] against the named dataset's real reference (real_reference)."""
    name = spec(dataset).reference or dataset
    classifier = load_classifier(classifier_for(name))
    real, _ = real_reference(name, data_dir)
    channels = 3 if real.num_classes == 1000 else 1

    def images(out: torch.Tensor) -> tuple[dict[str, Any], np.ndarray | None]:
        finite = torch.isfinite(out.flatten(1)).all(1) if out.dim() > 1 else torch.isfinite(out)
        if not finite.all():
            return nonfinite_record(finite, real.num_classes), None
        try:
            prepared = prepare_images(out, "-1-1")[0]
        except ModeCollapseError as error:
            raise ModeCollapseError(f"G's output does not fit {dataset}: {error}") from None
        if prepared.shape[1] != channels:
            raise ModeCollapseError(
                f"G's output does not fit {dataset}: {prepared.shape[1]} channel(s), {dataset} has {channels}"
            )
        fake = extract(classifier, prepared)
        scores = {**score(fake, real), "classifier_sha256": classifier.sha256}
        if fake.num_classes <= 25:
            scores["class_counts"] = torch.bincount(fake.predictions, minlength=fake.num_classes).tolist()
        return scores, prepared.half().numpy()

    return images


def nonfinite_record(finite: torch.Tensor, classes: int) -> dict[str, Any]:
    """The record of an evaluation whose outputs hold NaN/Inf: judged collapsed, not a crash."""
    return {"nonfinite_share": float((~finite).float().mean()), "num_samples": float(len(finite)),
            "num_classes": float(classes)}  # fmt: skip
