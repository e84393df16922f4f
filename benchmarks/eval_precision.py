"""Does grading in bf16 change the metrics? Every image metric under fp32 and bf16 grading, on
real digits and on the nulls a collapsed generator produces, side by side.

    .venv/bin/python benchmarks/eval_precision.py --data-dir DIR   # DIR/mnist holds MNIST's IDX files

The reference is 10,000 seeded digits of MNIST's training split, graded in the same precision as
the samples (as a run does). Sets: 2,000 real test digits; the same digits Gaussian-blurred to
half legibility; three classes only; one test digit repeated with small pixel noise; a constant
grey image; uniform pixel noise; and 10,000-stack Stacked MNIST (real stacks, and one stack
repeated). Prints Markdown: each metric's value per set in fp32, and the largest |bf16 - fp32|.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from modecollapse.data.idx import read_idx
from modecollapse.metrics.diversity import seeded_subset
from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.scores import extract, score
from modecollapse.models.classifier import load_classifier

KEYS = ("modes", "kl_uniform", "recognizable_share", "modes_recognizable", "fcd", "precision", "recall",
        "density", "coverage", "diversity_ratio", "near_duplicate_rate", "copy_rate",
        "vendi_ratio")  # fmt: skip


def load(data_dir: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(next((data_dir / "mnist").glob(f"{prefix}-images-idx3-ubyte*")))
    labels = read_idx(next((data_dir / "mnist").glob(f"{prefix}-labels-idx1-ubyte*")))
    return prepare_images(torch.as_tensor(images))[0], torch.as_tensor(labels).long()


def sample_sets(test: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    real = seeded_subset(test, 2000, seed=1)
    kernel = torch.exp(-0.5 * (torch.arange(-3, 4) / 1.2) ** 2)
    kernel = (kernel[:, None] * kernel[None, :] / kernel.sum() ** 2)[None, None]
    stacks = torch.stack([test[torch.randperm(len(test), generator=generator)[:10_000]] for _ in range(3)], 1)
    return {
        "real test digits": real,
        "blurred digits": F.conv2d(real, kernel, padding=3).clamp(-1, 1),
        "three classes": seeded_subset(test[labels < 3], 2000, seed=2),
        "one digit + noise": (test[:1] + 0.05 * torch.randn(2000, 1, 28, 28, generator=generator)).clamp(
            -1, 1
        ),
        "constant grey": torch.zeros(2000, 1, 28, 28),
        "pixel noise": torch.rand(2000, 1, 28, 28, generator=generator) * 2 - 1,
        "stacked real": stacks[:, :, 0],
        "stacked one stack": stacks[:1, :, 0].repeat(10_000, 1, 1, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    classifier = load_classifier("mnist")
    train, _ = load(args.data_dir, "train")
    test, labels = load(args.data_dir, "test")
    reference = seeded_subset(train, 10_000)
    stacked_reference = torch.cat([seeded_subset(train, 10_000, seed=s) for s in (3, 4, 5)], 1)
    values: dict[str, dict[str, dict[str, float]]] = {}
    seconds = {}
    for precision in ("fp32", "bf16"):
        refs = {
            1: extract(classifier, reference, precision),
            3: extract(classifier, stacked_reference, precision),
        }
        start = time.perf_counter()
        for name, images in sample_sets(test, labels).items():
            fake = extract(classifier, images, precision)
            values.setdefault(name, {})[precision] = score(fake, refs[images.shape[1]])
        seconds[precision] = time.perf_counter() - start
    print("| set | " + " | ".join(KEYS) + " |")
    print("|" + "---|" * (len(KEYS) + 1))
    for name, pair in values.items():
        cells = [f"{pair['fp32'].get(k, float('nan')):.4g}" for k in KEYS]
        print(f"| {name} (fp32) | " + " | ".join(cells) + " |")
        cells = [
            f"{abs(pair['bf16'].get(k, float('nan')) - pair['fp32'].get(k, float('nan'))):.2g}" for k in KEYS
        ]
        print(f"| {name}: abs(bf16 - fp32) | " + " | ".join(cells) + " |")
    print()
    print(
        f"grading and scoring all sets: fp32 {seconds['fp32']:.1f} s, bf16 {seconds['bf16']:.1f} s (1 thread)"
    )


if __name__ == "__main__":
    main()
