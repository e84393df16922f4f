"""Replay every committed study's curves through a detector and compare two detectors' judgements
(issue 39, item 3: which onsets and verdicts the noise-aware rules change).

    PYTHONPATH=<old checkout>/src python results/alarm-calibration/replay.py judge --out old.json
    python results/alarm-calibration/replay.py judge --out new.json
    python results/alarm-calibration/replay.py compare old.json new.json > replay.md

`judge` runs each study's curves.csv (with the counts and rules results/replay_onsets.py settles
from its records or sweep file) through whatever `modecollapse` is on the path, and keeps per
run: both onsets, the start alarm (where the detector has one), the last verdict, every
evaluation's verdict and the number of verdict changes. `compare` writes a Markdown table of
what changed, study by study and run by run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ("fix-atlas/ring8", "fix-atlas/grid25", "fix-atlas/mnist", "fix-atlas/pilot/mnist-redesign",
           "label-flip-steps/65k", "translation/pilot")  # fmt: skip
SWEEPS = {
    "label-flip-steps": "label-flip-steps/label_flip_steps.toml",
    "guided-matched": "guided/guided_matched.toml",
    "ring8-pacgan-20k": "pacgan-2d/ring8_pacgan_20k.toml",
    "grid25-pacgan-20k": "pacgan-2d/grid25_pacgan_20k.toml",
    "stacked-mnist-packing": "stacked-mnist/stacked_mnist_packing.toml",
    "spatial-two-cpu/heldout-rerun": "cyclegan/spatial_two_cpu.toml",
}
STUDIES = {
    **{
        study: (f"results/{study}/curves.csv", {"records": f"results/{study}/records.jsonl"})
        for study in RECORDS
    },
    **{
        study: (f"results/{study}/curves.csv", {"sweep": f"experiments/{sweep}"})
        for study, sweep in SWEEPS.items()
    },
}
STUDIES["spatial-two-cpu/heldout-rerun"][1]["samples"] = 500  # 250 held-out inputs x 2 digits


def _replay_onsets():
    spec = importlib.util.spec_from_file_location("replay_onsets", ROOT / "results" / "replay_onsets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def judge(out: Path) -> None:
    from modecollapse.metrics.detector import CollapseTracker

    replay_onsets, judged = _replay_onsets(), {}
    for study, (curves, options) in STUDIES.items():
        if not (ROOT / curves).exists():
            continue
        paths = {k: str(ROOT / v) if k in ("records", "sweep") else v for k, v in options.items()}
        try:
            series = replay_onsets.load_series(str(ROOT / curves), **paths)
        except SystemExit as refused:
            print(f"{study}: skipped, {refused}", file=sys.stderr)
            continue
        judged[study] = {}
        for run, (evaluations, rules) in series.items():
            tracker = CollapseTracker(rules)
            for epoch, scores in evaluations:
                tracker.observe(epoch, scores)
            verdicts = [h["verdict"] for h in tracker.history]
            summary = tracker.summary()
            judged[study][run] = {
                "absolute": summary["collapse_onset_step"],
                "relative": summary["relative_onset_step"],
                "relative_kinds": summary["relative_onset_kinds"],
                "start_alarm": summary.get("collapsed_from_start_step"),
                "verdict": summary["verdict"],
                "steps": [h["step"] for h in tracker.history],
                "verdicts": verdicts,
                "changes": sum(a != b for a, b in zip(verdicts, verdicts[1:], strict=False)),
            }
        print(f"{study}: {len(series)} runs", file=sys.stderr)
    out.write_text(json.dumps(judged, indent=1) + "\n")


def compare(old_path: Path, new_path: Path) -> None:
    old, new = json.loads(old_path.read_text()), json.loads(new_path.read_text())
    print("| study | runs | absolute onset changed | relative onset changed | last verdict changed | "
          "verdict changes per evaluation, old -> new |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    details = []
    for study, runs in new.items():
        before = old.get(study, {})
        moved = {key: [r for r in runs if r in before and runs[r][key] != before[r][key]]
                 for key in ("absolute", "relative", "verdict")}  # fmt: skip
        evaluations = sum(len(r["verdicts"]) - 1 for r in runs.values()) or 1
        flips_old = sum(before[r]["changes"] for r in runs if r in before)
        flips_new = sum(r["changes"] for r in runs.values())
        counts = " | ".join(str(len(moved[key])) for key in ("absolute", "relative", "verdict"))
        rates = f"{flips_old / evaluations:.3f} -> {flips_new / evaluations:.3f}"
        print(f"| {study} | {len(runs)} | {counts} | {rates} |")
        for run in sorted({r for rs in moved.values() for r in rs}):
            a, b = before[run], runs[run]
            kinds = ", ".join(b["relative_kinds"]) or "-"
            onsets = f"{a['absolute']} -> {b['absolute']} | {a['relative']} -> {b['relative']} ({kinds})"
            details.append(f"| {study} | {run} | {onsets} | {a['verdict']} -> {b['verdict']} |")
    print("\n| study | run | absolute onset step | relative onset step (kinds) | last verdict |")
    print("|---|---|---|---|---|")
    print("\n".join(details))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    judging = commands.add_parser("judge")
    judging.add_argument("--out", type=Path, required=True)
    comparing = commands.add_parser("compare")
    comparing.add_argument("old", type=Path)
    comparing.add_argument("new", type=Path)
    args = parser.parse_args()
    if args.command == "judge":
        judge(args.out)
    else:
        compare(args.old, args.new)


if __name__ == "__main__":
    main()
