"""What to try next: fixes this project has measured, matched to the kind of collapse seen.

The table (assets/suggestions.json) is built from results/*/runs.csv by
modecollapse.experiments.suggestions; only fixes whose paired improvement over the same seeds
is established (95% t-interval excludes 0) are cited, each with its numbers and folder.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from modecollapse.data import spec

TABLE = Path(__file__).resolve().parents[1] / "assets" / "suggestions.json"


@cache
def measured_fixes() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(TABLE.read_text())) if TABLE.is_file() else ()


def collapse_kinds(report: dict[str, Any]) -> list[str]:
    """Which kinds of collapse the verdict's reasons and scores show (detector.judge's wording)."""
    scores, reasons = report["scores"], " ".join(report["reasons"])
    kinds = []
    if (
        report.get("latent", {}).get("ignores_latent")
        or scores.get("near_duplicate_rate", 0.0) >= 0.5
        or scores.get("diversity_ratio", 1.0) < 0.3
    ):
        kinds.append("one output for every z")
    if any(phrase in reasons for phrase in ("modes covered", "class histogram", "not well formed")):
        kinds.append("dropped modes")
    if any(phrase in reasons for phrase in ("recognizable", "within 3 std")):
        kinds.append("low quality")
    return kinds


def suggest(report: dict[str, Any], dataset: str | None) -> list[str]:
    """Lines of measured fixes for this report's kind of collapse (none for a healthy one)."""
    if report["verdict"] == "healthy":
        return []
    kinds = collapse_kinds(report)
    kind_of_data = spec(dataset).kind if dataset else None
    lines = []
    for fix in sorted(measured_fixes(), key=lambda f: spec(f["data"]).kind != kind_of_data):
        if not set(fix["addresses"]) & set(kinds):
            continue
        shown = [
            f"{name} {m['before']:.3g} -> {m['after']:.3g} ({m['change']:+.3g} +- {m['half_width']:.2g}, "
            f"{m['seeds']} seeds)"
            for name, m in fix["metrics"].items()
            if m["established"]
        ]
        if not shown:
            continue
        elsewhere = (
            ""
            if spec(fix["data"]).kind == kind_of_data
            else f" [measured on {fix['data']}, not on data like yours]"
        )
        lines.append(
            f"{fix['switch']}: {'; '.join(shown)} in {fix['setting']}; evidence {fix['evidence']}{elsewhere}"
        )
    if not lines:
        seen = ", ".join(kinds) or "this kind of collapse"
        lines.append(f"no fix for {seen} has a measured effect in this project's results yet")
    return lines
