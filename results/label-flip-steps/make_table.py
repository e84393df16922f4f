"""The README's tables from this folder's CSV files (written by `modecollapse report`; one pair
per sweep folder):

- corrected variant: runs.csv / curves.csv (label_flip_steps.toml) and runs-1pct.csv /
  curves-1pct.csv (label_flip_steps.toml, its 1 % row);
- as_published variant at 20,000 steps: as-published-20k-runs.csv / as-published-20k-curves.csv
  (label_flip_steps_as_published_20k.toml) and its 10 % row, as-published-20k-10pct-runs.csv /
  -curves.csv (label_flip_steps_as_published_20k.toml, its 10 % row);
- the same on Fashion-MNIST's 60k: fashion-60k-runs.csv / fashion-60k-curves.csv
  (label_flip_steps_fashion.toml);
- as_published at width 64 (bf16): width64-runs.csv / width64-curves.csv
  (label_flip_steps_width_check.toml).

    python results/label-flip-steps/make_table.py
"""

import csv
import statistics
from pathlib import Path

from modecollapse.experiments.stats import seed_cell as cell

HERE = Path(__file__).parent
STEPS_PER_PUBLISHED_EPOCH = 938  # 60,000 digits at batch 64
FROM_STEP = 2000  # the first evaluation (step 1,000) is before any corrected run draws digits
FLAT = 0.5  # near-duplicate rate at or above which a run is drawing one flat image
COLUMNS = [
    ("modes", "{:.1f}"),
    ("kl_uniform", "{:.3f}"),
    ("fcd", "{:.1f}"),
    ("recall", "{:.2f}"),
    ("recognizable_share", "{:.2f}"),
    ("diversity_ratio", "{:.3f}"),
    ("near_duplicate_rate", "{:.3f}"),
]


def read(pattern):
    return [row for path in sorted(HERE.glob(pattern)) for row in csv.DictReader(path.open())]


def onset(value):
    if not value:
        return "none"
    step = int(float(value))
    return f"{step:,} ({step / STEPS_PER_PUBLISHED_EPOCH:.1f} ep)"


def fraction(setting):
    return float(setting.split("label_flip_fraction=")[1])


def draws_digits(c):
    """Not one flat image (near-duplicates below 0.5) and at least 5 classes among the samples."""
    return float(c["near_duplicate_rate"]) < FLAT and float(c["modes"]) >= 5


def digit_spells(curve):
    """(first step drawing digits, later steps when the run stopped drawing digits again)."""
    left = next((int(c["step"]) for c in curve if draws_digits(c)), None)
    back = [int(c["step"]) for c in curve if left and int(c["step"]) > left and not draws_digits(c)]
    return left, back


def late_window(runs, curves, first_step):
    """Each run's mean over its evaluations from `first_step` on (the as_published curves swing
    from one evaluation to the next, so one final evaluation is a noisy summary), then mean ±
    95 % t-interval over seeds, and each flip fraction minus 0 % paired by seed."""
    runs = [r for r in runs if r["status"] == "completed"]
    settings = sorted({r["setting"] for r in runs}, key=fraction)
    names = [name for name, _ in COLUMNS]

    def run_mean(r, name):
        return statistics.mean(
            float(c[name]) for c in curves if c["run"] == r["run"] and int(c["step"]) >= first_step
        )

    per_run = {(r["setting"], int(r["seed"])): {n: run_mean(r, n) for n in names} for r in runs}
    print(
        f"Mean over each run's evaluations from step {first_step:,} to the end, "
        "then mean ± 95 % t-interval over seeds:\n"
    )
    print("| flipped labels | seeds | " + " | ".join(names) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for setting in settings:
        group = [v for (st, _), v in per_run.items() if st == setting]
        print(
            f"| {fraction(setting):.0%} | {len(group)} | "
            + " | ".join(cell([g[n] for g in group], f) for n, f in COLUMNS)
            + " |"
        )
    base = settings[0]
    print("\nPaired by seed, minus 0 % (95 % t-interval; 'not established' where it contains 0):\n")
    print("| flipped labels | seeds | " + " | ".join(names) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for setting in settings[1:]:
        seeds = sorted(seed for (st, seed) in per_run if st == setting and (base, seed) in per_run)
        cells = []
        for n, form in COLUMNS:
            diffs = [per_run[(setting, k)][n] - per_run[(base, k)][n] for k in seeds]
            cells.append(cell(diffs, "{:+" + form[2:], paired=True, bold=False))
        print(f"| {fraction(setting):.0%} | {len(seeds)} | " + " | ".join(cells) + " |")


def tables(runs, curves, as_published=False):
    runs = [r for r in runs if r["status"] == "completed"]
    settings = sorted({r["setting"] for r in runs}, key=fraction)
    print("Final evaluation (mean ± 95 % t-interval over seeds):\n")
    print("| flipped labels | seeds | steps | " + " | ".join(name for name, _ in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for setting in settings:
        group = [r for r in runs if r["setting"] == setting]
        cells = [cell([float(r[name]) for r in group], form) for name, form in COLUMNS]
        steps = ", ".join(sorted({r["step"] for r in group}))
        print(f"| {fraction(setting):.0%} | {len(group)} | {steps} | " + " | ".join(cells) + " |")

    first = 0 if as_published else FROM_STEP
    print(
        "\nPer run: onsets (absolute rule, relative rule) and extremes over the evaluations "
        f"from step {first:,} on:\n"
    )
    extra = " draws digits from step | stops again at steps |" if as_published else ""
    print(
        "| flipped labels | seed |"
        + extra
        + " absolute onset step (published epochs) | relative onset step | "
        "fewest modes | largest KL | largest near-duplicate rate | final verdict |"
    )
    print("|---" * (8 + (2 if as_published else 0)) + "|")
    for setting in settings:
        for r in sorted((r for r in runs if r["setting"] == setting), key=lambda r: int(r["seed"])):
            mine = sorted((c for c in curves if c["run"] == r["run"]), key=lambda c: int(c["step"]))
            if as_published:
                left, back = digit_spells(mine)
                mine = [c for c in mine if left and int(c["step"]) >= left] or mine
                spells = f" {left:,} |" if left else " never |"
                spells += f" {', '.join(f'{s:,}' for s in back) or 'none'} |"
            else:
                mine = [c for c in mine if int(c["step"]) >= FROM_STEP]
                spells = ""
            fewest = min(float(c["modes"]) for c in mine)
            kl = max(float(c["kl_uniform"]) for c in mine)
            dup = max(float(c["near_duplicate_rate"]) for c in mine)
            print(
                f"| {fraction(setting):.0%} | {r['seed']} |{spells} {onset(r['collapse_onset_step'])} | "
                f"{onset(r['relative_onset_step'])} | {fewest:.0f} | {kl:.3f} | {dup:.3f} | {r['verdict']} |"
            )


print("## corrected\n")
tables(read("runs*.csv"), read("curves*.csv"))
for prefix, title in [
    ("as-published-20k", "as_published, 20,000 steps"),
    ("fashion-60k", "Fashion-MNIST 60k, as_published, 20,000 steps"),
    ("width64", "as_published at width 64 (bf16), 20,000 steps"),
]:
    if (HERE / f"{prefix}-runs.csv").exists():
        print(f"\n## {title}\n")
        print("(draws digits: near-duplicate rate below 0.5 and >= 5 classes; extremes from that step on)\n")
        runs, curves = read(f"{prefix}*-runs.csv"), read(f"{prefix}*-curves.csv")
        tables(runs, curves, as_published=True)
        print()
        late_window(runs, curves, 16000)
