"""Do the rules that read modes beyond the classifier's confusions change verdicts on real GAN runs?

Replays the detector on every evaluation of finished image studies, from the class counts their
records keep: once as recorded, once with `modes_beyond_confusion` and its bootstrap sd added
(metrics/classes.py), and counts the evaluations whose single-evaluation verdict changes. It also
replays each run's relative onset (CollapseTracker), which reads the modes as read, against the
same onset read on the modes beyond the confusions (each evaluation's `modes` replaced by the
estimate where lower, its bootstrap sd as the noise), and counts the runs whose onset moves. The
studies: the Fashion-MNIST pilot (results/fix-atlas/pilot/fashion, 15 runs, 8,000 steps) and
the old MNIST atlas (results/fix-atlas/mnist, 85 runs). Reads records only; trains nothing:

    .venv/bin/python benchmarks/confusion_rules_replay.py

Prints Markdown.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import torch
from relative_margins import beyond_confusion

from modecollapse.metrics import classes
from modecollapse.metrics.detector import detect, verdict_of
from modecollapse.metrics.scores import card_confusion
from modecollapse.models.classifier import load_classifier

RESULTS = Path(__file__).resolve().parents[1] / "results" / "fix-atlas"
STUDIES = {"Fashion-MNIST pilot": ("pilot/fashion", "fashion-mnist"), "MNIST atlas": ("mnist", "mnist")}


def replay(folder: Path, classifier: str) -> tuple[Counter, list[int], int, Counter]:
    """(verdict changes old -> new, modes read minus modes beyond confusion, evaluations,
    relative onsets of runs: same / earlier / later / new / gone, reading the modes beyond
    confusion against as read)."""
    confusion = card_confusion(load_classifier(classifier))
    changes, gaps, total, onsets = Counter(), [], 0, Counter()
    for line in (folder / "records.jsonl").read_text().splitlines():
        series = []
        for evaluation in json.loads(line)["evals"]:
            counts = torch.tensor(evaluation["class_counts"], dtype=torch.float64)
            scores = {k: v for k, v in evaluation.items() if isinstance(v, int | float)}
            beyond = classes.modes_beyond_confusion(counts, confusion)
            spread = classes.modes_beyond_confusion_sd(counts, confusion)
            before = verdict_of(scores)[0]
            estimated = {**scores, "modes_beyond_confusion": beyond, "modes_beyond_confusion_sd": spread}
            after = verdict_of(estimated)[0]
            changes[(before, after)] += before != after
            gaps.append(int(scores["modes"] - beyond))
            total += 1
            series.append((len(series), estimated))
        read = detect(series)["relative_onset_step"]
        beyond_read = detect([(i, beyond_confusion(s)) for i, s in series])["relative_onset_step"]
        onsets[_moved(read, beyond_read)] += 1
    return changes, gaps, total, onsets


def _moved(before: int | None, after: int | None) -> str:
    if before == after:
        return "same"
    if before is None or after is None:
        return "new" if before is None else "gone"
    return "earlier" if after < before else "later"


def main() -> None:
    print("| study | evaluations | verdicts changed | modes read - beyond confusion (count of evaluations) "
          "| relative onsets of runs, on modes beyond confusion against as read |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, (folder, classifier) in STUDIES.items():
        changes, gaps, total, onsets = replay(RESULTS / folder, classifier)
        moved = ", ".join(f"{a} -> {b}: {n}" for (a, b), n in sorted(changes.items()) if n) or "none"
        spread = ", ".join(f"{gap}: {n}" for gap, n in sorted(Counter(gaps).items()))
        runs = ", ".join(f"{kind} {onsets[kind]}" for kind in ("same", "earlier", "later", "new", "gone"))
        print(f"| {name} | {total} | {sum(changes.values())} ({moved}) | {spread} | {runs} |")


if __name__ == "__main__":
    main()
