"""Timing shared by the throughput benchmarks: the plain reference step and our loop, alike."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from modecollapse.training.loop import train


def items_per_second(
    step: Callable[[int], None], steps: int, items_per_step: int, device: torch.device
) -> float:
    """Rate of `step(1) .. step(steps)` after one untimed warm-up call, the device synced."""
    step(0)
    _sync(device)
    start = time.perf_counter()
    for i in range(1, steps + 1):
        step(i)
    _sync(device)
    return steps * items_per_step / (time.perf_counter() - start)


def our_loop_summary(config) -> dict[str, Any]:
    """The summary of one `train` run of `config` in a throw-away folder."""
    with tempfile.TemporaryDirectory() as folder:
        return train(config, Path(folder) / "run")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
