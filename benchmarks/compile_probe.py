"""Does torch.compile (inductor on the CPU) pay for itself? Eager vs compiled G and D.

The plain training step of benchmarks/throughput.py for DCGAN-28 w32 and the 2-D MLP GAN,
once with eager modules and once with `torch.compile`d generator and discriminator (default
mode). Reports the compile time (the first steps), the steady rate after it, and the run
length at which compiling would break even (never, when the compiled steady rate is lower).

    .venv/bin/python benchmarks/compile_probe.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from throughput import SETTINGS, make_config

from modecollapse.data import load_dataset
from modecollapse.models import build_models

PROBED = ("DCGAN-28 w32 (dcgan28_mnist5k.toml)", "MLP GAN 2-D (ring8_vanilla.toml)")


def make_step(config, compiled: bool):
    torch.manual_seed(0)
    dataset = load_dataset(config.data)
    generator, discriminator = build_models(config.model, dataset.sample_shape)
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    if compiled:
        generator, discriminator = torch.compile(generator), torch.compile(discriminator)
    batch, nz = config.train.batch_size, config.model.latent_dim
    real = dataset.batch(torch.arange(batch))

    def step() -> None:
        fake = generator(torch.randn(batch, nz))
        d_real, d_fake = discriminator(real), discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
        d_loss = d_loss + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_out = discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(g_out, torch.ones_like(g_out))
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()

    return step, batch


def measure(config, compiled: bool, steps: int, repeats: int) -> tuple[float, float]:
    """(seconds of the first 3 steps, median steady items/s)."""
    step, batch = make_step(config, compiled)
    start = time.perf_counter()
    for _ in range(3):
        step()
    warm = time.perf_counter() - start
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * batch / (time.perf_counter() - start))
    return warm, statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)\n")
    print("| model | eager first 3 steps (s) | eager (items/s) | compiled first 3 steps (s) "
          "| compiled (items/s) | compiled / eager | break-even run length |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name in PROBED:
        setting = SETTINGS[name]
        config = make_config(setting, "cpu")
        steps = setting["steps"] * 2
        eager_warm, eager = measure(config, False, steps, args.repeats)
        compiled_warm, compiled = measure(config, True, steps, args.repeats)
        if compiled > eager:
            per_item_saved = 1 / eager - 1 / compiled
            items = (compiled_warm - eager_warm) / per_item_saved
            break_even = f"{items / eager / 60:.1f} min of eager training"
        else:
            break_even = "never (slower after compiling)"
        print(f"| {name} | {eager_warm:.1f} | {eager:.0f} | {compiled_warm:.1f} | {compiled:.0f} "
              f"| {compiled / eager:.2f}x | {break_even} |")  # fmt: skip


if __name__ == "__main__":
    main()
