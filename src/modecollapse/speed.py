"""How a run computes: device, precision, memory format, Adam kernel and threads, chosen in
one place from the config and the hardware, and recorded with the reason in summary.json.

`train.precision = "auto"` trains under bfloat16 autocast only where the hardware runs bf16
natively (x86 CPUs with AVX512-BF16 or AMX, ARM CPUs with BF16, CUDA GPUs of compute
capability 8.0 or newer) and only for the convolutional families; elsewhere bf16 is emulated
and slower than fp32 (measured 150x slower matmul on an AVX2-only EPYC, benchmarks/RESULTS.md).
Under autocast only convolutions and matmuls run in bf16: losses are taken in fp32, BatchNorm
keeps fp32 statistics and the optimizer fp32 state, because parameters stay fp32.
Evaluation never runs under autocast (metrics/features.py), so grading does not depend on it.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from modecollapse.devices import pick_device
from modecollapse.errors import ConfigError

if TYPE_CHECKING:
    from modecollapse.config import TrainConfig

CONV_FAMILIES = ("dcgan", "cyclegan")
# Where channels_last measured faster (fp32, 2 cores, benchmarks/RESULTS.md "Throughput on the
# AVX2-only machine"): DCGAN-28 1.2-1.4x, DCGAN-64 1.0-1.25x; CycleGAN's ResNet (reflection
# padding, InstanceNorm) slower.
CHANNELS_LAST_FAMILIES = ("dcgan",)


@dataclass(frozen=True)
class SpeedPlan:
    """What a run's training steps compute with, and why (`reasons`, one per choice)."""

    device: torch.device
    precision: str  # "fp32" or "bf16"
    memory_format: str  # "contiguous" or "channels_last"
    adam_kernel: str  # "fused", "foreach" or "for-loop"
    threads: int
    reasons: dict[str, str] = field(default_factory=dict)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context every training forward pass runs in (bf16 autocast or nothing)."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, module: nn.Module) -> nn.Module:
        """`module` on the device, in the chosen memory format (parameters stay fp32)."""
        module = module.to(self.device)
        if self.memory_format == "channels_last":
            module = module.to(memory_format=torch.channels_last)
        return module

    def adam(self, params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
        kernel = {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False}}
        return torch.optim.Adam(params, lr=lr, betas=betas, **kernel[self.adam_kernel])

    def record(self) -> dict[str, Any]:
        """The plan as summary.json keeps it."""
        return {
            "device": str(self.device),
            "precision": self.precision,
            "memory_format": self.memory_format,
            "adam": self.adam_kernel,
            "threads": self.threads,
            "reasons": self.reasons,
        }


def plan_speed(cfg: TrainConfig, family: str) -> SpeedPlan:
    """How a `family` model trains under `cfg` on this machine (threads as torch has them)."""
    device = pick_device(cfg.device)
    reasons: dict[str, str] = {}
    precision, reasons["precision"] = _precision(cfg.precision, family, device)
    memory_format, reasons["memory_format"] = _memory_format(cfg.memory_format, family)
    adam = "fused" if device.type in ("cpu", "cuda") else "foreach"
    reasons["adam"] = (
        "fused Adam: as fast or faster than the for-loop and foreach kernels on every model measured"
        if adam == "fused"
        else f"fused Adam is not offered on {device.type}"
    )
    threads = torch.get_num_threads()
    reasons["threads"] = f"train.num_threads = {cfg.num_threads}" if cfg.num_threads else "torch's default"
    return SpeedPlan(device, precision, memory_format, adam, threads, reasons)


def _precision(asked: str, family: str, device: torch.device) -> tuple[str, str]:
    native, why = native_bf16(device)
    if asked == "fp32":
        return "fp32", "train.precision = 'fp32'"
    if asked == "bf16":
        if device.type == "mps":
            raise ConfigError("train.precision = 'bf16' is not supported on Apple MPS; use 'fp32' or 'auto'")
        note = "" if native else f" (not native here: {why}; expect it to be slower than fp32)"
        return "bf16", f"train.precision = 'bf16'{note}"
    if family not in CONV_FAMILIES:
        return "fp32", (
            f"auto: fp32 for '{family}' (2-D points: bf16's 8-bit mantissa rounds coordinates near "
            "radius 2 to steps of 0.008, a third of the ring's std, and layers this small gain no speed)"
        )
    if native:
        return "bf16", f"auto: bf16 autocast ({why})"
    return "fp32", f"auto: fp32 ({why})"


def _memory_format(asked: str, family: str) -> tuple[str, str]:
    if asked != "auto":
        return asked, f"train.memory_format = '{asked}'"
    if family in CHANNELS_LAST_FAMILIES:
        return "channels_last", f"auto: channels_last for '{family}' (measured faster)"
    if family in CONV_FAMILIES:
        return "contiguous", f"auto: contiguous for '{family}' (channels_last measured slower)"
    return "contiguous", f"auto: contiguous ('{family}' has no convolutions)"


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether `device` runs bf16 matmuls natively, and the evidence."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        ok = major >= 8
        return ok, f"CUDA compute capability {major}.{minor} {'>=' if ok else '<'} 8.0"
    if device.type != "cpu":
        return False, f"no bf16 autocast on {device.type}"
    flags = cpu_flags()
    found = sorted(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    if found:
        return True, f"the CPU has {', '.join(found)}"
    if not flags:
        return False, f"CPU features of this {platform.machine()} machine are unknown"
    return False, "the CPU has no AVX512-BF16, AMX or BF16 instructions"


KERNEL_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "asimd", "bf16", "sve")
"""CPU flags that change which kernels torch runs (x86 and ARM): runs pair only where they agree."""


_pinned_grading: str | None = None


@contextlib.contextmanager
def grading_pinned(asked: str) -> Iterator[None]:
    """Grade as `asked` inside the block (a run's train.grading_precision; "auto": as before it),
    then as before it."""
    global _pinned_grading
    before = _pinned_grading
    if asked != "auto":
        _pinned_grading = asked
    try:
        yield
    finally:
        _pinned_grading = before


def grading_precision() -> str:
    """How the evaluation classifier computes: as pinned (grading_pinned), else "bf16" where
    the CPU runs bf16 natively (4-6x faster; metric values within the tolerances of
    benchmarks/RESULTS.md "Does bf16 grading change the metrics?"), else "fp32" (emulated bf16 is
    10-150x slower)."""
    if _pinned_grading:
        return _pinned_grading
    return "bf16" if native_bf16(torch.device("cpu"))[0] else "fp32"


def machine(plan: SpeedPlan | None = None) -> dict[str, Any]:
    """What computed a run, as much as changes its numbers: CPU model, the kernel-relevant
    flags, torch, threads, training and grading precision; `id` is what reports pair on."""
    cpu = cpu_model()
    flags = sorted(cpu_flags() & set(KERNEL_FLAGS))
    record: dict[str, Any] = {
        "id": f"{cpu} [{' '.join(flags) or 'no listed flags'}] torch {torch.__version__}",
        "cpu": cpu,
        "flags": flags,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "grading_precision": grading_precision(),
    }
    if plan is not None:
        record.update({"device": str(plan.device), "precision": plan.precision, "threads": plan.threads})
        if plan.device.type == "cuda":
            record["id"] += f" {torch.cuda.get_device_name(plan.device)}"
    return record


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name with x86's family/model numbers (a virtual machine often shows
    only a generic name), or what platform says."""
    fields: dict[str, str] = {}
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if not key.strip():
                break  # the first processor's block is enough
            fields.setdefault(key.strip(), " ".join(value.split()))
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine() or "unknown CPU"
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']} model {fields['model']})"
    return name


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (x86 'flags', ARM 'Features'); empty where unknown."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def default_workers(threads_per_worker: int = 1) -> int:
    """Local sweep runs at once: one per GPU-less core group of `threads_per_worker` threads
    (two 1-thread runs are as fast as one 2-thread run on 2 cores and overlap one's evaluation
    with the other's training, benchmarks/RESULTS.md "Process layout"); one at a time when a
    CUDA GPU would be shared."""
    if torch.cuda.is_available():
        return 1
    return max(1, (os.cpu_count() or 1) // threads_per_worker)
