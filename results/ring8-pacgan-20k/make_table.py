"""The README's late-window table from this folder's runs.csv and curves.csv (written by
`modecollapse report`): each run's mean over its evaluations from iteration 14,000 on, then
mean ± 95 % t-interval over seeds, and each setting minus the GAN paired by seed.

    python results/ring8-pacgan-20k/make_table.py [FOLDER] [--from STEP] [--plots]

FOLDER defaults to this one (the grid's folder and the pacgan4-40k folders work too); --from
sets the late window's first iteration (default 14,000, the last 6,000 of a 20,000-iteration
run; for longer runs --from is required, 34,000 for the 40,000-iteration runs: the default would
silently average 14,000-40,000);
--plots redraws metric-*.png from curves.csv (mean over seeds per step, ±1 std shaded, as
`modecollapse report` draws them), for when the runs came from more than one sweep folder.
After the tables it prints each setting's mean over seeds at every evaluation.
"""

import csv
import statistics
import sys
from pathlib import Path

from modecollapse.experiments.stats import seed_cell as cell

ARGS = [a for a in sys.argv[1:] if a != "--plots"]
FIRST_STEP = None
if "--from" in ARGS:
    i = ARGS.index("--from")
    FIRST_STEP = int(ARGS[i + 1])
    del ARGS[i : i + 2]
HERE = Path(ARGS[0]) if ARGS else Path(__file__).parent
NAMES = {"gan": "GAN", "pacgan4": "PacGAN4", "r1": "R1 (gamma 1)"}
COLUMNS = [("modes", "{:.1f}"), ("high_quality", "{:.2f}"), ("reverse_kl", "{:.2f}"),
           ("modes_well_formed", "{:.1f}"), ("mode_spread", "{:.2f}")]  # fmt: skip


runs = [r for r in csv.DictReader((HERE / "runs.csv").open()) if r["status"] == "completed"]
curves = list(csv.DictReader((HERE / "curves.csv").open()))
LAST_STEP = max(int(c["step"]) for c in curves)
if FIRST_STEP is None:
    if LAST_STEP > 20000:
        sys.exit(
            f"{HERE}: the runs go to {LAST_STEP:,} iterations; give --from STEP, the late window's "
            "first iteration (34000 for 40,000-iteration runs; the 20,000-iteration default, 14000, "
            f"would span 14,000-{LAST_STEP:,})"
        )
    FIRST_STEP = 14000
late = {}
for r in runs:
    mine = [c for c in curves if c["run"] == r["run"] and int(c["step"]) >= FIRST_STEP]
    late[(r["setting"].split("=")[1], int(r["seed"]))] = {
        n: statistics.mean(float(c[n]) for c in mine) for n, _ in COLUMNS
    }

variants = [v for v in NAMES if any(k[0] == v for k in late)]
print(f"Mean over each run's evaluations from iteration {FIRST_STEP:,} on, then over seeds (95 % t):\n")
print("| setting | seeds | " + " | ".join(n for n, _ in COLUMNS) + " |")
print("|---" * (len(COLUMNS) + 2) + "|")
for v in variants:
    seeds = sorted(s for (w, s) in late if w == v)
    print(
        f"| {NAMES[v]} | {len(seeds)} | "
        + " | ".join(cell([late[(v, s)][n] for s in seeds], f) for n, f in COLUMNS)
        + " |"
    )
for v in variants[1:]:
    seeds = sorted(s for (w, s) in late if w == v and ("gan", s) in late)
    diffs = {n: [late[(v, s)][n] - late[("gan", s)][n] for s in seeds] for n, _ in COLUMNS}
    print(
        f"| {NAMES[v]} - GAN, paired | {len(seeds)} | "
        + " | ".join(cell(diffs[n], "{:+" + f[2:], paired=True) for n, f in COLUMNS)
        + " |"
    )
print("\nFinal evaluation per run (modes / HQ / well-formed):\n")
for v in variants:
    rows = sorted((r for r in runs if r["setting"] == f"variant={v}"), key=lambda r: int(r["seed"]))
    print(
        f"- {NAMES[v]}: "
        + "; ".join(
            f"seed {r['seed']}: {float(r['modes']):.0f} / {float(r['high_quality']):.2f} / "
            f"{float(r['modes_well_formed']):.0f}"
            for r in rows
        )
    )

STEPS = sorted({int(c["step"]) for c in curves})
print("\nMean over seeds at each evaluation (iterations in thousands):\n")
print("| setting | metric | " + " | ".join(f"{t // 1000}k" for t in STEPS) + " |")
print("|---" * (len(STEPS) + 2) + "|")
for v in variants:
    for n, f in (("modes", "{:.1f}"), ("high_quality", "{:.2f}"), ("modes_well_formed", "{:.1f}")):
        by_step = [
            [float(c[n]) for c in curves if c["setting"] == f"variant={v}" and int(c["step"]) == t]
            for t in STEPS
        ]
        print(
            f"| {NAMES[v]} | {n} | "
            + " | ".join(f.format(statistics.mean(x)) if x else "-" for x in by_step)
            + " |"
        )

if "--plots" in sys.argv:
    from modecollapse.experiments.plots import plot_metrics
    from modecollapse.experiments.results import RunResult

    results = []
    for r in runs:
        evals = [
            {
                k: (int(v) if k == "step" else float(v))
                for k, v in c.items()
                if k not in ("run", "setting", "seed")
            }
            for c in curves
            if c["run"] == r["run"]
        ]
        results.append(
            RunResult(
                r["run"], r["setting"], int(r["seed"]), HERE, {}, sorted(evals, key=lambda e: e["step"])
            )
        )
    print("\nwrote", ", ".join(p.name for p in plot_metrics(results, HERE)))
