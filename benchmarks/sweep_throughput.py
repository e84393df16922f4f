"""Process layout on this machine: how to spend its cores on sweeps and on one `train`.

    .venv/bin/python benchmarks/sweep_throughput.py --seeds 2 --epochs 2 --repeats 3

Sweeps: the same runs (the label-flip study's DCGAN-28 on mnist-5k, shortened to `--epochs`,
evaluated every epoch) executed with 1 worker using every core's thread, then with one
1-thread worker per core; runs per hour include spawning the workers. One `train`: the same
single run with 1 thread and with every core, alternating `--repeats` times; its steady
training rate (images/s, evaluation left out) and wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from modecollapse.config import load_config
from modecollapse.experiments.executors import execute
from modecollapse.experiments.sweep import load_sweep
from modecollapse.training.loop import train

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments" / "configs"


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


def sweep_rows(epochs: int, seeds: int, cores: int) -> list[str]:
    rows = []
    for workers, threads in ((1, cores), (cores, 1)):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "sweep.toml"
            path.write_text(sweep_text(epochs, seeds, workers, threads))
            sweep = load_sweep(path)
            start = time.perf_counter()
            results = execute(sweep, Path(folder) / "out", report=lambda line: None)
            seconds = time.perf_counter() - start
            assert all(r["status"] == "completed" for r in results), results
            per_hour = len(results) / seconds * 3600
            rows.append(
                f"| sweep | {workers} | {threads} | {len(results)} | {seconds:.1f} | {per_hour:.1f} runs/h |"
            )
    return rows


def single_rows(epochs: int, repeats: int, cores: int) -> list[str]:
    results: dict[int, list[tuple[float, float]]] = {1: [], cores: []}
    for _ in range(repeats):
        for threads in results:
            config = load_config(
                EXPERIMENTS / "dcgan28_mnist5k.toml",
                [f"train.epochs={epochs}", "train.tensorboard=false", "train.progress=false",
                 f"train.num_threads={threads}"],
            )  # fmt: skip
            with tempfile.TemporaryDirectory() as folder:
                summary = train(config, Path(folder) / "run")
            results[threads].append((summary["images_per_second"], summary["wall_time_s"]))
            print(f"train, {threads} thread(s): {results[threads][-1]}", flush=True)
    rows = []
    for threads, values in results.items():
        rate = statistics.median(v[0] for v in values)
        wall = statistics.median(v[1] for v in values)
        rows.append(f"| one train | 1 | {threads} | 1 | {wall:.1f} | {rate:.0f} img/s steady |")
    torch.set_num_threads(cores)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=2, help="sweep runs = 2 settings x seeds")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats of the single run")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = single_rows(args.epochs, args.repeats, cores) + sweep_rows(args.epochs, args.seeds, cores)
    print(f"{cores} cores; DCGAN-28 w32 on mnist-5k, {args.epochs} epochs per run, evaluated every epoch\n")
    print("| what | workers | threads each | runs | wall time (s) | throughput |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
