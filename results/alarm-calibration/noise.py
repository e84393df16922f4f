"""Sampling noise of every metric a detector rule reads, by sample count: real samples judged
against the real reference, as the one scorer judges a generator's (issue 39, item 4, "noise").

Images: n real MNIST training digits (never the reference's) scored by metrics/samples.py's
reference (MNIST's test split, 10,000 images), `repeats` draws per n. Points: n points drawn
from ring8 and grid25 themselves. Each row: the metric's mean, sd and 2.5 / 97.5 % quantiles over
the draws, i.e. how far a perfect generator's score moves by chance at that count.

    MODECOLLAPSE_DATA=... python results/alarm-calibration/noise.py --out results/alarm-calibration
    MODECOLLAPSE_DATA=... python results/alarm-calibration/noise.py --per-class   # only that metric's rows
    python results/alarm-calibration/noise.py --ship src/modecollapse/assets/noise.json

`--ship` turns an existing noise.csv into the detector's shipped table (metrics/noise.py): per
data kind, metric and sample count, the sd measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.conditional import per_class_diversity
from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.mixtures import mixture_scores
from modecollapse.metrics.samples import Reference, reference_for
from modecollapse.metrics.scores import FeatureSet, extract, score

COUNTS = (500, 1000, 2000, 5000, 10000)
IMAGE_METRICS = (
    "modes", "kl_uniform", "largest_class_share", "recognizable_share", "fcd", "precision", "recall",
    "density", "coverage", "diversity_ratio", "near_duplicate_rate", "vendi_ratio",
)  # fmt: skip
POINT_METRICS = ("modes", "modes_well_formed", "high_quality", "reverse_kl", "mode_spread")


def real_pool(seed: int) -> tuple[Reference, FeatureSet, torch.Tensor]:
    """The reference, and the draws' pool: 20,000 real training digits' features and classes."""
    reference = reference_for("mnist")
    train = load_dataset(DataConfig(name="mnist", split="train"))
    pool = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:20_000]
    images = prepare_images(torch.cat([train.batch(chunk) for chunk in pool.split(1000)]), "-1-1")[0]
    return reference, extract(reference.classifier, images), train.labels[pool].cpu()


def draws_by_count(size: int, repeats: int, seed: int) -> Iterator[tuple[int, list[torch.Tensor]]]:
    """Per count n: the index sets drawn from a pool of `size` (a quarter of the repeats above 2,000)."""
    generator = torch.Generator().manual_seed(seed + 1)
    for n in COUNTS:
        times = repeats if n <= 2000 else max(repeats // 4, 10)
        yield n, [torch.randperm(size, generator=generator)[:n] for _ in range(times)]


def image_rows(repeats: int, seed: int) -> list[dict]:
    reference, features, _ = real_pool(seed)
    rows = []
    for n, picks in draws_by_count(len(features), repeats, seed):
        draws = []
        for pick in picks:
            chosen = (features.probabilities[pick], features.features[pick], features.predictions[pick])
            draws.append(score(FeatureSet(*chosen, features.confidence), reference.real))
        rows += summarise("mnist", n, draws, IMAGE_METRICS)
        print(f"mnist n={n}: {len(draws)} draws, {time.process_time():.0f} CPU-s so far", flush=True)
    return rows


def per_class_rows(repeats: int, seed: int) -> list[dict]:
    """per_class_diversity_min of real digits drawn with their true classes (a conditional G that
    is perfect): the worst class's variety against the reference's, by total sample count."""
    reference, pooled, labels = real_pool(seed)
    rows = []
    for n, picks in draws_by_count(len(labels), repeats, seed):
        draws = [
            {"per_class_diversity_min": min(per_class_diversity(
                pooled.features[pick], labels[pick], reference.real.features, reference.real_labels, 10
            ))}
            for pick in picks
        ]  # fmt: skip
        rows += summarise("mnist", n, draws, ("per_class_diversity_min",))
        print(f"per class n={n}: {len(draws)} draws, {time.process_time():.0f} CPU-s so far", flush=True)
    return rows


def merge(table: Path, rows: list[dict]) -> list[dict]:
    """noise.csv's rows with those of `rows`' metrics replaced by `rows`."""
    metrics = {row["metric"] for row in rows}
    with table.open(newline="") as handle:
        kept = [row for row in csv.DictReader(handle) if row["metric"] not in metrics]
    return kept + rows


def point_rows(repeats: int, seed: int) -> list[dict]:
    rows = []
    for name in ("ring8", "grid25"):
        for n in COUNTS:
            draws = []
            for r in range(repeats):
                mixture = load_dataset(DataConfig(name=name, num_samples=n, seed=seed + r))
                draws.append(mixture_scores(mixture.data, mixture.mode_means, mixture.mode_std))
            rows += summarise(name, n, draws, POINT_METRICS)
            print(f"{name} n={n}: {len(draws)} draws, {time.process_time():.0f} CPU-s so far", flush=True)
    return rows


def summarise(dataset: str, n: int, draws: list[dict], metrics: tuple[str, ...]) -> list[dict]:
    rows = []
    for metric in metrics:
        values = sorted(float(d[metric]) for d in draws)
        low, high = values[int(0.025 * (len(values) - 1))], values[int(round(0.975 * (len(values) - 1)))]
        spread = {"mean": statistics.fmean(values), "sd": statistics.stdev(values), "q025": low, "q975": high}
        rows.append({"dataset": dataset, "samples": n, "metric": metric, "draws": len(values), **spread})
    return rows


def ship(table: Path, asset: Path) -> None:
    """Write the detector's noise table from noise.csv: {kind: {metric: {samples: sd}}}."""
    kinds = {"mnist": "image", "ring8": "points", "grid25": "points"}
    shipped: dict[str, dict[str, dict[str, float]]] = {}
    with table.open(newline="") as handle:
        for row in csv.DictReader(handle):
            spread = shipped.setdefault(kinds[row["dataset"]], {}).setdefault(row["metric"], {})
            spread[row["samples"]] = round(max(spread.get(row["samples"], 0.0), float(row["sd"])), 6)
    note = f"from {table.as_posix()}: real data's sd by sample count (the larger of ring8's and grid25's)"
    asset.write_text(json.dumps({"source": note, "sd_by_samples": shipped}, indent=1) + "\n")
    print(f"wrote {asset}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("results/alarm-calibration"))
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ship", type=Path, help="write this noise table asset from --out's noise.csv")
    parser.add_argument("--per-class", action="store_true", help="measure only per_class_diversity_min")
    args = parser.parse_args()
    if args.ship:
        ship(args.out / "noise.csv", args.ship)
        return
    torch.set_num_threads(1)
    start = time.process_time()
    if args.per_class:
        rows = merge(args.out / "noise.csv", per_class_rows(args.repeats, args.seed))
    else:
        rows = point_rows(args.repeats, args.seed) + image_rows(args.repeats, args.seed)
    with (args.out / "noise.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out / 'noise.csv'} ({len(rows)} rows, {time.process_time() - start:.0f} CPU-seconds)")


if __name__ == "__main__":
    main()
