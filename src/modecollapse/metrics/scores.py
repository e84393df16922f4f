"""One call, many metrics: classifier features of generated and real images -> named scores.

`METRICS` is the registry: each entry's name carries its protocol (the 10% share that makes
a class a mode, k for the neighbourhood metrics, the 128-d features of the FCD, the 99th
percentile behind near-duplicates); the number of samples is the evaluator's and is logged
as `num_samples`. `score` runs them all on features computed once.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from modecollapse.data.sources import cache_root
from modecollapse.errors import ModeCollapseError, did_you_mean
from modecollapse.files import atomic_write_bytes, atomic_write_json
from modecollapse.metrics import classes, diversity, frechet, neighbors, recognizable
from modecollapse.metrics.features import classify, grading_compute
from modecollapse.models.classifier import EvalClassifier
from modecollapse.options import on_command_line


def _code_digest() -> str:
    """A digest of the code behind the remembered statistics as imported (this module, the metric
    modules it calls, torch's version): a statistics file written by other code is not read."""
    digest = hashlib.sha256(torch.__version__.encode())
    for module in (sys.modules[__name__], classes, diversity, neighbors, recognizable):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


STATISTICS_CODE = _code_digest()
"""Read when this module is imported, so that a file edited later does not stamp numbers its
imported code computed."""


@dataclass
class FeatureSet:
    """What the evaluation classifier says about a set of images, computed once."""

    probabilities: torch.Tensor  # (N, 10), or (N, 3, 10) for three-channel stacks
    features: torch.Tensor  # (N, 128), or (N, 384) for stacks (channels concatenated)
    predictions: torch.Tensor  # (N,) class, 0..9 or 0..999 for stacks
    confidence: float | None = None
    """The classifier's held-out calibrated confidence for recognizable samples (its card)."""
    inked: torch.Tensor | None = None
    """(N,) bool: which images draw something (inked, every channel of a stack); a blank image is
    never recognizable, however the classifier reads it."""
    confusion: torch.Tensor | None = None
    """(K, K) the classifier's confusion on held-out real data (its card), for single images."""
    mode_share: float | None = None
    """As a reference: a class is a covered mode with this share of a uniform class's samples (its
    dataset spec's, set by metrics/samples.real_features); without one, any sample of a
    stack's class, else 10 %."""
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Statistics derived from these features, computed once: a run's reference is graded
    against at every evaluation, and several metrics share one nearest-neighbour pass."""
    statistics_file: Path | None = field(default=None, compare=False, repr=False)
    """Where the numbers `remember` computes persist between processes (extract_cached sets it
    beside the cached features): a reference's copy threshold over 60,000 training images
    costs ~10 CPU-seconds, every diagnose call."""

    def remember(self, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()`, computed once per key for this set; numbers (and lists of them) also once
        per cached feature set, in its statistics file."""
        if key in self.memo:
            return self.memo[key]
        stored = self._stored()
        if key in stored:
            self.memo[key] = stored[key]
            return stored[key]
        value = self.memo[key] = compute()
        if self.statistics_file is not None and _plain_numbers(value):
            kept = {"code": STATISTICS_CODE, "values": {**stored, key: value}}
            atomic_write_json(self.statistics_file, kept)
        return value

    def _stored(self) -> dict[str, Any]:
        """The statistics file's numbers ({} without one, when it is unreadable, or when the code
        that computed them has changed since)."""
        if self.statistics_file is None or not self.statistics_file.is_file():
            return {}
        try:
            stored = json.loads(self.statistics_file.read_text())
        except (OSError, ValueError):
            return {}  # a damaged file is rewritten by the next number computed
        if not isinstance(stored, dict) or stored.get("code") != STATISTICS_CODE:
            return {}
        return stored.get("values") or {}

    def nearest(self, k: int) -> torch.Tensor:
        """(N, >= k) distances from each sample to its nearest other samples (computed once)."""
        table = self.memo.get("nearest")
        if table is None or table.shape[1] < k:
            table = self.memo["nearest"] = neighbors.nearest_distances(self.features, max(k, NEAREST_K))
        return table

    @property
    def num_classes(self) -> int:
        classes = self.probabilities.shape[-1]
        return classes ** self.probabilities.shape[1] if self.stacked else classes

    @property
    def stacked(self) -> bool:
        """Channels classified one by one (Stacked MNIST): probabilities (N, C, K)."""
        return self.probabilities.dim() == 3

    def __len__(self) -> int:
        return len(self.predictions)


def extract(classifier: EvalClassifier, images: torch.Tensor, precision: str | None = None) -> FeatureSet:
    """Classify images in [-1, 1] at 28x28; a 3-channel image is classified channel by channel.
    `precision`: the grading precision (default: this machine's, speed.grading_precision)."""
    confidence, ink = classifier.card.get("recognizable_confidence"), inked(images)
    if images.shape[1] == 1:
        probabilities, features = classify(classifier, images, precision)
        labels, confusion = probabilities.argmax(1), card_confusion(classifier)
        return FeatureSet(probabilities, features, labels, confidence, inked=ink, confusion=confusion)
    per_channel = [classify(classifier, images[:, c : c + 1], precision) for c in range(images.shape[1])]
    probabilities = torch.stack([p for p, _ in per_channel], dim=1)
    features = torch.cat([f for _, f in per_channel], dim=1)
    labels = classes.stacked_labels(probabilities.argmax(2))
    return FeatureSet(probabilities, features, labels, confidence, inked=ink)


def card_confusion(classifier: EvalClassifier) -> torch.Tensor | None:
    """The confusion matrix on the classifier's card (benchmarks/calibrate_classifier_cards.py)."""
    confusion = classifier.card.get("confusion")
    if confusion is None:
        return None
    matrix = torch.tensor(confusion, dtype=torch.float64)
    classes_read = classifier.card.get("num_classes", len(matrix))
    if matrix.dim() != 2 or matrix.shape != (classes_read, classes_read) or not matrix.isfinite().all():
        raise ModeCollapseError(
            f"classifier card for {classifier.dataset}: 'confusion' is not a finite square matrix"
        )
    return matrix


INK_CONTRAST = 0.5
"""How far (in [-1, 1] units, a quarter of the range) a pixel must lie from its image's
background (the median of its 2-pixel frame) to count as ink."""
INK_SHARE = 0.01
"""The share of ink pixels, per channel, below which an image is blank. Measured on the official
test splits: MNIST's digits 4.3-35 %; Fashion-MNIST's items from 0.6 %, 5 of 10,000 under 2 %."""


def frame(images: torch.Tensor) -> torch.Tensor:
    """(N, C, F) the pixels of each image's 2-pixel frame, per channel: where its background is."""
    x = images.detach().float()
    edges = (x[..., :2, :], x[..., -2:, :], x[..., 2:-2, :2], x[..., 2:-2, -2:])
    return torch.cat([edge.flatten(2) for edge in edges], dim=2)


def inked(images: torch.Tensor) -> torch.Tensor:
    """(N,) bool: images in [-1, 1] whose every channel has at least INK_SHARE ink pixels."""
    x = images.detach().float()
    background = frame(x).median(dim=2).values[..., None, None]
    share = ((x - background).abs() > INK_CONTRAST).float().flatten(2).mean(dim=2)
    return (share >= INK_SHARE).all(dim=1)


LONG_SUMMARY = 20_000
"""Images whose first, uncached reading is announced on the command line (a minute or two on a
laptop CPU: Stacked MNIST's 60,000 training stacks, for copies)."""


def _plain_numbers(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, float) for v in value)
    return isinstance(value, float)


def extract_cached(classifier: EvalClassifier, images: torch.Tensor) -> FeatureSet:
    """`extract`, cached on disk under a key that hashes the classifier and every pixel; the
    numbers derived from the features (FeatureSet.remember) are kept beside them."""
    digest = hashlib.sha256(classifier.sha256.encode())
    digest.update(grading_compute().encode())
    digest.update(str(tuple(images.shape)).encode())
    digest.update(images.detach().float().cpu().contiguous().numpy().tobytes())
    path = cache_root() / "features" / f"{digest.hexdigest()[:32]}.safetensors"
    statistics = path.with_suffix(".statistics.json")
    if path.is_file():
        try:
            stored = load_file(str(path))
            return FeatureSet(
                stored["probabilities"],
                stored["features"],
                stored["predictions"],
                classifier.card.get("recognizable_confidence"),
                inked=stored["inked"].bool(),  # an entry from before ink was stored: KeyError, recomputed
                confusion=card_confusion(classifier) if stored["probabilities"].dim() == 2 else None,
                statistics_file=statistics,
            )
        except (OSError, SafetensorError, KeyError):
            path.unlink(missing_ok=True)  # a damaged cache entry is recomputed
    statistics.unlink(missing_ok=True)  # numbers of features no longer cached
    if len(images) >= LONG_SUMMARY and on_command_line():
        print(
            f"modecollapse: reading {len(images)} real images with the {classifier.dataset} classifier once "
            "(kept in the cache for every later call)...",
            file=sys.stderr, flush=True,
        )  # fmt: skip
    result = extract(classifier, images)
    tensors = {
        "probabilities": result.probabilities,
        "features": result.features,
        "predictions": result.predictions,
        "inked": result.inked.to(torch.uint8),
    }
    atomic_write_bytes(path, save(tensors))
    result.statistics_file = statistics
    return result


def _mode_share(real: FeatureSet) -> float:
    if real.mode_share is not None:
        return real.mode_share
    return 0.0 if real.stacked else 0.1


NEAREST_K = 5
"""Nearest neighbours kept per sample: the largest k of any metric (density/coverage)."""
K_PR, K_DC = 3, 5


def _manifold_pass(fake: FeatureSet, real: FeatureSet) -> tuple[dict[str, float], torch.Tensor]:
    """The one fake x real pass: precision/recall/density/coverage and each sample's distance to
    its nearest real sample (remembered on `fake` for the metrics that share it)."""
    key = f"manifold-{id(real)}"
    return fake.remember(
        key,
        lambda: neighbors.manifold_pass(
            real.features, fake.features, K_PR, K_DC, real.nearest(K_DC), fake.nearest(K_PR)
        ),
    )


Metric = Callable[[FeatureSet, FeatureSet], dict[str, float]]
METRICS: dict[str, Metric] = {}


def metric(name: str) -> Callable[[Metric], Metric]:
    """Register a metric family under a name that carries its protocol; names are unique."""

    def register(function: Metric) -> Metric:
        if name in METRICS:
            raise ValueError(f"metric '{name}' is registered twice")
        METRICS[name] = function
        return function

    return register


@metric("class_histogram_10pct")
def _class_histogram(fake: FeatureSet, real: FeatureSet) -> dict[str, float]:
    """modes (classes with >= 10% of a uniform share; Stacked MNIST: any sample, as PacGAN),
    KL to uniform and to the real histogram, the largest class's share; for single images read by
    a classifier whose card has its confusion, modes_beyond_confusion (metrics/classes.py). Nulls
    it must fail: constant output and three classes only (tests/metrics/test_null_panel.py)."""
    num_classes = real.num_classes
    counts = classes.class_counts(fake.predictions, num_classes)
    real_counts = classes.class_counts(real.predictions, num_classes)
    result = {
        "num_samples": float(len(fake)),
        "modes": float(classes.modes_covered(counts, _mode_share(real))),
        "num_classes": float(num_classes),
        "kl_uniform": classes.kl_to_reference(counts),
        "kl_prior": classes.kl_to_reference(counts, real_counts.clamp_min(0.5)),
        "largest_class_share": float(counts.max() / counts.sum()),
    }
    if fake.confusion is not None and len(fake.confusion) == num_classes:
        share = _mode_share(real)
        confusion = fake.confusion
        result["modes_beyond_confusion"] = float(classes.modes_beyond_confusion(counts, confusion, share))
        result["modes_beyond_confusion_sd"] = classes.modes_beyond_confusion_sd(counts, confusion, share)
    return result


@metric("recognizable_p99real")
def _recognizable(fake: FeatureSet, real: FeatureSet) -> dict[str, float]:
    """recognizable_share (metrics/recognizable.py), and modes and KL to uniform of the
    recognizable samples alone, beside the all-samples figures. Nulls it must fail: pixel noise
    and smooth blobs."""
    channels = 1 if fake.probabilities.dim() == 2 else fake.probabilities.shape[1]
    reach = real.remember("reach", lambda: recognizable.reference_reach(real.features, channels))
    mask = recognizable.recognizable_mask(
        fake.probabilities, fake.features, real.probabilities, real.features, fake.confidence,
        reach=reach, nearest_real=_manifold_pass(fake, real)[1] if channels == 1 else None,
    )  # fmt: skip
    if fake.inked is not None:
        mask &= fake.inked
    counts = classes.class_counts(fake.predictions[mask], real.num_classes)
    if not mask.any():
        return {"recognizable_share": 0.0, "modes_recognizable": 0.0, "kl_uniform_recognizable": math.nan}
    return {
        "recognizable_share": float(mask.float().mean()),
        "modes_recognizable": float(classes.modes_covered(counts, _mode_share(real))),
        "kl_uniform_recognizable": classes.kl_to_reference(counts),
    }


@metric("classifier_score_10splits")
def _classifier_score(fake: FeatureSet, real: FeatureSet) -> dict[str, float]:
    """The Inception-score analogue over the classifier's probabilities (10 splits; fewer below 500
    samples, metrics/classes.py). Null it must
    fail: constant output (score 1); tests/metrics/test_classes.py."""
    if real.stacked:  # a score over the stacked classes is not defined
        return {}
    mean, std = classes.classifier_score(fake.probabilities)
    return {"classifier_score": mean, "classifier_score_std": std}


@metric("fcd_features128")
def _fcd(fake: FeatureSet, real: FeatureSet) -> dict[str, float]:
    """Fréchet distance of the classifier's 128-d features (pytorch-fid's formula). Nulls it must
    fail: constant output, pixel noise, smooth blobs."""
    return {"fcd": frechet.fcd(real.features, fake.features)}


@metric("precision_recall_k3_density_coverage_k5")
def _manifold(fake: FeatureSet, real: FeatureSet) -> dict[str, float]:
    """Precision and recall (k = 3, Kynkäänniemi et al.), density and coverage (k = 5, Naeem et
    al.; prdc is the test oracle). Nulls it must fail: pixel noise and blobs (precision), constant
    output, one image with noise and three classes (recall, coverage)."""
    return dict(_manifold_pass(fake, real)[0])


@metric("diversity_pairwise_near_duplicates_p99_copies_p99")
def _diversity(fake: FeatureSet, real: FeatureSet) -> dict[str, float]:
    """Mean pairwise feature distance over the real one's, the near-duplicate rate (pairs closer
    than real data's 1st percentile) and the copy rate (samples that close to a real one). Nulls
    they must fail: constant output and one image with noise (diversity, near-duplicates);
    memorized training images (copy rate)."""
    real_spread = real.remember("spread", lambda: diversity.mean_pairwise_distance(real.features))
    threshold = real.remember(
        f"near-duplicate-threshold-{len(fake)}",
        lambda: diversity.near_duplicate_threshold(real.features, len(fake)),
    )
    copies = real.remember("copy-threshold", lambda: diversity.copy_threshold(real.features))
    return {
        "diversity_ratio": diversity.mean_pairwise_distance(fake.features) / real_spread,
        "near_duplicate_rate": diversity.near_duplicate_rate(fake.features, threshold, fake.nearest(1)),
        "copy_rate": diversity.copy_rate(
            fake.features, real.features, threshold=copies, nearest_real=_manifold_pass(fake, real)[1]
        ),
    }


@metric("vendi_cosine_features")
def _vendi(fake: FeatureSet, real: FeatureSet) -> dict[str, float]:
    """The Vendi score of the samples and its ratio to the real reference's (same size). Nulls it
    must fail: constant output and one image with noise."""
    vendi = diversity.vendi_score(fake.features)
    real_vendi = real.remember(
        f"vendi-{len(fake)}",
        lambda: diversity.vendi_score(diversity.seeded_subset(real.features, len(fake))),
    )
    return {"vendi": vendi, "vendi_ratio": vendi / real_vendi}


def score(fake: FeatureSet, real: FeatureSet, names: Iterable[str] | None = None) -> dict[str, float]:
    """The registered image metrics (all, or `names`) of `fake` against the reference `real`."""
    scores: dict[str, float] = {}
    for name in names or METRICS:
        if name not in METRICS:
            near = did_you_mean(name, METRICS)
            hint = f" (did you mean '{near}'?)" if near else ""
            raise ModeCollapseError(f"unknown metric '{name}'{hint}; the metrics are: {', '.join(METRICS)}")
        scores.update(METRICS[name](fake, real))
    return scores
