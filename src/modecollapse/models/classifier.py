"""The small CNNs shipped as fixed classifiers: DigitClassifier (evaluation classifier and guide
network) and LeNet (the independent grader of conditional runs), and the loader that refuses
weights whose SHA-256 differs from their card's."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from modecollapse.errors import ModeCollapseError

ASSETS = Path(__file__).resolve().parents[1] / "assets"

FEATURE_DIM = 128


class DigitClassifier(nn.Module):
    """28x28 inputs in [-1, 1] -> (logits over classes, 128-d penultimate features)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(True),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(True),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, FEATURE_DIM), nn.ReLU(True),
        )  # fmt: skip
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return self.head(self.dropout(features)), features


class LeNet(nn.Module):
    """The independent grader's network: LeCun's LeNet as in Caffe's MNIST example (5x5
    convolutions of 20 and 50 filters, no padding, no BatchNorm, a 500-unit hidden layer), a
    different architecture from DigitClassifier. 28x28 inputs in [-1, 1] -> (logits, features)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 20, 5), nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(50 * 4 * 4, 500), nn.ReLU(True),
        )  # fmt: skip
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(500, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return self.head(self.dropout(features)), features


def build_network(card: dict[str, Any]) -> nn.Module:
    """The untrained network a card describes (its "network", DigitClassifier by default)."""
    network = card.get("network", "DigitClassifier")
    if network == "LeNet":
        return LeNet()
    return DigitClassifier(width=card.get("width", 32))


@dataclass(frozen=True)
class EvalClassifier:
    dataset: str
    model: nn.Module
    card: dict[str, Any]
    memo: dict[str, nn.Module] = field(default_factory=dict, compare=False, repr=False)
    """Derived networks built once (metrics/features.py: the grading network)."""

    @property
    def sha256(self) -> str:
        return self.card["sha256"]


def shipped_classifiers(assets: Path = ASSETS) -> list[str]:
    """The names of the classifiers the package ships (assets/classifier-NAME.json)."""
    return sorted(p.stem.removeprefix("classifier-") for p in assets.glob("classifier-*.json"))


def load_classifier(dataset: str, assets: Path = ASSETS) -> EvalClassifier:
    """The pinned classifier for `dataset`; its weights must match the SHA-256 on its card."""
    card_path, weights_path = (
        assets / f"classifier-{dataset}.json",
        assets / f"classifier-{dataset}.safetensors",
    )
    if not card_path.is_file() or not weights_path.is_file():
        shipped = shipped_classifiers(assets)
        raise ModeCollapseError(
            f"no evaluation classifier for '{dataset}'; shipped: {', '.join(shipped) or 'none'}"
        )
    card = json.loads(card_path.read_text())
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    if digest != card["sha256"]:
        raise ModeCollapseError(
            f"{weights_path}: SHA-256 {digest} does not match its card ({card['sha256']})"
        )
    with torch.random.fork_rng(devices=[]):  # the default init drawn here must not move the caller's RNG
        model = build_network(card)
    model.load_state_dict(load_file(str(weights_path)))
    return EvalClassifier(dataset, model.eval(), card)
