"""Calibrate each evaluation classifier's confidence threshold for `recognizable_share` on
held-out real data, and write it into the classifier's card (the weights, and so the SHA-256,
do not change).

The threshold is the 1st percentile of the largest class probability over the official test
split, which the classifier never trained on (MNIST's classifier trained on mnist-5k only;
Fashion-MNIST's on its train split):

    MODECOLLAPSE_DATA=data .venv/bin/python benchmarks/calibrate_recognizable.py
"""

from __future__ import annotations

import json

import torch

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.features import classify
from modecollapse.metrics.recognizable import QUANTILE
from modecollapse.models.classifier import ASSETS, load_classifier


def main() -> None:
    for name in ("mnist", "fashion-mnist"):
        test = load_dataset(DataConfig(name=name, split="test", download=False))
        probabilities, _ = classify(load_classifier(name), test.batch(torch.arange(len(test))))
        threshold = float(torch.quantile(probabilities.max(1).values, QUANTILE))
        path = ASSETS / f"classifier-{name}.json"
        card = json.loads(path.read_text())
        card["recognizable_confidence"] = round(threshold, 4)
        card["recognizable_confidence_calibration"] = (
            f"{QUANTILE:.0%} quantile of the largest class probability on the {name} test split "
            f"({len(test)} images, not trained on); benchmarks/calibrate_recognizable.py"
        )
        path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"{name}: {threshold:.4f}")


if __name__ == "__main__":
    main()
