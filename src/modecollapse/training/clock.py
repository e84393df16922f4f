"""One clock for every trainer: wall time split into training and bookkeeping sections."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any


class RunClock:
    """Wall time of a (re)started run, split into training and the named `section`s around it
    (evaluation, samples and checkpoints, logging). Throughput counts steady training only:
    the first step after a (re)start is warm-up, and every section is left out. Seconds carry
    over from earlier sessions of the run through `previous` (summary.json's `time_s`) and
    `previous_cpu_s` (its `cpu_s`: the process's CPU time, every thread, from the start of
    training; a pause does not add to it and other processes far less than to wall time; set-up
    before training and work lost to a kill after the last checkpoint are not in it; None: an
    earlier session did not record it, so the total is unknown). The same CPU time is split
    into training and the sections (`cpu_time_s`, carried over through `previous_cpu_parts`), so
    a share of it is not moved by a pause or by another process on the cores."""

    SECTIONS = ("evaluation", "samples_checkpoints", "logging")

    def __init__(
        self,
        step: int,
        previous: dict[str, float] | None = None,
        previous_cpu_s: float | None = 0.0,
        previous_cpu_parts: dict[str, float] | None = None,
    ) -> None:
        self.start_step = step
        self.start = self.steady_start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.previous_cpu_s = previous_cpu_s
        self.seconds = dict.fromkeys(self.SECTIONS, 0.0)
        self.cpu_seconds = dict.fromkeys(self.SECTIONS, 0.0)
        # a fresh run starts its CPU split at zero; a resumed one (earlier sessions' `previous`)
        # whose sessions kept none has an unknown split (None)
        resumed = bool(previous)
        self.previous_cpu_parts = previous_cpu_parts if resumed else {}
        self.steady_sections_s = 0.0
        self.previous = previous or {}

    def stepped(self, step: int) -> None:
        if step == self.start_step + 1:
            self.steady_start = time.perf_counter()
            self.steady_sections_s = 0.0

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        began, cpu_began = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            spent = time.perf_counter() - began
            self.seconds[name] += spent
            self.cpu_seconds[name] += time.process_time() - cpu_began
            self.steady_sections_s += spent

    def wall_s(self) -> float:
        return round(time.perf_counter() - self.start, 2)

    def cpu_s(self) -> float | None:
        """CPU seconds of this process in this session (all threads) plus what earlier sessions
        recorded; None when an earlier session recorded none."""
        if self.previous_cpu_s is None:
            return None
        return round(time.process_time() - self.cpu_start + self.previous_cpu_s, 2)

    def totals(self) -> dict[str, Any]:
        """summary.json's running totals over every session: `time_s`, `cpu_s`, `cpu_time_s`."""
        return {"time_s": self.time_s(), "cpu_s": self.cpu_s(), "cpu_time_s": self.cpu_time_s()}

    def cpu_time_s(self) -> dict[str, float] | None:
        """CPU seconds per part over every session (None when an earlier session kept none)."""
        if self.previous_cpu_parts is None:
            return None
        return _parts(time.process_time() - self.cpu_start, self.cpu_seconds, self.previous_cpu_parts)

    def cpu_shares(self) -> dict[str, float] | None:
        """Share of the run's CPU time per part (they add up to 1; None when not recorded)."""
        parts = self.cpu_time_s()
        return None if parts is None else _shares(parts)

    def time_s(self) -> dict[str, float]:
        """Seconds per part over every session of the run: training, then each section."""
        return _parts(time.perf_counter() - self.start, self.seconds, self.previous)

    def time_shares(self) -> dict[str, float]:
        """Share of the run's wall time per part (they add up to 1)."""
        return _shares(self.time_s())

    def rate(self, step: int, items_per_step: int, digits: int) -> float | None:
        """Items per second over the steady steps so far (None before any)."""
        steady_steps = max(step - self.start_step - 1, 0)
        if not steady_steps:
            return None
        seconds = time.perf_counter() - self.steady_start - self.steady_sections_s
        return round(steady_steps * items_per_step / max(seconds, 1e-9), digits)


def _parts(session_s: float, sections: dict[str, float], previous: dict[str, float]) -> dict[str, float]:
    """A session's seconds split into training (what no section took) and the sections, plus
    the earlier sessions' seconds per part."""
    parts = {"training": session_s - sum(sections.values()), **sections}
    return {key: round(value + previous.get(key, 0.0), 3) for key, value in parts.items()}


def _shares(parts: dict[str, float]) -> dict[str, float]:
    total = sum(parts.values()) or 1.0
    return {key: round(value / total, 4) for key, value in parts.items()}
