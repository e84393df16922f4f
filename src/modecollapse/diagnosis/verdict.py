"""The verdict: samples scored by the shipped classifier against real data, judged by the
collapse detector's rules, with a latent probe for generators and a translator path for
CycleGAN runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from modecollapse.config import DataConfig, DetectorConfig
from modecollapse.data import DEFAULT_IMAGES, Dataset, dataset_name, load_dataset, spec
from modecollapse.data.translation import TranslationData
from modecollapse.diagnosis.inputs import (
    Opened,
    Samples,
    Sampling,
    check_rebuild,
    last_healthy_note,
    load_points,
    load_samples,
    open_input,
    read_array,
)
from modecollapse.diagnosis.latent_probe import probe_latent
from modecollapse.diagnosis.suggest import suggest
from modecollapse.diagnosis.translators import is_translator_file, load_user_translators
from modecollapse.diagnosis.weights import Rebuild
from modecollapse.errors import ModeCollapseError
from modecollapse.generators import range_from_last_layer
from modecollapse.metrics.conditional import judge_by_class
from modecollapse.metrics.detector import assess, reason_kinds
from modecollapse.metrics.evaluators import judged_translations, on_own_device, translation_evaluator
from modecollapse.metrics.features import classifier_for
from modecollapse.metrics.samples import (
    Reference,
    few_samples_note,
    reference_for,
    reference_from_features,
    score_samples,
    training_data,
)
from modecollapse.metrics.scores import FeatureSet
from modecollapse.models import generate
from modecollapse.models.classifier import load_classifier
from modecollapse.options import Metavar, invocation, option
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
    g_ba: str | Path | Any | None = None,
    rebuild: Rebuild | None = None,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """Score the file or folder `source` against real data of `dataset`: verdict, reasons and
    numbers. A CycleGAN run folder, or a user's G_AB file named with a translation dataset (`g_ba`:
    its G_BA, a path or a module), is judged as a translator; a weights file's network is rebuilt
    as `rebuild` says (weights.py). `modecollapse.diagnose` calls this for paths."""
    if num_samples <= 0:
        raise ModeCollapseError(f"{option('num_samples')} must be a positive number, got {num_samples}")
    if padding is not None and not 0 <= padding <= 64:
        raise ModeCollapseError(f"{option('padding')} must be 0-64 pixels, got {padding}")
    shape = latent_shape or ((latent_dim,) if latent_dim is not None else None)
    sampling = Sampling(shape, latent_dist, latent_range, rebuild, num_classes)
    check_rebuild(Path(source), rebuild, g_ba, num_classes)
    monitor = monitor_samples(Path(source))
    if monitor is not None:
        dataset = dataset or monitor.dataset
        if spec(dataset).kind == "points":
            report = judge_points((monitor.values, monitor.notes), dataset, rules=rules)
        else:
            report = judge_images(monitor, str(source), dataset, reference, rules, data_dir)
    elif (opened := open_input(Path(source))).run is not None and opened.run[1].model.family == "cyclegan":
        report = judge_translator(opened, num_samples=min(num_samples, 2000), rules=rules)
    elif is_translator_file(Path(source), dataset):
        g_ab, back, described = load_user_translators(Path(source), g_ba, sampling.rebuild)
        report = judge_user_translator(
            g_ab, back, dataset, num_samples, rules, data_dir, str(source), *described
        )
    elif _judges_points(opened, dataset):
        report = judge_points(opened, dataset, rules=rules, mixture_scale=mixture_scale, sampling=sampling)
    else:
        if g_ba is not None:
            raise ModeCollapseError(
                f"{option('g_ba')} is for a translator: give its G_AB (TorchScript, or weights with "
                f"{option('arch')}) and its translation {option('dataset')} (e.g. spatial-one)"
            )
        samples = load_samples(opened, num_samples, sampling, value_range, tile_size, padding)
        report = judge_images(samples, str(Path(source)), dataset, reference, rules, data_dir)
    report["suggestions"] = suggest(report, report["dataset"], rules=rules)
    return report


def judge_images(
    samples: Samples,
    source: str,
    dataset: str | None,
    reference: Reference | FeatureSet | None,
    rules: DetectorConfig | None,
    data_dir: str | None,
) -> dict[str, Any]:
    """Score images with the one scorer (metrics/samples.py) and judge them; a conditional
    generator's samples also by class."""
    named = dataset_name(dataset or samples.dataset or DEFAULT_IMAGES)
    if isinstance(reference, FeatureSet):
        reference = reference_from_features(named, reference, "given reference features")
    elif reference is None:
        reference = reference_for(named, data_dir, training=_training_data(named, samples, data_dir))
    value_range, read = range_from_last_layer(samples.generator, samples.values, samples.value_range)
    scored = score_samples(samples.values, reference, value_range)
    notes = [*samples.notes, *reference.notes, *filter(None, [read]), *scored.notes]
    scores = {k: v for k, v in scored.record.items() if not isinstance(v, (str, list))}
    fake, per_class = scored.features, None
    if samples.intended is not None:
        conditional = judge_by_class(scored, reference, samples.intended)
        per_class = conditional.pop("per_class_diversity", None)
        scores.update(conditional)
    judged = {**scores, "protocol": scored.record["protocol"], "reference": reference.label}
    verdict, found = assess(judged, rules)
    few = few_samples_note(len(samples.values), reference, "give >= {n}")
    if few:
        notes.append(few)
    report: dict[str, Any] = {
        "source": str(source),
        "dataset": reference.dataset,
        "verdict": verdict,
        "reasons": [reason.text for reason in found],
        "kinds": reason_kinds(found),
        "scores": scores,
        "protocol": scored.record["protocol"],
        "classifier": {"dataset": reference.classifier.dataset, "sha256": reference.classifier.sha256},
        "reference": reference.label,
        "copies_of": reference.copies_label or reference.label,
        "input_notes": notes,
        "class_counts": scored.record.get("class_counts", []),
    }
    if per_class is not None:
        report["per_class_diversity"] = per_class
    if samples.generator is not None and samples.intended is None and samples.latent is not None:
        report["latent"] = probe_latent(samples.generator, samples.latent, value_range=value_range)
    report["_images"] = scored.samples
    report["_predictions"] = (
        samples.intended if samples.intended is not None else (fake.predictions if fake is not None else None)
    )
    return report


def _training_data(named: str, samples: Samples, data_dir: str | None) -> Dataset | None:
    """A run's own training data, else the named dataset's training split (training_data)."""
    if samples.training is not None and spec(samples.training.name).kind == "image":
        return training_data(samples.training)
    return training_data(DataConfig(name=named, data_dir=data_dir))


def monitor_samples(path: Path) -> Samples | None:
    """A Monitor's folder (modecollapse.monitor): its last evaluation's samples (a conditional G's
    with the classes they were drawn for, in turn), notes on its onset and last healthy step, and
    its dataset; None for anything else."""
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
    classes = summary.get("num_classes")
    if summary.get("last_healthy"):
        weights = folder.last_healthy_weights
        options = {"arch": "your_models.py:Generator", "latent_dim": Metavar("N")}
        options.update({"num_classes": classes} if classes else {})
        notes.append(
            f"last healthy: step {summary['last_healthy']['step']} ({weights}; judge those weights with: "
            f"{invocation(str(weights), **options)})"
        )
    values = torch.as_tensor(read_array(folder.last_samples)).float()
    intended = torch.arange(len(values)) % classes if classes else None
    return Samples(values, notes, dataset=summary["dataset"]["name"], intended=intended, value_range="-1-1")


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
    *,
    rules: DetectorConfig | None = None,
    mixture_scale: float = 1.0,
    sampling: Sampling | None = None,
) -> dict[str, Any]:
    """Judge N x 2 samples of a 2-D mixture by PacGAN's rules plus the spread check.

    A run is judged against the mixture it trained on; an array or a generator file (sampled as
    `sampling` says) against `dataset` at
    `mixture_scale` (ring8 at 0.5 is PacGAN's radius-1 ring). `path` may also be (points, notes)
    already in memory.
    """
    if isinstance(path, tuple):
        (points, notes), trained_on, path = path, None, Path("samples in memory")
    else:
        points, notes, trained_on = load_points(path, sampling)
        path = path.path if isinstance(path, Opened) else path
    if trained_on is not None and dataset in (None, trained_on.name):
        data = trained_on
    elif dataset is not None:
        data = DataConfig(name=dataset_name(dataset), mixture_scale=mixture_scale)
    else:
        raise ModeCollapseError(
            f"{path}: say which mixture the points imitate: "
            f"{option('dataset', 'ring8')} or {option('dataset', 'grid25')}"
        )
    reference = reference_for(data.name, mixture=data)
    scored = score_samples(points, reference)
    scores = {k: v for k, v in scored.record.items() if not isinstance(v, (str, list))}
    verdict, found = assess(scores, rules)
    return {
        "source": str(path),
        "dataset": data.name,
        "verdict": verdict,
        "reasons": [reason.text for reason in found],
        "kinds": reason_kinds(found),
        "scores": scores,
        "protocol": scored.record["protocol"],
        "classifier": None,
        "reference": reference.label,
        "input_notes": [*notes, *scored.notes],
        "class_counts": scored.record.get("class_counts", []),
        "_points": scored.samples,
        "_means": reference.mode_means,
    }


def is_translator(path: Path) -> bool:
    """Whether `path` is a CycleGAN run or checkpoint folder with a checkpoint."""
    run = open_input(path).run
    return run is not None and run[1].model.family == "cyclegan"


@torch.no_grad()
def judge_translator(
    path: Path | Opened, num_samples: int = 2000, rules: DetectorConfig | None = None
) -> dict[str, Any]:
    """A CycleGAN run's translators, from its checkpoint: see judge_translation."""
    opened = path if isinstance(path, Opened) else open_input(Path(path))
    path = opened.path
    translator = load_translator(path, opened.checkpoint())
    folder = translator.checkpoint
    data = load_dataset(translator.config.data)
    return judge_translation(
        translator.g_ab, translator.g_ba, data, num_samples, rules, str(folder),
        f"CycleGAN G_AB from {folder}", last_healthy_note(path),
    )  # fmt: skip


def judge_user_translator(
    g_ab: Any, g_ba: Any | None, dataset: str, num_samples: int, rules: DetectorConfig | None,
    data_dir: str | None, source: str, described: str, g_ba_described: str,
) -> dict[str, Any]:  # fmt: skip
    """A user's own G_AB (and G_BA) on the named translation dataset: see judge_translation."""
    data = load_dataset(DataConfig(name=dataset_name(dataset), data_dir=data_dir))
    cycle = f"; {g_ba_described}" if g_ba is not None else " (no G_BA given: the cycle is not judged)"
    return judge_translation(
        g_ab, g_ba, data, min(num_samples, 2000), rules, source, f"{described}{cycle}", []
    )


@torch.no_grad()
def judge_translation(
    g_ab: Any,
    g_ba: Any | None,
    data: TranslationData,
    num_samples: int,
    rules: DetectorConfig | None,
    source: str,
    described: str,
    notes: list[str],
) -> dict[str, Any]:
    """Translate held-out inputs A -> B and judge identity, spatial rule, coverage and diversity;
    with G_BA also the cycle and whether it is kept by a hidden code. Outputs holding NaN or
    infinite values are judged collapsed, not a crash."""
    g_ab, g_ba = on_own_device(g_ab), on_own_device(g_ba)
    count = min(num_samples, len(data.held_out.a), len(data.b))
    inputs = data.held_out.a.batch(torch.arange(min(50, len(data.held_out.a))))
    translated = generate(g_ab, inputs)  # the evidence grid, and the NaN probe
    evaluate = translation_evaluator(data, count)
    record = judged_translations(evaluate, g_ab, g_ba, translated, spec(data.name).num_classes)
    finite = "nonfinite_share" not in record
    verdict, found = assess(record, rules)
    scores = {k: v for k, v in record.items() if k not in ("class_counts", "classifier_sha256")}
    classifier = classifier_for(data.name)
    return {
        "source": source,
        "dataset": data.name,
        "verdict": verdict,
        "reasons": [reason.text for reason in found],
        "kinds": reason_kinds(found),
        "scores": scores,
        "classifier": {
            "dataset": classifier,
            "sha256": record.get("classifier_sha256") or load_classifier(classifier).sha256,
        },
        "reference": f"{count} real {data.b.name} digits, cropped and normalised like the translations",
        "input_notes": [
            f"{described}, {count} held-out inputs of {data.a.name} (digits no training image uses)",
            *notes,
        ],
        "class_counts": record.get("class_counts", []),
        "_images": torch.stack([inputs, translated], dim=1).flatten(0, 1) if finite else None,
        "_predictions": None,
    }
