"""Are the relative-onset margins above resampling noise? Real-vs-real drawdowns.

A healthy generator that does not change still scores differently at each evaluation,
because each evaluation draws new samples. The relative onset (metrics/detector.py) fires
when a metric sits below the run's best so far by its margin for `patience` evaluations;
this measures how far below its running best a stationary generator's metric falls by
resampling alone. The stand-in generator is the real MNIST test set: each evaluation draws
2,000 of test[:5000] (the training runs' evaluation size) and scores them against
test[5000:]; a run is 20 such evaluations, and we report over 20 runs the largest drawdown
(best so far - value) and the largest drawdown held for 2 evaluations in a row (what
`patience` = 2 sees).

    MODECOLLAPSE_DATA=data .venv/bin/python benchmarks/relative_margins.py

Needs the official MNIST test set under $MODECOLLAPSE_DATA/mnist (README, "Data"). Prints Markdown.
"""

from __future__ import annotations

import numpy as np
import torch

from modecollapse.config import DataConfig, DetectorConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.scores import FeatureSet, extract, score
from modecollapse.models.classifier import load_classifier

KEYS = ("modes", "recognizable_share", "diversity_ratio", "recall")
NAMES = ("class_histogram_10pct", "recognizable_p99real", "precision_recall_k3_density_coverage_k5",
         "diversity_pairwise_near_duplicates_p99_copies_p99")  # fmt: skip
RUNS, EVALUATIONS, SAMPLES = 20, 20, 2000


def subset(features: FeatureSet, index: torch.Tensor) -> FeatureSet:
    probabilities, predictions = features.probabilities[index], features.predictions[index]
    return FeatureSet(probabilities, features.features[index], predictions, features.confidence)


def drawdowns(values: list[float]) -> tuple[float, float]:
    """(largest drop below the running best, largest drop held over two consecutive evaluations)."""
    best, drops = -np.inf, []
    for value in values:
        best = max(best, value)
        drops.append(best - value)
    held = [min(a, b) for a, b in zip(drops, drops[1:], strict=False)]
    return max(drops), max(held)


def mnist_test():
    """MNIST's official test split, from $MODECOLLAPSE_DATA or the cache (never downloaded here)."""
    return load_dataset(DataConfig(name="mnist", split="test", download=False))


def main() -> None:
    images = mnist_test().data[:, 0].numpy()
    classifier = load_classifier("mnist")
    pool = extract(classifier, prepare_images(images[:5000])[0])
    reference = extract(classifier, prepare_images(images[5000:])[0])
    generator = torch.Generator().manual_seed(0)
    series: dict[str, list[list[float]]] = {key: [] for key in KEYS}
    for _ in range(RUNS):
        run: dict[str, list[float]] = {key: [] for key in KEYS}
        for _ in range(EVALUATIONS):
            drawn = subset(pool, torch.randperm(len(images[:5000]), generator=generator)[:SAMPLES])
            scores = score(drawn, reference, NAMES)
            for key in KEYS:
                run[key].append(float(scores[key]))
        for key in KEYS:
            series[key].append(run[key])
    rules = DetectorConfig()
    margins = {"modes": rules.relative_modes_drop, **{k: rules.relative_share_drop for k in KEYS[1:]}}
    print(f"### Real-vs-real resampling drawdowns ({RUNS} runs x {EVALUATIONS} evaluations of {SAMPLES})\n")
    print("| metric | mean | sd per evaluation | largest drawdown | largest held 2 evaluations | margin |")
    print("|---|---|---|---|---|---|")
    for key in KEYS:
        values = np.array(series[key])
        downs = [drawdowns(list(run)) for run in values]
        print(
            f"| {key} | {values.mean():.4f} | {values.std(axis=1, ddof=1).mean():.4f} "
            f"| {max(d[0] for d in downs):.4f} | {max(d[1] for d in downs):.4f} | {margins[key]} |"
        )


if __name__ == "__main__":
    main()
