"""Per run of a pilot's curves.csv: the step it leaves the flat start (the first evaluation with
FCD <= 2,000, or --flat-fcd, after which it stays below) and its means over windows of steps;
with --paired, each fix minus the baseline on the same seed over one window, with the mean and
sd of those differences (the paired sd a power calculation takes); with --started-modes N, a run
covering <= N modes over that window is a non-start: counted per setting, and its pair left out
of the differences (Stacked MNIST: G that never starts stays at one mode).

    python results/fix-atlas/pilot/starts.py results/fix-atlas/pilot/mnist-redesign/curves.csv
    python results/fix-atlas/pilot/starts.py results/fix-atlas/pilot/fashion/curves.csv \
        --flat-fcd 400 --windows 2000-4000,4000-6000,6000-8000 --paired 4000-8000
    python results/fix-atlas/pilot/starts.py results/fix-atlas/pilot/stacked-redesign/curves.csv \
        --windows 2500-2500 --metrics modes,kl_uniform --paired 2500-2500 --started-modes 1
"""

import argparse
import csv
import statistics
from collections import defaultdict
from typing import Any

FLAT_FCD = 2000.0
WINDOWS = "6000-8000,8000-10000,10000-12000"


def number(value: float, signed: bool = False) -> str:
    """FCD-sized numbers whole, KL-sized ones to 2 decimals (as the pilot READMEs print them)."""
    sign = "+" if signed else ""
    return f"{value:{sign},.0f}" if abs(value) >= 10 else f"{value:{sign}.2f}"


def window(text: str) -> tuple[int, int]:
    low, high = text.split("-")
    return int(low), int(high)


def means(rows: list[dict[str, Any]], low: int, high: int, metrics: list[str]) -> list[float] | None:
    """Each metric's mean over the evaluations at steps low..high; None when the run has not
    reached `high` (a run in flight) or has no evaluation there."""
    inside = [row for row in rows if low <= row["step"] <= high]
    if not inside or max(row["step"] for row in rows) < high:
        return None
    return [statistics.fmean(row[m] for row in inside) for m in metrics]


def start_of(rows: list[dict[str, Any]], flat_fcd: float) -> str:
    flat = [row["step"] for row in rows if row["fcd"] > flat_fcd]
    start = next((row["step"] for row in rows if not flat or row["step"] > max(flat)), None)
    return f"{start:,.0f}" if start is not None else "not by the last evaluation"


Runs = dict[str, list[dict[str, Any]]]


def paired(
    runs: Runs, span: tuple[int, int], metrics: list[str], base: str, started_modes: float | None
) -> None:
    by_setting: dict[str, dict[int, list[float]]] = defaultdict(dict)
    non_starts: dict[str, list[int]] = defaultdict(list)
    for rows in runs.values():
        values = means(rows, *span, metrics)
        setting, seed = rows[0]["setting"], int(rows[0]["seed"])
        if values is None:
            continue
        if started_modes is not None and means(rows, *span, ["modes"])[0] <= started_modes:
            non_starts[setting].append(seed)
            continue
        by_setting[setting][seed] = values
    if started_modes is not None:
        steps = f"{span[0]:,}-{span[1]:,}"
        print(f"\nNon-starts (<= {started_modes:g} modes over steps {steps}), left out of the pairs:")
        for setting in sorted({rows[0]["setting"] for rows in runs.values()}):
            failed = non_starts.get(setting, [])
            finished = len(by_setting.get(setting, {})) + len(failed)
            print(
                f"- {setting}: {len(failed)} of {finished} ({', '.join(map(str, sorted(failed))) or 'none'})"
            )
    if base not in by_setting:
        raise SystemExit(f"no run of the baseline {base!r} covers steps {span[0]:,}-{span[1]:,}")
    print(f"\nEach fix minus {base}, same seed, means over steps {span[0]:,}-{span[1]:,}:\n")
    print("| setting | seeds | " + " | ".join(f"{m}: differences; mean, sd" for m in metrics) + " |")
    print("|---|---|" + "---|" * len(metrics))
    for setting, seeds in sorted(by_setting.items()):
        shared = sorted(set(seeds) & set(by_setting[base]))
        if setting == base or not shared:
            continue
        cells = []
        for i, _ in enumerate(metrics):
            diffs = [seeds[s][i] - by_setting[base][s][i] for s in shared]
            sd = number(statistics.stdev(diffs)) if len(diffs) > 1 else "-"
            listed = ", ".join(number(d, signed=True) for d in diffs)
            cells.append(f"{listed}; {number(statistics.fmean(diffs), signed=True)}, {sd}")
        print(f"| {setting} | {', '.join(map(str, shared))} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("curves")
    parser.add_argument("--windows", default=WINDOWS, help="steps a-b, comma-separated")
    parser.add_argument("--metrics", default="fcd,kl_uniform")
    parser.add_argument("--paired", help="one window a-b: each fix minus the baseline on its seed")
    parser.add_argument("--baseline", default="variant=baseline")
    parser.add_argument("--flat-fcd", type=float, default=FLAT_FCD, help="FCD above this is the flat start")
    parser.add_argument("--started-modes", type=float, help="a run with <= this many modes is a non-start")
    args = parser.parse_args()
    metrics = args.metrics.split(",")
    runs: Runs = defaultdict(list)
    with open(args.curves) as handle:
        for row in csv.DictReader(handle):
            kept = {"step": float(row["step"]), "seed": float(row["seed"]), "setting": row["setting"]}
            read = {"fcd", *metrics, *(["modes"] if args.started_modes is not None else [])}
            runs[row["run"]].append({**kept, **{m: float(row[m]) for m in read}})
    spans = [window(text) for text in args.windows.split(",")]
    names = " / ".join({"fcd": "FCD", "kl_uniform": "KL"}.get(m, m) for m in metrics)
    heads = " | ".join(f"{names}, steps {a:,}-{b:,}" for a, b in spans)
    print(f"| run | leaves the flat start at | {heads} |")
    print("|---|---|" + "---|" * len(spans))
    for run, rows in sorted(runs.items()):
        rows.sort(key=lambda row: row["step"])
        cells = [means(rows, low, high, metrics) for low, high in spans]
        text = [" / ".join(number(v) for v in cell) if cell else "-" for cell in cells]
        print(f"| {run} | {start_of(rows, args.flat_fcd)} | " + " | ".join(text) + " |")
    if args.paired:
        paired(runs, window(args.paired), metrics, args.baseline, args.started_modes)


if __name__ == "__main__":
    main()
