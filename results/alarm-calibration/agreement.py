"""The detector's verdicts against labels given blind from sample grids (issue 39, item 4).

    cd results/alarm-calibration
    python agreement.py runs --mapping M.json --labels L.csv --out agreement-runs.csv
    python agreement.py scripted --truth T.json --labels L.csv --out agreement-scripted.csv
    python agreement.py table agreement-runs.csv agreement-scripted.csv

`runs`: each grid is a training run's saved sample grid (M.json: grid name -> the PNG's path in
its run folder, runs/<id>/samples/step-N.png); the run's evaluations (metrics.jsonl) are replayed
through the detector on the path (as the Monitor would see them, hysteresis included) and its
verdict at that step is set beside the blind label. `scripted`: grids of sets whose detector
verdict was recorded when they were made (T.json). `table`: the confusion table(s).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

VERDICTS = ("healthy", "partial collapse", "collapsed")


def run_rows(mapping: Path, labels: Path) -> list[dict]:
    from modecollapse.metrics.detector import CollapseTracker

    blind = {row["grid"].removesuffix(".png"): row for row in csv.DictReader(labels.open())}
    verdicts: dict[Path, dict[int, tuple[str, dict]]] = {}
    rows = []
    for grid, png in json.loads(mapping.read_text()).items():
        path = Path(png)
        run, step = path.parents[1], int(path.stem.split("-")[1])
        if run not in verdicts:
            tracker, verdicts[run] = CollapseTracker(), {}
            for line in (run / "metrics.jsonl").open():
                record = json.loads(line)
                if record.get("type") == "eval":
                    tracker.observe(record.get("epoch"), record)
                    verdicts[run][record["step"]] = (tracker.history[-1]["verdict"], record)
        verdict, record = verdicts[run][step]
        label = blind[grid.removesuffix(".png")]
        rows.append({
            "grid": grid, "source": f"{run.name} step {step}", "blind_label": label["label"],
            "blind_confidence": label["confidence"], "detector": verdict, "modes": record.get("modes"),
            "fcd": round(record.get("fcd", float("nan")), 1),
            "precision": round(record.get("precision", 0.0), 3),
        })  # fmt: skip
    return rows


def scripted_rows(truth: Path, labels: Path) -> list[dict]:
    blind = {row["grid"].removesuffix(".png"): row for row in csv.DictReader(labels.open())}
    rows = []
    for grid, made in json.loads(truth.read_text()).items():
        label = blind[grid.removesuffix(".png")]
        rows.append({
            "grid": grid, "source": made["made"], "blind_label": label["label"],
            "blind_confidence": label["confidence"], "detector": made["detector"],
        })  # fmt: skip
    return rows


def table(files: list[Path]) -> None:
    for file in files:
        rows = list(csv.DictReader(file.open()))
        counts = Counter((r["blind_label"], r["detector"]) for r in rows)
        agree = sum(counts[v, v] for v in VERDICTS)
        print(f"\n{file.name}: {len(rows)} grids, agreement {agree} of {len(rows)}\n")
        print("| blind label \\ detector | " + " | ".join(VERDICTS) + " |")
        print("|---|---|---|---|")
        for label in VERDICTS:
            print(f"| {label} | " + " | ".join(str(counts[label, v]) for v in VERDICTS) + " |")


def write(rows: list[dict], out: Path) -> None:
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    runs = commands.add_parser("runs")
    runs.add_argument("--mapping", type=Path, required=True)
    scripted = commands.add_parser("scripted")
    scripted.add_argument("--truth", type=Path, required=True)
    for sub in (runs, scripted):
        sub.add_argument("--labels", type=Path, required=True)
        sub.add_argument("--out", type=Path, required=True)
    tables = commands.add_parser("table")
    tables.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "runs":
        write(run_rows(args.mapping, args.labels), args.out)
    elif args.command == "scripted":
        write(scripted_rows(args.truth, args.labels), args.out)
    else:
        table(args.files)


if __name__ == "__main__":
    main()
