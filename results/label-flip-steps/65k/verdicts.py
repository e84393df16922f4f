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
from typing import NamedTuple

from modecollapse.experiments.stats import t_interval

STEPS_PER_EPOCH = 937
LENGTH = 65600
SEEDS = (0, 1, 2)
ALPHA = 0.05
LEVELS = (0.1, 0.15, 0.2)
PRIMARY = ("relative_onset_step", "modes", "kl_uniform")  # the declared Holm family: 3 levels x these
PUBLISHED = {0.0: "13", 0.01: "15", 0.05: "25", 0.1: "70+", 0.15: "70+", 0.2: "70+"}
SETTING = "variant=as_published,label_flip_fraction={}"


class Run(NamedTuple):
    onset: float | None
    """The relative onset step; None: none in 65,600 steps (censored)."""
    never_healthy: bool


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def runs_by_level(folder: Path) -> dict[float, dict[int, Run]]:
    """Per flipped share: the completed runs of the declared seeds, by seed."""
    found: dict[float, dict[int, Run]] = {}
    for row in read_csv(folder / "runs.csv"):
        if row["status"] != "completed" or int(row["seed"]) not in SEEDS:
            continue
        share = float(row["setting"].rsplit("=", 1)[1])
        onset = float(row["relative_onset_step"]) if row["relative_onset_step"] else None
        found.setdefault(share, {})[int(row["seed"])] = Run(onset, row["never_healthy"] == "True")
    return found


def onset_row(share: float, runs: dict[int, Run]) -> tuple[str, str]:
    """(what was tested, verdict) for one published 'epochs to mode collapse' row."""
    if len(runs) < len(SEEDS):
        return f"{len(runs)} of {len(SEEDS)} runs finished", "not answered (runs missing)"
    dated = [r.onset for r in runs.values() if r.onset is not None]
    never = sum(r.never_healthy and r.onset is None for r in runs.values())
    flat = f"; {never} of them never healthy (absolute rule)" if never else ""
    if share == 0.0:
        if len(dated) < len(runs):
            return f"{len(runs) - len(dated)} of {len(runs)} runs have no onset{flat}", "not answered"
        mean, half, _ = t_interval([r / STEPS_PER_EPOCH for r in dated])
        low, high = mean - half, mean + half
        tested = f"onset epochs {', '.join(f'{r / STEPS_PER_EPOCH:.1f}' for r in dated)}: 95 % t-interval "
        tested += f"[{low:.1f}, {high:.1f}]"
        return tested, "holds" if low <= 13 <= high else "does not hold"
    early = [r for r in dated if r < LENGTH]
    tested = f"{len(early)} of {len(runs)} runs have an onset before {LENGTH:,} steps"
    if early:
        tested += f" (steps {', '.join(f'{r:,.0f}' for r in early)})"
    if len(early) < len(runs):
        tested += f"; {len(runs) - len(early)} without{flat}"
    if not early:
        return tested, "holds"
    if len(early) == len(runs):
        return tested, "does not hold"
    return tested, f"holds in {len(runs) - len(early)} of {len(runs)} seeds"


def delay_row(comparisons: list[dict[str, str]], share: float) -> tuple[str, str]:
    """(what was tested, verdict) for 'flipping delays collapse' at one level. Holm's correction
    spans every level and primary metric, so no verdict until that whole family is paired on
    every seed, except 'not established' for a level whose own seeds are in with a raw p at or
    above alpha (Holm only raises p); an analysis declared after the runs gives 'exploratory'."""
    family = [c for c in comparisons if c["primary"] == "True"]
    complete = len(family) == len(LEVELS) * len(PRIMARY)
    complete = complete and all(len(c["seeds"].split()) == len(SEEDS) for c in family)
    for row in comparisons:
        if row["setting"] != SETTING.format(share) or row["metric"] != "relative_onset_step":
            continue
        if row["primary"] != "True":
            return "the analysis was not declared before the runs", "exploratory"
        paired = len(row["seeds"].split())
        change, half = float(row["change"]), float(row["ci95"])
        if not complete:
            tested = f"paired on {paired} of {len(SEEDS)} seeds; Holm family incomplete"
            if paired == len(SEEDS) and float(row["p"]) >= ALPHA:  # Holm's p is never below the raw p
                tested += f"; onset {change:+,.0f} ± {half:,.0f} steps vs 0 %, raw p {float(row['p']):.2g}"
                return tested, "not established"
            return tested, "not answered"
        tested = f"onset {change:+,.0f} ± {half:,.0f} steps vs 0 % (Holm p {float(row['holm_p']):.2g})"
        if row["established"] != "True":
            return tested, "not established"
        return tested, "holds" if change > 0 else "does not hold"
    return "no paired comparison yet", "not answered (runs missing)"


def table(folder: Path) -> str:
    """The Markdown table: one row per published row, then the delay per level."""
    found = runs_by_level(folder)
    comparisons = read_csv(folder / "analysis.csv")
    lines = ["| flipped | published | tested (relative onset, as_published, 65,600 steps) | verdict |"]
    lines.append("|---|---|---|---|")
    for share, published in PUBLISHED.items():
        if share not in (0.0, *LEVELS):
            lines.append(f"| {share:.0%} | {published} epochs | not run at 65,600 steps | not answered |")
            continue
        tested, verdict = onset_row(share, found.get(share, {}))
        lines.append(f"| {share:.0%} | {published} epochs | {tested} | {verdict} |")
    for share in LEVELS:
        tested, verdict = delay_row(comparisons, share)
        lines.append(f"| {share:.0%} vs 0 % | flipping delays collapse | {tested} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    print(table(parser.parse_args().folder))
