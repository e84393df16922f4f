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

from modecollapse.config import DetectorConfig
from modecollapse.data import spec
from modecollapse.metrics.kinds import DROPPED_MODES, LOW_QUALITY, ONE_OUTPUT
from modecollapse.metrics.rules import COLLAPSED, OFF_THE_DATA, RECOGNIZABLE, checks

TABLE = Path(__file__).resolve().parents[1] / "assets" / "suggestions.json"
"""The fix table diagnose reads; experiments/suggestions.py writes it from the declared studies."""
SHOWN = 5
"""At most this many fixes are cited; the rest are counted and pointed to."""
TRANSLATION = "translation"
TRANSLATION_PILOT = (
    "Exploratory until the declared translation study finishes (results/fix-atlas/spatial-one): in its "
    "pilot, semantic consistency (a fixed classifier of the content must give G(a) the label it gives "
    "a; objective.semantic_weight = 1.0) kept the input's digit on 2 of 2 seeds; identity loss off "
    "and spectral norm in D did not (1 seed each; results/translation/README.md)"
)
"""Said to translator users while no translation testbed's declared study has finished."""
CONDITIONAL = (
    "these fixes were measured on unconditional GANs (the fix atlas has no class-conditional "
    "testbed): for a G(z, label) they are untested here"
)
"""Said under the fixes offered for a class-conditional generator's report."""


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


def unrecognizable(report: dict[str, Any], rules: DetectorConfig | None = None) -> str | None:
    """Why the samples do not look like the data (garbage, another dataset, a wrecked generator),
    or None, by the detector's checks (`rules`, the defaults when None) at the collapsed level:
    the recognizable share, or the off-the-data check where the detector set the mode checks aside
    (the report names no dropped modes; never for translators or 1,000-class stacks)."""
    kinds = collapse_kinds(report)
    for check in checks(report.get("scores") or {}, rules or DetectorConfig()):
        if check.level != COLLAPSED or not check.fires:
            continue
        if check.group == RECOGNIZABLE:
            return f"recognizable share under {check.limit:.0%}"
        if check.group == OFF_THE_DATA and DROPPED_MODES not in kinds:
            return f"precision and density under {check.limit:.0%}"
    return None


DIVERGED = (
    "NaN or infinite outputs: the generator diverged, which no mode-collapse fix addresses. General "
    "practice, not measured here: go back to the last checkpoint with finite weights; lower the "
    "learning rates; compute the loss from logits (BCEWithLogitsLoss, not Sigmoid + BCELoss, whose "
    "log(0) overflows); clip gradients or add a gradient penalty such as R1"
)
"""What diagnose and Monitor say for outputs holding NaN or infinite values."""


def suggest(
    report: dict[str, Any],
    dataset: str | None,
    table: tuple[dict[str, Any], ...] | None = None,
    rules: DetectorConfig | None = None,
) -> list[str]:
    """What to try next for this report's kinds of collapse (none for a healthy one), one line a
    fix: measured on data of the user's kind first; a fix measured only on other data (2-D
    mixtures) is cited, labelled, only when no testbed of the user's kind measured it. Each is
    said as a change to make in one's own loop beside this trainer's switch; then warnings for
    fixes measured worse on data of the user's kind (exploratory ones labelled so). Unrecognizable
    samples (by the detector's `rules`) get quality fixes only."""
    if report["verdict"] == "healthy":
        return []
    if (report.get("scores") or {}).get("nonfinite_share"):
        return [DIVERGED]
    kinds = collapse_kinds(report)
    lines = []
    data_kind = _kind_of_data(dataset)
    why = unrecognizable(report, rules) if data_kind != TRANSLATION else None  # a translator: B crops
    if why:
        kinds = [kind for kind in kinds if kind == LOW_QUALITY] or [LOW_QUALITY]
        lines.append(
            f"these samples do not look like {dataset or 'the data'} ({why}): their class histogram "
            "means nothing yet; fix quality first"
        )
    rows = table if table is not None else measured_fixes()
    mine = [row for row in rows if _kind_of_data(row["data"]) == data_kind]
    measured_here = {row["fix"] for row in mine}
    usable = [row for row in rows if row in mine or row["fix"] not in measured_here]
    if data_kind == TRANSLATION:
        usable = mine  # a translator's fixes are not an unconditional GAN's (mode seeking has no z)
    fixes = _cited_fixes(usable, kinds, dataset, data_kind)
    lines += [_fix_line(fix, row, shown, elsewhere, dataset) for fix, row, shown, elsewhere in fixes[:SHOWN]]
    if len(fixes) > SHOWN:
        more = len(fixes) - SHOWN
        lines.append(
            f"{more} more measured fix{'es' if more > 1 else ''} for this kind: results/fix-atlas/matrix.md"
        )
    if not fixes:
        lines.append(_no_fix_line(kinds, data_kind, mine))
    cited = {(row["fix"], row["testbed"]) for _, row, _, _ in fixes[:SHOWN]}
    lines += _warnings([row for row in mine if (row["fix"], row["testbed"]) not in cited])
    if "class_conditional_accuracy" in (report.get("scores") or {}) and (fixes or mine):
        lines.append(CONDITIONAL)
    return lines


def _no_fix_line(kinds: list[str], data_kind: str | None, mine: list[dict[str, Any]]) -> str:
    """Nothing established for these kinds: what was measured on data of the user's kind."""
    said = [
        "one output for every input" if kind == ONE_OUTPUT and data_kind == TRANSLATION else kind
        for kind in kinds
    ]  # a translator has no z
    seen = ", ".join(said) or "this kind of collapse"
    text = f"no fix for {seen} has an established effect in this project's declared studies yet"
    if mine:
        testbeds = ", ".join(sorted({row["testbed"] for row in mine}))
        other = "2-D mixtures" if data_kind == "image" else "other kinds of data"
        count = len({row["fix"] for row in mine})
        return text + (
            f": {count} fix{'es' if count > 1 else ''} measured on data like yours ({testbeds} "
            f"testbed{'s' if ', ' in testbeds else ''}), none established for it; results on {other} "
            "are not carried over to your kind of data"
        )
    if data_kind == TRANSLATION:
        return text + (
            " for translators; results on 2-D mixtures and unconditional image GANs are not carried "
            f"over to them. {TRANSLATION_PILOT}"
        )
    return text


def _fix_line(fix: str, row: dict[str, Any], shown: list, elsewhere: bool, dataset: str | None) -> str:
    """One cited fix: how to make the change, this trainer's switch, the numbers, the evidence, and
    a label when the row was measured on other data than the user's."""
    numbers = "; ".join(_number_text(name, m) for name, m in shown)
    label = ""
    if elsewhere:
        label = (
            f" [measured on {row['data']} only, with that testbed's settings: no finished study on your "
            "kind of data has measured it]"
        )
    elif dataset and not _same_content(row["data"], dataset):
        label = f" [measured on {row['data']}, not on {dataset}: data of your kind, other content]"
    for established, words in ((True, "but established worse"), (False, "and worse, exploratory")):
        worse = "; ".join(
            f"{name} {m['before']:.3g} -> {m['after']:.3g}" for name, m in _worse(row, established)
        )
        numbers += f" ({words}: {worse})" if worse else ""
    where = f"the {row['testbed']} testbed{_non_start_text(row, ', left out of these numbers')}"
    return f"{_how(row)} ({fix}): {numbers} on {where}; evidence {row['evidence']}{label}"


def _same_content(measured: str, dataset: str) -> bool:
    """One dataset, or one a sample of the other whose real test images it is compared with
    (mnist-5k and mnist); not Fashion-MNIST beside MNIST, nor spatial-two beside spatial-one."""
    return measured == dataset or dataset == spec(measured).reference or spec(dataset).reference == measured


def _non_start_text(row: dict[str, Any], after: str = "") -> str:
    """' (G did not start in k of n runs...; the baseline's in j of m)' where the testbed declared a
    non-start and some of the fix's runs never started, else ''."""
    failed = row.get("non_starts")
    if not failed:
        return ""
    k, n = len(failed["seeds"]), failed["runs"]
    base = failed.get("baseline") or {"seeds": [], "runs": 0}
    beside = f"; the baseline's in {len(base['seeds'])} of {base['runs']}" if base["runs"] else ""
    return f" (G did not start in {k} of {n} run{'s' * (n != 1)}{after}{beside})"


def _fails_more(row: dict[str, Any]) -> bool:
    """The fix's runs failed to start more often than the baseline's (all failing: always)."""
    failed = row.get("non_starts")
    if not failed:
        return False
    base = failed.get("baseline") or {"seeds": [], "runs": 0}
    if len(failed["seeds"]) == failed["runs"] or not base["runs"]:
        return True
    return len(failed["seeds"]) / failed["runs"] > len(base["seeds"]) / base["runs"]


def _how(row: dict[str, Any]) -> str:
    """The change in one's own loop, then this trainer's switch (the switch alone when unwritten)."""
    return f"{row['how']}; in this trainer: {row['switch']}" if row.get("how") else row["switch"]


def _worse(row: dict[str, Any], established: bool) -> list[tuple[str, dict[str, Any]]]:
    """A row's primaries measured worse, established after Holm or (False) exploratory."""
    return [
        (name, m) for name, m in row["metrics"].items() if m.get("worse") and m["established"] == established
    ]


def _cited_fixes(
    rows: list[dict[str, Any]], kinds: list[str], dataset: str | None, data_kind: str | None
) -> list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]], bool]]:
    """(fix, its best row, the metrics shown, measured on other data only), one per fix: rows on
    the same dataset, then the same kind of data, then other data; larger effects first."""
    best: dict[str, tuple[tuple, dict[str, Any], list, bool]] = {}
    for row in rows:
        shown = [(name, m) for name, m in row["metrics"].items() if m["improved"] and m["kind"] in kinds]
        if not shown:
            continue
        closeness = (row["data"] != dataset, _kind_of_data(row["data"]) != data_kind)
        strength = max(
            (abs(m["change"]) / m["half_width"] for _, m in shown if m["half_width"] > 0), default=0.0
        )
        key = (*closeness, -strength)
        if row["fix"] not in best or key < best[row["fix"]][0]:
            best[row["fix"]] = (key, row, shown, closeness[1])
    ordered = sorted(best.items(), key=lambda item: item[1][0])
    return [(fix, row, shown, elsewhere) for fix, (_, row, shown, elsewhere) in ordered]


def _warnings(rows: list[dict[str, Any]]) -> list[str]:
    """Fixes measured worse on a primary in these rows (data of the user's kind, not cited): the
    metrics established worse and the exploratory ones, each group labelled; and runs of theirs
    that never started, where the testbed declared a non-start. One line a fix, the fixes
    established worse somewhere first; in a line, the testbeds where it was established worse
    first."""
    found: dict[str, list[tuple[bool, str, str, dict[str, Any]]]] = {}
    for row in rows:
        groups = []
        for established, label in (
            (True, "established after Holm"),
            (False, "exploratory: the paired interval is on the worse side, not established after Holm"),
        ):
            worse = _worse(row, established)
            if worse:
                groups.append("; ".join(_number_text(name, m) for name, m in worse) + f" ({label})")
        said = "was worse on" if groups else "on"
        if _fails_more(row):
            groups.append(_non_start_text(row).strip(" ()"))
        if groups:
            part = f"the {row['testbed']} testbed: {'; '.join(groups)}; evidence {row['evidence']}"
            found.setdefault(row["fix"], []).append((bool(_worse(row, True)), said, part, row))
    lines = []
    for fix, seen in sorted(found.items(), key=lambda item: min(_rank(e) for e in item[1])):
        seen.sort(key=_rank)
        (_, said, part, row), rest = seen[0], seen[1:]
        more = "".join(f"; and {'' if s == said else s + ' '}{p}" for _, s, p, _ in rest)
        lines.append(f"warning: {fix} ({_how(row)}) {said} {part}{more}")
    return lines


def _rank(entry: tuple[bool, str, str, dict[str, Any]]) -> tuple[bool, bool]:
    """A warning's order: established worse first, then worse, then runs that never started."""
    return not entry[0], entry[1] != "was worse on"


def _number_text(name: str, m: dict[str, Any]) -> str:
    return (
        f"{name} {m['before']:.3g} -> {m['after']:.3g} ({m['change']:+.3g} +- {m['half_width']:.2g}, "
        f"{m['seeds']} seeds, Holm p {m['holm_p']:.2g})"
    )
