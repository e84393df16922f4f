"""The run-folder format, the one place that names its files: resolved config, metrics.jsonl
(step and evaluation records), summary.json, samples, TensorBoard events, checkpoints, and what a
sweep (failure.json) or the own-loop Monitor (last-healthy.safetensors, samples.npy) adds.
Every writer and reader of run folders goes through `RunFolder`."""

from __future__ import annotations

import json
import math
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modecollapse.files import atomic_write_json, atomic_write_text

FINISHED = ("completed", "diverged")
"""A run's outcomes: it trained to its end, or its loss became NaN (never trained again)."""


class RunFolder:
    """Names of everything a run writes; one place so tools that read runs agree with it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config = self.path / "config.toml"
        self.metrics = self.path / "metrics.jsonl"
        self.summary = self.path / "summary.json"
        self.samples = self.path / "samples"
        self.tensorboard = self.path / "tensorboard"
        self.checkpoints = self.path / "checkpoints"
        self.lock = self.path / "run.lock"
        self.failure = self.path / "failure.json"
        """A sweep's record of a run that raised (experiments/executors.py)."""
        self.last_healthy_weights = self.path / "last-healthy.safetensors"
        """The Monitor's copy of G at its last healthy evaluation."""
        self.last_samples = self.path / "samples.npy"
        """The Monitor's last evaluated samples."""
        self.last_grid = self.path / "samples.png"

    def read_summary(self) -> dict[str, Any]:
        return json.loads(self.summary.read_text()) if self.summary.is_file() else {}

    def status(self) -> dict[str, Any]:
        """The summary, with `status` one of pending / running / completed / diverged /
        interrupted / failed (a sweep's failure.json, with its `error`; a completed or diverged
        summary is the run's outcome, whatever a failure.json beside it says)."""
        summary = self.read_summary()
        if self.failure.is_file() and summary.get("status") not in FINISHED:
            return {**summary, "status": "failed", "error": json.loads(self.failure.read_text())["error"]}
        return summary or {"status": "pending"}

    def records(self, kind: str) -> list[dict[str, Any]]:
        """The metrics.jsonl records of one type ("train" or "eval")."""
        return read_records(self.metrics, kind)

    def is_monitor(self) -> bool:
        """Whether this folder holds a Monitor's records (modecollapse.monitor)."""
        try:
            return bool(self.read_summary().get("monitor"))
        except (OSError, ValueError):
            return False

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_json(self.summary, summary)


def provenance() -> dict[str, Any]:
    """What produced a number: package version, git commit, Python, torch, machine."""
    return {
        "modecollapse_version": _version(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def _git(*args: str) -> str | None:
    source = Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


class MetricsLog:
    """Appends one JSON line per record and mirrors numbers to TensorBoard; the trainer and the
    Monitor both write through it.

    `keep_before`: None starts the records afresh; a step S resumes them, dropping the records
    at S and after (written before a kill, or by a loop restarted from an earlier checkpoint),
    so the log reads as if the run had never stopped.
    """

    def __init__(self, run: RunFolder, keep_before: int | None, tensorboard: bool) -> None:
        self.run = run
        run.path.mkdir(parents=True, exist_ok=True)
        if keep_before is None:
            run.metrics.unlink(missing_ok=True)
        elif run.metrics.is_file():
            kept = [
                line
                for line in run.metrics.read_text().splitlines()
                if line.strip() and _step_of(line) < keep_before
            ]
            atomic_write_text(run.metrics, "".join(line + "\n" for line in kept))
        self.handle = run.metrics.open("a")
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run.tensorboard), purge_step=keep_before)

    def records(self, kind: str) -> list[dict[str, Any]]:
        """Records of one type already in metrics.jsonl (e.g. evaluations before a resume)."""
        return read_records(self.run.metrics, kind)

    def write(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self.handle.write(json.dumps(record) + "\n")
            if self.writer is not None:
                group = record.get("type", "train")
                for key, value in record.items():
                    if key not in ("type", "step", "epoch") and _finite_number(value):
                        self.writer.add_scalar(f"{group}/{key}", value, record["step"])
        self.handle.flush()

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, image, step, dataformats="HW" if image.ndim == 2 else "HWC")

    def close(self) -> None:
        self.handle.close()
        if self.writer is not None:
            self.writer.close()


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (json.JSONDecodeError, AttributeError, ValueError):
        return 1 << 62  # a torn last line from a kill: drop it


def read_records(path: Path, kind: str) -> list[dict[str, Any]]:
    """The metrics.jsonl records of one type ("train" or "eval"); a torn last line (a kill
    while writing) is left out."""
    if not path.is_file():
        return []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines) - 1:
                raise
    return [record for record in records if record.get("type") == kind]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modecollapse")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0+unknown"
