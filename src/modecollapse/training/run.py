"""The run skeleton every trainer shares: resume, bookkeeping after each step, finish.

A trainer (training/loop.py, training/cyclegan.py) builds its data, networks, optimizers and
objective, hands them to `Run.start` as `TrainerParts`, and then only writes its step (entered
through loop.train, which pins the run's grading precision around it):

    run = Run(config, run_dir, resume)          # refuses to overwrite; seeds; picks the speed plan
    ...build everything with run.speed...
    run.start(parts, steps_per_epoch, total_steps, facts)   # loads the checkpoint when resuming
    with run.running():
        while run.step < total_steps:
            stats = ...one step...               # a dict of 0-d tensors, logged as it is
            run.after_step(stats)                # log (NaN check), samples, evaluation, checkpoint
    return run.finish(items_per_step)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modecollapse.config import Config, TrainConfig, config_from_dict, config_to_toml, lengthens
from modecollapse.errors import TrainingDiverged
from modecollapse.files import atomic_write_text
from modecollapse.metrics.detector import CollapseTracker
from modecollapse.runfolder import MetricsLog, RunFolder, provenance
from modecollapse.speed import SpeedPlan, machine, plan_speed
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.clock import RunClock
from modecollapse.training.progress import progress_bar
from modecollapse.training.resume import checkpoint_to_resume
from modecollapse.training.signals import TrainingSignals

Callback = Callable[[int, dict[str, nn.Module]], None]
FINISHED_ONLY = (
    "final", "epochs", "wall_time_s", "images_per_second", "time_shares", "cpu_shares", "stopped_at_collapse",
    "ended_at",
)  # fmt: skip
"""Summary entries of a finished run; a resumed run drops them until it finishes again."""


@dataclass
class TrainerParts:
    """What a trainer hands the run skeleton: its networks and how to draw, score and keep them."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    save_samples: Callable[[int], None]
    evaluate: Callable[[int | float], dict[str, Any]] | None
    """Scores at an epoch (the trainer puts its networks in eval mode and back)."""
    state_tensors: Callable[[], dict[str, torch.Tensor]] = dict
    """Extra tensors a checkpoint keeps (e.g. history pools)."""
    state: Callable[[], dict[str, Any]] = dict
    """Extra JSON state a checkpoint keeps (e.g. how many real batches were drawn)."""
    load_state: Callable[[dict[str, torch.Tensor], dict[str, Any]], None] = field(
        default=lambda tensors, state: None
    )


def prepare_torch(config: Config) -> SpeedPlan:
    """Seed and threads for a run, and how it computes (device, precision, memory format)."""
    cfg = config.train
    torch.manual_seed(cfg.seed)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    return plan_speed(cfg, config.model.family)


def epoch_of(step: int, steps_per_epoch: int) -> int | float:
    """The epoch a step ends: an integer at epoch ends, else a fraction (4 decimals)."""
    whole, within = divmod(step, steps_per_epoch)
    return whole if within == 0 else round(step / steps_per_epoch, 4)


def evaluates_at(cfg: TrainConfig, step: int, steps_per_epoch: int, is_last: bool) -> bool:
    """Whether the run is scored after `step`: on the step clock (train.eval_every_steps) or
    at every eval_every_epochs-th epoch end, and always after the last step."""
    if cfg.eval_every_steps:
        return step % cfg.eval_every_steps == 0 or is_last
    epoch, within = divmod(step, steps_per_epoch)
    return (within == 0 and epoch % cfg.eval_every_epochs == 0) or is_last


def grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads).float()


class Run:
    """One training run's folder, clock, log, detector and checkpoints around a trainer's steps."""

    def __init__(
        self,
        config: Config,
        run_dir: str | Path,
        resume: bool = False,
        allow_config_change: bool = False,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.config, self.cfg = config, config.train
        self.folder = RunFolder(run_dir)
        self.checkpoint = checkpoint_to_resume(self.folder, config, resume, allow_config_change)
        self.speed = prepare_torch(config)
        self.callbacks = callbacks
        self.step = 0

    def start(
        self, parts: TrainerParts, steps_per_epoch: int, total_steps: int, facts: dict[str, Any]
    ) -> None:
        """Resume from the checkpoint if there is one (weights, optimizers, the trainer's state,
        RNG), open the log, replay earlier evaluations into the detector, mark the run running.
        Over 60 lines on purpose: what a resume restores, in the order it must, in one place."""
        self.parts, self.steps_per_epoch, self.total_steps = parts, steps_per_epoch, total_steps
        self.previous = self.folder.read_summary()
        if self.checkpoint is not None:
            _, tensors, state = self.checkpoint
            for name, module in parts.modules.items():
                ckpt.load_module(name, module, tensors)
            for name, optimizer in parts.optimizers.items():
                ckpt.optimizer_from_flat(name, optimizer, tensors, state[name])
            parts.load_state(tensors, state)
            ckpt.restore_rng(tensors)
            self.step = state["step"]
            lengthened = self._note_change(config_from_dict(state["config"]))
        else:
            lengthened = {}
            self.folder.path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.folder.config, config_to_toml(self.config))
        self.first_step = self.step
        self.tracker = CollapseTracker(self.config.detector)
        self.log = MetricsLog(self.folder, self.step + 1 if self.step else None, self.cfg.tensorboard)
        self.summary = {
            **{key: value for key, value in self.previous.items() if key not in FINISHED_ONLY},
            "name": self.config.name,
            "status": "running",
            "started_at": self.previous.get("started_at") or _now(),
            "device": str(self.speed.device),
            "speed": self.speed.record(),
            **machines(self.previous, machine(self.speed)),
            "total_steps": total_steps,
            "steps_per_epoch": steps_per_epoch,
            **facts,
            **provenance(),
            **lengthened,
        }
        replayed = self._replayed_evaluations()
        for record in replayed:
            self.tracker.observe(record["epoch"], record)
        self.signals = TrainingSignals()
        if self.step:  # the steps since the last evaluation before the kill count towards the next
            since = max((record["step"] for record in replayed), default=0)
            self.signals.add(record for record in self.log.records("train") if record["step"] > since)
        self.folder.write_summary(self.summary)
        self.clock = RunClock(
            self.step,
            self.summary.get("time_s") if self.checkpoint else None,
            self.summary.get("cpu_s") if self.checkpoint else 0.0,  # None: an older session kept none
            self.summary.get("cpu_time_s") if self.checkpoint else None,
        )
        self.bar = progress_bar(total_steps, self.step, self.cfg.progress, self.config.name)
        self.pending: list[dict[str, torch.Tensor]] = []
        self.last_logged: dict[str, Any] = {}
        confirmed = self.tracker.onset is not None or self.tracker.start_alarm is not None
        self.stopped = confirmed and self.cfg.on_collapse == "stop"
        """Set when a confirmed collapse (after a healthy evaluation, or from the start) ends the
        run (train.on_collapse = "stop"); already at the start when the evaluations replayed on
        resume confirm one (a lengthened run)."""

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around the steps: Ctrl-C marks the run interrupted; bar and log always close."""
        try:
            yield
        except KeyboardInterrupt:
            self.summary.update({"status": "interrupted", **self.clock.totals()})
            self.folder.write_summary(self.summary)
            raise
        finally:
            self.bar.close()
            self.log.close()

    def after_step(self, stats: dict[str, torch.Tensor]) -> None:
        """Count the step and do what is due: log (NaN check), samples, evaluation, checkpoint."""
        self.step += 1
        step, cfg = self.step, self.cfg
        self.clock.stepped(step)  # throughput leaves out the warm-up step
        self.pending.append(stats)
        is_last = step == self.total_steps
        if step % cfg.log_every == 0 or is_last or step % cfg.checkpoint_every == 0:
            with self.clock.section("logging"):
                self._flush()
        if step % cfg.sample_every == 0 or is_last:
            with self.clock.section("samples_checkpoints"):
                self.parts.save_samples(step)
        healthy = False
        if self.parts.evaluate is not None and evaluates_at(cfg, step, self.steps_per_epoch, is_last):
            with self.clock.section("evaluation"):
                healthy = self._evaluate(step)
        if step % cfg.checkpoint_every == 0 or is_last or healthy or self.stopped:
            with self.clock.section("samples_checkpoints"):
                saved = self._save_checkpoint()
                if healthy:
                    self._keep_healthy(step, saved)
        for callback in self.callbacks:
            callback(step, self.parts.modules)

    def finish(self, items_per_step: int) -> dict[str, Any]:
        """Mark the run completed with its final numbers, time split and steady throughput
        (`images_per_second`: training items per second, evaluation and bookkeeping left out).
        A resumed run that had nothing left to train keeps the numbers it finished with."""
        if self.step == self.first_step and self.previous.get("status") == "completed":
            self.summary = {**self.previous, "stopped_at_collapse": self.stopped}
            self.folder.write_summary(self.summary)
            return self.summary
        self.summary.update(
            {
                "status": "completed",
                "ended_at": _now(),
                "stopped_at_collapse": self.stopped,
                "step": self.step,
                "epochs": self.step / self.steps_per_epoch,
                "final": self.last_logged or self.previous.get("final", {}),
                "wall_time_s": self.clock.wall_s(),
                "images_per_second": self.clock.rate(self.step, items_per_step, digits=1),
                **self.clock.totals(),
                "time_shares": self.clock.time_shares(),
                "cpu_shares": self.clock.cpu_shares(),
            }
        )
        self.folder.write_summary(self.summary)
        return self.summary

    # --- the bookkeeping ---------------------------------------------------------------

    def _note_change(self, saved: Config) -> dict[str, Any]:
        """A resume with another config than the checkpoint's (allowed, or a lengthening):
        config.toml takes the config the run now trains with, and a lengthening is listed in
        the summary (`"lengthened"`, one entry per change of length)."""
        if saved == self.config:
            return {}
        atomic_write_text(self.folder.config, config_to_toml(self.config))
        if not lengthens(saved, self.config):
            return {}
        earlier = self.previous.get("lengthened", [])
        entry = {
            "at_step": self.step,
            "max_steps": [saved.train.max_steps, self.cfg.max_steps],
            "epochs": [saved.train.epochs, self.cfg.epochs],
        }
        return {"lengthened": earlier if entry in earlier else [*earlier, entry]}

    def _replayed_evaluations(self) -> list[dict[str, Any]]:
        """The earlier evaluations a resumed run's detector remembers: all of them, but for a
        shorter run's last one when it fell off the schedule (a lengthened run then judges the
        evaluations a run trained this long from the start makes; metrics.jsonl keeps it). The
        lengthenings come from the summary, so a lengthened run killed and resumed skips them too."""
        ends = {entry["at_step"] for entry in self.summary.get("lengthened", [])}
        return [
            record
            for record in self.log.records("eval")
            if record["step"] not in ends
            or evaluates_at(self.cfg, record["step"], self.steps_per_epoch, is_last=False)
        ]

    def _flush(self) -> None:
        """Write the buffered per-step numbers (one device sync) and stop on NaN/Inf."""
        if not self.pending:
            return
        fields = list(self.pending[0])
        table = torch.stack([torch.stack([stats[name] for name in fields]) for stats in self.pending])
        rows = table.float().cpu().tolist()
        first_step = self.step - len(rows) + 1
        self.pending.clear()
        records = []
        for offset, row in enumerate(rows):
            at = first_step + offset
            record = {"type": "train", "step": at, "epoch": round(at / self.steps_per_epoch, 4)}
            record.update(dict(zip(fields, row, strict=True)))
            bad = [name for name, value in zip(fields, row, strict=True) if not math.isfinite(value)]
            if bad:
                self.log.write(records)
                self._diverged(at)
                last = self.summary.get("last_checkpoint_step")
                kept = f"the last good checkpoint (step {last}) is kept" if last else "no checkpoint yet"
                raise TrainingDiverged(
                    f"{', '.join(bad)} became {row[fields.index(bad[0])]} at step {at}; "
                    f"training stopped and {kept} in {self.folder.checkpoints}. "
                    "Try a lower learning rate, objective.r1_gamma, or model.spectral_norm = true"
                )
            records.append(record)
        self.log.write(records)
        self.signals.add(records)
        self.bar.update(self.step - self.bar.n)
        self.last_logged = records[-1]
        self.bar.set_postfix(
            d=f"{self.last_logged.get('d_loss', math.nan):.3f}",
            g=f"{self.last_logged.get('g_loss', math.nan):.3f}",
            refresh=False,
        )

    def _evaluate(self, step: int) -> bool:
        """Score the run, feed the detector, say the moment a collapse is confirmed (and stop
        there if train.on_collapse says so); whether this evaluation was healthy."""
        epoch = epoch_of(step, self.steps_per_epoch)
        self._flush()
        record = {"type": "eval", "step": step, "epoch": epoch, **self.parts.evaluate(epoch)}
        record.update(self.signals.means())
        self.log.write([record])
        alarmed_before = self.tracker.start_alarm is not None
        onset = self.tracker.observe(record["epoch"], record)
        start = None if alarmed_before else self.tracker.start_alarm
        if onset:
            last = self.summary.get("last_healthy")
            kept = f"; last healthy: step {last['step']}, {last['checkpoint']}" if last else ""
            self.bar.write(
                f"collapse detected: {onset['verdict']} since step {onset.get('onset_step')} "
                f"(epoch {onset['onset_epoch']}) "
                f"({'; '.join(onset['reasons'])}){kept}"
            )
        elif start:
            self.bar.write(self.tracker.start_alarm_text())
        if onset or start:
            if self.cfg.on_collapse == "stop" and step < self.total_steps:
                self.stopped = True
                self.bar.write(f"stopping at step {step} (train.on_collapse = 'stop')")
        detector = self.tracker.summary()
        self.summary.update({"last_eval": record, "detector": detector})
        return detector["verdict"] == "healthy"

    def _keep_healthy(self, step: int, checkpoint: Path) -> None:
        """Copy this step's checkpoint out of the rotation as the last healthy one."""
        kept = ckpt.keep_copy(checkpoint)
        self.summary["last_healthy"] = {"step": step, "checkpoint": f"checkpoints/{kept.name}"}
        self.folder.write_summary(self.summary)

    def _save_checkpoint(self) -> Path:
        """Check the weights are finite, then save modules, optimizers, RNG and the trainer's
        state atomically, note the step and time spent in the summary; the checkpoint folder."""
        for name, module in self.parts.modules.items():
            if not all(torch.isfinite(p).all() for p in module.parameters()):
                self._diverged(self.step)
                raise TrainingDiverged(
                    f"the {name.replace('_', ' ')}'s weights became NaN/Inf by step {self.step}; "
                    f"the last good checkpoint in {self.folder.checkpoints} was kept"
                )
        tensors = {
            key: value
            for name, module in self.parts.modules.items()
            for key, value in ckpt.module_tensors(name, module).items()
        }
        tensors.update(self.parts.state_tensors())
        tensors.update(ckpt.rng_tensors())
        state = {
            "step": self.step,
            **self.parts.state(),
            "epoch": self.step / self.steps_per_epoch,
            "config": self.config.model_dump(mode="json"),
            **provenance(),
        }
        for name, optimizer in self.parts.optimizers.items():
            flat, state[name] = ckpt.optimizer_to_flat(name, optimizer)
            tensors.update(flat)
        saved = ckpt.save_checkpoint(self.folder.path, self.step, tensors, state, self.cfg.keep_checkpoints)
        self.summary.update(
            {
                "step": self.step,
                "last_checkpoint_step": self.step,
                **self.clock.totals(),
            }
        )
        self.folder.write_summary(self.summary)
        return saved

    def _diverged(self, step: int) -> None:
        self.summary.update({"status": "diverged", "diverged_at_step": step})
        self.folder.write_summary(self.summary)


def machines(previous: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """The summary's machine entries: the one training now, and every machine that trained this
    run ("machines"; a run resumed on another machine lists both, and reports pair only runs
    that trained on one machine throughout)."""
    seen = previous.get("machines") or ([previous["machine"]] if "machine" in previous else [])
    history = seen if any(m.get("id") == now["id"] for m in seen) else [*seen, now]
    return {"machine": now, "machines": history}


def _now() -> str:
    """The time now, UTC, to the second: when a run started (first session) and ended."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
