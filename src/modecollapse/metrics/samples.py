"""The one scorer: samples of a named dataset in, the protocol's scores out. The trainer's
evaluator, the Monitor and diagnose all call `score_samples` on a `Reference` built once by
`reference_for`, so a fix to value ranges, shapes, polarity, NaN or sample counts lands once.

Rules, the same on every path:
- images are read as 0..255, [0, 1], [-1, 1] or [0, 1] normalised by a mean and std
  (`value_range`, "auto" guesses from the values; metrics/features.py);
  a flat (N, C*H*W) array is reshaped when it fits the dataset exactly; grey saved as RGB is read
  as grey; a white background (digits drawn black on white) is read inverted, and said so;
- samples holding NaN or infinite values are judged collapsed, never a crash;
- the fidelity reference is the named dataset's held-out test split where it has one (else the
  dataset itself, or its spec's fallback when the files are missing: said in the record), and
  the copy rate is measured against the data the generator trained on when that is known;
- the record names its protocol: the reference and the sample count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modecollapse.config import DataConfig
from modecollapse.data import Dataset, dataset_name, load_dataset, spec
from modecollapse.errors import DamagedCache, DataFileError, DatasetUnavailable, ModeCollapseError
from modecollapse.metrics import diversity
from modecollapse.metrics.features import classifier_for, prepare_images
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES, mixture_scores
from modecollapse.metrics.scores import NEAREST_K, FeatureSet, extract, extract_cached, frame, score
from modecollapse.models.classifier import EvalClassifier, load_classifier
from modecollapse.options import option

REFERENCE_SIZE = 10_000
"""Real images summarised for a reference (all of them when the set is smaller)."""
GREY_TOLERANCE = 2 / 127.5
"""Channels that differ by at most 2 grey levels of 0..255 (rounding, JPEG) count as equal."""
NEARLY_GREY = 0.1
"""Mean gap, in [-1, 1] units, under which 3 channels are grey with noise (a 3-channel G trained on
grey digits) and read as their mean; Stacked MNIST's channels, three digits, are far apart."""


@dataclass
class Reference:
    """What samples are judged against, summarised once: real features (images) or the mixture
    (points), and what the record says about it."""

    dataset: str
    """The name samples are judged as (a dataset's `reference` in its spec, e.g. mnist for mnist-5k)."""
    kind: str
    label: str
    """Where the real data came from, e.g. 'mnist test split, 10000 real images'."""
    key: str
    """The protocol's short name, e.g. 'mnist-test10k'."""
    num_classes: int
    sample_shape: tuple[int, ...]
    classifier: EvalClassifier | None = None
    real: FeatureSet | None = None
    copies_of: FeatureSet | None = None
    """Features of the data the generator trained on: the copy rate is measured against it."""
    copies_label: str | None = None
    real_labels: torch.Tensor | None = None
    """The true classes of the real images behind `real` (conditional generators are scored by them)."""
    mode_means: torch.Tensor | None = None
    mode_std: float | None = None
    notes: list[str] = field(default_factory=list)


def reference_for(
    dataset: str,
    data_dir: str | None = None,
    training: Dataset | None = None,
    mixture: DataConfig | None = None,
) -> Reference:
    """The reference for samples of `dataset` (a registry name). `training`: the data the
    generator trained on, when known (the trainer's; copies are counted against it). `mixture`:
    a 2-D mixture's data config when it is not the registry default (a run's, or a scale)."""
    dataset = dataset_name(dataset)
    kind = spec(dataset).kind
    if kind == "points":
        return _points_reference(mixture or DataConfig(name=dataset, num_samples=1))
    if kind != "image" or spec(dataset).classifier is None:
        raise ModeCollapseError(
            f"{dataset} is not an image or 2-D point dataset with an evaluation classifier"
        )
    return _image_reference(dataset, data_dir, training)


def reference_from_features(dataset: str, real: FeatureSet, label: str) -> Reference:
    """A reference made of given real features (tests, benchmarks, a user's own reference)."""
    judged_as = spec(dataset).reference or dataset_name(dataset)
    classifier = load_classifier(classifier_for(judged_as))
    channels = 3 if real.stacked else 1
    return Reference(
        dataset=judged_as, kind="image", label=label, key=f"given{len(real)}", num_classes=real.num_classes,
        sample_shape=(channels, 28, 28), classifier=classifier, real=real,
    )  # fmt: skip


def check_mixture_scale(scale: Any, dataset: str | None) -> None:
    """A sentence for a mixture scale that is not a positive finite number, or given for data
    that is not a 2-D mixture (`dataset`, when known)."""
    number = isinstance(scale, int | float | np.integer | np.floating) and not isinstance(scale, bool)
    if not number or not 0 < float(scale) < float("inf"):
        raise ModeCollapseError(f"mixture_scale takes a positive number (the mixture's scale), not {scale!r}")
    if scale != 1 and dataset is not None and spec(dataset_name(dataset)).kind != "points":
        raise ModeCollapseError(f"mixture_scale is for the 2-D mixtures (ring8, grid25), not {dataset}")


def _points_reference(config: DataConfig) -> Reference:
    return mixture_reference(load_dataset(config.model_copy(update={"num_samples": 1})), config.mixture_scale)


def mixture_reference(mixture: Dataset, mixture_scale: float = 1.0) -> Reference:
    """The reference of a loaded 2-D mixture (its modes' means and std)."""
    config = DataConfig(name=mixture.name, mixture_scale=mixture_scale)
    scale = f" (scale {config.mixture_scale:g})" if config.mixture_scale != 1 else ""
    return Reference(
        dataset=config.name, kind="points", key=f"{config.name}{scale.strip()}",
        label=f"{config.name}: {len(mixture.mode_means)} Gaussians of std {mixture.mode_std:g}{scale}",
        num_classes=len(mixture.mode_means), sample_shape=(2,), mode_means=mixture.mode_means.cpu(),
        mode_std=mixture.mode_std,
    )  # fmt: skip


def _image_reference(dataset: str, data_dir: str | None, training: Dataset | None) -> Reference:
    judged_as = spec(dataset).reference or dataset
    classifier = load_classifier(classifier_for(judged_as))
    notes: list[str] = []
    real_data, split = _real_data(judged_as, data_dir, training, notes)
    real = real_features(real_data, classifier)
    size = min(REFERENCE_SIZE, len(real_data))
    reference = Reference(
        dataset=judged_as, kind="image", label=f"{real_data.name}{split}, {size} real images",
        key=f"{real_data.name}{split.replace(' split', '').replace(' ', '-')}{size // 1000}k",
        num_classes=spec(judged_as).num_classes, sample_shape=tuple(real_data.data.shape[1:]),
        classifier=classifier, real=real, notes=notes, real_labels=subset_labels(real_data),
    )  # fmt: skip
    if training is not None:
        every = len(training)  # copies are counted against every training image, not a subset
        held = training is real_data and every <= REFERENCE_SIZE  # the reference holds them all
        reference.copies_of = real if held else real_features(training, classifier, every)
        reference.copies_label = f"{training.name} ({training.source}), the training data"
    return reference


def _real_data(
    judged_as: str, data_dir: str | None, training: Dataset | None, notes: list[str]
) -> tuple[Dataset, str]:
    """(real images to compare with, ' test split' or ''): the held-out test split where the
    dataset has one, else the training data when known, else the dataset as the registry loads it;
    a dataset whose files are missing (or damaged in the cache) falls back to its spec's
    fallback, and says which."""
    if spec(judged_as).test_split:
        try:
            config = DataConfig(name=judged_as, split="test", data_dir=data_dir, download=False)
            return load_dataset(config), " test split"
        except DatasetUnavailable as unavailable:
            fallback = spec(judged_as).fallback_reference
            if fallback is None or (data_dir and not Path(data_dir).is_dir()):  # a typo: said, not judged
                raise
            damaged = isinstance(unavailable, DamagedCache)
            why = "in the cache fail their MD5 check" if damaged else "are not on disk"
            notes.append(
                f"{judged_as}'s files {why}: judged against {fallback} instead "
                f"(put them under {option('data_dir')} or $MODECOLLAPSE_DATA; "
                f"`modecollapse data fetch {judged_as}`)"
            )
            return load_dataset(DataConfig(name=fallback)), ""
    if training is not None and training.name == judged_as:
        return training, ""
    return load_dataset(DataConfig(name=judged_as, data_dir=data_dir)), ""


def training_data(config: DataConfig) -> Dataset | None:
    """The images a generator trained on, which copies are counted against (a data config's, its
    training split by default), when they are on disk; None when they are not (nothing is
    downloaded for this)."""
    try:
        return load_dataset(config.model_copy(update={"download": False}))
    except (DatasetUnavailable, DataFileError):
        return None


def subset_labels(data: Dataset, size: int = REFERENCE_SIZE) -> torch.Tensor:
    """The labels of the seeded subset `real_features` takes (CPU)."""
    return data.labels[diversity.seeded_subset(torch.arange(len(data)), size).to(data.labels.device)].cpu()


def real_features(data: Dataset, classifier: EvalClassifier, size: int = REFERENCE_SIZE) -> FeatureSet:
    """Classifier features of a seeded subset of `data`'s real images (cached on disk)."""
    index = diversity.seeded_subset(torch.arange(len(data)), size).to(data.data.device)
    images = torch.cat([data.batch(chunk).cpu() for chunk in index.split(1000)])
    features = extract_cached(classifier, prepare_images(images, "-1-1")[0])
    features.mode_share = spec(data.name).mode_share
    return features


def protocol_samples(reference: Reference, asked: int) -> int:
    """The samples a protocol scores: 2-D mixtures always PacGAN's 2,500; images what is asked."""
    return PROTOCOL_SAMPLES if reference.kind == "points" else asked


@dataclass
class Scored:
    """What `score_samples` gives: the evaluation record, the samples as scored (images in [-1, 1],
    N x C x 28 x 28; points N x 2; None when they held NaN), how they were read, and the
    classifier's view of them (images)."""

    record: dict[str, Any]
    samples: torch.Tensor | None
    notes: list[str]
    features: FeatureSet | None = None


def score_samples(
    samples: Any, reference: Reference, value_range: str = "auto", polarity: str = "auto"
) -> Scored:
    """Score `samples` against `reference` by the rules in the module docstring. Samples holding NaN
    or infinite values give a record the detector judges collapsed, and no samples."""
    x = _as_tensor(samples)
    x, notes = _fit_shape(x, reference)
    if reference.kind == "points" and (x.dim() != 2 or x.shape[1] != 2):
        shape = tuple(x.shape)
        raise ModeCollapseError(f"{reference.dataset} is 2-D points: expected N x 2 samples, got {shape}")
    finite = torch.isfinite(x.flatten(1)).all(1) if x.dim() > 1 else torch.isfinite(x)
    protocol = {"protocol": f"{reference.key}/n{len(x)}", "reference": reference.label}
    if not finite.all():
        notes.append(f"{int((~finite).sum())} of {len(x)} samples hold NaN or infinite values")
        return Scored({**nonfinite_record(finite, reference.num_classes), **protocol}, None, notes)
    if reference.kind == "points":
        _check_count(len(x), reference)  # after the shape (what is wrong first) and NaN (a verdict)
        scores = mixture_scores(x, reference.mode_means, reference.mode_std)
        return Scored({**scores, "num_samples": float(len(x)), **protocol}, x, notes)
    images, more = prepare_images(x, value_range)
    images = match_channels(images, reference, more)
    _check_count(len(images), reference)
    if polarity == "auto":
        images = _dark_background(images, more)
    elif polarity != "as-is":
        raise ModeCollapseError(f"polarity must be 'auto' or 'as-is', not {polarity!r}")
    fake = extract(reference.classifier, images)
    record = {**score(fake, reference.real), "classifier_sha256": reference.classifier.sha256, **protocol}
    if reference.copies_of is not None and reference.copies_of is not reference.real:
        copies = reference.copies_of
        threshold = copies.remember("copy-threshold", lambda: diversity.copy_threshold(copies.features))
        record["copy_rate"] = diversity.copy_rate(fake.features, copies.features, threshold=threshold)
    if reference.copies_label:
        record["copies_of"] = reference.copies_label
    if fake.num_classes <= 25:
        record["class_counts"] = torch.bincount(fake.predictions, minlength=fake.num_classes).tolist()
    return Scored(record, images, notes + more, fake)


POINTS_PER_MODE = 40
"""Points a 2-D sample set needs per mode of its mixture: about twice the 20 a mode needs to be
judged well formed (mixtures.MIN_SAMPLES_FOR_SPREAD), so that real data is not called collapsed."""


def few_samples_note(count: int, reference: Reference, remedy: str) -> str | None:
    """What a sample count under 10 a class means for the modes and KL, and the `remedy` (a
    format string given `n`, the count that suffices); None when there are enough."""
    enough = 10 * reference.num_classes
    if count >= enough:
        return None
    return (
        f"only {count} samples for {reference.num_classes} classes: modes and KL are judged against "
        f"what that many samples can show; {remedy.format(n=enough)} for a firm verdict"
    )


def _check_count(count: int, reference: Reference) -> None:
    """Refuse a sample set too small for the metrics to say anything (not a verdict on it)."""
    if reference.kind == "points":
        least = POINTS_PER_MODE * reference.num_classes
        if count < least:
            raise ModeCollapseError(
                f"{count:,} points are too few to judge {reference.num_classes} modes: each needs about "
                f"{POINTS_PER_MODE} to show its spread, so pass at least {least:,} (PacGAN's protocol "
                f"draws {PROTOCOL_SAMPLES:,}); with fewer, even real data looks collapsed"
            )
    elif count <= NEAREST_K:
        raise ModeCollapseError(
            f"{count} image{'s' * (count != 1)} are too few to judge: the neighbour metrics need at "
            f"least {NEAREST_K + 1} (2,000 give tight intervals)"
        )


def _as_tensor(samples: Any) -> torch.Tensor:
    if isinstance(samples, torch.Tensor):
        return samples.detach().cpu().float()
    array = np.asarray(samples)
    if array.dtype.kind not in "biuf":
        raise ModeCollapseError(f"samples must be numbers, got an array of dtype {array.dtype}")
    return torch.as_tensor(array.astype(np.float32))


def _fit_shape(x: torch.Tensor, reference: Reference) -> tuple[torch.Tensor, list[str]]:
    """Flat image vectors (N, C*H*W), the usual MLP-GAN output, reshaped when they fit exactly."""
    if reference.kind == "points" or x.dim() != 2:
        return x, []
    channels, side = reference.sample_shape[0], reference.sample_shape[-1]
    for c in dict.fromkeys((channels, 1)):
        for s in (side, 28, 32, 64):
            if x.shape[1] == c * s * s:
                return x.view(len(x), c, s, s), [
                    f"flat vectors of {x.shape[1]} values read as {c}x{s}x{s} images"
                ]
    if x.shape[1] == 2:  # one point per sample: a 2-D mixture's samples judged as images
        raise ModeCollapseError(
            f"samples of shape {tuple(x.shape)} are 2-D points, not {reference.dataset} images: "
            f"pass {option('dataset', 'ring8')} or {option('dataset', 'grid25')}"
        )
    if x.shape[1] == 1:  # one number per sample: a discriminator's score, not an image
        raise ModeCollapseError(
            f"samples of shape {tuple(x.shape)} hold one number each, as a discriminator's output "
            f"does: pass the generator G, whose outputs are {reference.dataset} images"
        )
    raise ModeCollapseError(
        f"samples of shape {tuple(x.shape)} do not fit {reference.dataset} images "
        f"({channels}x{side}x{side} = {channels * side * side} values each); reshape them to (N, C, H, W)"
    )


def match_channels(images: torch.Tensor, reference: Reference, notes: list[str]) -> torch.Tensor:
    """`images` with the reference's channel count: grey saved as RGB (R = G = B, as PIL writes
    them) is read as grey and said so; any other mismatch is a sentence."""
    want, have = reference.sample_shape[0], images.shape[1]
    if have == want:
        return images
    if have == 3 and want == 1:
        if float((images - images[:, :1]).abs().max()) <= GREY_TOLERANCE:
            notes.append("3 equal colour channels (grey saved as RGB) read as grey")
            return images[:, :1]
        grey = images.mean(1, keepdim=True)
        apart = float((images - grey).abs().mean())
        if apart <= NEARLY_GREY:
            notes.append(f"3 nearly equal colour channels (mean gap {apart:.3f}) read as their mean")
            return grey
        raise ModeCollapseError(
            f"the images have 3 different colour channels (mean gap {apart:.2f} from their mean), but "
            f"{reference.dataset} is greyscale: average them for grey digits, or pass "
            f"{option('dataset', 'stacked-mnist')} for Stacked MNIST stacks"
        )
    raise ModeCollapseError(f"the images have {have} channel(s), but {reference.dataset} has {want}")


def _dark_background(images: torch.Tensor, notes: list[str]) -> torch.Tensor:
    """Every dataset here draws light ink on a black background. Images whose border is mostly
    light (digits drawn black on white, matplotlib's gray_r) are read inverted, and said so."""
    light = (frame(images).flatten(1).median(dim=1).values > 0).float().mean()
    if light <= 0.5:
        return images
    notes.append(
        f"{100 * float(light):.0f}% of the images have a light background: read inverted (ink on black, "
        "as the real data)"
    )
    return -images


def nonfinite_record(finite: torch.Tensor, classes: int) -> dict[str, Any]:
    """The record of an evaluation whose outputs hold NaN/Inf: judged collapsed, not a crash."""
    return {"nonfinite_share": float((~finite).float().mean()), "num_samples": float(len(finite)),
            "num_classes": float(classes)}  # fmt: skip
