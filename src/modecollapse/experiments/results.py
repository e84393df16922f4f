"""A sweep's or a run's results as the report reads them: one `RunResult` per run folder."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from modecollapse.config import DetectorConfig, load_config
from modecollapse.errors import ModeCollapseError
from modecollapse.metrics.detector import detect
from modecollapse.runfolder import RunFolder
from modecollapse.sweepfolder import SweepFolder

SKIP = {"type", "step", "epoch", "num_samples", "num_classes", "classifier_sha256", "class_counts",
        "per_class_diversity"}  # fmt: skip
PLOTTED = ("modes", "modes_well_formed", "high_quality", "reverse_kl", "kl_uniform", "recognizable_share",
           "modes_recognizable", "fcd", "precision", "recall",
           "coverage", "diversity_ratio", "near_duplicate_rate",
           "translation_score", "identity_kept", "spatial_accuracy", "position_error_px", "cycle_error_a",
           "colour_diversity_ratio")  # fmt: skip


@dataclass
class RunResult:
    run_id: str
    setting_id: str
    seed: int
    folder: Path
    summary: dict[str, Any]
    """summary.json, with `status` as RunFolder.status gives it (pending, failed, ...)."""
    evals: list[dict[str, Any]]

    @property
    def state(self) -> str:
        """pending / running / completed / diverged / interrupted / failed / closed."""
        return self.summary.get("status", "pending")

    @property
    def final(self) -> dict[str, Any]:
        return self.evals[-1] if self.evals else {}

    def _recorded_rules(self) -> DetectorConfig | None:
        """The [detector] rules the run recorded: its config's, or a Monitor's summary's."""
        if self.folder is not None and RunFolder(self.folder).config.is_file():
            return load_config(RunFolder(self.folder).config).detector
        if (self.summary.get("detector") or {}).get("rules"):  # a Monitor's folder (monitor.py)
            return DetectorConfig(**self.summary["detector"]["rules"])
        return None

    @property
    def rules(self) -> DetectorConfig:
        """The run's own [detector] rules (a Monitor's from its summary; else the defaults)."""
        recorded = self._recorded_rules()
        return DetectorConfig() if recorded is None else recorded

    def rules_changed(self) -> dict[str, Any] | None:
        """The run's detector rules that differ from the defaults; None when it recorded none."""
        recorded = self._recorded_rules()
        if recorded is None:
            return None
        defaults = DetectorConfig().model_dump()
        return {k: v for k, v in recorded.model_dump().items() if defaults[k] != v}

    @cached_property
    def detector(self) -> dict[str, Any]:
        """The detector re-run over the logged evaluations with the run's own [detector] rules,
        so a report applies today's rule to every run alike (once per RunResult)."""
        return detect([(record.get("epoch"), record) for record in self.evals], self.rules)


def collect(folder: Path) -> list[RunResult]:
    folder = Path(folder)
    sweep = SweepFolder(folder)
    if sweep.is_sweep():
        closed = sweep.closed_runs()
        entries = [
            (r["id"], r["setting_id"], r["seed"], sweep.folder_of(r).path, sweep.run_status(r, closed))
            for r in sweep.entries()
        ]
    elif RunFolder(folder).config.is_file() or RunFolder(folder).is_monitor():
        entries = [(folder.name, folder.name, 0, folder, RunFolder(folder).status())]
    else:
        raise ModeCollapseError(
            f"{folder} is neither a sweep folder (index.json), a run folder (config.toml) nor a "
            "Monitor's folder (summary.json)"
        )
    return [
        RunResult(run_id, setting, seed, path, status, RunFolder(path).records("eval"))
        for run_id, setting, seed, path, status in entries
    ]


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
