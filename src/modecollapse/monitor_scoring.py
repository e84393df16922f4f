"""How the Monitor scores a user's image or point generator at each evaluation: one fixed batch
drawn by the latent law it was given (or read from G's first layer, or the user's `sample`
callable), a class-conditional G(z, label) class-balanced and also judged class by class, all
through the one scorer (metrics/samples.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from modecollapse.config import DataConfig
from modecollapse.errors import ModeCollapseError
from modecollapse.generators import as_tensor, range_from_last_layer
from modecollapse.metrics.conditional import judge_by_class
from modecollapse.metrics.evaluators import EVAL_SEED
from modecollapse.metrics.features import (
    SUPPORTED_SIZES,
    check_value_range,
    range_bounds,
    read_value_range,
    value_percentiles,
)
from modecollapse.metrics.samples import (
    Reference,
    few_samples_note,
    protocol_samples,
    reference_for,
    score_samples,
    training_data,
)
from modecollapse.models.labels import Calls, sample_with_labels
from modecollapse.models.latent import Latent, latent_from_first_layer, latent_options, sample_from

Sampler = Callable[[Any, int, torch.Generator], torch.Tensor]
SPAN_TO_KEEP = 0.5
"""How far apart the 1st and 99th percentiles must be, as a share of the range read from the values
(0..255: 127.5), for that range to be kept."""


class GeneratorScorer:
    """Scores G on one fixed batch: `__call__(G) -> (record, samples kept for the files)`. The real
    reference is summarised at the first call; `notes` say how the last samples were read."""

    def __init__(
        self, dataset: str, kind: str, latent: Latent | None, law: tuple[str, float],
        sample: Sampler | None, num_classes: int | None, value_range: str, num_samples: int,
        data_dir: str | None, mixture_scale: float = 1.0,
    ) -> None:  # fmt: skip
        self.dataset, self.kind, self.latent, self.law = dataset, kind, latent, law
        self.mixture_scale = mixture_scale
        self.sample_fn, self.num_classes, self.value_range = sample, num_classes, value_range
        self.num_samples, self.data_dir = num_samples, data_dir
        self.reference: Reference | None = None
        self.notes: list[str] = []
        self.read_note: str | None = None  # where z's size came from, when read from G
        self.call: Calls | None = None  # how a conditional G took its label, once it has
        self.kept_range: tuple[str, int] | None = None  # the range read from values, and from which step
        self.step = 0  # the step being scored (Monitor sets it)

    def __call__(self, generator: Any) -> tuple[dict[str, Any], np.ndarray | None]:
        reference = self.reference or self._reference()
        count = protocol_samples(reference, self.num_samples)
        try:
            images, intended = self._draw(generator, count)
            value_range, read = self._value_range(generator, images)
            scored = score_samples(images, reference, value_range)
        except ModeCollapseError as error:
            if str(error).startswith(("G failed", "Monitor needs")):
                raise
            raise ModeCollapseError(f"G's output does not fit {self.dataset}: {error}") from None
        record = dict(scored.record)
        if intended is not None:
            by_class = judge_by_class(scored, reference, intended)
            by_class.pop("per_class_diversity", None)
            record.update(by_class)
        few = few_samples_note(count, reference, "pass num_samples={n}")
        self.notes = [*filter(None, [self.read_note, read, few]), *reference.notes, *scored.notes]
        kept = None if scored.samples is None else scored.samples.numpy()
        if kept is not None and reference.kind == "image":
            kept = scored.samples.half().numpy()
        return record, kept

    def _value_range(self, generator: Any, images: torch.Tensor) -> tuple[str, str | None]:
        """The range this evaluation's images are read in, and how it was decided: as given; from
        G's Tanh / Sigmoid output layer; else read from the values and kept from the first
        evaluation whose values span most of that range, so that a G overshooting it later is not
        read in another range (with a value at once new)."""
        if self.value_range != "auto" or self.kind != "image":
            return self.value_range, None
        if not torch.isfinite(images).all():  # judged collapsed by the count of NaN outputs, in any range
            return (self.kept_range or ("-1-1",))[0], None
        from_layer, note = range_from_last_layer(generator, images)
        if from_layer != "auto":
            return from_layer, note
        if self.kept_range is not None:
            return self.kept_range[0], (
                f"values {float(images.min()):.3g}..{float(images.max()):.3g} read as {self.kept_range[0]}, "
                f"as from step {self.kept_range[1]} on; pass value_range= if that is wrong"
            )
        low, high = value_percentiles(images)
        guessed = read_value_range(images, (low, high))
        bottom, top = range_bounds(guessed)
        if high - low >= SPAN_TO_KEEP * (top - bottom):
            self.kept_range = guessed, self.step
        return guessed, None

    def _reference(self) -> Reference:
        training = training_data(DataConfig(name=self.dataset, data_dir=self.data_dir))
        points = self.kind == "points"
        mixture = DataConfig(name=self.dataset, mixture_scale=self.mixture_scale) if points else None
        self.reference = reference_for(
            self.dataset, self.data_dir, training if self.kind == "image" else None, mixture
        )
        return self.reference

    def _draw(self, generator: Any, count: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """G's outputs on the fixed batch (or the user's sampler), fp32 on the CPU, and the class
        each was drawn for (None unless conditional)."""
        if self.sample_fn is not None:
            draw = torch.Generator().manual_seed(EVAL_SEED)
            return as_tensor(self.sample_fn(generator, count, draw)).float().cpu(), None
        if self.latent is None:  # no option gave it: read from G's first layer
            read = latent_from_first_layer(generator, *self.law, SUPPORTED_SIZES)
            if read.latent is None:
                raise ModeCollapseError(
                    f"Monitor needs the latent law G takes: {latent_options()}, or "
                    "sample=callable(G, count, generator) for a generator whose input is not a plain z; "
                    "it is read from G's first layer only when that is a Linear or a ConvTranspose2d "
                    f"({read.note})"
                )
            self.latent, self.read_note = read
        if self.num_classes:
            try:
                drawn = sample_with_labels(
                    generator, self.latent, self.num_classes, count, EVAL_SEED, calls=self.call
                )
            except ModeCollapseError:
                if self.call is None:
                    raise
                self.call = None  # another G than the one that took this call: read this one's names
                return self._draw(generator, count)
            self.read_note, self.call = drawn.note, drawn.call
            return drawn.images, drawn.labels
        return sample_from(generator, self.latent, count, EVAL_SEED), None


def kept_range_record(kept_range: tuple[str, int] | None) -> dict[str, Any] | None:
    """summary.json's record of the value range read from G's values, for a resumed session."""
    return None if kept_range is None else {"range": kept_range[0], "step": kept_range[1]}


def kept_range_from(record: Any, before: int) -> tuple[str, int] | None:
    """The range an earlier session read and kept, when it did so before step `before`; None for a
    record that is not one (an older or hand-edited summary.json): the range is read anew."""
    if not isinstance(record, dict):
        return None
    name, step = record.get("range"), record.get("step")
    numeric = isinstance(step, int | float) and not isinstance(step, bool)
    if not isinstance(name, str) or name == "auto" or not numeric or step >= before:
        return None
    try:
        check_value_range(name)
    except ModeCollapseError:
        return None
    return name, step


def how_g_is_read(every: int, protocol: str | None, notes: list[str]) -> str:
    """What a Monitor prints at its first evaluation: what G is judged against, and how read."""
    against = f" (protocol {protocol})" if protocol else ""
    return f"modecollapse: judging G every {every} steps{against}" + "".join(f"\n  - {n}" for n in notes)
