"""What the own-loop Monitor costs, and how its verdict's reliability depends on the sample count.

    MODECOLLAPSE_DATA=data .venv/bin/python benchmarks/monitor_overhead.py   # data/mnist: MNIST's IDX files

1. Overhead: examples/own_loop.py (the PyTorch-examples DCGAN loop at 28x28) for 2 x 938 steps
   without the monitor and with it at every = 938 (one MNIST epoch at batch 64), default sample
   count; the evaluation's cost is the monitor's time per evaluation after the first (which also
   builds the reference).
2. Cost of one evaluation at 500-10,000 samples.
3. Reliability: real training digits (which the test-split reference never saw) drawn as "samples"
   at each count, 20 draws: the share judged healthy (a false alarm otherwise); and the same with
   one class left out (a partial collapse the monitor should name): the share judged non-healthy.
Prints Markdown.
"""

from __future__ import annotations

import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import torch

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.detector import verdict_of
from modecollapse.metrics.scores import extract, score
from modecollapse.models.classifier import load_classifier
from modecollapse.monitor import DEFAULT_SAMPLES, Monitor

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_loop.py"
EPOCH = 938


def example():
    spec = importlib.util.spec_from_file_location("own_loop", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def overhead() -> None:
    loop = example()
    steps = 2 * EPOCH + 1
    start = time.perf_counter()
    loop.train(steps, EPOCH, monitored=False)
    plain = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        loop.train(steps, EPOCH, out=out + "/m", verbose=False)
        monitored = time.perf_counter() - start
    print(f"loop, {steps} steps: {plain:.1f} s plain, {monitored:.1f} s with the monitor at every={EPOCH} "
          f"({DEFAULT_SAMPLES} samples; 3 evaluations, the first also building the reference)")  # fmt: skip
    G, _ = loop.networks()
    monitor = Monitor(dataset="mnist-5k", every=1, latent_shape=(100, 1, 1), verbose=False)
    monitor.update(0, G)
    times = []
    for step in range(1, 4):
        start = time.perf_counter()
        monitor.update(step, G)
        times.append(time.perf_counter() - start)
    per_step = plain / steps
    evaluation = statistics.median(times)
    share = evaluation / (EPOCH * per_step + evaluation)
    print(f"one evaluation {evaluation:.2f} s; loop {1000 * per_step:.1f} ms a step; at every={EPOCH}: "
          f"{100 * share:.1f} % of the wall time")  # fmt: skip


def reliability() -> None:
    classifier = load_classifier("mnist")
    from modecollapse.metrics.samples import reference_for

    mnist = reference_for("mnist")
    reference, name = mnist.real, mnist.label
    train = load_dataset(DataConfig(name="mnist", split="train"))
    images = train.batch(torch.arange(len(train)))
    labels = train.labels
    print(f"reference: {name}")
    print("| samples | one evaluation (s) | real digits healthy | a class missing: non-healthy |")
    print("|---|---|---|---|")
    generator = torch.Generator().manual_seed(0)
    for count in (500, 1000, 2000, 5000, 10_000):
        healthy, caught, seconds = 0, 0, []
        for _ in range(20):
            pick = torch.randperm(len(images), generator=generator)[:count]
            start = time.perf_counter()
            scores = score(extract(classifier, images[pick]), reference)
            seconds.append(time.perf_counter() - start)
            healthy += verdict_of(scores)[0] == "healthy"
            nine = torch.nonzero(labels != 7).flatten()
            pick = nine[torch.randperm(len(nine), generator=generator)[:count]]
            caught += verdict_of(score(extract(classifier, images[pick]), reference))[0] != "healthy"
        print(f"| {count} | {statistics.median(seconds):.2f} | {healthy}/20 | {caught}/20 |")


if __name__ == "__main__":
    torch.set_num_threads(2)
    overhead()
    reliability()
