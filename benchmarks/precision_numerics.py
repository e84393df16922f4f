"""Does bf16 change the science? The same short studies in fp32 and in bf16, same seeds.

Three studies, each trained with `train.precision` = fp32 and = bf16 on seeds 0..4:
ring8 vanilla (experiments/configs/ring8_vanilla.toml), ring8 PacGAN4 (the same with model.pack = 4)
and DCGAN-28 on mnist-5k (experiments/configs/dcgan28_mnist5k.toml). Every run is a sweep run
(resumable: run the command again after a stop). The table gives each final metric's mean
with a 95% t-interval per precision, and the paired bf16 - fp32 difference over the seeds
with its 95% t-interval: where that interval excludes 0, bf16 changed the result.

    .venv/bin/python benchmarks/precision_numerics.py --out-dir sweeps/precision-numerics

On a CPU without native bf16 the bf16 runs are emulated and slow (hours, not minutes):
start it in the background.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from modecollapse.experiments.executors import execute
from modecollapse.experiments.sweep import load_sweep

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments" / "configs"
SETTING_COLUMNS = ("study", "train_precision", "seed")
"""runs.csv's first columns: what a run was; the metrics follow (one of them is `precision`)."""
STUDIES = {
    "ring8-vanilla": ("ring8_vanilla.toml", {}, ("modes", "high_quality", "reverse_kl")),
    "ring8-pacgan4": ("ring8_vanilla.toml", {"model.pack": 4}, ("modes", "high_quality", "reverse_kl")),
    "dcgan28-mnist5k": ("dcgan28_mnist5k.toml", {}, ("modes", "fcd", "recall", "precision", "kl_uniform")),
}


def sweep_text(name: str, base: str, overrides: dict, seeds: int) -> str:
    lines = [
        f'name = "{name}"',
        f"seeds = {list(range(seeds))}",
        f'base_config = "{EXPERIMENTS / base}"',
        "[base.train]",
        "tensorboard = false",
        "progress = false",
        "eval_every_steps = 390",  # every 5 epochs of mnist-5k, every epoch of ring8
        "[variants.fp32]",
        '"train.precision" = "fp32"',
        *(f'"{key}" = {json.dumps(value)}' for key, value in overrides.items()),
        "[variants.bf16]",
        '"train.precision" = "bf16"',
        *(f'"{key}" = {json.dumps(value)}' for key, value in overrides.items()),
        "[resources]",
        "threads_per_worker = 1",
    ]
    return "\n".join(lines) + "\n"


def t_interval(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% t-interval); half-width nan below 2 values."""
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    if len(array) < 2 or not np.isfinite(array).all():
        return mean, math.nan
    half = stats.t.ppf(0.975, len(array) - 1) * array.std(ddof=1) / math.sqrt(len(array))
    return mean, float(half)


def final_eval(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    return {
        **summary["last_eval"],
        "wall_time_s": summary["wall_time_s"],
        "ips": summary["images_per_second"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out-dir", type=Path, default=Path("sweeps/precision-numerics"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--report-only", action="store_true", help="tabulate finished runs only")
    args = parser.parse_args()
    lines = [
        "| study | metric | fp32 (mean ± 95% CI) | bf16 (mean ± 95% CI) "
        "| bf16 - fp32, paired (95% CI) | changed? |",
        "|---|---|---|---|---|---|",
    ]
    rows = []
    if not args.report_only:
        for name, (base, overrides, _) in STUDIES.items():
            folder = args.out_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "sweep-file.toml").write_text(sweep_text(name, base, overrides, args.seeds))
            execute(load_sweep(folder / "sweep-file.toml"), folder, workers=args.workers)
    for name, (base, overrides, metrics) in STUDIES.items():
        folder = args.out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sweep-file.toml").write_text(sweep_text(name, base, overrides, args.seeds))
        sweep = load_sweep(folder / "sweep-file.toml")
        by_precision: dict[str, dict[int, dict]] = {"fp32": {}, "bf16": {}}
        for run in sweep.runs:
            run_dir = folder / "runs" / run.run_id
            if (run_dir / "summary.json").is_file() and json.loads((run_dir / "summary.json").read_text())[
                "status"
            ] == "completed":
                precision = run.config.train.precision
                by_precision[precision][run.seed] = final_eval(run_dir)
                # The setting is `train_precision`: the DCGAN's metrics include `precision`
                # (k-NN precision), which a column named "precision" would overwrite.
                rows.append({"study": name, "train_precision": precision, "seed": run.seed, **{
                    k: by_precision[precision][run.seed].get(k) for k in (*metrics, "wall_time_s", "ips")
                }})  # fmt: skip
        seeds = sorted(set(by_precision["fp32"]) & set(by_precision["bf16"]))
        for metric in (*metrics, "ips"):
            cells = []
            for precision in ("fp32", "bf16"):
                mean, half = t_interval([by_precision[precision][s][metric] for s in seeds] or [math.nan])
                cells.append(f"{mean:.4g} ± {half:.2g}")
            diffs = [by_precision["bf16"][s][metric] - by_precision["fp32"][s][metric] for s in seeds]
            mean, half = t_interval(diffs or [math.nan])
            changed = "yes" if abs(mean) > half else "not established"
            label = "img/s (steady)" if metric == "ips" else metric
            lines.append(f"| {name} ({len(seeds)} seeds) | {label} | {cells[0]} | {cells[1]} | "
                         f"{mean:+.4g} ± {half:.2g} | {changed} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    (args.out_dir / "table.md").write_text(table + "\n")
    with (args.out_dir / "runs.csv").open("w", newline="") as handle:
        fields = [*SETTING_COLUMNS, *sorted({key for row in rows for key in row} - set(SETTING_COLUMNS))]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
