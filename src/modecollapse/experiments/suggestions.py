"""Build diagnose's "what to try next" table from declared comparisons only.

Reads every results/**/testbed.json (written by `modecollapse atlas`) and the analysis.csv
beside it, and keeps each fix's *declared primary* comparisons against its testbed's baseline
(paired by seed on one machine, Holm-corrected across the testbed's family). Every fix a testbed
measured enters, so that diagnose knows which fixes data of the user's kind has measured, even
without an effect; it cites a fix only where a primary is an established improvement, and only for
the kind of collapse that primary speaks to (metrics/kinds.py). Nothing exploratory is cited as a
fix; a primary measured worse is a warning (exploratory when not established).

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
from modecollapse.errors import ModeCollapseError
from modecollapse.files import atomic_write_text


def _number(text: str) -> float:
    return float(text) if text not in ("", None) else math.nan


HOW = {
    "label_flip_10": "flip 10 % of D's real/fake labels each step",
    "label_flip_20": "flip 20 % of D's real/fake labels each step",
    "label_smoothing": "one-sided label smoothing: D's target for real images 0.9 instead of 1",
    "instance_noise": "add Gaussian noise (std 0.1, annealed to 0) to every sample D sees, real and fake",
    "minibatch_stddev": "minibatch-stddev: append the batch's feature standard deviation as one more "
    "channel before D's last layer (ProGAN)",
    "minibatch_discrimination": "minibatch discrimination: a layer in D that compares each sample with the "
    "rest of the batch (Salimans et al. 2016)",
    "pacgan2": "pack 2: D judges pairs of samples concatenated along channels (real with real, fake with "
    "fake); keep the real images per step, so G draws twice as many",
    "pacgan4": "pack 4: D judges groups of 4 samples concatenated along channels",
    "unrolled5": "unroll D: G's loss is taken against a copy of D moved 5 extra steps ahead (Metz et al.)",
    "mode_seeking": "mode seeking: add |z1 - z2| / |G(z1) - G(z2)| to G's loss (MSGAN, weight 1)",
    "wgan_gp": "WGAN-GP: critic loss with a gradient penalty (lambda 10 on images; the 2-D testbeds "
    "used 0.1, see the switch), 5 critic steps per G step, no BatchNorm in the critic (Gulrajani et al. "
    "2017)",
    "hinge_spectral_norm": "hinge loss with spectral norm on every D layer (SN-GAN)",
    "r1": "R1: penalise |grad D(x_real)|^2 in D's loss (Mescheder et al. 2018)",
    "r3gan": "R3GAN's loss: relativistic pairing softplus(D(fake) - D(real)) with R1 and R2 penalties",
    "history_buffer": "show D a mix of new fakes and fakes from a buffer of past batches",
    "g_ema": "keep an exponential moving average of G's weights (decay 0.999) and sample from it",
    "semantic": "semantic consistency: a fixed pretrained classifier of the content must give G(a) the "
    "label it gives a (cross-entropy, weight 1, both directions; CyCADA)",
    "coordconv": "CoordConv: append two channels of pixel coordinates (-1 to 1) to the input of G and of "
    "D (Liu et al. 2018)",
    "unet": "a U-Net generator: skip connections between encoder and decoder levels (pix2pix)",
    "deeper_encoder": "a deeper encoder: one more stride-2 halving before G's residual blocks (a larger "
    "receptive field)",
    "image_d_cycle5": "an image-level D (its features averaged into one score for the whole image) and the "
    "cycle weight halved to 5",
    "cycle_weight_1": "lower the cycle-consistency weight from 10 to 1 (identity loss kept at half of it)",
    "gcgan": "geometry consistency: G(flip(a)) must equal flip(G(a)), with a second D for flipped "
    "images (GcGAN, weight 20)",
}
"""Each fix as a change a user can make in their own training loop (shown beside the switch)."""


def _direction(row: dict[str, str], established: bool) -> str | None:
    """'better' or 'worse': an established change by its sign (the analysis tested it at its
    declared alpha), any other when its 95 % paired interval excludes 0; else None."""
    change, half_width = _number(row["change"]), _number(row["ci95"])
    if not established and not abs(change) > half_width:
        return None
    return "better" if (change > 0) == (row["better"] == "higher") else "worse"


def _flag(value: str, column: str, path: Path) -> bool:
    """A True/False column of analysis.csv; anything else is refused, not read as False."""
    if value not in ("True", "False"):
        raise ModeCollapseError(f"{path}: column {column} holds {value!r}, not True or False")
    return value == "True"


def planned_runs(testbed: dict[str, Any]) -> int:
    """The runs a testbed's sweep file plans (testbed.json's runs_planned; older ones: its runs)."""
    return testbed.get("runs_planned", testbed.get("runs", 0))


def is_provisional(testbed: dict[str, Any]) -> bool:
    """A testbed whose declared study has runs still to finish: diagnose cites none of it yet
    (Holm's family is not complete, so an effect established now may not stay so). The atlas
    records the analysis's own count (AnalysisResult.unfinished); older testbed files, the counts."""
    if "runs_to_finish" in testbed:
        return testbed["runs_to_finish"] > 0
    return testbed.get("runs_completed", 0) < planned_runs(testbed)


def testbed_entries(testbed_file: Path, results: Path) -> list[dict[str, Any]]:
    """The table's entries of one testbed: every fix it measured, with its declared primaries
    (improved: established better; worse: established worse, or an exploratory change whose 95 %
    paired interval is on the worse side)."""
    testbed = json.loads(testbed_file.read_text())
    if is_provisional(testbed):
        return []
    folder = testbed_file.parent
    by_setting: dict[str, dict[str, dict[str, Any]]] = {}
    with (folder / "analysis.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if not _flag(row["primary"], "primary", folder / "analysis.csv"):
                continue
            established = _flag(row["established"], "established", folder / "analysis.csv")
            direction = _direction(row, established)
            by_setting.setdefault(row["setting"], {})[row["metric"]] = {
                "kind": row["kind"],
                "better": row["better"],
                "before": _number(row["baseline_mean"]),
                "after": _number(row["setting_mean"]),
                "change": _number(row["change"]),
                "half_width": _number(row["ci95"]),
                "seeds": len(row["seeds"].split()),
                "holm_p": _number(row["holm_p"]),
                "established": established,
                "direction": direction,
                "improved": established and direction == "better",
                "worse": direction == "worse",
            }
    declared = bool((testbed.get("analysis") or {}).get("before_runs"))
    counts = (testbed.get("non_starts") or {}) if declared else {}  # as the matrix: declared only
    baseline = testbed.get("baseline")
    base_count = counts.get(baseline)
    non_starts = {
        s: {**v, "baseline": base_count} for s, v in counts.items() if v["seeds"] and s != baseline
    }  # each with the baseline's count, so that a rate is read beside the baseline's
    for setting in non_starts:  # a fix none of whose runs started has no comparison, and is a finding
        by_setting.setdefault(setting, {})
    entries = []
    for setting, metrics in by_setting.items():
        fix = setting.removeprefix("variant=")
        entries.append({
            "fix": fix,
            "switch": testbed["settings"].get(setting, setting),
            "how": HOW.get(fix, ""),
            "testbed": testbed["testbed"],
            "data": testbed["data"],
            "setting": testbed["description"],
            "evidence": f"results/{folder.relative_to(results).as_posix()}",
            "metrics": metrics,
            **({"non_starts": non_starts[setting]} if setting in non_starts else {}),  # runs never started
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
    if not any(args.results.rglob("testbed.json")):  # else diagnose's shipped table becomes []
        parser.error(f"{args.results} holds no testbed.json (the atlas writes them); nothing written")
    table = build(args.results)
    for path in sorted(args.results.rglob("testbed.json")):
        if is_provisional(testbed := json.loads(path.read_text())):
            planned = planned_runs(testbed)
            left = testbed.get("runs_to_finish", planned - testbed.get("runs_completed", 0))
            print(f"left out: {testbed['testbed']} is provisional ({left} of {planned} runs to finish)")
    atomic_write_text(args.out, json.dumps(table, indent=1) + "\n")
    for entry in table:
        for metric, m in entry["metrics"].items():
            state = "established" if m["established"] else "exploratory"
            mark = "no change shown" if m["direction"] is None else f"{state} {m['direction']}"
            print(f"{entry['fix']} on {entry['testbed']}: {metric} {m['before']:.3g} -> {m['after']:.3g} "
                  f"({m['change']:+.3g} +- {m['half_width']:.2g}, {m['seeds']} seeds): {mark}")  # fmt: skip
    fixes = len({entry["fix"] for entry in table})
    print(f"wrote {args.out} ({len(table)} entries: {fixes} fixes x the testbeds that measured them)")


if __name__ == "__main__":
    main()
