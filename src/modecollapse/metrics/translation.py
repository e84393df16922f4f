"""Did a translator keep the digit, put it where the target domain says, and stay diverse?

Every translated image is split into one region per digit slot of the target layout (the
pixels nearest to that slot's centre; the whole image when there is no layout). In each
region the digit's ink is found (grey level, or distance from the background colour for RGB
images), and measured: ink centroid and ink-box size in pixels. The digit is then cropped to
its ink box and normalised the MNIST way (longest side 20 pixels, centred in 28x28), so the
shipped MNIST classifier is valid on every domain: it grades identity, class coverage, FCD
and diversity against real target-domain digits measured the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from modecollapse.data.spatial import Layout
from modecollapse.metrics import classes, frechet
from modecollapse.metrics.scores import FeatureSet, score

INK_THRESHOLD = 0.35
"""Ink level (0..1) that counts as part of a digit's box."""
NOISE_FLOOR = 0.25
"""Ink below this level is background texture: cropped digits are (level - floor) / (1 - floor),
so a generated image's speckled background does not reach the classifier as grey noise."""
LUMA = (0.299, 0.587, 0.114)


@dataclass
class DigitMeasure:
    """One measurement per (image, slot): tensors shaped (N, slots[, ...])."""

    centroid: torch.Tensor  # (N, K, 2) pixels (x, y); NaN where the region has no ink
    box_size: torch.Tensor  # (N, K) longest side of the ink box in pixels; 0 without ink
    crops: torch.Tensor  # (N * K, 1, 28, 28) in [-1, 1], image-major


def border_median(x: torch.Tensor) -> torch.Tensor:
    """(N, C): the median of each image's border pixels, per channel (its background level)."""
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)
    return border.median(dim=-1).values


def ink(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, S, S) in [0, 1]: how far each pixel is from the image's background level.

    The background is the median of the border pixels, so light-on-dark and dark-on-light
    digits read alike; each image is scaled so its strongest ink is 1 (at least x10 less
    for flat images, whose noise must not become a digit).
    """
    x = (images.float().clamp(-1, 1) + 1) / 2
    if x.shape[1] == 3:
        x = (x * torch.tensor(LUMA, device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    background = border_median(x).view(-1, 1, 1, 1)
    level = (x - background).abs()
    return level / level.amax(dim=(2, 3), keepdim=True).clamp_min(0.1)


def slot_centres(layout: Layout | None, size: int) -> torch.Tensor:
    """(K, 2) slot centres in pixels; the image centre when there is no layout."""
    if not layout:
        return torch.tensor([[size / 2 - 0.5, size / 2 - 0.5]])
    return torch.tensor([[slot.x * size - 0.5, slot.y * size - 0.5] for slot in layout])


def measure_digits(images: torch.Tensor, layout: Layout | None) -> DigitMeasure:
    """Centroid, ink-box size and a normalised crop of each slot's digit in `images` ([-1, 1])."""
    level = ink(images).cpu()
    n, size = level.shape[0], level.shape[-1]
    centres = slot_centres(layout, size)
    ys, xs = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    nearest = (
        (xs[None] - centres[:, 0, None, None]) ** 2 + (ys[None] - centres[:, 1, None, None]) ** 2
    ).argmin(0)
    centroids, boxes, crops = [], [], []
    for k in range(len(centres)):
        region = level[:, 0] * (nearest == k)
        strong = region > INK_THRESHOLD
        weight = region * strong
        mass = weight.sum(dim=(1, 2))
        cx = (weight * xs).sum(dim=(1, 2)) / mass
        cy = (weight * ys).sum(dim=(1, 2)) / mass
        centroids.append(torch.stack([cx, cy], 1))  # NaN where mass is 0
        left, right = _extent(strong.any(1))
        top, bottom = _extent(strong.any(2))
        has_ink = mass > 0
        width = torch.where(has_ink, right - left + 1, 0.0)
        height = torch.where(has_ink, bottom - top + 1, 0.0)
        longest = torch.maximum(width, height)
        boxes.append(longest)
        # crop: the ink box's centre, longest side -> 20 of 28 pixels (MNIST's normalisation)
        centre_x = torch.where(has_ink, (left + right) / 2, centres[k, 0])
        centre_y = torch.where(has_ink, (top + bottom) / 2, centres[k, 1])
        scale = torch.where(has_ink, longest, torch.tensor(20.0)) / size * (28 / 20)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 1, 1] = scale, scale
        theta[:, 0, 2] = (2 * centre_x + 1) / size - 1
        theta[:, 1, 2] = (2 * centre_y + 1) / size - 1
        grid = F.affine_grid(theta, [n, 1, 28, 28], align_corners=False)
        cleaned = ((region - NOISE_FLOOR) / (1 - NOISE_FLOOR)).clamp_min(0)  # other slots left out
        crops.append(F.grid_sample(cleaned.unsqueeze(1), grid, align_corners=False))
    crop = torch.stack(crops, 1).reshape(n * len(centres), 1, 28, 28)
    return DigitMeasure(torch.stack(centroids, 1), torch.stack(boxes, 1), crop.clamp(0, 1) * 2 - 1)


def _extent(occupied: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last occupied index along the last axis of (N, size) flags (size, -size if none)."""
    n, size = occupied.shape
    index = torch.arange(size, dtype=torch.float32).expand(n, size)
    big = torch.tensor(float(size))
    return torch.where(occupied, index, big).amin(1), torch.where(occupied, index, -big).amax(1)


def place_and_size_errors(
    translated: DigitMeasure, truth: DigitMeasure, order: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K) centroid distance in pixels (inf where a slot has no ink) and relative ink-box size
    error against `truth` (re-paired by `order` when given)."""
    centroid, box = (
        (truth.centroid, truth.box_size) if order is None else (truth.centroid[order], truth.box_size[order])
    )
    position = torch.nan_to_num((translated.centroid - centroid).norm(dim=2), nan=float("inf"))
    return position, (translated.box_size - box).abs() / box.clamp_min(1)


def spatial_errors(
    translated: DigitMeasure, truth: DigitMeasure, position_tolerance: float, size_tolerance: float
) -> dict[str, float]:
    """Centroid error (pixels), relative ink-box size error, and the share within both tolerances."""
    position, size = place_and_size_errors(translated, truth)
    finite = position[torch.isfinite(position)]
    within = (position <= position_tolerance) & (size <= size_tolerance)
    return {
        "position_error_px": float(finite.mean()) if len(finite) else float("nan"),
        "size_error": float(size.mean()),
        "empty_slot_rate": float((~torch.isfinite(position)).float().mean()),
        "spatial_accuracy": float(within.all(dim=1).float().mean()),
    }


def translation_scores(
    translated: FeatureSet,
    source_digits: torch.Tensor,
    real_target: FeatureSet,
) -> dict[str, float]:
    """Identity kept, class coverage, FCD, diversity, ... of translated digits.

    `translated` holds the classifier's view of every (image, slot) crop, image-major;
    `source_digits` (N, K) the digits the inputs showed; `real_target` real target-domain
    crops measured the same way.
    """
    n, k = source_digits.shape
    predicted = translated.predictions.view(n, k).cpu()
    scores = score(translated, real_target)  # modes, KL, FCD, P/R, D/C, diversity, duplicates
    scores["identity_kept"] = float((predicted == source_digits.cpu()).all(dim=1).float().mean())
    scores["identity_kept_per_digit"] = float((predicted == source_digits.cpu()).float().mean())
    counts = classes.class_counts(translated.predictions, real_target.num_classes)
    scores["classes_covered"] = float((counts > 0).sum())
    return scores


def correct_translations(
    translated: DigitMeasure,
    predicted: torch.Tensor,
    digits: torch.Tensor,
    truth: DigitMeasure | None,
    position_tolerance: float,
    size_tolerance: float,
    order: torch.Tensor | None = None,
) -> torch.Tensor:
    """(N, K) flags: slot k shows the input's digit, within `position_tolerance` pixels of where
    B's layout puts it and within `size_tolerance` of its size there (`truth`: the input's own
    digits drawn in B's layout; None: class only). `order` re-pairs outputs with other inputs."""
    order = torch.arange(len(digits)) if order is None else order
    correct = predicted.cpu() == digits.cpu()[order]
    if truth is not None:
        position, size = place_and_size_errors(translated, truth, order)
        correct &= (position <= position_tolerance) & (size <= size_tolerance)
    return correct


def translation_accuracy(
    translated: DigitMeasure,
    predicted: torch.Tensor,
    digits: torch.Tensor,
    truth: DigitMeasure | None,
    position_tolerance: float,
    size_tolerance: float,
    shuffles: int = 5,
) -> dict[str, float]:
    """The joint, input-dependent headline of a translator.

    translation_accuracy: share of translations whose every digit is the input's class, in B's
    slot, at B's size (per slot: translation_accuracy_slotK). translation_chance: the same
    share with outputs re-paired to shuffled inputs (what a translator that ignores its input
    scores). translation_score = (accuracy - chance) / (1 - chance), Cohen's kappa form:
    about 1 for the perfect translator, about 0 for every translator that ignores or copies
    its input. Nulls: input copied unchanged, random real B images, a constant output.
    """
    args = (translated, predicted, digits, truth, position_tolerance, size_tolerance)
    correct = correct_translations(*args)
    generator = torch.Generator().manual_seed(0)
    orders = [torch.randperm(len(digits), generator=generator) for _ in range(shuffles)]
    chance = sum(float(correct_translations(*args, order=o).all(1).float().mean()) for o in orders) / shuffles
    accuracy = float(correct.all(1).float().mean())
    scores = {
        "translation_accuracy": accuracy,
        "translation_chance": chance,
        "translation_score": (accuracy - chance) / (1 - chance) if chance < 1 else 0.0,
    }
    if correct.shape[1] > 1:
        for k in range(correct.shape[1]):
            scores[f"translation_accuracy_slot{k}"] = float(correct[:, k].float().mean())
    return scores


def palette(images: torch.Tensor) -> torch.Tensor:
    """(N, 6) RGB in [0, 1]: each image's digit colour (mean over its ink) and background colour
    (median of its border)."""
    x = (images.float().clamp(-1, 1).cpu() + 1) / 2
    background = border_median(x)  # (N, 3)
    strong = (ink(images).cpu() > INK_THRESHOLD).float()  # (N, 1, S, S)
    foreground = (x * strong).sum(dim=(2, 3)) / strong.sum(dim=(2, 3)).clamp_min(1)
    return torch.cat([foreground, background], dim=1)


def colour_scores(translated: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """Do translations vary their colours like real B does?

    colour_diversity_ratio: mean pairwise distance between translations' palettes (digit and
    background colour) over that of real B images (real B vs real B: ~1). colour_distance:
    Fréchet distance between the two palette distributions. Nulls: a single-palette translator
    and grey digits copied from A both score a ratio near 0.
    """
    fake_palette, real_palette = palette(translated).double(), palette(real).double()
    spread = float(torch.pdist(fake_palette).mean()) / max(float(torch.pdist(real_palette).mean()), 1e-8)
    return {
        "colour_diversity_ratio": spread,
        "colour_distance": frechet.stats_to_fd(
            *frechet.features_to_stats(real_palette), *frechet.features_to_stats(fake_palette)
        ),
    }
