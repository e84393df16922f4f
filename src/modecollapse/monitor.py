"""A live collapse alarm for any training loop: `Monitor.update(step, G)` in the user's own loop.

    monitor = Monitor(dataset="mnist", every=500, latent_dim=100, out="runs/my-gan")
    for step in range(steps):
        ...                                   # the user's own D and G updates
        status = monitor.update(step, G, d_loss=d_loss.item(), g_loss=g_loss.item())
        if status.collapsed:
            if monitor.last_healthy_state is not None:  # None: collapsed from the start
                G.load_state_dict(monitor.last_healthy_state)
            break

Without latent_dim, z's size is read from G's first layer (models/latent.py). Every `every`
steps it samples G from one fixed latent batch and scores the samples with the metrics and
collapse detector `modecollapse train` uses (metrics/, metrics/detector.py); between
evaluations it only adds up the keyword signals. It evaluates in eval mode, without autocast,
and restores G's mode and the global RNG states, so the loop trains exactly as it would without
it. Under `out` it writes what a run folder holds for reports (metrics.jsonl, summary.json), the
last healthy weights (last-healthy.safetensors), the last evaluation's samples (samples.npy,
samples.png) and TensorBoard scalars.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save
from torch import nn

from modecollapse.config import DetectorConfig, detector_rules
from modecollapse.data import dataset_name, spec
from modecollapse.diagnosis.suggest import suggest
from modecollapse.errors import ModeCollapseError
from modecollapse.files import atomic_write_bytes
from modecollapse.generators import untouched
from modecollapse.metrics.detector import CollapseTracker
from modecollapse.metrics.evaluators import translator_scorer
from modecollapse.models.latent import Latent
from modecollapse.monitor_options import DEFAULT_SAMPLES, check_monitor_options, check_resumed, whole_step
from modecollapse.monitor_scoring import GeneratorScorer, how_g_is_read, kept_range_from, kept_range_record
from modecollapse.runfolder import MetricsLog, RunFolder
from modecollapse.speed import machine
from modecollapse.training.signals import TrainingSignals, as_scalar


@dataclass
class Status:
    """What the monitor knows after `update(step, ...)`."""

    step: int
    evaluated: bool = False
    """Whether this step was scored (else the numbers are from the last evaluation)."""
    verdict: str | None = None
    """healthy, partial collapse or collapsed, at the last evaluation (None before the first)."""
    collapsed: bool = False
    """A collapse has been confirmed: 2 non-healthy evaluations in a row after a healthy one, or,
    for a run never healthy, collapsed at 2 evaluations in a row after the start's grace."""
    onset_step: int | None = None
    """The evaluation the confirmed collapse began at."""
    from_start: bool = False
    """The collapse was there from the start (no healthy evaluation before it)."""
    relative_onset_step: int | None = None
    """A sustained fall from the run's own best (also for runs never healthy)."""
    last_healthy_step: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """How the samples were read (value range, shape, polarity) and what they were judged against
    (e.g. a fallback reference when the dataset's files are not on disk)."""
    protocol: str | None = None
    """The reference and sample count behind the scores, e.g. 'mnist-test10k/n2000'."""
    suggestions: list[str] = field(default_factory=list)
    """Measured fixes to try next for this evaluation's kinds of collapse (as diagnose gives)."""


class Monitor:
    """See the module docstring. `dataset`: what G imitates (its registry name); the latent law:
    `latent_dim` or `latent_shape`, `latent_dist` ("normal" or "uniform"), `latent_range`; or
    `sample(G, count, generator) -> samples` for generators whose input is not a plain z (for a
    translator dataset the monitor feeds G held-out inputs itself); `num_classes` (the dataset's)
    for a class-conditional G(z, label), judged class by class too; `mixture_scale` for a 2-D
    mixture at another scale (0.5: PacGAN's radius-1 ring)."""

    def __init__(
        self,
        dataset: str,
        every: int = 500,
        latent_dim: int | None = None,
        latent_shape: tuple[int, ...] | None = None,
        latent_dist: str = "normal",
        latent_range: float = 1.0,
        sample: Callable[[Any, int, torch.Generator], torch.Tensor] | None = None,
        num_samples: int = DEFAULT_SAMPLES,
        out: str | Path | None = None,
        rules: DetectorConfig | None = None,
        data_dir: str | None = None,
        resume: bool = False,
        verbose: bool = True,
        value_range: str = "auto",
        num_classes: int | None = None,
        mixture_scale: float = 1.0,
    ) -> None:
        shape = latent_shape or ((latent_dim,) if latent_dim else None)  # else read from G when seen
        self.check_options(
            dataset, every=every, latent_dist=latent_dist, num_samples=num_samples, value_range=value_range,
            num_classes=num_classes, latent_shape=shape, sample=sample, mixture_scale=mixture_scale,
        )  # fmt: skip
        dataset = dataset_name(dataset)
        self.spec = spec(dataset)
        self.kind = self.spec.kind
        self.dataset, self.every, self.num_samples = dataset, every, num_samples
        latent = Latent(tuple(shape), latent_dist, latent_range) if shape else None
        self.scorer = GeneratorScorer(
            dataset, self.kind, latent, (latent_dist, latent_range), sample, num_classes, value_range,
            num_samples, data_dir, mixture_scale,
        )  # fmt: skip
        """Scores an image or point G (its `notes` and `reference` are the last evaluation's)."""
        self._translations: Callable[[Any, Any], tuple[dict[str, Any], None]] | None = None
        self.rules, self.data_dir, self.verbose = detector_rules(rules) or DetectorConfig(), data_dir, verbose
        self.tracker = CollapseTracker(self.rules)
        self.status = Status(step=-1)
        self.last_healthy_state: dict[str, torch.Tensor] | None = None
        self.signals = TrainingSignals()
        self.resuming = out is not None and resume
        """Whether the first update still has to continue the records under `out`."""
        self.resumed_from: int | None = None
        """The first step of a resumed session (its records from there on are replaced); None
        when this session started the records."""
        self.log: MetricsLog | None = None
        self.alarmed = self.said_how = False  # the alarm, and how G is read, are printed once a session
        self.next_evaluation = 0
        """The step at or after which update() scores G next (a multiple of `every`)."""
        self.samples_step: int | None = None
        self._kept_before: dict[str, Any] | None = None
        """On resume: the value range the earlier session read from G's values (and at which step)."""
        self.out = RunFolder(out) if out is not None else None
        if self.out is not None:
            self._open(resume)

    @staticmethod
    def check_options(dataset: str, **options: Any) -> None:
        """Raise the Monitor's own error for options it would refuse, without building one (the
        latent law is checked when G is seen)."""
        known = set(inspect.signature(Monitor.__init__).parameters) - {"self"}
        check_monitor_options(dataset, known, **options)

    # --- the loop's side --------------------------------------------------------------

    def update(self, step: int, generator: Any = None, g_ba: Any = None, **signals: float) -> Status:
        """Add this step's signals; at step 0 and at the first step at or past each multiple of
        `every` (every `every` steps when the loop counts one by one), score G and judge. For a
        translator, `generator` is G_AB and `g_ba` (optional) its G_BA: the cycle is judged too."""
        step = whole_step(step)
        if step < self.status.step:  # else a batch index restarting each epoch stops all evaluations
            raise ModeCollapseError(
                f"update got step {step} after step {self.status.step}: pass a step that counts up over the "
                "whole run (e.g. epoch * len(loader) + i), not the batch index within an epoch"
            )
        if self.resuming:
            self._continue_from(step)
        self.signals.add([{key: as_scalar(key, value) for key, value in signals.items()}])
        if step < self.next_evaluation:
            self.status = replace(self.status, step=step, evaluated=False)
            return self.status
        return self.evaluate(step, generator, g_ba)

    def evaluate(self, step: int, generator: Any, g_ba: Any = None) -> Status:
        """Score `generator` (and a translator's `g_ba`) now (update does this every `every` steps)."""
        step = whole_step(step, "evaluate")
        if self.resuming:
            self._continue_from(step)
        if generator is None or not (isinstance(generator, nn.Module) or callable(generator)):
            raise ModeCollapseError(
                "update(step, G) needs the generator (an nn.Module or a callable), "
                f"got {type(generator).__name__}"
            )
        if g_ba is not None and self.kind != "translation":
            raise ModeCollapseError(f"g_ba is for translators; {self.dataset} is not a translation dataset")
        self.scorer.step = step
        with untouched(generator), untouched(g_ba):
            record, samples = self._score(generator, g_ba)
        self.next_evaluation = (step // self.every + 1) * self.every
        record.update(self.signals.means())
        record = {"type": "eval", "step": step, **record}
        onset = self.tracker.observe(step, record)
        summary = self.tracker.summary()
        healthy = summary["verdict"] == "healthy"
        if healthy and isinstance(generator, nn.Module):
            self.last_healthy_state = {
                k: v.detach().to("cpu", copy=True) for k, v in generator.state_dict().items()
            }
        last_healthy = step if healthy else self.status.last_healthy_step
        start = self.tracker.start_alarm
        self.status = Status(
            step=step,
            evaluated=True,
            verdict=summary["verdict"],
            collapsed=self.tracker.onset is not None or self.tracker.start_alarm is not None,
            onset_step=(self.tracker.onset or {}).get("onset_step", (start or {}).get("step")),
            from_start=self.tracker.onset is None and self.tracker.start_alarm is not None,
            relative_onset_step=summary["relative_onset_step"],
            last_healthy_step=last_healthy,
            scores={
                k: v for k, v in record.items() if isinstance(v, (int, float)) and k not in ("step", "epoch")
            },
            reasons=summary["reasons"],
            kinds=summary["reason_kinds"],
            notes=list(self.scorer.notes),
            protocol=record.get("protocol"),
        )
        if self.verbose and not self.said_how:
            self.said_how = True
            print(how_g_is_read(self.every, self.status.protocol, self.status.notes), flush=True)
        if not healthy:
            report = {"verdict": summary["verdict"], "kinds": summary["reason_kinds"], "scores": record}
            self.status.suggestions = suggest(report, self.dataset, rules=self.rules)
        if (onset or start is not None) and not self.alarmed:
            self.alarmed = True
            if self.verbose:
                print(f"modecollapse: {self._alarm_text(step, onset, start, last_healthy)}", flush=True)
                if self.status.suggestions:
                    print(f"  try next: {self.status.suggestions[0]} (all: status.suggestions)", flush=True)
        if self.out is not None:
            self._write(record, samples, generator if healthy else None)
        return self.status

    def _alarm_text(self, step: int, onset: dict | None, start: dict | None, last_healthy: int | None) -> str:
        if onset is None and start is not None:
            return self.tracker.start_alarm_text()
        kept = (
            f"; last healthy: step {last_healthy} (monitor.last_healthy_state)"
            if last_healthy is not None
            else ""
        )
        return (
            f"collapse detected at step {step}: {onset['verdict']} since step {onset.get('onset_step')} "
            f"({'; '.join(onset['reasons'])}){kept}"
        )

    def close(self, status: str = "completed") -> None:
        """Mark the records finished (reports take only completed runs; a crashed loop passes
        "failed", a stopped one "interrupted") and close TensorBoard."""
        if self.out is not None:
            self._summary(status)
        if self.log is not None:
            self.log.close()
            self.log = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        """Leaving the block normally completes the records; an exception marks them
        "interrupted" (Ctrl-C) or "failed", so reports do not count a cut-short loop as finished."""
        if kind is None:
            self.close()
        else:
            self.close("interrupted" if issubclass(kind, KeyboardInterrupt) else "failed")

    # --- scoring ------------------------------------------------------------------------

    def _score(self, generator: Any, g_ba: Any = None) -> tuple[dict[str, Any], np.ndarray | None]:
        if self.kind != "translation":
            return self.scorer(generator)
        if self._translations is None:  # the held-out inputs are loaded at the first evaluation
            self._translations = translator_scorer(self.dataset, self.data_dir, self.num_samples)
        return self._translations(generator, g_ba)

    # --- files ----------------------------------------------------------------------------

    def _open(self, resume: bool) -> None:
        assert self.out is not None
        metrics = self.out.metrics
        if metrics.is_file() and metrics.stat().st_size and not resume:
            raise ModeCollapseError(
                f"{self.out.path} already holds a monitor's records; pass resume=True to continue them, "
                "or pick another out"
            )
        self.out.path.mkdir(parents=True, exist_ok=True)
        if not resume:
            self.log = MetricsLog(self.out, None, tensorboard=True)
        else:
            recorded = self.out.read_summary() or {}
            check_resumed(recorded, self.dataset, self.scorer.mixture_scale)
            self._kept_before = recorded.get("value_range_kept")
        self._summary("running")

    def _continue_from(self, step: int) -> None:
        """On resume, at the first update: keep the records before `step` (a loop restarted from
        an earlier checkpoint replaces what came after), replay them into the detector, and take
        back the last healthy weights saved before `step`."""
        assert self.out is not None
        self.resuming, self.resumed_from = False, step
        self.next_evaluation = -(-step // self.every) * self.every
        self.log = MetricsLog(self.out, step, tensorboard=True)
        for record in self.log.records("eval"):
            self.tracker.observe(record["step"], record)
            if self.tracker.history[-1]["verdict"] == "healthy":
                self.status.last_healthy_step = record["step"]
        kept = kept_range_from(self._kept_before, step)  # read before the restart point: still holds
        self.scorer.kept_range = kept or self.scorer.kept_range
        weights = self.out.last_healthy_weights
        if self.status.last_healthy_step is not None and weights.is_file():
            with safe_open(str(weights), "pt") as handle:
                if int(handle.metadata().get("step", -1)) == self.status.last_healthy_step:
                    self.last_healthy_state = {key: handle.get_tensor(key) for key in handle.keys()}

    def _summary(self, status: str) -> None:
        assert self.out is not None
        kept = self.status.last_healthy_step
        weights = self.out.last_healthy_weights.name
        self.out.write_summary(
            {
                "monitor": True,
                "status": status,
                "dataset": {"name": self.dataset},
                "mixture_scale": self.scorer.mixture_scale,
                "every": self.every,
                "num_samples": self.num_samples,
                "num_classes": self.scorer.num_classes,
                "step": max(self.status.step, 0),
                "samples_step": self.samples_step,
                "verdict": self.status.verdict,
                "detector": self.tracker.summary(),
                "last_healthy": {"step": kept, "checkpoint": weights} if kept is not None else None,
                "value_range_kept": kept_range_record(self.scorer.kept_range),
                "machine": machine(),
                "reference": self.scorer.reference.label if self.scorer.reference is not None else None,
                "notes": self.scorer.notes,
            },
        )

    def _write(self, record: dict[str, Any], samples: np.ndarray | None, healthy: Any) -> None:
        assert self.out is not None and self.log is not None
        self.log.write([record])
        if isinstance(healthy, nn.Module) and self.last_healthy_state is not None:
            tensors = {k: v.contiguous() for k, v in self.last_healthy_state.items()}
            atomic_write_bytes(self.out.last_healthy_weights, save(tensors, {"step": str(record["step"])}))
        if samples is not None:
            from modecollapse.images import save_grid

            np.save(self.out.last_samples, samples)
            if samples.ndim == 4:
                save_grid(torch.from_numpy(samples[:64]).float(), self.out.last_grid)
            self.samples_step = record["step"]
        else:  # no samples (NaN outputs, a translator): the files must not pass for this step's
            self.out.last_samples.unlink(missing_ok=True)
            self.out.last_grid.unlink(missing_ok=True)
            self.samples_step = None
        self._summary("running")
