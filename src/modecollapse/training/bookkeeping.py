"""Run bookkeeping shared by the GAN and CycleGAN loops: set-up, summary, logs, checkpoints.

The loops (training/loop.py, training/cyclegan.py) keep what differs between them, the
steps themselves; everything a run folder needs around those steps lives here once.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from tqdm import tqdm

from modecollapse.config import Config, config_from_dict, config_to_toml
from modecollapse.errors import CheckpointError, TrainingDiverged
from modecollapse.files import atomic_write_text
from modecollapse.metrics.detector import CollapseTracker
from modecollapse.speed import SpeedPlan, plan_speed
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.logging import MetricsLog, RunFolder, provenance

if TYPE_CHECKING:
    from modecollapse.config import TrainConfig

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


def checkpoint_to_resume(run: RunFolder, config: Config, resume: bool, allow_change: bool) -> Path | None:
    """The checkpoint a resumed run starts from (None: start afresh); refuses to overwrite a
    run, or to resume with another config unless `allow_change`."""
    latest = ckpt.latest_checkpoint(run.path)
    if not resume:
        if latest is not None:
            raise CheckpointError(
                f"{run.path} already holds a run with checkpoints; resume it with "
                f"--resume {run.path}, or pick a new --out"
            )
        return None
    if latest is None:
        return None  # killed before the first checkpoint: start over in the same folder
    _, state = ckpt.load_checkpoint(latest)
    saved = config_from_dict(state["config"], source=f"{latest}")
    if saved != config and not allow_change:
        changed = _diff(saved.model_dump(), config.model_dump())
        raise CheckpointError(
            f"the config differs from the one {run.path} was trained with ({changed}); "
            "pass --allow-config-change to resume anyway"
        )
    return latest


def _diff(old: dict, new: dict, prefix: str = "") -> str:
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            inner = _diff(a, b, f"{prefix}{key}.")
            if inner:
                changes.append(inner)
        elif a != b:
            changes.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return ", ".join(changes)


def start_run(
    run: RunFolder,
    config: Config,
    step: int,
    fresh: bool,
    tracker: CollapseTracker,
    facts: dict[str, Any],
) -> tuple[MetricsLog, dict[str, Any]]:
    """Open the run's log (a fresh run also gets its folder and config.toml), replay earlier
    evaluations into the detector, and write the summary marked running with `facts`."""
    if fresh:
        run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run.config, config_to_toml(config))
    log = MetricsLog(run, step, config.train.tensorboard)
    for record in log.records("eval"):  # a resumed run's detector remembers earlier evaluations
        tracker.observe(record["epoch"], record)
    summary = {**run.read_summary(), "name": config.name, "status": "running", **facts, **provenance()}
    run.write_summary(summary)
    return log, summary


@contextlib.contextmanager
def running(
    run: RunFolder, summary: dict[str, Any], bar: tqdm, log: MetricsLog, clock: RunClock
) -> Iterator[None]:
    """Around the training steps: Ctrl-C marks the run interrupted; bar and log always close."""
    try:
        yield
    except KeyboardInterrupt:
        summary.update({"status": "interrupted", "time_s": clock.time_s()})
        run.write_summary(summary)
        raise
    finally:
        bar.close()
        log.close()


class EpochOrder:
    """Batches of indices into `size` items, in a per-epoch order that depends only on
    (seed, epoch, stream): a resumed run draws the same batches. `streams` independent orders
    (e.g. CycleGAN's two domains) share a seed through their `stream` number."""

    def __init__(self, seed: int, size: int, device: torch.device, stream: int = 0, streams: int = 1) -> None:
        self.seed, self.size, self.device = seed, size, device
        self.stream, self.streams = stream, streams
        self._epoch: int | None = None
        self._order = torch.empty(0, dtype=torch.long)

    def batch(self, epoch: int, position: int, batch_size: int) -> torch.Tensor:
        """Indices of batch number `position` of `epoch`."""
        if epoch != self._epoch:
            start = self.seed * 1_000_003 + epoch * self.streams + self.stream
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(start))
            self._epoch, self._order = epoch, order.to(self.device)
        return self._order[position * batch_size : (position + 1) * batch_size]


class RunClock:
    """Wall time of a (re)started run, split into training and the named `section`s around it
    (evaluation, samples and checkpoints, logging). Throughput counts steady training only:
    the first step after a (re)start is warm-up, and every section is left out. Seconds carry
    over from earlier sessions of the run through `previous` (summary.json's `time_s`)."""

    SECTIONS = ("evaluation", "samples_checkpoints", "logging")

    def __init__(self, step: int, previous: dict[str, float] | None = None) -> None:
        self.start_step = step
        self.start = self.steady_start = time.perf_counter()
        self.seconds = dict.fromkeys(self.SECTIONS, 0.0)
        self.steady_sections_s = 0.0
        self.previous = previous or {}

    def stepped(self, step: int) -> None:
        if step == self.start_step + 1:
            self.steady_start = time.perf_counter()
            self.steady_sections_s = 0.0

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - began
            self.seconds[name] += spent
            self.steady_sections_s += spent

    def wall_s(self) -> float:
        return round(time.perf_counter() - self.start, 2)

    def time_s(self) -> dict[str, float]:
        """Seconds per part over every session of the run: training, then each section."""
        now = time.perf_counter() - self.start
        parts = {"training": now - sum(self.seconds.values()), **self.seconds}
        return {key: round(value + self.previous.get(key, 0.0), 3) for key, value in parts.items()}

    def time_shares(self) -> dict[str, float]:
        """Share of the run's wall time per part (they add up to 1)."""
        parts = self.time_s()
        total = sum(parts.values()) or 1.0
        return {key: round(value / total, 4) for key, value in parts.items()}

    def rate(self, step: int, items_per_step: int, digits: int) -> float | None:
        """Items per second over the steady steps so far (None before any)."""
        steady_steps = max(step - self.start_step - 1, 0)
        if not steady_steps:
            return None
        seconds = time.perf_counter() - self.steady_start - self.steady_sections_s
        return round(steady_steps * items_per_step / max(seconds, 1e-9), digits)


def grad_norm(module: nn.Module) -> torch.Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads).float()


def flush(
    pending: list[torch.Tensor],
    step: int,
    steps_per_epoch: int,
    log: MetricsLog,
    bar: tqdm,
    run: RunFolder,
    summary: dict[str, Any],
    fields: tuple[str, ...],
) -> dict[str, float]:
    """Write buffered per-step numbers (one device sync) and stop on NaN/Inf."""
    if not pending:
        return {}
    rows = torch.stack(pending).cpu().tolist()
    first_step = step - len(rows) + 1
    pending.clear()
    records = []
    for offset, row in enumerate(rows):
        at = first_step + offset
        record = {"type": "train", "step": at, "epoch": round(at / steps_per_epoch, 4)}
        record.update(dict(zip(fields, row, strict=True)))
        bad = [name for name, value in zip(fields, row, strict=True) if not math.isfinite(value)]
        if bad:
            log.write(records)
            summary.update({"status": "diverged", "diverged_at_step": at})
            run.write_summary(summary)
            last = summary.get("last_checkpoint_step")
            kept = f"the last good checkpoint (step {last}) is kept" if last else "no checkpoint yet"
            raise TrainingDiverged(
                f"{', '.join(bad)} became {row[fields.index(bad[0])]} at step {at}; "
                f"training stopped and {kept} in {run.checkpoints}. "
                "Try a lower learning rate, objective.r1_gamma, or model.spectral_norm = true"
            )
        records.append(record)
    log.write(records)
    bar.update(step - bar.n)
    bar.set_postfix(d=f"{rows[-1][0]:.3f}", g=f"{rows[-1][1]:.3f}", refresh=False)
    return records[-1]


def record_evaluation(
    record: dict[str, Any], tracker: CollapseTracker, bar: tqdm, summary: dict[str, Any]
) -> None:
    """Feed an evaluation to the collapse detector, say when collapse began, keep it in the summary."""
    onset = tracker.observe(record["epoch"], record)
    if onset:
        bar.write(
            f"collapse detected: {onset['verdict']} since epoch {onset['onset_epoch']} "
            f"({'; '.join(onset['reasons'])})"
        )
    summary.update({"last_eval": record, "detector": tracker.summary()})


def save_run_checkpoint(
    run: RunFolder,
    config: Config,
    step: int,
    steps_per_epoch: int,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    summary: dict[str, Any],
    clock: RunClock,
    tensors: dict[str, torch.Tensor] | None = None,
    state: dict[str, Any] | None = None,
) -> None:
    """Check the weights are finite, then save modules, optimizers, RNG and any extra
    `tensors`/`state` atomically, and note the step and time spent in the summary."""
    assert_finite_weights(modules, step, run, summary)
    all_tensors = {
        name: v for m, module in modules.items() for name, v in ckpt.module_tensors(m, module).items()
    }
    all_tensors.update(tensors or {})
    all_tensors.update(ckpt.rng_tensors())
    all_state = {
        "step": step,
        **(state or {}),
        "epoch": step / steps_per_epoch,
        "config": config.model_dump(mode="json"),
        **provenance(),
    }
    for name, optimizer in optimizers.items():
        flat, all_state[name] = ckpt.optimizer_to_flat(name, optimizer)
        all_tensors.update(flat)
    ckpt.save_checkpoint(run.path, step, all_tensors, all_state, config.train.keep_checkpoints)
    summary.update({"step": step, "last_checkpoint_step": step, "time_s": clock.time_s()})
    run.write_summary(summary)


def assert_finite_weights(modules: dict[str, nn.Module], step: int, run: RunFolder, summary: dict) -> None:
    for name, module in modules.items():
        if not all(torch.isfinite(p).all() for p in module.parameters()):
            summary.update({"status": "diverged", "diverged_at_step": step})
            run.write_summary(summary)
            raise TrainingDiverged(
                f"the {name.replace('_', ' ')}'s weights became NaN/Inf by step {step}; "
                f"the last good checkpoint in {run.checkpoints} was kept"
            )


def finish_run(
    run: RunFolder,
    summary: dict[str, Any],
    clock: RunClock,
    step: int,
    steps_per_epoch: int,
    items_per_step: int,
    final: dict[str, float],
) -> dict[str, Any]:
    """Mark the run completed with its final numbers, time split and steady throughput
    (`images_per_second`: training items per second, evaluation and bookkeeping left out)."""
    summary.update(
        {
            "status": "completed",
            "step": step,
            "epochs": step / steps_per_epoch,
            "final": final,
            "wall_time_s": clock.wall_s(),
            "images_per_second": clock.rate(step, items_per_step, digits=1),
            "time_s": clock.time_s(),
            "time_shares": clock.time_shares(),
        }
    )
    run.write_summary(summary)
    return summary
