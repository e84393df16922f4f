"""Per-epoch evaluation plugged into the training loop: `Evaluator(generator, epoch) -> scores`.

Image datasets are scored with the shipped evaluation classifier against a fixed real
reference set (features computed once per run); 2-D mixtures with the PacGAN protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from modecollapse.config import DataConfig
from modecollapse.data import Dataset, load_dataset, spec
from modecollapse.data.translation import TranslationData
from modecollapse.generators import OnDevice
from modecollapse.metrics import translation
from modecollapse.metrics.conditional import conditional_scores, grader_scores, load_grader
from modecollapse.metrics.diversity import seeded_subset
from modecollapse.metrics.features import classifier_for
from modecollapse.metrics.hidden_code import hidden_code_scores
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES
from modecollapse.metrics.samples import mixture_reference, nonfinite_record, reference_for, score_samples
from modecollapse.metrics.scores import extract, extract_cached
from modecollapse.models import generate
from modecollapse.models.classifier import load_classifier
from modecollapse.models.latent import LatentSampler, placement

Evaluator = Callable[[nn.Module, int], dict[str, float]]
EVAL_SEED = 20_170_101  # evaluation draws from its own generator, never the training RNG


def default_evaluator(
    dataset: Dataset,
    device: torch.device,
    num_samples: int,
    sampler: LatentSampler,
    data_dir: str | None = None,
) -> Evaluator | None:
    """The evaluator for a dataset's kind; latents come from `sampler` (fixed, EVAL_SEED)."""
    if dataset.kind == "points" and dataset.mode_means is not None:
        return _mixture_evaluator(dataset, sampler, device)
    if spec(dataset.name).classifier:
        return image_evaluator(dataset, sampler, device, num_samples, data_dir)
    return None


def _mixture_evaluator(dataset: Dataset, sampler: LatentSampler, device: torch.device) -> Evaluator:
    reference = mixture_reference(dataset)
    latent, _ = sampler.fixed(PROTOCOL_SAMPLES, EVAL_SEED, device)

    @torch.no_grad()
    def evaluate(generator: nn.Module, epoch: int) -> dict[str, float]:
        return score_samples(generate(generator, latent, None), reference).record

    return evaluate


def image_evaluator(
    dataset: Dataset,
    sampler: LatentSampler,
    device: torch.device,
    num_samples: int,
    data_dir: str | None = None,
) -> Evaluator:
    """The one scorer's record (metrics/samples.py: the real reference is the dataset's test split
    where it has one, copies are counted against the training data) of fixed latents; for
    conditional generators also class-conditional accuracy and per-class diversity, from
    class-balanced fixed latents (the same every evaluation). Our generators give [-1, 1] images
    on black, so they are read as such."""
    reference = reference_for(dataset.name, data_dir, training=dataset)
    latent, intended = sampler.fixed(num_samples, EVAL_SEED, device)
    grader = load_grader(dataset.name) if sampler.conditional else None

    @torch.no_grad()
    def evaluate(generator: nn.Module, epoch: int) -> dict[str, float]:
        scored = score_samples(generate(generator, latent, 500).cpu(), reference, "-1-1", "as-is")
        record = scored.record
        if sampler.conditional and scored.features is not None:
            record.update(
                conditional_scores(
                    scored.features.features, scored.features.predictions, intended, reference.real.features,
                    reference.real_labels, sampler.num_classes,
                )
            )  # fmt: skip
        if grader is not None and scored.samples is not None:
            record.update(grader_scores(grader, scored.samples, intended))
        return record

    return evaluate


# --- CycleGAN: translators judged on fixed inputs against real target-domain digits --------

TranslationEvaluator = Callable[[nn.Module, nn.Module, int], dict[str, float]]


def translation_evaluator(
    data: TranslationData,
    num_samples: int,
    position_tolerance: float | None = None,
    size_tolerance: float = 0.25,
) -> TranslationEvaluator:
    """Scores of G_AB on held-out A inputs (digits no training image uses, each once) and a few of
    G_BA on a seeded B subset; see metrics/translation.py.

    `position_tolerance` defaults to 5% of the image side (2.8 pixels at 56x56). Over 60 lines on
    purpose: the fixed inputs and real references are built once here and closed over.
    """
    if data.held_out is None:
        raise ValueError(f"{data.name} has no held-out A split to evaluate translations on")
    classifier = load_classifier(classifier_for(data.name))
    classes = spec(data.name).num_classes
    size = data.sample_shape[-1]
    tolerance = position_tolerance if position_tolerance is not None else 0.05 * size
    held = data.held_out
    count = min(num_samples, len(held.a))
    inputs_a = held.a.batch(torch.arange(count, device=held.a.data.device))
    digits_a = held.a_digits[:count]
    index_b = seeded_subset(torch.arange(len(data.b)), count, seed=1)
    inputs_b = data.b.batch(index_b.to(data.b.data.device))
    real_b = extract_cached(classifier, translation.measure_digits(inputs_b, data.b_layout).crops)
    real_a = extract_cached(classifier, translation.measure_digits(inputs_a, data.a_layout).crops)
    truth_b = None
    if held.truth is not None:
        truth_b = translation.measure_digits(held.truth[:count].float() / 127.5 - 1, data.b_layout)
    rgb_target = data.b.sample_shape[0] == 3

    @torch.no_grad()
    def evaluate(g_ab: nn.Module, g_ba: nn.Module | None, epoch: int) -> dict[str, float]:
        """Scores of G_AB, and of G_BA and both cycles when G_BA is given."""
        fake_b = generate(g_ab, inputs_a, 250)
        measured_b = translation.measure_digits(fake_b, data.b_layout)
        features_b = extract(classifier, measured_b.crops)
        record = translation.translation_scores(features_b, digits_a, real_b)
        predicted = features_b.predictions.view(digits_a.shape).cpu()
        record.update(
            translation.translation_accuracy(
                measured_b, predicted, digits_a, truth_b, tolerance, size_tolerance
            )
        )
        if truth_b is not None:
            record.update(translation.spatial_errors(measured_b, truth_b, tolerance, size_tolerance))
        if rgb_target:
            record.update(translation.colour_scores(fake_b, inputs_b))
        record["classifier_sha256"] = classifier.sha256
        record["class_counts"] = torch.bincount(features_b.predictions, minlength=classes).tolist()
        if predicted.shape[1] > 1:
            for k in range(predicted.shape[1]):
                record[f"class_counts_slot{k}"] = torch.bincount(predicted[:, k], minlength=classes).tolist()
        if g_ba is not None:
            record.update(_backward_scores(g_ab, g_ba, fake_b))
        return record

    @torch.no_grad()
    def _backward_scores(g_ab: nn.Module, g_ba: nn.Module, fake_b: torch.Tensor) -> dict[str, float]:
        """G_BA's identity and modes on the B subset, both cycles' errors, and whether the cycle
        runs through a hidden code (metrics/hidden_code.py)."""
        fake_a = generate(g_ba, inputs_b, 250)
        cycled_a, cycled_b = generate(g_ba, fake_b, 250), generate(g_ab, fake_a, 250)
        measured_a = translation.measure_digits(fake_a, data.a_layout)
        back = translation.translation_scores(
            extract(classifier, measured_a.crops), data.b_digits[index_b], real_a
        )
        return {
            "identity_kept_b_to_a": back["identity_kept"],
            "modes_b_to_a": back["modes"],
            "cycle_error_a": float((cycled_a - inputs_a.float()).abs().mean() / 2),
            "cycle_error_b": float((cycled_b - inputs_b.float()).abs().mean() / 2),
            **hidden_code_scores(g_ab, g_ba, data, min(count, 500), classifier=classifier),
        }

    return evaluate


def translator_scorer(
    dataset: str, data_dir: str | None, num_samples: int
) -> Callable[[Any], tuple[dict[str, Any], None]]:
    """A translator G_AB (and, when given, its G_BA: the cycle and its hidden code) scored on the
    named translation dataset's held-out A inputs (the trainer's translation evaluator); outputs
    holding NaN/Inf give the collapsed record, as for samples."""
    data = load_dataset(DataConfig(name=dataset, data_dir=data_dir))
    count = min(num_samples, len(data.held_out.a), len(data.b))
    evaluate = translation_evaluator(data, count)
    probe = data.held_out.a.batch(torch.arange(min(count, 16)))
    classes = spec(dataset).num_classes

    def translations(g: Any, g_ba: Any = None) -> tuple[dict[str, Any], None]:
        on_device, back = on_own_device(g), on_own_device(g_ba)
        return judged_translations(evaluate, on_device, back, on_device(probe), classes), None

    return translations


def on_own_device(network: Any) -> OnDevice | None:
    """A user's network fed on its own device and answering on the CPU (None stays None)."""
    return None if network is None else OnDevice(network, placement(network)[0])


def judged_translations(
    evaluate: TranslationEvaluator, g_ab: Any, g_ba: Any, probe: torch.Tensor, classes: int
) -> dict[str, Any]:
    """evaluate(g_ab, g_ba) at step 0, unless G_AB's translations of the probe inputs (`probe`)
    hold NaN or infinite values: then the collapsed record, not a crash."""
    finite = torch.isfinite(probe.flatten(1)).all(1)
    return evaluate(g_ab, g_ba, 0) if finite.all() else nonfinite_record(finite, classes)
