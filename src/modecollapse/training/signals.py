"""The training signals an evaluation record carries (`train_<name>`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class TrainingSignals:
    """The trainer's logged numbers (losses, D(x), D(G(z)), gradient norms) averaged over the
    steps since the last evaluation: each evaluation record carries them as `train_<name>`,
    the data for a collapse forecaster."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.steps = 0

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.steps += 1
            for key, value in record.items():
                if key not in ("type", "step", "epoch") and isinstance(value, (int, float)):
                    self.sums[key] = self.sums.get(key, 0.0) + value

    def means(self) -> dict[str, float]:
        """The means since the last call (and `train_steps`, how many steps they cover)."""
        means = {f"train_{key}": total / self.steps for key, total in self.sums.items()} if self.steps else {}
        means["train_steps"] = self.steps
        self.sums, self.steps = {}, 0
        return means
