"""The scripted sets of the agreement check (README, section 4): 16 sets of 2,000 MNIST training
digits (8 real, 3 of five classes, 3 of 10 prototypes per class, 2 under pixel noise of sd 0.6),
each judged alone by the detector; the first 64 of each saved as a shuffled, renamed grid for a
blind labeller, and the truth (what was made, the detector's verdict) kept apart.

    MODECOLLAPSE_DATA=... python results/alarm-calibration/make_scripted_grids.py \\
        --grids /work/scratch/blind2 --truth /work/notes/.blind2-truth.json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.images import save_grid
from modecollapse.metrics.detector import assess
from modecollapse.metrics.samples import reference_for, score_samples


def scripted_sets(generator: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    train = load_dataset(DataConfig(name="mnist", split="train"))
    labels, sets = train.labels, []
    for _ in range(8):
        sets.append(("real", train.batch(torch.randperm(len(train), generator=generator)[:2000])))
    keep = torch.nonzero(labels < 5).flatten()
    for _ in range(3):
        sets.append(
            ("five classes", train.batch(keep[torch.randperm(len(keep), generator=generator)[:2000]]))
        )
    for i in range(3):
        protos = torch.cat([torch.nonzero(labels == c).flatten()[10 * i : 10 * i + 10] for c in range(10)])
        pick = protos[torch.randint(len(protos), (2000,), generator=generator)]
        sets.append(("within-class", train.batch(pick)))
    for _ in range(2):
        x = train.batch(torch.randperm(len(train), generator=generator)[:2000])
        sets.append(("noisy", (x + 0.6 * torch.randn(x.shape, generator=generator)).clamp(-1, 1)))
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--grids", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    reference, sets = reference_for("mnist"), scripted_sets(torch.Generator().manual_seed(7))
    order = list(range(len(sets)))
    random.Random(11).shuffle(order)
    args.grids.mkdir(parents=True, exist_ok=True)
    truth = {}
    for k, index in enumerate(order):
        made, samples = sets[index]
        record = score_samples(samples, reference).record
        verdict, found = assess({key: v for key, v in record.items() if not isinstance(v, list)})
        name = f"grid-{100 + k:03d}.png"
        save_grid(samples[:64], args.grids / name)
        truth[name] = {"made": made, "detector": verdict, "reasons": [reason.text for reason in found]}
    args.truth.write_text(json.dumps(truth, indent=1) + "\n")
    print({name: (t["made"], t["detector"]) for name, t in truth.items()})


if __name__ == "__main__":
    main()
