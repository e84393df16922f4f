"""Calibrate each evaluation classifier on held-out real data and write the results into its card
(the weights, and so the SHA-256, do not change):

- `recognizable_confidence`: the 1st percentile of the largest class probability, the
  confidence threshold of `recognizable_share` (metrics/recognizable.py);
- `confusion`: how often a real image of each class (rows) is read as each class (columns),
  which `modes_beyond_confusion` discounts (metrics/classes.py).

Both are measured in fp32 (any machine computes the same) on the official test split, which the
classifier never trained on (MNIST's classifier trained on mnist-5k only; Fashion-MNIST's on its
train split):

    MODECOLLAPSE_DATA=data .venv/bin/python benchmarks/calibrate_classifier_cards.py
"""

from __future__ import annotations

import json

import torch

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.features import classify
from modecollapse.metrics.recognizable import QUANTILE
from modecollapse.models.classifier import ASSETS, load_classifier


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, classes: int) -> list[list[float]]:
    """Row-normalised: row i holds the shares of class i's images read as each class."""
    counts = torch.zeros(classes, classes, dtype=torch.float64)
    counts.index_put_(
        (labels.long(), predictions.long()), torch.ones(len(labels), dtype=torch.float64), accumulate=True
    )
    return (counts / counts.sum(1, keepdim=True)).round(decimals=4).tolist()


def main() -> None:
    for name in ("mnist", "fashion-mnist"):
        test = load_dataset(DataConfig(name=name, split="test", download=False))
        probabilities, _ = classify(load_classifier(name), test.batch(torch.arange(len(test))), "fp32")
        threshold = float(torch.quantile(probabilities.max(1).values, QUANTILE))
        path = ASSETS / f"classifier-{name}.json"
        card = json.loads(path.read_text())
        held_out = f"the {name} test split ({len(test)} images, not trained on)"
        card["recognizable_confidence"] = round(threshold, 4)
        card["recognizable_confidence_calibration"] = (
            f"{QUANTILE:.0%} quantile of the largest class probability on {held_out}; "
            "benchmarks/calibrate_classifier_cards.py"
        )
        card["confusion"] = confusion_matrix(test.labels, probabilities.argmax(1), probabilities.shape[1])
        card["confusion_calibration"] = (
            f"rows: true class, columns: the class read, shares of each row, on {held_out}; "
            "benchmarks/calibrate_classifier_cards.py"
        )
        path.write_text(json.dumps(card, indent=2) + "\n")
        accuracy = sum(card["confusion"][i][i] for i in range(len(card["confusion"]))) / len(
            card["confusion"]
        )
        print(f"{name}: confidence {threshold:.4f}, mean class accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
