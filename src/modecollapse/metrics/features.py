"""Which shipped classifier grades a dataset, input normalisation, and feature extraction
(the classifiers themselves, and their SHA-pinned loading, are in models/classifier.py)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from modecollapse.data import DATASETS, spec
from modecollapse.errors import ModeCollapseError
from modecollapse.models.classifier import EvalClassifier

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
    """Any of 0..255 / [0, 1] / [-1, 1], NCHW / NHWC / NHW, 28/32/64 px -> [-1, 1] N x C x 28 x 28.

    value_range "auto" guesses from the values (max > 1.5: 0..255; min >= 0: [0, 1]; else
    [-1, 1]); pass "0-255", "0-1" or "-1-1" when the guess could be wrong.
    """
    if not isinstance(images, torch.Tensor):
        array = np.asarray(images)
        if array.dtype.kind not in "biuf":
            raise ModeCollapseError(f"images must be numbers, got an array of dtype {array.dtype}")
        images = torch.as_tensor(array.astype(np.float32) if array.dtype.kind == "b" else array)
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
    low, high = float(x.min()), float(x.max())
    if value_range not in ("auto", "0-255", "0-1", "-1-1"):
        raise ModeCollapseError(f"value range must be auto, 0-255, 0-1 or -1-1, not '{value_range}'")
    if value_range == "auto":
        value_range = "0-255" if high > 1.5 else "0-1" if low >= -0.01 else "-1-1"
    if value_range == "0-255":
        x = x / 127.5 - 1
        notes.append(f"values {low:.3g}..{high:.3g} read as 0..255 and rescaled to [-1, 1]")
    elif value_range == "0-1":
        x = x * 2 - 1
        notes.append(f"values {low:.3g}..{high:.3g} read as [0, 1] and rescaled to [-1, 1]")
    else:
        notes.append(f"values {low:.3g}..{high:.3g} read as [-1, 1]")
    if x.shape[-1] != 28:
        notes.append(f"resized {x.shape[-1]}x{x.shape[-1]} -> 28x28 (bilinear, antialiased)")
        x = F.interpolate(x, size=28, mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(-1, 1), notes


# How grading computes, whatever the run being graded trained with: fp32, no autocast, and
# channels_last (1.6x faster than contiguous for this CNN on a CPU; part of the cache key).
GRADING_COMPUTE = "fp32-channels_last"


@torch.no_grad()
def classify(
    classifier: EvalClassifier, images: torch.Tensor, batch: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities, features) of single-channel images in [-1, 1], 28x28; on the CPU.

    Always fp32 with autocast off (GRADING_COMPUTE), so a score does not depend on the
    precision or memory format of the run it grades."""
    model = classifier.model.to(memory_format=torch.channels_last)
    device = next(model.parameters()).device
    probabilities, features = [], []
    with torch.autocast(device.type, enabled=False):
        for chunk in images.split(batch):
            chunk = chunk.to(device, torch.float32).contiguous(memory_format=torch.channels_last)
            logits, feats = model(chunk)
            probabilities.append(logits.float().softmax(1).cpu())
            features.append(feats.float().cpu())
    return torch.cat(probabilities), torch.cat(features)
