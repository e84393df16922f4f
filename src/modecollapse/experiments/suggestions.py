"""Build diagnose's "what to try next" table from declared comparisons only.

Reads every results/**/testbed.json (written by `modecollapse atlas`) and the analysis.csv
beside it, and keeps each fix's *declared primary* comparisons against its testbed's baseline
(paired by seed on one machine, Holm-corrected across the testbed's family). A fix enters the
table when at least one primary is an established improvement; diagnose cites it only for the
kind of collapse that primary speaks to (metrics/kinds.py). Nothing exploratory is used.

Each testbed's family is corrected on its own (Holm over its fixes x primaries); the table pools
the testbeds without a correction across them, so a fix established on one of three testbeds
carries that testbed's error rate, not the atlas's. diagnose says on which testbed each row was
measured.

    .venv/bin/python -m modecollapse.experiments.suggestions [--results results]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

from modecollapse.diagnosis.suggest import TABLE
from modecollapse.files import atomic_write_text


def _number(text: str) -> float:
    return float(text) if text not in ("", None) else math.nan


def testbed_entries(testbed_file: Path, results: Path) -> list[dict[str, Any]]:
    """The table's entries of one testbed: its fixes with an established primary improvement."""
    testbed = json.loads(testbed_file.read_text())
    folder = testbed_file.parent
    by_setting: dict[str, dict[str, dict[str, Any]]] = {}
    with (folder / "analysis.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["primary"] != "True":
                continue
            by_setting.setdefault(row["setting"], {})[row["metric"]] = {
                "kind": row["kind"],
                "better": row["better"],
                "before": _number(row["baseline_mean"]),
                "after": _number(row["setting_mean"]),
                "change": _number(row["change"]),
                "half_width": _number(row["ci95"]),
                "seeds": len(row["seeds"].split()),
                "holm_p": _number(row["holm_p"]),
                "established": row["established"] == "True",
                "improved": row["verdict"] == "better (established)",
            }
    entries = []
    for setting, metrics in by_setting.items():
        if not any(m["improved"] for m in metrics.values()):
            continue
        entries.append({
            "fix": setting.removeprefix("variant="),
            "switch": testbed["settings"].get(setting, setting),
            "testbed": testbed["testbed"],
            "data": testbed["data"],
            "setting": testbed["description"],
            "evidence": f"results/{folder.relative_to(results).as_posix()}",
            "metrics": metrics,
        })  # fmt: skip
    return entries


def build(results: Path) -> list[dict[str, Any]]:
    """Every testbed's entries, testbeds in path order."""
    return [
        entry for path in sorted(results.rglob("testbed.json")) for entry in testbed_entries(path, results)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=TABLE)
    args = parser.parse_args()
    table = build(args.results)
    atomic_write_text(args.out, json.dumps(table, indent=1) + "\n")
    for entry in table:
        for metric, m in entry["metrics"].items():
            mark = "established improvement" if m["improved"] else "not an established improvement"
            print(f"{entry['fix']} on {entry['testbed']}: {metric} {m['before']:.3g} -> {m['after']:.3g} "
                  f"({m['change']:+.3g} +- {m['half_width']:.2g}, {m['seeds']} seeds): {mark}")  # fmt: skip
    print(f"wrote {args.out} ({len(table)} fixes)")


if __name__ == "__main__":
    main()
