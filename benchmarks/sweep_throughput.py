"""Runs per hour of a small label-flip sweep: 1 worker (all threads) vs the local pool.

    .venv/bin/python benchmarks/sweep_throughput.py --runs 4 --epochs 2

Same 4 runs (DCGAN-28 on mnist-5k, 2 epochs, evaluation each epoch) executed twice:
workers=1 with threads_per_worker = all cores, then workers = cores with 1 thread each.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from modecollapse.experiments.executors import execute
from modecollapse.experiments.sweep import load_sweep

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def sweep_text(epochs: int, seeds: int, workers: int, threads: int) -> str:
    return f"""
name = "throughput"
seeds = {list(range(seeds))}
base_config = "{EXPERIMENTS / "dcgan28_mnist5k.toml"}"
[base.train]
epochs = {epochs}
eval_samples = 1000
tensorboard = false
progress = false
[grid]
"objective.label_flip_fraction" = [0.0, 0.1]
[resources]
workers = {workers}
threads_per_worker = {threads}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=2, help="runs = 2 settings x seeds")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    for workers, threads in ((1, cores), (cores, 1)):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "sweep.toml"
            path.write_text(sweep_text(args.epochs, args.seeds, workers, threads))
            sweep = load_sweep(path)
            start = time.perf_counter()
            results = execute(sweep, Path(folder) / "out", report=lambda line: None)
            seconds = time.perf_counter() - start
            assert all(r["status"] == "completed" for r in results), results
            rows.append((workers, threads, len(results), seconds, len(results) / seconds * 3600))
    print(f"{cores} cores; runs: DCGAN-28 on mnist-5k, {args.epochs} epochs each, evaluated every epoch\n")
    print("| workers | threads per worker | runs | wall time (s) | runs per hour |")
    print("|---|---|---|---|---|")
    for workers, threads, runs, seconds, per_hour in rows:
        print(f"| {workers} | {threads} | {runs} | {seconds:.1f} | {per_hour:.1f} |")
    print(f"\npool / single worker: {rows[1][4] / rows[0][4]:.2f}x")


if __name__ == "__main__":
    main()
