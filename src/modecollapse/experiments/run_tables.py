"""`modecollapse table --per-run / --per-step`: one row per run (its span where a condition
holds, onsets, extremes) and each setting's mean at every evaluation step."""

from __future__ import annotations

import math
import operator
import re
import statistics

from modecollapse.errors import ConfigError
from modecollapse.experiments.table import Study, column_value

CONDITION = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|<|>|==)\s*(-?[0-9.eE+-]+)\s*$")
OPERATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}


def per_run_table(
    study: Study,
    columns: list[tuple[str, str]],
    extremes: list[str] = (),
    when: str | None = None,
    sort_by: str | None = None,
    steps_per_epoch: float | None = None,
    extremes_from: int = 0,
) -> str:
    """One row per run: its steps, the span a `when` condition holds, both onsets, the columns
    at its final evaluation (whatever --window the summary table reads; the caption says so),
    and each `extremes` entry ('modes:min', 'fcd:max') over the evaluations from
    `extremes_from` on, or from the step `when` first holds on."""
    condition = _condition(when) if when else None
    picks = [_extreme(e) for e in extremes]
    head = ["setting", "seed", "steps"]
    if condition:
        head += [f"{when} from step", "stops holding at steps"]
    head += ["absolute onset step", "relative onset step", *[n for n, _ in columns]]
    head += [f"{how} {name}" for name, how, _ in picks] + ["verdict"]
    named = ", ".join(n for n, _ in columns)
    lines = [f"One row per run; {named}: at its final evaluation (not a --window mean).", ""] if named else []
    lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for setting in study.settings(sort_by):
        for run in study.group(setting):
            curve = study.curves.get(run["run"], [])
            cells = [study.label(setting), run["seed"], run["step"]]
            span = (extremes_from, 10**12)
            if condition:
                first, stops = _spells(curve, condition)
                cells += [
                    f"{first:,}" if first is not None else "never",
                    ", ".join(f"{s:,}" for s in stops) or "none",
                ]
                if first is not None:
                    span = (max(first, extremes_from), 10**12)
            cells += [_onset(run["collapse_onset_step"], steps_per_epoch),
                      _onset(run["relative_onset_step"], steps_per_epoch)]  # fmt: skip
            cells += [form.format(column_value(run, n)) for n, form in columns]
            inside = [c for c in curve if span[0] <= int(c["step"]) <= span[1]]
            for name, how, form in picks:
                finite = [v for v in (column_value(c, name) for c in inside) if math.isfinite(v)]
                cells.append(form.format((min if how == "min" else max)(finite)) if finite else "-")
            cells.append(run["verdict"])
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def per_step_table(
    study: Study, metrics: list[tuple[str, str]], sort_by: str | None = None, by_run: bool = False
) -> str:
    """Each setting's mean over seeds of each metric at every evaluation step (`by_run`: each
    run's own values, the metrics joined by ' / ' in one cell)."""
    steps = sorted({int(c["step"]) for curve in study.curves.values() for c in curve})
    if by_run:
        caption = "Per run, " + " / ".join(n for n, _ in metrics) + " at each evaluation:"
        head = "| setting | seed | "
    else:
        caption, head = "Mean over seeds at each evaluation:", "| setting | metric | "
    lines = [caption, "", head + " | ".join(f"{s:,}" for s in steps) + " |", "|---" * (len(steps) + 2) + "|"]
    for setting in study.settings(sort_by):
        group = study.group(setting)
        if by_run:
            for run in group:
                at = {int(c["step"]): c for c in study.curves.get(run["run"], [])}
                cells = [
                    " / ".join(f.format(column_value(at[s], n)) for n, f in metrics) if s in at else ""
                    for s in steps
                ]
                lines.append(f"| {study.label(setting)} | {run['seed']} | " + " | ".join(cells) + " |")
            continue
        rows = [c for run in group for c in study.curves.get(run["run"], [])]
        for name, form in metrics:
            by_step = [[column_value(c, name) for c in rows if int(c["step"]) == s] for s in steps]
            cells = [form.format(statistics.mean(v)) if v else "-" for v in by_step]
            lines.append(f"| {study.label(setting)} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _condition(text: str):
    parts = [CONDITION.match(p) for p in text.split(",")]
    if not all(parts):
        raise ConfigError(f"--when takes conditions like 'near_duplicate_rate<0.5,modes>=5', not {text!r}")
    tests = [(m.group(1), OPERATORS[m.group(2)], float(m.group(3))) for m in parts]

    def holds(row: dict[str, str]) -> bool | None:
        """True / False, or None where a metric it reads is missing (NaN) at that evaluation."""
        numbers = [column_value(row, name) for name, _, _ in tests]
        if not all(math.isfinite(v) for v in numbers):
            return None
        return all(op(v, value) for v, (_, op, value) in zip(numbers, tests, strict=True))

    return holds


def _spells(curve: list[dict[str, str]], holds) -> tuple[int | None, list[int]]:
    """(the first step the condition holds, the later steps it does not)."""
    first = next((int(c["step"]) for c in curve if holds(c)), None)
    stops = [
        int(c["step"]) for c in curve if first is not None and int(c["step"]) > first and holds(c) is False
    ]
    return first, stops


def _extreme(text: str) -> tuple[str, str, str]:
    name, how, *form = text.split(":")
    if how not in ("min", "max"):
        raise ConfigError(f"--extremes takes entries like modes:min or kl_uniform:max:.3f, not {text!r}")
    return name, how, "{:" + (form[0] if form else ".3g") + "}"


def _onset(value: str, steps_per_epoch: float | None) -> str:
    if not value:
        return "none"
    step = int(float(value))
    return f"{step:,}" + (f" ({step / steps_per_epoch:.1f} ep)" if steps_per_epoch else "")
