"""The training signals an evaluation record carries (`train_<name>`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from modecollapse.errors import ModeCollapseError


class TrainingSignals:
    """The logged numbers of a training loop (losses, D(x), D(G(z)), gradient norms) averaged
    since the last evaluation: each evaluation record carries them as `train_<name>`, the data
    for a collapse forecaster. The trainer and the Monitor both keep them here. A number that
    comes only on some steps is averaged over the steps that gave it."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.steps = 0

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """One record per step (the step's numbers by name; `type`, `step`, `epoch` are skipped)."""
        for record in records:
            self.steps += 1
            for key, value in record.items():
                if key not in ("type", "step", "epoch") and isinstance(value, (int, float)):
                    self.sums[key] = self.sums.get(key, 0.0) + value
                    self.counts[key] = self.counts.get(key, 0) + 1

    def means(self) -> dict[str, float]:
        """The means since the last call (and `train_steps`, how many steps they cover)."""
        means = {f"train_{key}": total / self.counts[key] for key, total in self.sums.items()}
        means["train_steps"] = self.steps
        self.sums, self.counts, self.steps = {}, {}, 0
        return means


def as_scalar(key: str, value: Any) -> float:
    """A signal as a float: a number, or a tensor or array of one element."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value)
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value)
    raise ModeCollapseError(
        f"signal {key}={_describe(value)}: signals are single numbers, e.g. {key}=loss.item() "
        "(a per-sample loss: pass its mean)"
    )


def _describe(value: Any) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"a {type(value).__name__} of shape {tuple(value.shape)}"
    return repr(value) if value is None else f"a {type(value).__name__}"
