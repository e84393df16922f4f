"""Metric baselines and speed: real-vs-real values, sampling floors, and scoring time.

    MODECOLLAPSE_DATA=data .venv/bin/python benchmarks/metrics_baselines.py

Needs the official MNIST test set under $MODECOLLAPSE_DATA/mnist (README, "Data"). Prints Markdown.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import torch

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics import classes
from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.samples import reference_for
from modecollapse.metrics.scores import extract, score
from modecollapse.models.classifier import load_classifier

KEYS = ("modes", "kl_uniform", "kl_prior", "classifier_score", "fcd", "precision", "recall",
        "density", "coverage", "diversity_ratio", "near_duplicate_rate")  # fmt: skip


def row(name: str, scores: dict) -> str:
    return f"| {name} | " + " | ".join(f"{scores[k]:.4g}" for k in KEYS) + " |"


def mnist_test():
    """MNIST's official test split, from $MODECOLLAPSE_DATA or the cache (never downloaded here)."""
    return load_dataset(DataConfig(name="mnist", split="test", download=False))


def main() -> None:
    test = mnist_test()
    images, labels = test.data[:, 0].numpy(), test.labels.numpy()
    classifier = load_classifier("mnist")
    test = extract(classifier, prepare_images(images)[0])
    first, last = (extract(classifier, prepare_images(part)[0]) for part in (images[:5000], images[5000:]))
    five_k = load_dataset(DataConfig(name="mnist-5k"))
    train_5k = extract(classifier, five_k.batch(torch.arange(len(five_k))))
    rng = np.random.default_rng(0)
    digit = images[labels == 7][0].astype(np.float32)
    one = extract(classifier, prepare_images(np.clip(digit + rng.normal(0, 8, (10_000, 28, 28)), 0, 255))[0])
    three = extract(classifier, prepare_images(images[np.isin(labels, [2, 5, 8])])[0])

    print("### Real-vs-real and calibration values (MNIST classifier " + classifier.sha256[:12] + ")\n")
    print("| samples vs reference | " + " | ".join(KEYS) + " |")
    print("|---" * (len(KEYS) + 1) + "|")
    print(row("MNIST test[:5000] vs test[5000:]", score(first, last)))
    print(row("mnist-5k (train digits) vs MNIST test", score(train_5k, test)))
    print(row("MNIST test vs itself", score(test, test)))
    print(row("one digit + N(0, 8/255) noise, 10k, vs test", score(one, test)))
    print(row("classes 2, 5, 8 of test vs test", score(three, test)))

    print("\n### Sampling floor of a perfect uniform generator (mean over 200 draws)\n")
    print("| modes | samples | modes covered | KL(gen \\|\\| uniform) |")
    print("|---|---|---|---|")
    generator = torch.Generator().manual_seed(0)
    for num_classes, samples in ((10, 2000), (10, 10_000), (1000, 10_000), (1000, 26_000)):
        kls, modes = [], []
        for _ in range(200):
            draws = torch.randint(num_classes, (samples,), generator=generator)
            counts = classes.class_counts(draws, num_classes)
            kls.append(classes.kl_to_reference(counts))
            modes.append(classes.modes_covered(counts, 0.0 if num_classes == 1000 else 0.1))
        print(f"| {num_classes} | {samples} | {np.mean(modes):.1f} | {np.mean(kls):.4f} |")

    print("\n### Speed: scoring 10,000 28x28 samples with every metric\n")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MODECOLLAPSE_CACHE"] = cache
        for label in ("cold (reference features computed)", "warm (reference features cached)"):
            start = time.perf_counter()
            reference = reference_for("mnist", None).real  # $MODECOLLAPSE_DATA
            fake = extract(classifier, prepare_images(images)[0])
            score(fake, reference)
            print(f"- {label}: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
