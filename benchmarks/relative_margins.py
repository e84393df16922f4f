"""Are the relative-onset margins above resampling noise? Real-vs-real drawdowns.

A healthy generator that does not change still scores differently at each evaluation,
because each evaluation draws new samples. The relative onset (metrics/detector.py) fires
when a metric sits below the run's best so far by its margin for `patience` evaluations;
this measures how far below its running best a stationary generator's metric falls by
resampling alone. The stand-in generator is real data: each evaluation draws 2,000 of a
pool of 5,000 (the training runs' evaluation size) and scores them against 5,000 other real
images; a run is 20 such evaluations, and we report over 20 runs the largest drawdown
(best so far - value), the largest drawdown held for 2 evaluations in a row (what
`patience` = 2 sees), and how many runs CollapseTracker dates a relative onset in (it must
be none).

--dataset fashion-mnist also runs a dropped class the raw count cannot see: 10 evaluations
of every class, then 10 without shirts (which T-shirts, pullovers and coats leak into), and
counts the runs whose relative onset is dated at the first shirtless evaluation: as the detector
reads modes (as read), and as it would read them beyond the classifier's confusions (each
evaluation's `modes` replaced by `modes_beyond_confusion` where lower, with its bootstrap sd as
its noise), the reading the absolute rule uses.

    MODECOLLAPSE_DATA=data .venv/bin/python benchmarks/relative_margins.py [--dataset fashion-mnist]

MNIST needs the official test set under $MODECOLLAPSE_DATA/mnist (README, "Data"): its pool is
test[:5000], the reference test[5000:]. Fashion-MNIST needs Debian's dataset-fashion-mnist: its
pool is training images (out of the classifier card's confusion sample), the reference
test[5000:]. Prints Markdown.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch

from modecollapse.config import DataConfig, DetectorConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.detector import CollapseTracker
from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.scores import FeatureSet, extract, score
from modecollapse.models.classifier import load_classifier

KEYS = ("modes", "modes_beyond_confusion", "recognizable_share", "diversity_ratio", "recall")
SHIRT = 6
NAMES = ("class_histogram_10pct", "recognizable_p99real", "precision_recall_k3_density_coverage_k5",
         "diversity_pairwise_near_duplicates_p99_copies_p99")  # fmt: skip
RUNS, EVALUATIONS, SAMPLES = 20, 20, 2000


def subset(features: FeatureSet, index: torch.Tensor) -> FeatureSet:
    """The rows `index` of `features`, with the card's confidence and confusion kept."""
    inked = None if features.inked is None else features.inked[index]
    return replace(features, probabilities=features.probabilities[index], features=features.features[index],
                   predictions=features.predictions[index], inked=inked, memo={})  # fmt: skip


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


def pools(dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pool images, their labels, reference images) as uint8 (N, 28, 28)."""
    if dataset == "mnist":
        test = mnist_test()
        images = test.data[:, 0].numpy()
        return images[:5000], test.labels.numpy()[:5000], images[5000:]
    train = load_dataset(DataConfig(name=dataset, split="train", download=False))
    test = load_dataset(DataConfig(name=dataset, split="test", download=False))
    return train.data[:5000, 0].numpy(), train.labels.numpy()[:5000], test.data[5000:, 0].numpy()


def evaluations(pool: FeatureSet, allowed: np.ndarray, count: int, generator: torch.Generator, reference):
    """`count` evaluations of SAMPLES drawn from the pool's rows `allowed`."""
    rows = torch.from_numpy(np.flatnonzero(allowed))
    for _ in range(count):
        drawn = rows[torch.randperm(len(rows), generator=generator)[:SAMPLES]]
        yield score(subset(pool, drawn), reference, NAMES)


def beyond_confusion(scores: dict) -> dict:
    """`scores` with the modes read replaced by those beyond the classifier's confusions where
    fewer, and their bootstrap sd as the modes' noise (metrics/noise.py reads `<metric>_sd`)."""
    beyond = scores.get("modes_beyond_confusion")
    if beyond is None or beyond >= scores["modes"]:
        return scores
    return {**scores, "modes": beyond, "modes_sd": scores["modes_beyond_confusion_sd"]}


def relative_onset(series: list[dict], beyond: bool = False) -> tuple[int | None, list[str]]:
    """(the evaluation, 0-based, CollapseTracker dates the relative onset at, or None; its
    reasons), reading the modes as read or (`beyond`) beyond the classifier's confusions."""
    tracker = CollapseTracker(DetectorConfig())
    for index, scores in enumerate(series):
        tracker.observe(index, {**(beyond_confusion(scores) if beyond else scores), "step": index})
    summary = tracker.summary()
    return summary["relative_onset_step"], summary["relative_onset_reasons"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    dataset = parser.parse_args().dataset
    images, labels, held = pools(dataset)
    classifier = load_classifier(dataset)
    pool = extract(classifier, prepare_images(images, "0-255")[0])
    reference = extract(classifier, prepare_images(held, "0-255")[0])
    generator = torch.Generator().manual_seed(0)
    every = np.ones(len(images), dtype=bool)
    runs = [list(evaluations(pool, every, EVALUATIONS, generator, reference)) for _ in range(RUNS)]
    rules = DetectorConfig()
    margins = {"modes": rules.relative_modes_drop, "modes_beyond_confusion": rules.relative_modes_drop,
               **{k: rules.relative_share_drop for k in KEYS[2:]}}  # fmt: skip
    title = f"{RUNS} runs x {EVALUATIONS} evaluations of {SAMPLES}"
    print(f"### {dataset}: real-vs-real resampling drawdowns ({title})\n")
    print("| metric | mean | sd per evaluation | largest drawdown | largest held 2 evaluations | margin |")
    print("|---|---|---|---|---|---|")
    for key in KEYS:
        if key not in runs[0][0]:
            continue
        values = np.array([[float(s[key]) for s in run] for run in runs])
        downs = [drawdowns(list(run)) for run in values]
        print(
            f"| {key} | {values.mean():.4f} | {values.std(axis=1, ddof=1).mean():.4f} "
            f"| {max(d[0] for d in downs):.4f} | {max(d[1] for d in downs):.4f} | {margins[key]} |"
        )
    false_onsets = sum(relative_onset(run)[0] is not None for run in runs)
    print(f"\nRuns with a relative onset dated (a false alarm): {false_onsets} of {RUNS}.")
    if dataset != "fashion-mnist":
        return
    half = EVALUATIONS // 2
    shirtless = labels != SHIRT
    dropped = [
        list(evaluations(pool, every, half, generator, reference))
        + list(evaluations(pool, shirtless, half, generator, reference))
        for _ in range(RUNS)
    ]
    print(f"\n### {dataset}: every class for {half} evaluations, then no shirts for {half} ({RUNS} runs)\n")
    print("| modes read | onset at the first shirtless evaluation | of which a modes drop is a reason "
          "| earlier (false) | later | none |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for beyond in (False, True):
        found = [relative_onset(run, beyond) for run in dropped]
        onsets = [onset for onset, _ in found]
        named = sum(o == half and any(r.startswith("modes") for r in why) for o, why in found)
        cells = (
            sum(o == half for o in onsets), named, sum(o is not None and o < half for o in onsets),
            sum(o is not None and o > half for o in onsets), sum(o is None for o in onsets),
        )  # fmt: skip
        name = "beyond the confusions (not the detector's)" if beyond else "as read (the detector's)"
        print(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
