"""What a Monitor refuses before it scores anything: its options, the step a loop passes, and a
resume into records judged another way. Each refusal is one sentence."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from modecollapse.data import check_class_count, dataset_name, spec
from modecollapse.errors import ModeCollapseError, did_you_mean
from modecollapse.metrics.features import check_value_range
from modecollapse.metrics.samples import check_mixture_scale
from modecollapse.models.labels import conditional_needs_latent

DEFAULT_SAMPLES = 2000
"""Samples per evaluation: at `every` = one MNIST epoch (938 steps) of the PyTorch-example DCGAN
loop the monitor costs under 5 % of the wall time (benchmarks/RESULTS.md, "The own-loop
monitor"), and a uniform 10-class generator is 100 % sure to show every class with >= 10 %
of its share; KL's sampling floor is (K - 1) / 2N = 0.002."""
LARGEST_STEP = 2**63 - 1
"""TensorBoard's and numpy's int64 limit."""


def check_monitor_options(
    dataset: str,
    known: set[str],
    every: int = 500,
    latent_dist: str = "normal",
    num_samples: int = DEFAULT_SAMPLES,
    **others: Any,
) -> None:
    """Raise the Monitor's own error for options it would refuse (`known`: the names it takes)."""
    spec(dataset_name(dataset))  # an unknown dataset is refused here
    if every < 1 or num_samples < 1:
        raise ModeCollapseError(f"every and num_samples must be positive, got {every} and {num_samples}")
    if latent_dist not in ("normal", "uniform"):
        raise ModeCollapseError(f"latent_dist must be 'normal' or 'uniform', got {latent_dist!r}")
    shape = others.get("latent_shape")
    sizes = isinstance(shape, tuple | list) and all(isinstance(n, int) for n in shape)
    if shape is not None and not sizes:
        raise ModeCollapseError(
            f"latent_shape takes a tuple of sizes, e.g. (100, 1, 1) for a DCGAN; got {shape!r} "
            "(for a flat z, latent_dim=100)"
        )
    if others.get("num_classes") is not None:
        check_classes(dataset, others["num_classes"], others.get("latent_shape"), others.get("sample"))
    check_value_range(others.get("value_range", "auto"))
    check_mixture_scale(others.get("mixture_scale", 1.0), dataset)
    unknown = sorted(set(others) - known)
    if unknown:
        near = did_you_mean(unknown[0], known)
        hint = f"did you mean {near!r}? " if near else ""
        raise ModeCollapseError(
            f"Monitor takes no option {', '.join(unknown)}: {hint}it takes {', '.join(sorted(known))}"
        )


def check_classes(dataset: str, classes: int, latent_shape: Any, sample: Any) -> None:
    """num_classes: a class-conditional G(z, label) of the dataset's classes, z's size given."""
    check_class_count(classes, dataset)
    if sample is not None:
        raise ModeCollapseError("num_classes draws the labels itself; give it or sample=..., not both")
    if latent_shape is None:
        raise conditional_needs_latent()


def whole_step(step: Any, called: str = "update") -> int:
    """The step a loop passed as an int (a Python, numpy or one-element torch integer), or a
    sentence naming what was passed instead: G first (the arguments swapped), a fractional,
    non-finite, negative or out-of-range step."""
    if isinstance(step, torch.nn.Module) or (callable(step) and not isinstance(step, torch.Tensor)):
        raise ModeCollapseError(
            f"{called}(step, G) takes the step first: got a {type(step).__name__} as the step "
            f"(call monitor.{called}(step, G, ...))"
        )
    count = step.numel() if isinstance(step, torch.Tensor) else getattr(step, "size", None)
    value = step.item() if isinstance(step, torch.Tensor | np.ndarray | np.generic) and count == 1 else step
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value != int(value) or not 0 <= value <= LARGEST_STEP:
        raise ModeCollapseError(
            f"step must be a whole number of steps from 0, got {step!r}: count G's updates (or "
            "batches) over the whole run, e.g. epoch * len(loader) + i"
        )
    return int(value)


def check_resumed(recorded: dict[str, Any], dataset: str, mixture_scale: float) -> None:
    """Refuse to continue records (their summary.json) that judged G as another dataset or scale."""
    name = (recorded.get("dataset") or {}).get("name", dataset)
    scale = recorded.get("mixture_scale", 1.0)
    if name != dataset or scale != mixture_scale:
        raise ModeCollapseError(
            f"these records judged G as {name} at mixture_scale {scale:g}, not {dataset} at "
            f"{mixture_scale:g}: pass the same dataset and mixture_scale to continue them, or pick another "
            "out"
        )
