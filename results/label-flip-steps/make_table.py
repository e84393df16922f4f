"""The README's tables from this folder's runs*.csv and curves*.csv (written by `modecollapse
report`; one pair per sweep folder: runs.csv for label_flip_steps.toml, runs-1pct.csv for
label_flip_steps_1pct.toml).

    python results/label-flip-steps/make_table.py
"""

import csv
import math
import statistics
from pathlib import Path

from scipy import stats

HERE = Path(__file__).parent
STEPS_PER_PUBLISHED_EPOCH = 938  # 60,000 digits at batch 64
FROM_STEP = 2000  # the first evaluation (step 1,000) is before any run draws digits
COLUMNS = [("modes", "{:.1f}"), ("kl_uniform", "{:.3f}"), ("fcd", "{:.1f}"), ("recall", "{:.2f}"),
           ("recognizable_share", "{:.2f}"), ("diversity_ratio", "{:.3f}"), ("near_duplicate_rate", "{:.3f}")]  # fmt: skip


def cell(values, form):
    mean = statistics.mean(values)
    if len(values) < 2:
        return form.format(mean) + " (1 seed)"
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return f"{form.format(mean)} ± {form.format(half)}"


def onset(value):
    if not value:
        return "none"
    step = int(float(value))
    return f"{step:,} ({step / STEPS_PER_PUBLISHED_EPOCH:.1f} ep)"


runs = [r for p in sorted(HERE.glob("runs*.csv")) for r in csv.DictReader(p.open()) if r["status"] == "completed"]
curves = [c for p in sorted(HERE.glob("curves*.csv")) for c in csv.DictReader(p.open())]
settings = sorted({r["setting"] for r in runs}, key=lambda s: float(s.split("label_flip_fraction=")[1]))

print("Final evaluation (mean ± 95 % t-interval over seeds):\n")
print("| flipped labels | seeds | steps | " + " | ".join(name for name, _ in COLUMNS) + " |")
print("|---" * (len(COLUMNS) + 3) + "|")
for setting in settings:
    group = [r for r in runs if r["setting"] == setting]
    fraction = float(setting.split("label_flip_fraction=")[1])
    cells = [cell([float(r[name]) for r in group], form) for name, form in COLUMNS]
    steps = ", ".join(sorted({r["step"] for r in group}))
    print(f"| {fraction:.0%} | {len(group)} | {steps} | " + " | ".join(cells) + " |")

print(f"\nPer run: onsets (absolute rule, relative rule) and extremes over the evaluations from step {FROM_STEP:,} on:\n")
print("| flipped labels | seed | absolute onset step (published epochs) | relative onset step | "
      "fewest modes | largest KL | largest near-duplicate rate | final verdict |")
print("|---|---|---|---|---|---|---|---|")
for setting in settings:
    for r in sorted((r for r in runs if r["setting"] == setting), key=lambda r: int(r["seed"])):
        mine = [c for c in curves if c["run"] == r["run"] and int(c["step"]) >= FROM_STEP]
        fewest = min(float(c["modes"]) for c in mine)
        kl = max(float(c["kl_uniform"]) for c in mine)
        dup = max(float(c["near_duplicate_rate"]) for c in mine)
        fraction = float(setting.split("label_flip_fraction=")[1])
        print(f"| {fraction:.0%} | {r['seed']} | {onset(r['collapse_onset_step'])} | "
              f"{onset(r['relative_onset_step'])} | {fewest:.0f} | {kl:.3f} | {dup:.3f} | {r['verdict']} |")
