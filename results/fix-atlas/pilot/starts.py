"""Per run of a pilot's curves.csv: the step it leaves the flat start (the first evaluation with
FCD <= 2,000, after which it stays below) and its means over windows of steps.

    python results/fix-atlas/pilot/starts.py results/fix-atlas/pilot/mnist-redesign/curves.csv
"""

import csv
import statistics
import sys
from collections import defaultdict

FLAT_FCD = 2000.0
WINDOWS = ((6000, 8000), (8000, 10000), (10000, 12000))


def main(path: str) -> None:
    runs = defaultdict(list)
    with open(path) as handle:
        for row in csv.DictReader(handle):
            runs[row["run"]].append((int(row["step"]), float(row["fcd"]), float(row["kl_uniform"])))
    windows = " | ".join(f"FCD / KL, steps {a:,}-{b:,}" for a, b in WINDOWS)
    print(f"| run | leaves the flat start at | {windows} |")
    print("|---|---|" + "---|" * len(WINDOWS))
    for run, rows in sorted(runs.items()):
        rows.sort()
        flat = [step for step, fcd, _ in rows if fcd > FLAT_FCD]
        start = next((step for step, _, _ in rows if not flat or step > max(flat)), None)
        cells = []
        for low, high in WINDOWS:
            inside = [(fcd, kl) for step, fcd, kl in rows if low <= step <= high]
            if not inside:
                cells.append("-")
                continue
            fcd = statistics.fmean(f for f, _ in inside)
            kl = statistics.fmean(k for _, k in inside)
            cells.append(f"{fcd:,.0f} / {kl:.2f}")
        left = f"{start:,}" if start is not None else "not by the last evaluation"
        print(f"| {run} | {left} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
