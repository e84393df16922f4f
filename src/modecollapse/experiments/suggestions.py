"""Build the "what to try next" table from the project's own measured results.

Reads results/suggestions.toml (which comparisons exist) and each named results/*/runs.csv,
pairs the baseline's and the fix's runs by seed, and writes per metric the mean paired
difference with its 95% t-interval; a fix is *established* for a metric when that interval
excludes 0 on the better side. diagnose (diagnose/suggest.py) cites only established fixes.

    .venv/bin/python -m modecollapse.experiments.suggestions [--results results]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

import tomllib

from modecollapse.experiments.stats import t_interval
from modecollapse.files import atomic_write_text

TABLE = Path(__file__).resolve().parents[1] / "assets" / "suggestions.json"
KINDS = ("dropped modes", "one output for every z", "low quality")


def _rows(path: Path, match: dict[str, str]) -> dict[int, dict[str, str]]:
    with path.open(newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if all(r.get(k) == str(v) for k, v in match.items())
            and r.get("status") in (None, "", "completed")
        ]
    return {int(r["seed"]): r for r in rows}


def compare(results: Path, comparison: dict[str, Any]) -> dict[str, Any]:
    """One comparison's paired numbers (see the module docstring)."""
    runs = results / comparison["folder"] / "runs.csv"
    base, fix = _rows(runs, comparison["baseline"]), _rows(runs, comparison["fix"])
    seeds = sorted(set(base) & set(fix))
    metrics = {}
    for metric, better in comparison["metrics"].items():
        pairs = [(float(base[s][metric] or "nan"), float(fix[s][metric] or "nan")) for s in seeds]
        pairs = [(b, f) for b, f in pairs if math.isfinite(b) and math.isfinite(f)]
        if len(pairs) < 2:
            continue
        before, after = t_interval([b for b, _ in pairs]), t_interval([f for _, f in pairs])
        change, half, _ = t_interval([f - b for b, f in pairs])
        sign = 1 if better == "higher" else -1
        metrics[metric] = {
            "before": before[0], "after": after[0], "change": change, "half_width": half,
            "seeds": len(pairs), "better": better,
            "established": bool(sign * change - half > 0),
        }  # fmt: skip
    unknown = set(comparison["addresses"]) - set(KINDS)
    if unknown:
        raise ValueError(f"{comparison['folder']}: unknown kinds {sorted(unknown)}; use {KINDS}")
    return {
        "switch": comparison["switch"],
        "data": comparison["data"],
        "setting": comparison["setting"],
        "evidence": f"results/{comparison['folder']}",
        "addresses": comparison["addresses"],
        "metrics": metrics,
    }


def build(results: Path) -> list[dict[str, Any]]:
    manifest = tomllib.loads((results / "suggestions.toml").read_text())
    return [compare(results, comparison) for comparison in manifest.get("comparison", [])]


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
            mark = "established" if m["established"] else "not established"
            print(f"{entry['switch']} on {entry['data']}: {metric} {m['before']:.3g} -> {m['after']:.3g} "
                  f"({m['change']:+.3g} +- {m['half_width']:.2g}, {m['seeds']} seeds): {mark}")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
