"""The sweep-folder format, the one place that names its files: `sweep.toml` (the sweep as it was
run), `index.json` (every run's id, setting, seed and folder, and the declared [analysis]), one run
folder per run under `runs/`, and `report/`. Every reader and writer of sweep folders goes through
`SweepFolder`, which also tells each run's status, so readers never import the runner."""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from modecollapse.errors import ConfigError
from modecollapse.files import atomic_write_json, atomic_write_text, lock_holder_alive
from modecollapse.runfolder import FINISHED, RunFolder

INDEX = "index.json"


class SweepFolder:
    """Names of everything a sweep writes, its index, and its runs' status."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.index = self.path / INDEX
        self.sweep_file = self.path / "sweep.toml"
        self.runs = self.path / "runs"
        self.report = self.path / "report"

    def run(self, run_id: str) -> RunFolder:
        return RunFolder(self.runs / run_id)

    def is_sweep(self) -> bool:
        return self.index.is_file()

    def read_index(self) -> dict[str, Any]:
        if not self.index.is_file():
            raise ConfigError(f"{self.path} is not a sweep folder (no {INDEX})")
        return json.loads(self.index.read_text())

    def closed_runs(self) -> set[str]:
        """The run ids the sweep file's [closed] names: planned, never to be run."""
        index = self.read_index() if self.index.is_file() else {}
        return set((index.get("closed") or {}).get("runs", []))

    def run_status(self, entry: dict[str, Any], closed: set[str]) -> dict[str, Any]:
        """A listed run's summary (RunFolder.status), its status `closed` where the sweep file's
        [closed] names it (`closed`: closed_runs()) and it neither completed nor diverged."""
        summary = self.folder_of(entry).status()
        if entry["id"] in closed and summary["status"] not in FINISHED:
            return {**summary, "status": "closed"}  # the study ends without it
        return summary

    def entries(self) -> list[dict[str, Any]]:
        """index.json's runs (id, setting, setting_id, seed, dir) the study still has: a run that
        the sweep file no longer plans (a setting cut by an amended sweep file) stays only if it
        finished (completed or diverged); one never started or left unfinished is no longer the
        study's."""
        index = self.read_index()
        return self._kept(index["runs"], index.get("planned"))

    def _kept(self, entries: list[dict[str, Any]], planned: list[str] | None) -> list[dict[str, Any]]:
        if not planned:
            return entries
        plan = set(planned)
        return [e for e in entries if e["id"] in plan or self.folder_of(e).status()["status"] in FINISHED]

    def folder_of(self, entry: dict[str, Any]) -> RunFolder:
        return RunFolder(self.path / entry["dir"])

    def any_started(self) -> bool:
        """Whether any run (listed or not) has written its summary."""
        return any(self.runs.glob("*/summary.json"))

    def write_index(
        self,
        name: str,
        runs: list[dict[str, Any]],
        source: dict[str, Any],
        analysis: dict[str, Any] | None,
        planned: list[str] | None = None,
        closed: dict[str, Any] | None = None,
    ) -> None:
        """sweep.toml and index.json. `runs` are added to those already listed (a selection adds
        runs); `planned` (every run id of the sweep file) is what the study is complete at, and a
        listed run it no longer holds leaves the index unless it finished (entries()); `closed`
        (the file's [closed]: reason and run ids) are planned runs it ends without. The
        [analysis] is recorded the first time it is seen, with whether any run had started by
        then; a later change to it is kept apart (`analysis_amended`): only the first one counts
        as declared."""
        import tomli_w

        self.path.mkdir(parents=True, exist_ok=True)
        previous = json.loads(self.index.read_text()) if self.index.is_file() else {}
        atomic_write_text(self.sweep_file, tomli_w.dumps(_plain(source)))
        entries = {entry["id"]: entry for entry in previous.get("runs", [])}
        for run in runs:
            entries[run["id"]] = {**run, "dir": f"runs/{run['id']}"}
        planned = planned or previous.get("planned")
        index: dict[str, Any] = {"name": name, "runs": self._kept(list(entries.values()), planned)}
        if planned:
            index["planned"] = planned
        if closed:
            index["closed"] = closed
        declared = previous.get("analysis")
        if analysis is not None and declared is None:
            declared = {
                **analysis,
                "declared_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "before_runs": not self.any_started(),
            }
        if declared is not None:
            index["analysis"] = declared
            terms = {k: v for k, v in declared.items() if k not in ("declared_at", "before_runs")}
            if analysis is not None and analysis != terms:
                index["analysis_amended"] = analysis
        atomic_write_json(self.index, index)

    def declared_after_runs(self) -> None:
        """Mark the [analysis] as declared after runs had finished (runs restored into the folder)."""
        index = self.read_index()
        if index.get("analysis"):
            index["analysis"] = {**index["analysis"], "before_runs": False}
            atomic_write_json(self.index, index)

    def status_rows(self) -> list[dict[str, Any]]:
        """One row per run: id, status, steps done, time, detector verdict and onsets. A run
        whose summary says running but whose process is gone (run.lock) is `stopped`; a run the
        sweep file closed ([closed]) and never started is `closed`."""
        rows = []
        closed = self.closed_runs()
        for entry in self.entries():
            summary = self.run_status(entry, closed)
            detector = summary.get("detector") or {}
            state = summary["status"]
            if state == "running" and lock_holder_alive(self.folder_of(entry).lock) is False:
                state = "stopped"  # its process is gone: it resumes when the sweep is started again
            rows.append({
                "id": entry["id"],
                "setting": entry.get("setting_id"),
                "status": state,
                "seconds": run_seconds(summary),
                "machine": (summary.get("machine") or {}).get("id"),
                "step": summary.get("step", 0),
                "total_steps": summary.get("total_steps"),
                "verdict": detector.get("verdict"),
                "onset_epoch": detector.get("collapse_onset_epoch"),
                "onset_step": detector.get("collapse_onset_step"),
                "relative_onset_step": detector.get("relative_onset_step"),
                "error": summary.get("error"),
                "restored_from": summary.get("restored_from"),
            })  # fmt: skip
        return rows


def run_cost(summary: dict[str, Any]) -> tuple[float | None, str]:
    """A run's cost in seconds and what it was counted from: its CPU time over every session
    (`cpu_s`) where recorded, else its wall time over every session (`time_s`), else its last
    session's (`wall_time_s`)."""
    if summary.get("cpu_s") is not None:
        return summary["cpu_s"], "cpu_s"
    if summary.get("time_s"):
        return sum(summary["time_s"].values()), "time_s"
    return summary.get("wall_time_s"), "wall_time_s"


def run_seconds(summary: dict[str, Any]) -> float | None:
    """A run's time: its CPU time per thread where recorded (a crowded or paused machine hardly
    changes it), else its wall time over every session, else its last session's."""
    seconds, basis = run_cost(summary)
    threads = (summary.get("machine") or {}).get("threads") or 1
    return seconds / threads if basis == "cpu_s" else seconds


def work_left_s(rows: list[dict[str, Any]], here: str | None = None) -> float | None:
    """Seconds of run time a sweep still needs: each unfinished run's expected length less the
    share of steps it has done. A run's expected length is the median of its setting's completed
    runs on machine `here` (status_rows' "machine"); without one, of its setting's runs elsewhere,
    or without any of every completed run, times how much longer runs take here (speed_ratio).
    None before any run has completed."""
    done = [r for r in rows if r["status"] == "completed" and r.get("seconds")]
    if not done:
        return None
    mine, others = _medians_here_and_elsewhere(done, here)
    ratio = _ratio(mine, others, here)
    overall = statistics.median(r["seconds"] for r in done)
    left = 0.0
    for row in rows:
        if row["status"] in ("completed", "closed"):
            continue
        setting = row["setting"]
        expected = mine.get(setting) or (others[setting] if setting in others else overall) * ratio
        share_done = min(row["step"] / row["total_steps"], 1.0) if row.get("total_steps") else 0.0
        left += expected * (1.0 - share_done)
    return left


def speed_ratio(done: list[dict[str, Any]], here: str | None) -> float:
    """How many times longer a run takes on machine `here` than elsewhere: the median, over the
    settings with completed runs in both places, of the ratio of their medians (1 with none)."""
    return _ratio(*_medians_here_and_elsewhere(done, here), here)


def _ratio(mine: dict[Any, float], others: dict[Any, float], here: str | None) -> float:
    shared = [mine[s] / others[s] for s in mine if s in others]
    return statistics.median(shared) if here is not None and shared else 1.0


def _medians_here_and_elsewhere(done: list[dict[str, Any]], here: str | None) -> tuple[dict, dict]:
    """Each setting's median run seconds on machine `here`, and on the others."""
    return (
        _medians([r for r in done if r.get("machine") == here]),
        _medians([r for r in done if r.get("machine") != here]),
    )


def _medians(rows: list[dict[str, Any]]) -> dict[Any, float]:
    by_setting: dict[Any, list[float]] = {}
    for row in rows:
        by_setting.setdefault(row["setting"], []).append(row["seconds"])
    return {setting: statistics.median(seconds) for setting, seconds in by_setting.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
