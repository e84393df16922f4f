"""`from modecollapse import diagnose`: the verdict on a generator, samples or a file, as a `Report`.

    report = diagnose(G, dataset="mnist", latent_dim=100)    # an nn.Module or callable: z -> images
    report = diagnose(G, latent_dim=100, num_classes=10)      # a class-conditional G(z, label)
    report = diagnose(samples, dataset="mnist")               # a tensor or array of images or points
    report = diagnose("runs/my-run")                          # anything the CLI takes
    report.verdict, report.reasons, report.suggestions, report.to_json(), report.save("evidence")

In a notebook the report shows itself (verdict, sample grid, class histogram). The CLI
(`modecollapse diagnose`) is a thin layer over this function.
"""

from __future__ import annotations

import base64
import html
import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import modecollapse.diagnosis.verdict as verdicts
from modecollapse.config import DetectorConfig, detector_rules
from modecollapse.data import DEFAULT_IMAGES, check_class_count, dataset_kind, dataset_name, spec
from modecollapse.diagnosis.evidence import format_report, write_evidence
from modecollapse.diagnosis.inputs import PROBE_SEED, Samples
from modecollapse.diagnosis.suggest import suggest
from modecollapse.diagnosis.weights import Rebuild
from modecollapse.errors import ModeCollapseError, did_you_mean
from modecollapse.metrics.features import SUPPORTED_SIZES, check_value_range
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES
from modecollapse.metrics.samples import Reference, check_mixture_scale
from modecollapse.metrics.scores import FeatureSet
from modecollapse.models.labels import conditional_needs_latent, sample_with_labels
from modecollapse.models.latent import (
    Latent,
    LatentRead,
    latent_from_first_layer,
    latent_options,
    sample_from,
)


@dataclass
class Report:
    """A verdict with its evidence. `data` holds everything, as the CLI's --json prints it plus the
    samples the evidence is drawn from (keys starting with '_')."""

    data: dict[str, Any]

    @property
    def verdict(self) -> str:
        return self.data["verdict"]

    @property
    def reasons(self) -> list[str]:
        return self.data["reasons"]

    @property
    def kinds(self) -> list[str]:
        return self.data.get("kinds", [])

    @property
    def scores(self) -> dict[str, float]:
        return self.data["scores"]

    @property
    def suggestions(self) -> list[str]:
        return self.data.get("suggestions", [])

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def public(self) -> dict[str, Any]:
        """Everything but the evidence's raw samples, with NaN and infinities as None (strict JSON)."""
        return _strict({k: v for k, v in self.data.items() if not k.startswith("_")})

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.public(), indent=indent, allow_nan=False)

    def save(self, out: str | Path) -> list[Path]:
        """The evidence PNGs (samples, class histogram, samples by class) into `out`."""
        return write_evidence(self.data, Path(out))

    def __str__(self) -> str:
        return format_report(self.data)

    def _repr_html_(self) -> str:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            figures = "".join(
                f'<img src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}" '
                f'style="max-width:45%;margin:4px" alt="{html.escape(p.stem)}">'
                for p in self.save(folder)[:2]
            )
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        tips = "".join(f"<li>{html.escape(t)}</li>" for t in self.suggestions)
        colours = {"healthy": "#2a7", "partial collapse": "#d80", "collapsed": "#c22"}
        colour = colours.get(self.verdict, "#444")
        return (
            f'<div><h3 style="color:{colour}">{html.escape(self.verdict.upper())}</h3><ul>{reasons}</ul>'
            f"{figures}" + (f"<p>try next:</p><ul>{tips}</ul>" if tips else "") + "</div>"
        )


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, torch.Tensor | np.ndarray):
        return _strict(np.asarray(value).tolist())
    return value


def diagnose(
    source: str | Path | nn.Module | Callable[[torch.Tensor], torch.Tensor] | torch.Tensor | np.ndarray,
    dataset: str | None = None,
    latent_dim: int | None = None,
    num_samples: int = 10_000,
    latent_shape: tuple[int, ...] | None = None,
    latent_dist: str = "normal",
    latent_range: float = 1.0,
    value_range: str = "auto",
    rules: DetectorConfig | None = None,
    data_dir: str | None = None,
    g_ba: str | Path | nn.Module | Callable[[torch.Tensor], torch.Tensor] | None = None,
    arch: str | None = None,
    arch_kwargs: dict[str, Any] | None = None,
    weights_key: str | None = None,
    g_ba_weights_key: str | None = None,
    num_classes: int | None = None,
    **options: Any,
) -> Report:
    """Judge a generator (nn.Module or callable z -> samples; give the latent law), samples (a
    tensor or array of images, or N x 2 points of a 2-D mixture) or a path (run folder, monitor
    folder, a weights file read weights-only, with `arch="models.py:Generator"`, `arch_kwargs`
    and `weights_key` (G_BA's: `g_ba_weights_key`) when needed, TorchScript, .npy/.npz, grid
    image, PNG folder): healthy / partial collapse / collapsed, with reasons, scores and measured
    fixes to try next. With a translation dataset (spatial-one, spatial-two, mnist-rgb,
    mnist-svhn) a generator is a translator G_AB, fed the dataset's held-out A inputs; give its
    `g_ba` too to judge the cycle. A class-conditional G needs `num_classes` (the dataset's): it
    is sampled class-balanced, called as its forward's names say (G(z, labels), G(labels, z), or
    one input with one-hot labels appended to z; models/labels.py), and also judged class by class."""
    _check_options(options, not isinstance(source, str | Path), num_classes, dataset, value_range)
    rules = detector_rules(rules)
    if isinstance(source, str | Path):
        return Report(
            verdicts.judge_path(
                source, dataset, num_samples, latent_dim=latent_dim, latent_shape=latent_shape,
                value_range=value_range, latent_dist=latent_dist, latent_range=latent_range, rules=rules,
                data_dir=data_dir, g_ba=g_ba, num_classes=num_classes,
                rebuild=Rebuild(arch, dict(arch_kwargs or {}), weights_key, g_ba_weights_key),
                **options,
            )
        )  # fmt: skip
    if num_samples <= 0:
        raise ModeCollapseError(f"num_samples must be a positive number, got {num_samples}")
    translating = dataset is not None and dataset_kind(dataset_name(dataset)) == "translation"
    if g_ba is not None and not translating:
        raise ModeCollapseError(
            "g_ba is for translators: name their translation dataset, e.g. dataset='spatial-one'"
        )
    networks = [n for n in (source, g_ba) if isinstance(n, nn.Module)]
    modes = [(m, m.training) for network in networks for m in network.modules()]
    try:
        for network in networks:
            network.eval()  # sampled and probed in eval mode, then put back as it came
        if translating and (isinstance(source, nn.Module) or callable(source)):
            return _translator_in_memory(source, g_ba, dataset_name(dataset), num_samples, rules, data_dir)
        latent_law = (latent_dim, latent_shape, latent_dist, latent_range, num_classes)
        return _in_memory(source, dataset, latent_law, num_samples, value_range, rules, data_dir, options)
    finally:
        for module, training in modes:
            module.training = training


PATH_OPTIONS = {"tile_size": "a grid image", "padding": "a grid image"}
"""diagnose's options that only a path can use, and for which kind."""
SHARED_OPTIONS = ("reference", "mixture_scale")
"""diagnose's further options for paths and for what is given in memory alike."""


def _check_options(
    options: dict[str, Any], in_memory: bool, num_classes: int | None, dataset: str | None, value_range: str
) -> None:
    """Refuse an option diagnose does not take (with the nearest name), one only a path uses, a
    class count that is not the dataset's, or a value range that is none (before anything is read)."""
    check_value_range(value_range)
    if num_classes is not None:
        check_class_count(num_classes, dataset or DEFAULT_IMAGES)
    named = [p for p in inspect.signature(diagnose).parameters if p not in ("source", "options")]
    known = [*named, *PATH_OPTIONS, *SHARED_OPTIONS]
    for name in options:
        if name not in known:
            near = did_you_mean(name, known)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise ModeCollapseError(f"diagnose has no option {name!r}{hint}; its options: {', '.join(known)}")
        if in_memory and name in PATH_OPTIONS:
            raise ModeCollapseError(f"{name} is for {PATH_OPTIONS[name]} file; it does not apply in memory")
    reference, scale = options.get("reference"), options.get("mixture_scale", 1.0)
    if reference is not None and not isinstance(reference, Reference | FeatureSet):
        raise ModeCollapseError(
            "reference takes real images' features (a FeatureSet: modecollapse.metrics.scores.extract) "
            f"or a Reference (metrics.samples.reference_for), not {type(reference).__name__}"
        )
    check_mixture_scale(scale, dataset)


def _translator_in_memory(
    g_ab: Any, g_ba: Any | None, dataset: str, num_samples: int, rules: DetectorConfig | None,
    data_dir: str | None,
) -> Report:  # fmt: skip
    report = verdicts.judge_user_translator(
        g_ab, g_ba, dataset, num_samples, rules, data_dir, "translator in memory", "G_AB: in memory",
        "G_BA: in memory",
    )  # fmt: skip
    report["suggestions"] = suggest(report, report["dataset"], rules=rules)
    return Report(report)


def _in_memory(
    source: Any, dataset: str | None, latent_law: tuple, num_samples: int, value_range: str,
    rules: DetectorConfig | None, data_dir: str | None, options: dict[str, Any],
) -> Report:  # fmt: skip
    """Judge a generator or samples given in memory; `latent_law` is (latent_dim, latent_shape,
    latent_dist, latent_range, num_classes) as diagnose got them; `options` the SHARED_OPTIONS."""
    latent_dim, latent_shape, latent_dist, latent_range, num_classes = latent_law
    points = dataset is not None and spec(dataset).kind == "points"
    latent, intended = None, None
    if isinstance(source, torch.Tensor | np.ndarray):
        if num_classes:
            raise ModeCollapseError("num_classes is for a class-conditional generator, not samples")
        array = source.detach().cpu().float() if isinstance(source, torch.Tensor) else _numbers(source)
        notes = [f"{len(array)} samples given in memory"]
        generator = None
    elif isinstance(source, nn.Module) or callable(source):
        if num_classes and latent_dim is None and latent_shape is None:
            raise conditional_needs_latent()
        if latent_dim is None and latent_shape is None:
            read = latent_from_first_layer(source, latent_dist, latent_range, SUPPORTED_SIZES)
            if read.latent is None:
                raise ModeCollapseError(
                    f"a generator needs its latent law: {latent_options()}; it is read "
                    f"from G's first layer only when that is a Linear or a ConvTranspose2d ({read.note})"
                )
        else:
            given = Latent(tuple(latent_shape or (latent_dim,)), latent_dist, latent_range)
            read = LatentRead(given, given.describe())
        latent, said = read
        generator = source
        count = PROTOCOL_SAMPLES if points else num_samples  # a G draws PacGAN's 2,500 points
        notes = [f"generator in memory, {said}"]
        if num_classes:
            array, intended, labelled, _ = sample_with_labels(
                generator, latent, num_classes, count, PROBE_SEED
            )
            notes.append(labelled)
        else:
            array = sample_from(generator, latent, count, PROBE_SEED, notes=notes)
        notes.append(f"{len(array)} samples drawn with seed {PROBE_SEED}")
    else:
        raise ModeCollapseError(
            f"diagnose takes a generator (nn.Module or callable), samples (tensor or array) or a path, "
            f"not {type(source).__name__}"
        )
    if points:
        scale = options.get("mixture_scale", 1.0)
        report = verdicts.judge_points((array, notes), dataset, rules=rules, mixture_scale=scale)
    else:
        module = generator if isinstance(generator, nn.Module) else None
        samples = Samples(array, notes, module, latent, intended=intended, value_range=value_range)
        source_name = "generator in memory" if generator is not None else "samples in memory"
        reference = options.get("reference")
        report = verdicts.judge_images(samples, source_name, dataset, reference, rules, data_dir)
    report["suggestions"] = suggest(report, report["dataset"], rules=rules)
    return Report(report)


def _numbers(array: np.ndarray) -> torch.Tensor:
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise ModeCollapseError(f"samples must be numbers, got an array of dtype {array.dtype}")
    return torch.as_tensor(array.astype(np.float32))


def report_json(report: Report, written: list[Path]) -> str:
    """The CLI's --json: the public report and the evidence files, strict JSON."""
    return json.dumps({**report.public(), "evidence": [str(p) for p in written]}, indent=2, allow_nan=False)
