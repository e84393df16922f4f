"""Replay a committed curves.csv through the current collapse detector and print each run's onsets.

    python results/replay_onsets.py results/<study>/curves.csv [--samples N] [--classes K]

Tables written before a detector fix carry the old rule's onsets; this recomputes them from the
per-evaluation metrics (runs.csv keeps the old ones, so the two can be set side by side).
`--samples` is the evaluation sample count (the absolute rule's sampling floors need it).
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict

from modecollapse.metrics.detector import detect

NOT_METRICS = {"run", "setting", "seed", "step", "epoch"}


def replay(path: str, samples: int | None, classes: int) -> list[dict[str, object]]:
    series: dict[str, list[tuple[float, dict[str, float]]]] = defaultdict(list)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            scores = {k: float(v) for k, v in row.items() if k not in NOT_METRICS and v not in ("", None)}
            scores = {k: v for k, v in scores.items() if not math.isnan(v)}
            scores |= {"step": int(float(row["step"])), "num_classes": classes}
            if samples:
                scores["num_samples"] = samples
            series[row["run"]].append((float(row["epoch"]), scores))
    rows = []
    for run, evaluations in series.items():
        evaluations.sort(key=lambda item: item[1]["step"])
        summary = detect(evaluations)
        rows.append(
            {
                "run": run,
                "evaluations": len(evaluations),
                "absolute_onset_step": summary["collapse_onset_step"],
                "relative_onset_step": summary["relative_onset_step"],
                "relative_reasons": "; ".join(summary["relative_onset_reasons"]),
                "never_healthy": summary["never_healthy"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("curves")
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()
    rows = replay(args.curves, args.samples, args.classes)
    print("| run | evaluations | absolute onset step | relative onset step | relative rule's reasons |")
    print("|---|---|---|---|---|")
    for row in rows:
        absolute = row["absolute_onset_step"] or ("none (never healthy)" if row["never_healthy"] else "none")
        relative = row["relative_onset_step"] or "none"
        reasons = row["relative_reasons"]
        print(f"| {row['run']} | {row['evaluations']} | {absolute} | {relative} | {reasons} |")


if __name__ == "__main__":
    main()
