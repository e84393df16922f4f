"""The verdict per published row, from the rules declared in
experiments/label-flip-steps/as_published_65k.toml's header and nothing else. Reads this folder's
runs.csv (each run's relative onset) and analysis.csv (the declared, Holm-corrected onset
differences), both written by `modecollapse report`; prints a Markdown table.

    python results/label-flip-steps/65k/verdicts.py results/label-flip-steps/65k
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from modecollapse.experiments.stats import t_interval

STEPS_PER_EPOCH = 937
LENGTH = 65600
SEEDS = 3
PUBLISHED = {0.0: "13", 0.01: "15", 0.05: "25", 0.1: "70+", 0.15: "70+", 0.2: "70+"}
SETTING = "variant=as_published,label_flip_fraction={}"


def onsets(folder: Path) -> dict[float, list[float | None]]:
    """Per flipped share: each completed run's relative onset step (None: no onset)."""
    found: dict[float, list[float | None]] = {}
    for row in csv.DictReader(open(folder / "runs.csv", newline="")):
        if row["status"] != "completed":
            continue
        share = float(row["setting"].rsplit("=", 1)[1])
        onset = row["relative_onset_step"]
        found.setdefault(share, []).append(float(onset) if onset else None)
    return found


def onset_row(share: float, runs: list[float | None]) -> tuple[str, str]:
    """(what was tested, verdict) for one published 'epochs to mode collapse' row."""
    if len(runs) < SEEDS:
        return f"{len(runs)} of {SEEDS} runs finished", "not answered (runs missing)"
    dated = [r for r in runs if r is not None]
    if share == 0.0:
        if len(dated) < len(runs):
            return f"{len(runs) - len(dated)} of {len(runs)} runs have no onset", "not answered"
        mean, half, _ = t_interval([r / STEPS_PER_EPOCH for r in dated])
        low, high = mean - half, mean + half
        tested = f"onset epochs {', '.join(f'{r / STEPS_PER_EPOCH:.1f}' for r in dated)}: 95 % t-interval "
        tested += f"[{low:.1f}, {high:.1f}]"
        return tested, "holds" if low <= 13 <= high else "does not hold"
    early = [r for r in dated if r < LENGTH]
    tested = f"{len(early)} of {len(runs)} runs have an onset before {LENGTH:,} steps"
    if early:
        tested += f" (steps {', '.join(f'{r:,.0f}' for r in early)})"
    if not early:
        return tested, "holds"
    if len(early) == len(runs):
        return tested, "does not hold"
    return tested, f"holds in {len(runs) - len(early)} of {len(runs)} seeds"


def delay_row(folder: Path, share: float) -> tuple[str, str]:
    """(what was tested, verdict) for 'flipping delays collapse' at one level."""
    for row in csv.DictReader(open(folder / "analysis.csv", newline="")):
        if row["setting"] == SETTING.format(share) and row["metric"] == "relative_onset_step":
            paired = len(row["seeds"].split())
            if paired < SEEDS:
                return f"paired on {paired} of {SEEDS} seeds so far", "not answered (runs missing)"
            change, half = float(row["change"]), float(row["ci95"])
            tested = f"onset {change:+,.0f} ± {half:,.0f} steps vs 0 % (Holm p {float(row['holm_p']):.2g})"
            if row["established"] != "True":
                return tested, "not established"
            return tested, "holds" if change > 0 else "does not hold"
    return "no paired comparison yet", "not answered (runs missing)"


def table(folder: Path) -> str:
    found = onsets(folder)
    lines = ["| flipped | published | tested (relative onset, as_published, 65,600 steps) | verdict |"]
    lines.append("|---|---|---|---|")
    for share, published in PUBLISHED.items():
        if share not in (0.0, 0.1, 0.15, 0.2):
            lines.append(f"| {share:.0%} | {published} epochs | not run at 65,600 steps | not answered |")
            continue
        tested, verdict = onset_row(share, found.get(share, []))
        lines.append(f"| {share:.0%} | {published} epochs | {tested} | {verdict} |")
    for share in (0.1, 0.15, 0.2):
        tested, verdict = delay_row(folder, share)
        lines.append(f"| {share:.0%} vs 0 % | flipping delays collapse | {tested} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    print(table(parser.parse_args().folder))
