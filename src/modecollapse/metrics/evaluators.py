"""Per-epoch evaluation plugged into the training loop: `Evaluator(generator, epoch) -> scores`.

Only the 2-D mixture scores exist so far; image metrics plug in here once the shipped
evaluation classifiers exist.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from modecollapse.data.datasets import Dataset
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES, mixture_scores

Evaluator = Callable[[nn.Module, int], dict[str, float]]
EVAL_SEED = 20_170_101  # evaluation draws from its own generator, never the training RNG


def default_evaluator(dataset: Dataset, latent_dim: int, device: torch.device) -> Evaluator | None:
    if dataset.kind == "points" and dataset.mode_means is not None:
        means, std = dataset.mode_means, dataset.mode_std
        latent = torch.randn(
            PROTOCOL_SAMPLES, latent_dim, generator=torch.Generator().manual_seed(EVAL_SEED)
        ).to(device)

        @torch.no_grad()
        def evaluate(generator: nn.Module, epoch: int) -> dict[str, float]:
            return mixture_scores(generator(latent).float(), means, std)

        return evaluate
    return None
