"""Rebuild records.jsonl lines for runs whose run folders were lost with a machine, from the
study's committed runs.csv and curves.csv (what was committed before records.jsonl existed).
The lines lack the evaluations' class_counts (never in curves.csv) and the run's config text
(restore takes it from the sweep file, unchanged since those runs).

    python results/records_from_csv.py results/fix-atlas/ring8 --runs 'seed0,seed1' > lines
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

IDS = ("run", "setting", "seed", "detector_rules")
MACHINE = ("id", "cpu", "flags", "torch", "threads", "precision", "grading_precision")


def number(text: str) -> float | int | None:
    if text == "":
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def lines(folder: Path, sweep: str, wanted: list[str]) -> list[str]:
    curves: dict[str, list[dict]] = {}
    for row in csv.DictReader(open(folder / "curves.csv")):
        record = {k: number(v) for k, v in row.items() if k not in IDS}
        curves.setdefault(row["run"], []).append({k: v for k, v in record.items() if v is not None})
    out = []
    for row in csv.DictReader(open(folder / "runs.csv")):
        if row["status"] != "completed" or not any(row["run"].endswith(w) for w in wanted):
            continue
        machine = {key: row[f"machine_{key}"] for key in MACHINE}
        machine["flags"] = machine["flags"].split()
        machine["threads"] = int(machine["threads"])
        summary = {
            "status": "completed",
            "step": int(row["step"]),
            "total_steps": int(row["step"]),
            "stopped_at_collapse": row["stopped_at_collapse"] == "True",
            "wall_time_s": float(row["wall_time_s"]),
            "machine": machine,
            "machines": [machine],
            "rebuilt_from": "runs.csv and curves.csv",
        }
        if row["last_healthy_step"]:
            summary["last_healthy"] = {"step": int(float(row["last_healthy_step"]))}
        record = {"sweep": sweep, "id": row["run"], "setting_id": row["setting"], "seed": int(row["seed"]),
                  "config": None, "summary": summary, "evals": curves[row["run"]]}  # fmt: skip
        out.append(json.dumps(record, sort_keys=True))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--runs", default="", help="comma-separated run-id endings, e.g. seed0,seed1")
    args = parser.parse_args()
    sweep = json.loads((args.folder / "index.json").read_text())["name"]
    print("\n".join(lines(args.folder, sweep, args.runs.split(","))))
