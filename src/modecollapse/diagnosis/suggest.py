"""What to try next: fixes whose declared comparison established an improvement, cited for the
kind of collapse that improvement speaks to.

The table (assets/suggestions.json) is built by modecollapse.experiments.suggestions from the
fix atlas's declared analyses (results/**/testbed.json + analysis.csv). A verdict's kinds come
from the detector's reasons (metrics/detector.py: each reason carries its kind), never from
their wording.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from modecollapse.data import spec
from modecollapse.metrics.kinds import ONE_OUTPUT

TABLE = Path(__file__).resolve().parents[1] / "assets" / "suggestions.json"
"""The fix table diagnose reads; experiments/suggestions.py writes it from the declared studies."""
SHOWN = 5
"""At most this many fixes are cited; the rest are counted and pointed to."""


@cache
def measured_fixes() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(TABLE.read_text())) if TABLE.is_file() else ()


def collapse_kinds(report: dict[str, Any]) -> list[str]:
    """The kinds of collapse a report shows: its reasons' kinds, and 'one output for every z'
    when the latent probe found a generator that ignores z."""
    kinds = list(report.get("kinds", []))
    if report.get("latent", {}).get("ignores_latent") and ONE_OUTPUT not in kinds:
        kinds.append(ONE_OUTPUT)
    return kinds


def _kind_of_data(name: str | None) -> str | None:
    return spec(name).kind if name else None


def suggest(
    report: dict[str, Any], dataset: str | None, table: tuple[dict[str, Any], ...] | None = None
) -> list[str]:
    """Lines of measured fixes for this report's kinds of collapse (none for a healthy one):
    testbeds of the same dataset first, then of the same kind of data, larger effects first."""
    if report["verdict"] == "healthy":
        return []
    kinds = collapse_kinds(report)
    data_kind = _kind_of_data(dataset)
    cited = []
    for fix in table if table is not None else measured_fixes():
        shown = [(name, m) for name, m in fix["metrics"].items() if m["improved"] and m["kind"] in kinds]
        if not shown:
            continue
        closeness = (fix["data"] != dataset, _kind_of_data(fix["data"]) != data_kind)
        widths = [abs(m["change"]) / m["half_width"] for _, m in shown if m["half_width"] > 0]
        cited.append((closeness, -max(widths, default=0.0), fix, shown))
    cited.sort(key=lambda item: (item[0], item[1]))
    lines = []
    for closeness, _, fix, shown in cited[:SHOWN]:
        numbers = "; ".join(
            f"{name} {m['before']:.3g} -> {m['after']:.3g} ({m['change']:+.3g} +- {m['half_width']:.2g}, "
            f"{m['seeds']} seeds, Holm p {m['holm_p']:.2g})"
            for name, m in shown
        )
        worse = "; ".join(
            f"{name} {m['before']:.3g} -> {m['after']:.3g}"
            for name, m in fix["metrics"].items()
            if m["established"] and not m["improved"]
        )
        harm = f" (but established worse: {worse})" if worse else ""
        elsewhere = "" if not closeness[1] else f" [measured on {fix['data']}, not on data like yours]"
        lines.append(
            f"{fix['switch']} ({fix['fix']}): {numbers}{harm} on the {fix['testbed']} testbed; "
            f"evidence {fix['evidence']}{elsewhere}"
        )
    if len(cited) > SHOWN:
        lines.append(f"{len(cited) - SHOWN} more measured fixes for this kind: results/fix-atlas/matrix.md")
    if not lines:
        seen = ", ".join(kinds) or "this kind of collapse"
        lines.append(f"no fix for {seen} has an established effect in this project's declared studies yet")
    return lines
