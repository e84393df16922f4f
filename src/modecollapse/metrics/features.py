"""Which shipped classifier grades a dataset, input normalisation, and feature extraction
(the classifiers themselves, and their SHA-pinned loading, are in models/classifier.py)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from modecollapse.data import DATASETS, spec
from modecollapse.errors import ModeCollapseError
from modecollapse.models.classifier import EvalClassifier
from modecollapse.options import option
from modecollapse.speed import grading_precision

SUPPORTED_SIZES = (28, 32, 64)


def classifier_for(dataset: str) -> str:
    """Which shipped classifier judges images of `dataset` (its spec says; stacks: per channel)."""
    classifier = spec(dataset).classifier
    if classifier is None:
        graded = sorted(name for name, s in DATASETS.items() if s.classifier)
        raise ModeCollapseError(
            f"no evaluation classifier for '{dataset}'; datasets with one: {', '.join(graded)}"
        )
    return classifier


def prepare_images(
    images: np.ndarray | torch.Tensor, value_range: str = "auto"
) -> tuple[torch.Tensor, list[str]]:
    """Any of 0..255 / [0, 1] / [-1, 1] / [0, 1] normalised by a mean and std, NCHW / NHWC / NHW,
    28/32/64 px -> [-1, 1] N x C x 28 x 28.

    value_range "auto" reads the range from the values (read_value_range) and refuses values that
    fit none; pass "0-255", "0-1", "-1-1" or "MEAN,STD" when the reading could be wrong.
    """
    if not isinstance(images, torch.Tensor):
        array = np.asarray(images)
        if array.dtype.kind not in "biuf":
            raise ModeCollapseError(f"images must be numbers, got an array of dtype {array.dtype}")
        images = torch.as_tensor(array.astype(np.float32) if array.dtype.kind == "b" else array)
    if value_range == "auto" and images.dtype == torch.uint8:
        value_range = "0-255"
    x = images
    notes: list[str] = []
    if x.numel() == 0:
        raise ModeCollapseError(f"no samples: the array is empty (shape {tuple(x.shape)})")
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise ModeCollapseError(f"expected images shaped (N, H, W) or (N, C, H, W), got {tuple(x.shape)}")
    if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
        notes.append("channels-last input moved to channels-first")
    if x.shape[1] not in (1, 3) or x.shape[2] != x.shape[3] or x.shape[2] not in SUPPORTED_SIZES:
        raise ModeCollapseError(
            f"images must be 1 or 3 channels of 28x28, 32x32 or 64x64 pixels, got {tuple(x.shape[1:])}"
        )
    x = x.float()
    bad = ~torch.isfinite(x).flatten(1).all(1)
    if bad.any():
        raise ModeCollapseError(f"{int(bad.sum())} of {len(x)} samples contain NaN or infinite values")
    check_value_range(value_range)
    if value_range == "auto":
        value_range = read_value_range(x)
    else:
        _check_given_range(x, value_range)
    x, said = _to_signed_unit(x, value_range)
    notes.append(said)
    if x.shape[-1] != 28:
        notes.append(f"resized {x.shape[-1]}x{x.shape[-1]} -> 28x28 (bilinear, antialiased)")
        x = F.interpolate(x, size=28, mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(-1, 1), notes


def _to_signed_unit(x: torch.Tensor, value_range: str) -> tuple[torch.Tensor, str]:
    """Values in `value_range` rescaled to [-1, 1], and a note saying how."""
    span = f"values {float(x.min()):.3g}..{float(x.max()):.3g}"
    normalised = normalisation(value_range)
    if normalised is not None:
        mean, std = normalised
        return (x * std + mean) * 2 - 1, (
            f"{span} read as [0, 1] normalised by mean {mean:g} and std {std:g}, undone (x * std + mean) "
            "and rescaled to [-1, 1]"
        )
    if value_range == "0-255":
        return x / 127.5 - 1, f"{span} read as 0..255 and rescaled to [-1, 1]"
    if value_range == "0-1":
        return x * 2 - 1, f"{span} read as [0, 1] and rescaled to [-1, 1]"
    return x, f"{span} read as [-1, 1]"


VALUE_RANGES = ("auto", "0-255", "0-1", "-1-1")
"""The named value ranges; a range may also be "MEAN,STD": [0, 1] images normalised as
torchvision's Normalize((MEAN,), (STD,)) does."""
KNOWN_NORMALISATIONS = {"MNIST": (0.1307, 0.3081), "Fashion-MNIST": (0.2860, 0.3530)}
"""The means and stds tutorials normalise these datasets by, which "auto" recognises."""


def normalisation(value_range: str) -> tuple[float, float] | None:
    """(mean, std) of a "MEAN,STD" value range; None for a named one."""
    if value_range in VALUE_RANGES:
        return None
    try:
        mean, std = (float(part) for part in value_range.split(","))
    except (ValueError, AttributeError):
        return None
    return (mean, std) if 0 <= mean <= 1 and 0 < std <= 1 else None  # finite, and not a (low, high)


def check_value_range(value_range: Any) -> None:
    """A sentence for a value range that is neither named nor "MEAN,STD"."""
    if isinstance(value_range, str) and (value_range in VALUE_RANGES or normalisation(value_range)):
        return
    raise ModeCollapseError(
        f"{option('value_range')} must be auto, 0-255, 0-1, -1-1 or 'MEAN,STD' for [0, 1] images "
        f"normalised by them (e.g. '0.1307,0.3081', MNIST's; a mean in [0, 1] and a std in (0, 1], "
        f"not a low and high), not {value_range!r}"
    )


def _strided_values(x: torch.Tensor) -> torch.Tensor:
    """At most ~1M of the values, evenly strided, as a flat fp32 tensor (for quantiles)."""
    flat = x.detach().flatten().float()
    return flat[:: max(1, flat.numel() // 1_000_000)]


def value_percentiles(x: torch.Tensor) -> tuple[float, float]:
    """The 1st and 99th percentiles of the values (of at most ~1M of them, evenly strided)."""
    low, high = torch.quantile(_strided_values(x), torch.tensor([0.01, 0.99])).tolist()
    return low, high


def guess_value_range(x: torch.Tensor, percentiles: tuple[float, float] | None = None) -> str | None:
    """The range images' values were drawn in, from their 1st and 99th percentiles (so that a few
    stray pixels of a linear output layer do not decide it; `percentiles` when computed already):
    0..255 (no negatives, bright pixels far above 1), [0, 1], [-1, 1], or [0, 1] normalised by
    MNIST's or Fashion-MNIST's usual mean and std (the background, the 1st percentile, at -mean /
    std); None for values that fit none, such as other normalisations or values past [-1, 1]."""
    low, high = percentiles or value_percentiles(x)
    for mean, std in KNOWN_NORMALISATIONS.values():
        if 1.25 < high <= (1 - mean) / std + 0.1 and _background_at(x, -mean / std):
            return f"{mean},{std}"
    if high > 2:
        return "0-255" if low > -0.5 and 10 <= high <= 300 else None
    if low >= -0.25 and high <= 1.25:
        return "0-1"
    if low >= -1.25 and high <= 1.25:
        return "-1-1"
    return None


def _background_at(x: torch.Tensor, value: float, share: float = 0.3, reach: float = 0.1) -> bool:
    """Whether at least `share` of the values lie within `reach` of `value`, and under 0.1 % more
    than 4 reaches below it: the background of normalised digits or clothes (MNIST's: 81 % of
    pixels, Fashion-MNIST's 50 %)."""
    flat = _strided_values(x)
    near = ((flat - value).abs() <= reach).float().mean()
    return bool(near >= share) and float(torch.quantile(flat, 0.001)) >= value - 4 * reach


def read_value_range(x: torch.Tensor, percentiles: tuple[float, float] | None = None) -> str:
    """guess_value_range, or a ModeCollapseError saying what the values span and what to pass."""
    low, high = percentiles or value_percentiles(x)
    guessed = guess_value_range(x, (low, high))
    if guessed is None:
        raise ModeCollapseError(
            f"the values span {low:.3g}..{high:.3g} (1st-99th percentile; all: {float(x.min()):.3g}.."
            f"{float(x.max()):.3g}), which fits none of 0..255, [0, 1], [-1, 1] or [0, 1] normalised as "
            "the MNIST or Fashion-MNIST tutorials do: images normalised "
            "by a mean and std, scaled, or a generator that diverged. Pass the range they were meant "
            f"to be in: {option('value_range', '0-1')} (or 0-255, -1-1, or MEAN,STD for [0, 1] "
            "images normalised by them)"
        )
    return guessed


RANGE_BOUNDS = {"0-255": (0.0, 255.0), "0-1": (0.0, 1.0), "-1-1": (-1.0, 1.0)}


def range_bounds(value_range: str) -> tuple[float, float]:
    """The lowest and highest value a given range holds."""
    normalised = normalisation(value_range)
    if normalised is None:
        return RANGE_BOUNDS[value_range]
    mean, std = normalised
    return -mean / std, (1 - mean) / std


def _check_given_range(x: torch.Tensor, given: str) -> None:
    """Refuse a value range the caller gave when the values plainly lie in another one (0..255
    read as [-1, 1] is clamped to a white square; [-1, 1] read as 0..255 is black): a wrong
    option, not a collapse. Values fitting no range (a G overshooting) are left as given."""
    low, high = value_percentiles(x)
    read = guess_value_range(x, (low, high))
    if read is None or read == given or high - low < 0.5:  # a flat output is judged, not refused
        return
    bottom, top = range_bounds(given)
    margin = 0.25 * (top - bottom)
    outside = low < bottom - margin or high > top + margin
    below_black = normalisation(given) is not None and low < bottom - 0.1 * (top - bottom)  # < pixel 0
    if outside or below_black or (given == "0-255" and high <= 2):
        raise ModeCollapseError(
            f"the values span {low:.3g}..{high:.3g} (1st-99th percentile), which is not the range "
            f"given, {given}: they read as {read}; pass {option('value_range', read)}, or leave it auto"
        )


def grading_compute(precision: str | None = None) -> str:
    """The name of how grading computes (part of every feature-cache key)."""
    return f"{precision or grading_precision()}-bnfolded-channels_last-b{GRADING_BATCH}"


GRADING_BATCH = 128
"""Images per forward pass: fastest on a 2-core CPU (batches of 500-4,000 ran 1.5-3x slower)."""


def grading_network(classifier: EvalClassifier, precision: str) -> nn.Module:
    """The classifier as grading runs it: BatchNorm folded into its convolutions, channels_last,
    the convolutional part in `precision` and everything from the flattening on in fp32 (the
    features and logits keep fp32 accumulation). Built once per classifier and precision."""
    key = f"grading-{precision}"
    if key not in classifier.memo:
        layers = list(classifier.model.body)
        cut = next(i for i, layer in enumerate(layers) if isinstance(layer, nn.Flatten))
        convs: list[nn.Module] = []
        for layer in layers[:cut]:
            if isinstance(layer, nn.BatchNorm2d) and convs and isinstance(convs[-1], nn.Conv2d):
                convs[-1] = fuse_conv_bn_eval(convs[-1], layer)
            else:
                convs.append(copy.deepcopy(layer))
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        body = nn.Sequential(*convs).to(dtype=dtype, memory_format=torch.channels_last).eval()
        tail = nn.Sequential(*copy.deepcopy(layers[cut:])).float().eval()
        head = copy.deepcopy(classifier.model.head).float().eval()
        classifier.memo[key] = _GradingNetwork(body, tail, head, dtype)
    return classifier.memo[key]


class _GradingNetwork(nn.Module):
    def __init__(self, body: nn.Module, tail: nn.Module, head: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.body, self.tail, self.head, self.dtype = body, tail, head, dtype

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.to(self.dtype).contiguous(memory_format=torch.channels_last)
        features = self.tail(self.body(x).float())
        return self.head(features), features


@torch.no_grad()
def classify(
    classifier: EvalClassifier, images: torch.Tensor, precision: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities, features) of single-channel images in [-1, 1], 28x28; on the CPU.

    Autocast is off and the computation is `grading_compute(precision)` whatever the run being
    graded trained with, so a score does not depend on the training precision; the grading
    precision is the machine's (grading_precision), recorded with every run."""
    model = grading_network(classifier, precision or grading_precision())
    device = next(model.parameters()).device
    probabilities, features = [], []
    with torch.autocast(device.type, enabled=False):
        for chunk in images.split(GRADING_BATCH):
            logits, feats = model(chunk.to(device, torch.float32))
            probabilities.append(logits.float().softmax(1).cpu())
            features.append(feats.float().cpu())
    return torch.cat(probabilities), torch.cat(features)
