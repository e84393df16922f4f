"""A sweep's finished runs as one small file, `records.jsonl` (per line: a run's id, config,
summary and evaluation records; no weights): what a study commits under results/, so a new
machine loses only the runs in flight. `restore` writes those runs back into a sweep folder,
beside the sweep's index.json, so `modecollapse sweep --restore` skips them and the report
covers them."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from modecollapse.config import Config, config_from_toml, config_to_toml, lengthens
from modecollapse.errors import ConfigError
from modecollapse.experiments.results import RunResult
from modecollapse.experiments.sweep import Sweep, write_index
from modecollapse.files import atomic_write_json, atomic_write_text
from modecollapse.runfolder import RunFolder
from modecollapse.sweepfolder import INDEX, SweepFolder

RECORDS = "records.jsonl"


def record_of(result: RunResult, sweep_name: str) -> dict[str, Any]:
    """One finished run as a records.jsonl line."""
    config = RunFolder(result.folder).config
    return {
        "sweep": sweep_name,
        "id": result.run_id,
        "setting_id": result.setting_id,
        "seed": result.seed,
        "config": config.read_text() if config.is_file() else None,
        "summary": result.summary,
        "evals": result.evals,
    }


def write_records(results: list[RunResult], sweep_name: str, out: Path) -> Path:
    """out/records.jsonl: every completed run of `results`, in their order."""
    lines = [
        json.dumps(record_of(r, sweep_name), sort_keys=True)
        for r in results
        if r.state == "completed" and r.evals
    ]
    path = Path(out) / RECORDS
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return path


def read_study_records(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if path.is_dir():
        path = path / RECORDS
    if not path.is_file():
        raise ConfigError(f"no {RECORDS} at {path}: --restore takes a study's results folder or that file")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}, line {number}: not a JSON record ({error.msg})") from None
        missing = [key for key in ("sweep", "id", "summary", "evals") if key not in record]
        if missing:
            raise ConfigError(f"{path}, line {number}: a run record without {', '.join(missing)}")
        records.append(record)
    return records


def restore(sweep: Sweep, sweep_dir: Path, source: Path) -> list[str]:
    """Write the finished runs recorded at `source` (a results folder or its records.jsonl) into
    `sweep_dir` as run folders, and the recorded index.json (whose [analysis] declaration keeps
    its date) when `sweep_dir` has none yet. A run already completed in `sweep_dir` is left
    alone. A finished run of a setting the sweep file no longer plans (cut by an amendment) is
    restored with its recorded config and index entry. Refused: records of another sweep, a run
    neither the file nor the recorded index has, a run whose config is not the sweep file's now
    (or a lengthening of it), and a run folder with local progress. Returns the ids restored."""
    source, sweep_dir = Path(source), Path(sweep_dir)
    folder = source if source.is_dir() else source.parent
    records = read_study_records(source)
    specs = {run.run_id: run for run in sweep.runs}
    others = sorted({r["sweep"] for r in records} - {sweep.name})
    if others:
        raise ConfigError(f"{source} records runs of {', '.join(others)}, not of {sweep.name}")
    recorded = json.loads((folder / INDEX).read_text()) if (folder / INDEX).is_file() else None
    if recorded is not None and recorded.get("name") != sweep.name:
        raise ConfigError(f"{folder / INDEX} is the index of {recorded.get('name')}, not {sweep.name}")
    entries = {e["id"]: e for e in (recorded or {}).get("runs", [])}
    cut = {r["id"] for r in records if r["id"] not in specs and r["id"] in entries and r.get("config")}
    unknown = [r["id"] for r in records if r["id"] not in specs and r["id"] not in cut]
    if unknown:
        raise ConfigError(f"{source} records runs {sweep.name} does not have: {', '.join(unknown[:5])}")
    kept = [r for r in records if r["id"] not in cut]
    changed = [r["id"] for r in kept if not _same_or_longer(r.get("config"), specs[r["id"]].config)]
    if changed:
        raise ConfigError(
            f"the sweep file's config of {', '.join(changed[:5])} differs from the recorded one at "
            f"{source}: restore into a sweep of the recorded file (with the same --set), or rerun those runs"
        )
    target = SweepFolder(sweep_dir)
    todo = [r for r in records if target.run(r["id"]).status()["status"] != "completed"]
    busy = [r["id"] for r in todo if _has_progress(target.run(r["id"]))]
    if busy:
        raise ConfigError(
            f"{', '.join(busy[:5])} in {sweep_dir} hold local progress (checkpoints or records); "
            "move those folders aside to restore the recorded runs"
        )
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if recorded is not None and not target.is_sweep():
        shutil.copyfile(folder / INDEX, target.index)
    for record in todo:
        run = target.run(record["id"])
        run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run.config, record.get("config") or config_to_toml(specs[record["id"]].config))
        evals = [{**e, "type": "eval"} for e in record["evals"]]
        atomic_write_text(run.metrics, "".join(json.dumps(e, sort_keys=True) + "\n" for e in evals))
        run.write_summary({**record["summary"], "restored_from": str(source)})
    restored = [r["id"] for r in todo]
    if restored:  # their index entries (a recorded index.json has them already)
        runs = [specs[run_id] for run_id in restored if run_id not in cut]
        write_index(dataclasses.replace(sweep, runs=runs), sweep_dir)
        _keep_entries(target, [entries[run_id] for run_id in restored if run_id in cut])
        _keep_declaration_honest(target, recorded)
    return restored


def _keep_entries(target: SweepFolder, entries: list[dict[str, Any]]) -> None:
    """Index entries, as recorded, for finished runs of settings the sweep file no longer plans
    (cut by an amendment): they stay in the study with the config they ran."""
    index = target.read_index()
    listed = {e["id"] for e in index["runs"]}
    index["runs"] += [e for e in entries if e["id"] not in listed]
    atomic_write_json(target.index, index)


def _same_or_longer(text: str | None, config: Config) -> bool:
    """Whether a recorded config (TOML text; None: not recorded) is `config`, or a lengthening
    of it that the sweep then counts as finished (compared parsed, so a later version's new
    defaulted keys do not count as a change)."""
    if not text:
        return True
    try:
        recorded = config_from_toml(text, source="a recorded run")
    except ConfigError:
        return False
    return recorded == config or lengthens(config, recorded)


def _has_progress(run: RunFolder) -> bool:
    return run.metrics.is_file() or run.checkpoints.is_dir() or run.summary.is_file()


def _keep_declaration_honest(target: SweepFolder, recorded: dict[str, Any] | None) -> None:
    """Restored runs finished before any declaration this sweep folder made itself: its
    [analysis] stays "before the runs" only when it is the recorded declaration."""
    declared = target.read_index().get("analysis")
    if not declared or not declared.get("before_runs"):
        return
    if recorded is not None and recorded.get("analysis") == declared:
        return
    target.declared_after_runs()
