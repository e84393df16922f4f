"""The verdict: samples scored by the shipped classifier against real data, judged by the
collapse detector's rules, with a latent probe for generators and a translator path for
CycleGAN runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from modecollapse.config import DataConfig, DetectorConfig
from modecollapse.data import DEFAULT_IMAGES, load_dataset, sample_shape, spec
from modecollapse.diagnosis.inputs import (
    PROBE_SEED,
    Latent,
    Opened,
    Samples,
    last_healthy_note,
    load_points,
    load_samples,
    open_input,
    read_array,
)
from modecollapse.diagnosis.suggest import suggest
from modecollapse.errors import ModeCollapseError
from modecollapse.metrics.conditional import conditional_scores, grader_scores, load_grader
from modecollapse.metrics.detector import assess, reason_kinds
from modecollapse.metrics.evaluators import translation_evaluator
from modecollapse.metrics.features import classifier_for, prepare_images
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES, mixture_scores
from modecollapse.metrics.samples import real_reference
from modecollapse.metrics.scores import FeatureSet, extract, score
from modecollapse.models import generate
from modecollapse.models.classifier import load_classifier
from modecollapse.runfolder import RunFolder
from modecollapse.trained import load_translator

EXIT_CODES = {"healthy": 0, "partial collapse": 4, "collapsed": 5}


def judge_path(
    source: str | Path,
    dataset: str | None = None,
    num_samples: int = 10_000,
    reference: FeatureSet | None = None,
    latent_dim: int | None = None,
    latent_shape: tuple[int, ...] | None = None,
    value_range: str = "auto",
    latent_dist: str = "normal",
    latent_range: float = 1.0,
    tile_size: int | None = None,
    padding: int | None = None,
    rules: DetectorConfig | None = None,
    data_dir: str | None = None,
    mixture_scale: float = 1.0,
) -> dict[str, Any]:
    """Score the file or folder `source` against real data of `dataset`; return verdict, reasons
    and numbers. A CycleGAN run folder is judged as a translator (see `judge_translator`). The
    public entry is `modecollapse.diagnose`, which calls this for paths."""
    if num_samples <= 0:
        raise ModeCollapseError(f"--num-samples must be a positive number, got {num_samples}")
    if padding is not None and not 0 <= padding <= 64:
        raise ModeCollapseError(f"--padding must be 0-64 pixels, got {padding}")
    monitor = monitor_samples(Path(source))
    if monitor is not None:
        array, notes, dataset = monitor[0], monitor[1], dataset or monitor[2]
        if spec(dataset).kind == "points":
            report = judge_points((torch.as_tensor(array).float(), notes), dataset, rules=rules)
        else:
            images, more = prepare_images(array, "-1-1")
            samples = Samples(images, [*notes, *more])
            report = judge_images(samples, str(source), dataset, reference, rules, data_dir)
    elif (opened := open_input(Path(source))).run is not None and opened.run[1].model.family == "cyclegan":
        report = judge_translator(opened, num_samples=min(num_samples, 2000), rules=rules)
    elif _judges_points(opened, dataset):
        count = min(num_samples, PROTOCOL_SAMPLES)
        report = judge_points(opened, dataset, count, rules, mixture_scale)
    else:
        latent = None
        if latent_dim is not None or latent_shape is not None:
            latent = Latent(latent_shape or (latent_dim,), latent_dist, latent_range)
        samples = load_samples(opened, num_samples, latent, value_range, tile_size, padding)
        report = judge_images(samples, str(Path(source)), dataset, reference, rules, data_dir)
    report["suggestions"] = suggest(report, report["dataset"])
    return report


def judge_images(
    samples: Samples,
    source: str,
    dataset: str | None,
    reference: FeatureSet | None,
    rules: DetectorConfig | None,
    data_dir: str | None,
) -> dict[str, Any]:
    dataset = dataset or samples.dataset or DEFAULT_IMAGES
    dataset = spec(dataset).reference or dataset  # e.g. mnist-5k is judged against MNIST's test set
    samples.images = match_channels(samples.images, dataset, samples.notes)
    classifier = load_classifier(classifier_for(dataset))
    if reference is None:
        reference, reference_name = real_reference(dataset, data_dir, classifier=classifier)
    else:
        reference_name = "given reference features"
    real = reference
    fake = extract(classifier, samples.images)
    scores = score(fake, real)
    per_class: list[float] | None = None
    if samples.intended is not None:  # real classes as the classifier reads them (99.3% right)
        conditional = conditional_scores(
            fake.features,
            fake.predictions,
            samples.intended,
            real.features,
            real.predictions,
            fake.num_classes,
        )
        per_class = conditional.pop("per_class_diversity")
        scores.update(conditional)
        grader = load_grader(dataset)
        if grader is not None and samples.images.shape[1] == 1:
            scores.update(grader_scores(grader, samples.images, samples.intended))
    verdict, found = assess(scores, rules)
    reasons, kinds = [reason.text for reason in found], reason_kinds(found)
    if len(samples.images) < 10 * fake.num_classes:
        samples.notes.append(
            f"only {len(samples.images)} samples for {fake.num_classes} classes: modes and KL are judged "
            f"against what that many samples can show; give >= {10 * fake.num_classes} for a firm verdict"
        )
    report: dict[str, Any] = {
        "source": str(source),
        "dataset": dataset,
        "verdict": verdict,
        "reasons": reasons,
        "kinds": kinds,
        "scores": scores,
        "classifier": {"dataset": classifier.dataset, "sha256": classifier.sha256},
        "reference": reference_name,
        "input_notes": samples.notes,
        "class_counts": torch.bincount(fake.predictions, minlength=fake.num_classes).tolist(),
    }
    if per_class is not None:
        report["per_class_diversity"] = per_class
    if samples.generator is not None and samples.intended is None:
        report["latent"] = probe_latent(samples.generator, samples.latent, real)
    report["_images"] = samples.images
    report["_predictions"] = samples.intended if samples.intended is not None else fake.predictions
    return report


def monitor_samples(path: Path) -> tuple[np.ndarray, list[str], str] | None:
    """A Monitor's folder (modecollapse.monitor): its last evaluation's samples, notes on its
    onset and last healthy step, and its dataset; None for anything else."""
    folder = RunFolder(path)
    if not path.is_dir() or not folder.is_monitor():
        return None
    summary = folder.read_summary()
    if not folder.last_samples.is_file():
        raise ModeCollapseError(
            f"{path}: the Monitor's last evaluation (step {summary.get('step')}) left no samples to "
            "judge (its outputs held NaN or infinite values, or G is a translator); the Monitor judged it "
            f"{summary.get('verdict')}"
        )
    detector = summary.get("detector") or {}
    evaluated = summary.get("samples_step", summary.get("step"))
    notes = [f"the Monitor's last evaluation (step {evaluated}) in {path}"]
    if detector.get("collapse_onset_step") is not None:
        notes.append(f"collapse confirmed since step {detector['collapse_onset_step']}")
    if summary.get("last_healthy"):
        weights = folder.last_healthy_weights
        notes.append(f"last healthy: step {summary['last_healthy']['step']} ({weights})")
    return read_array(folder.last_samples), notes, summary["dataset"]["name"]


GREY_TOLERANCE = 2 / 127.5
"""Channels that differ by at most 2 grey levels of 0..255 (rounding, JPEG) count as equal."""


def match_channels(images: torch.Tensor, dataset: str, notes: list[str]) -> torch.Tensor:
    """`images` with the channel count of `dataset`: grey digits saved as RGB (R = G = B, as PIL
    writes them) are read as grey and said so; any other mismatch is a sentence."""
    want, have = sample_shape(DataConfig(name=dataset))[0], images.shape[1]
    if have == want:
        return images
    if have == 3 and want == 1:
        if float((images - images[:, :1]).abs().max()) <= GREY_TOLERANCE:
            notes.append("3 equal colour channels (grey saved as RGB) read as grey")
            return images[:, :1]
        raise ModeCollapseError(
            f"the images have 3 different colour channels, but {dataset} is greyscale; "
            "for Stacked MNIST stacks pass --dataset stacked-mnist"
        )
    raise ModeCollapseError(f"the images have {have} channel(s), but {dataset} has {want}")


def _judges_points(opened: Opened, dataset: str | None) -> bool:
    """A 2-D mixture's samples: so named, a 2-D run, or an array of shape (N, 2)."""
    if dataset is not None:
        return spec(dataset).kind == "points"
    if opened.run is not None:
        return spec(opened.run[1].data.name).kind == "points"
    if opened.array is not None:
        return opened.array.ndim == 2 and opened.array.shape[1] == 2
    return False


def judge_points(
    path: Path | Opened | tuple[torch.Tensor, list[str]],
    dataset: str | None,
    num_samples: int = PROTOCOL_SAMPLES,
    rules: DetectorConfig | None = None,
    mixture_scale: float = 1.0,
) -> dict[str, Any]:
    """Judge N x 2 samples of a 2-D mixture by PacGAN's rules plus the spread check.

    A run is judged against the mixture it trained on; an array against `dataset` at
    `mixture_scale` (ring8 at 0.5 is PacGAN's radius-1 ring). `path` may also be (points, notes)
    already in memory.
    """
    if isinstance(path, tuple):
        (points, notes), trained_on, path = path, None, Path("samples in memory")
    else:
        points, notes, trained_on = load_points(path, num_samples)
        path = path.path if isinstance(path, Opened) else path
    if trained_on is not None and dataset in (None, trained_on.name):
        data = trained_on.model_copy(update={"num_samples": 1})
    elif dataset is not None:
        data = DataConfig(name=dataset, num_samples=1, mixture_scale=mixture_scale)
    else:
        raise ModeCollapseError(f"{path}: say which mixture the points imitate: --dataset ring8 or grid25")
    dataset = data.name
    mixture = load_dataset(data)
    scores = mixture_scores(points, mixture.mode_means, mixture.mode_std)
    counts = scores.pop("class_counts")
    verdict, found = assess(scores, rules)
    reasons, kinds = [reason.text for reason in found], reason_kinds(found)
    return {
        "source": str(path),
        "dataset": dataset,
        "verdict": verdict,
        "reasons": reasons,
        "kinds": kinds,
        "scores": {**scores, "num_samples": float(len(points))},
        "classifier": None,
        "reference": f"{dataset}: {len(mixture.mode_means)} Gaussians of std {mixture.mode_std:g}"
        + (f" (scale {data.mixture_scale:g})" if data.mixture_scale != 1 else ""),
        "input_notes": notes,
        "class_counts": counts,
        "_points": points,
        "_means": mixture.mode_means,
    }


def is_translator(path: Path) -> bool:
    """Whether `path` is a CycleGAN run or checkpoint folder with a checkpoint."""
    run = open_input(path).run
    return run is not None and run[1].model.family == "cyclegan"


@torch.no_grad()
def judge_translator(
    path: Path | Opened, num_samples: int = 2000, rules: DetectorConfig | None = None
) -> dict[str, Any]:
    """Translate held inputs A -> B and judge identity, spatial rule, coverage and diversity."""
    opened = path if isinstance(path, Opened) else open_input(Path(path))
    path = opened.path
    translator = load_translator(path, opened.checkpoint())
    g_ab, g_ba, folder = translator.g_ab, translator.g_ba, translator.checkpoint
    data = load_dataset(translator.config.data)
    count = min(num_samples, len(data.held_out.a), len(data.b))
    record = translation_evaluator(data, count)(g_ab, g_ba, 0)
    verdict, found = assess(record, rules)
    reasons, kinds = [reason.text for reason in found], reason_kinds(found)
    inputs = data.held_out.a.batch(torch.arange(min(50, len(data.held_out.a))))
    pairs = torch.stack([inputs, generate(g_ab, inputs)], dim=1).flatten(0, 1)
    scores = {k: v for k, v in record.items() if k not in ("class_counts", "classifier_sha256")}
    return {
        "source": str(folder),
        "dataset": translator.config.data.name,
        "verdict": verdict,
        "reasons": reasons,
        "kinds": kinds,
        "scores": scores,
        "classifier": {
            "dataset": classifier_for(translator.config.data.name),
            "sha256": record["classifier_sha256"],
        },
        "reference": f"{count} real {data.b.name} digits, cropped and normalised like the translations",
        "input_notes": [
            f"CycleGAN G_AB from {folder}, {count} held-out inputs of {data.a.name} "
            "(digits no training image uses)",
            *last_healthy_note(path),
        ],
        "class_counts": record["class_counts"],
        "_images": pairs,
        "_predictions": None,
    }


@torch.no_grad()
def probe_latent(generator: nn.Module, latent: Latent, real: FeatureSet, count: int = 256) -> dict:
    """How much the output moves with z: overall, per latent dimension, and for one-hot z.

    Distances are mean absolute pixel differences in [-1, 1] units. A generator whose outputs
    for independent z differ by far less than real images differ from each other ignores z.
    """
    device = next((p.device for p in generator.parameters()), torch.device("cpu"))

    def run(z: torch.Tensor) -> torch.Tensor:
        return generator(z.to(device)).float().cpu()

    shape = latent.shape
    z = latent.draw(count, PROBE_SEED + 1)
    out = run(z).float()
    other = run(latent.draw(count, PROBE_SEED + 2)).float()
    spread = float((out - other).abs().mean())
    step = 0.5
    flat = z.reshape(count, -1)
    per_dimension = []
    for d in range(flat.shape[1]):
        moved = flat.clone()
        moved[:, d] += step
        per_dimension.append(float((run(moved.reshape(z.shape)).float() - out).abs().mean() / step))
    sensitivities = torch.tensor(per_dimension)
    dead = int((sensitivities < 0.01 * sensitivities.max().clamp_min(1e-12)).sum())
    dims = flat.shape[1]
    height = 3.0 if latent.distribution == "normal" else latent.range  # far out, yet a value z takes
    one_hot = torch.eye(dims)[: min(dims, 100)].reshape(-1, *shape) * height
    one_hot_out = run(one_hot).float()
    one_hot_spread = float(
        torch.cdist(one_hot_out.flatten(1), one_hot_out.flatten(1), p=1).mean() / one_hot_out[0].numel()
    )
    ignores = spread < 0.02
    return {
        "output_spread": spread,
        "mean_sensitivity": float(sensitivities.mean()),
        "max_sensitivity": float(sensitivities.max()),
        "dead_dimensions": dead,
        "latent_dimensions": dims,
        "one_hot_spread": one_hot_spread,
        "ignores_latent": bool(ignores),
        "statement": (
            "the generator ignores z: outputs for independent z are nearly identical"
            if ignores
            else f"outputs move with z (spread {spread:.3f}); {dead} of {dims} latent dims have no effect"
        ),
    }
