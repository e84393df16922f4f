"""Train an evaluation classifier deterministically and write weights + a JSON card.

MNIST's classifier is trained on mnist-5k only (5,000 real digits) with random affine
augmentation, and tested on the official MNIST test set; Fashion-MNIST's on its 60k
training split, tested on its 10k test split. `guide-mnist` is the guided-latent GAN's
guide: a different network (half the width), seed and schedule from the evaluation
classifier, because a GAN must not be graded by the network it was trained against.
`grader-mnist` is the independent grader of conditional and guided runs: another
architecture (LeNet) trained on MNIST's 60k training split minus the 5,000 mnist-5k digits
(matched by pixels), so it has seen none of the digits the guide and the GANs trained on.
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm import tqdm

from modecollapse.config import DataConfig
from modecollapse.data import Dataset, load_dataset
from modecollapse.files import atomic_write_json
from modecollapse.models.classifier import FEATURE_DIM, build_network

RECIPES: dict[str, dict[str, Any]] = {
    "mnist": {
        "train": {"name": "mnist-5k"},
        "test": {"name": "mnist", "split": "test"},
        "epochs": 40, "augment": True, "lr": 2e-3, "seed": 0, "width": 32,
    },
    "guide-mnist": {
        "train": {"name": "mnist-5k"},
        "test": {"name": "mnist", "split": "test"},
        "epochs": 15, "augment": True, "lr": 3e-3, "seed": 1, "width": 16,
    },
    "grader-mnist": {
        "train": {"name": "mnist", "split": "train"}, "exclude": "mnist-5k",
        "test": {"name": "mnist", "split": "test"},
        "epochs": 6, "augment": True, "lr": 2e-3, "seed": 2, "network": "LeNet",
    },
    "fashion-mnist": {
        "train": {"name": "fashion-mnist", "split": "train"},
        "test": {"name": "fashion-mnist", "split": "test"},
        "epochs": 6, "augment": False, "lr": 2e-3, "seed": 0, "width": 32,
    },
}  # fmt: skip


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random rotation (+-12 deg), scale (0.9-1.1) and shift (+-2 px) of a batch in [-1, 1]."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(12)
    scale = 0.9 + torch.rand(n, generator=generator) * 0.2
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (2 / 14)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def without_digits(dataset: Dataset, excluded: Dataset) -> Dataset:
    """`dataset` minus every image that is pixel-for-pixel one of `excluded`'s."""
    seen = {bytes(image) for image in excluded.data.reshape(len(excluded), -1).numpy()}
    flat = dataset.data.reshape(len(dataset), -1).numpy()
    keep = torch.tensor([bytes(image) not in seen for image in flat])
    return Dataset(
        name=dataset.name,
        kind=dataset.kind,
        data=dataset.data[keep],
        labels=dataset.labels[keep],
        num_classes=dataset.num_classes,
        source=f"{dataset.source} minus {excluded.name}",
        image_size=dataset.image_size,
    )


@torch.no_grad()
def accuracy(model: torch.nn.Module, dataset: Dataset, batch: int = 1000) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(dataset), batch):
        index = torch.arange(start, min(start + batch, len(dataset)))
        logits, _ = model(dataset.batch(index))
        correct += int((logits.argmax(1) == dataset.labels[index]).sum())
    return correct / len(dataset)


def train_classifier(
    name: str, out_dir: Path, data_dir: str | None = None, epochs: int | None = None
) -> dict:
    """Train the recipe `name`; write classifier-NAME.safetensors and .json into out_dir. Over 60
    lines on purpose, so that the recipe that made a shipped classifier reads in one place."""
    recipe = RECIPES[name]
    torch.manual_seed(recipe["seed"])
    generator = torch.Generator().manual_seed(recipe["seed"])
    train_set = load_dataset(DataConfig(**recipe["train"], data_dir=data_dir))
    test_set = load_dataset(DataConfig(**recipe["test"], data_dir=data_dir))
    excluded = None
    if "exclude" in recipe:
        excluded = load_dataset(DataConfig(name=recipe["exclude"], data_dir=data_dir))
        full_size = len(train_set)
        train_set = without_digits(train_set, excluded)
    model = build_network(recipe).to(memory_format=torch.channels_last)  # a recipe reads as a card; 1.6x here
    epochs = epochs or recipe["epochs"]
    batch = 128
    steps_per_epoch = len(train_set) // batch
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, recipe["lr"], total_steps=epochs * steps_per_epoch
    )
    start = time.perf_counter()
    for _ in tqdm(range(epochs), desc=f"classifier {name}", unit="epoch"):
        model.train()
        order = torch.randperm(len(train_set), generator=generator)
        for step in range(steps_per_epoch):
            index = order[step * batch : (step + 1) * batch]
            x = train_set.batch(index)
            if recipe["augment"]:
                x = augment(x, generator)
            logits, _ = model(x)
            loss = F.cross_entropy(logits, train_set.labels[index], label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    test_accuracy = accuracy(model, test_set)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"classifier-{name}.safetensors"
    tmp = weights.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(weights)
    network = recipe.get("network", "DigitClassifier")
    lenet = network == "LeNet"
    trained_on = f"{train_set.name} ({len(train_set)} images)"
    if excluded is not None:
        trained_on = (
            f"{train_set.name} {recipe['train'].get('split', 'train')} split minus the "
            f"{len(excluded)} {excluded.name} digits, matched by pixels "
            f"({len(train_set)} of {full_size} images): none of the digits the guide and the GANs train on"
        )
    card = {
        "dataset": recipe["test"]["name"],
        "recipe": name,
        "trained_on": trained_on,
        "augmentation": "random rotation +-12 deg, scale 0.9-1.1, shift +-2 px"
        if recipe["augment"]
        else "none",
        "tested_on": f"{test_set.name} test split ({len(test_set)} images)",
        "test_accuracy": round(test_accuracy, 5),
        "epochs": epochs,
        "seed": recipe["seed"],
        "input": "1x28x28, values in [-1, 1] (x / 127.5 - 1)",
        "network": network,
        "feature_dim": 500 if lenet else FEATURE_DIM,
        "feature_layer": "penultimate ReLU (body output)",
        "architecture": "LeNet(in_channels=1, num_classes=10): Caffe's MNIST LeNet"
        if lenet
        else f"DigitClassifier(in_channels=1, num_classes=10, width={recipe['width']})",
        **({} if lenet else {"width": recipe["width"]}),
        "train_seconds": round(time.perf_counter() - start, 1),
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "command": f"modecollapse classifier train --dataset {name}",
    }
    atomic_write_json(out_dir / f"classifier-{name}.json", card)
    return card
