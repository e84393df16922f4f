"""The README's tables from this folder's runs.csv and curves.csv (written by `modecollapse report`):
the final evaluation per setting (mean ± 95 % t-interval over seeds), PacDCGAN2 minus DCGAN paired by
seed, and the curves per run (whether each run had settled).

    python results/stacked-mnist-packing/make_table.py [FOLDER]

FOLDER defaults to this one; `10k/` holds the same runs lengthened to 10,000 iterations.
"""

import csv
import sys
from pathlib import Path

from modecollapse.experiments.stats import seed_cell as cell

HERE = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
ORDER = ["dcgan", "pacdcgan2"]
COLUMNS = [
    ("modes", "{:.0f}"),
    ("kl_uniform", "{:.2f}"),
    ("modes_recognizable", "{:.0f}"),
    ("recognizable_share", "{:.2f}"),
    ("fcd", "{:.0f}"),
    ("near_duplicate_rate", "{:.2f}"),
]


runs = [r for r in csv.DictReader((HERE / "runs.csv").open()) if r["status"] == "completed"]
curves = list(csv.DictReader((HERE / "curves.csv").open()))
final = {(r["setting"].split("=")[1], int(r["seed"])): r for r in runs}
print("Final evaluation (mean ± 95 % t-interval over seeds):\n")
print("| setting | seeds | steps | " + " | ".join(n for n, _ in COLUMNS) + " | verdicts |")
print("|---" * (len(COLUMNS) + 4) + "|")
for v in ORDER:
    seeds = sorted(s for (w, s) in final if w == v)
    if not seeds:
        continue
    group = [final[(v, s)] for s in seeds]
    steps = ", ".join(sorted({r["step"] for r in group}))
    verdicts = ", ".join(sorted({r["verdict"] for r in group}))
    print(
        f"| {v} | {len(seeds)} ({', '.join(map(str, seeds))}) | {steps} | "
        + " | ".join(cell([float(r[n]) for r in group], f) for n, f in COLUMNS)
        + f" | {verdicts} |"
    )
paired = sorted(s for (w, s) in final if w == "pacdcgan2" and ("dcgan", s) in final)
if len(paired) >= 2:
    print(
        f"| pacdcgan2 - dcgan, paired | {len(paired)} | | "
        + " | ".join(
            cell(
                [float(final[("pacdcgan2", s)][n]) - float(final[("dcgan", s)][n]) for s in paired],
                "{:+" + f[2:],
                paired=True,
            )
            for n, f in COLUMNS
        )
        + " | |"
    )

print("\nPer run, modes (any sample) / modes (recognizable) / KL at each evaluation:\n")
steps = sorted({int(c["step"]) for c in curves})
print("| setting | seed | " + " | ".join(f"{s:,}" for s in steps) + " |")
print("|---" * (len(steps) + 2) + "|")
for v in ORDER:
    for s in sorted(s for (w, s) in final if w == v):
        mine = {int(c["step"]): c for c in curves if c["run"] == final[(v, s)]["run"]}
        print(
            f"| {v} | {s} | "
            + " | ".join(
                f"{float(mine[t]['modes']):.0f} / {float(mine[t]['modes_recognizable']):.0f} / "
                f"{float(mine[t]['kl_uniform']):.2f}"
                if t in mine
                else ""
                for t in steps
            )
            + " |"
        )
