"""The README's tables from this folder's runs.csv (written by `modecollapse report`).

python results/stacked-mnist-gap/make_table.py
"""

import csv
from pathlib import Path

from modecollapse.experiments.stats import seed_cell as cell

HERE = Path(__file__).parent
ORDER = ["dcgan", "pacdcgan2", "classic_uniform_z", "pacgan_layout_normal_z", "pacgan_layout_dcgan"]
COLUMNS = [
    ("modes", "{:.0f}"),
    ("kl_uniform", "{:.2f}"),
    ("recognizable_share", "{:.2f}"),
    ("modes_recognizable", "{:.0f}"),
    ("fcd", "{:.0f}"),
    ("near_duplicate_rate", "{:.2f}"),
]


rows = [r for r in csv.DictReader((HERE / "runs.csv").open()) if r["status"] == "completed"]
print("| setting | seeds | " + " | ".join(name for name, _ in COLUMNS) + " | verdicts |")
print("|---" * (len(COLUMNS) + 3) + "|")
for variant in ORDER:
    group = [r for r in rows if r["setting"] == f"variant={variant}"]
    if not group:
        continue
    cells = [cell([float(r[name]) for r in group], form) for name, form in COLUMNS]
    verdicts = ", ".join(sorted({r["verdict"] for r in group}))
    print(
        f"| {variant} | {len(group)} ({', '.join(r['seed'] for r in group)}) | "
        + " | ".join(cells)
        + f" | {verdicts} |"
    )
