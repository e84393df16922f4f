"""Training throughput (images/s) of our loop vs a minimal hand-written PyTorch loop.

Same models (built by `build_models`), same data tensors and batch conversion, same Adam
settings and BCE loss, same process and machine. Runs alternate (plain, ours, plain, ...)
so drift in machine speed hits both; the table reports the median of the repeats.

    .venv/bin/python benchmarks/throughput.py --repeats 3 --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import platform
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import items_per_second, our_loop_summary

from modecollapse.config import config_from_dict
from modecollapse.data.datasets import load_dataset
from modecollapse.devices import pick_device
from modecollapse.models import build_models

SETTINGS = {
    "DCGAN-28 (ngf=ndf=64, nz=100)": {"image_size": 28, "steps": 150},
    "DCGAN-64 (classic, ngf=ndf=64, nz=100)": {"image_size": 64, "steps": 40},
}


def make_config(image_size: int, steps: int, device: str):
    return config_from_dict(
        {
            "name": "bench",
            "data": {"name": "mnist-5k", "image_size": image_size},
            "model": {"family": "dcgan", "latent_dim": 100, "g_width": 64, "d_width": 64},
            "train": {
                "epochs": 100,
                "max_steps": steps,
                "batch_size": 64,
                "device": device,
                "tensorboard": False,
                "progress": False,
                "sample_every": 10**9,
                "checkpoint_every": 10**9,
                "eval_every_epochs": 10**6,  # evaluation is optional work; timed separately
                "log_every": 25,
            },
        }
    )


def plain_loop(config, steps: int) -> float:
    """The shortest correct DCGAN loop; returns images/s over `steps` after one warm-up step."""
    device = pick_device(config.train.device)
    torch.manual_seed(0)
    dataset = load_dataset(config.data, device)
    generator, discriminator = (m.to(device) for m in build_models(config.model, dataset.sample_shape))
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batch, nz = config.train.batch_size, config.model.latent_dim
    order = torch.randperm(len(dataset), device=device)

    def step(i: int) -> None:
        start = (i * batch) % (len(dataset) - batch)
        real = dataset.batch(order[start : start + batch])
        fake = generator(torch.randn(batch, nz, device=device))
        d_real, d_fake = discriminator(real), discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(
            d_real, torch.ones_like(d_real)
        ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_out = discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(g_out, torch.ones_like(g_out))
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()

    return items_per_second(step, steps, batch, device)


def our_loop(config) -> float:
    return our_loop_summary(config)["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    args = parser.parse_args()
    device = pick_device(args.device)
    rows = []
    for name, setting in SETTINGS.items():
        config = make_config(setting["image_size"], setting["steps"], args.device)
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(plain_loop(config, setting["steps"]))
            ours.append(our_loop(config))
            print(f"{name}: plain {plain[-1]:.1f} img/s, ours {ours[-1]:.1f} img/s", flush=True)
        p, o = statistics.median(plain), statistics.median(ours)
        rows.append(f"| {name} | {setting['steps']} | {p:.1f} | {o:.1f} | {o / p:.3f} |")
    cpu = platform.processor() or platform.machine()
    table = "\n".join(
        [
            f"Device: {device} ({cpu}, torch {torch.__version__}, {torch.get_num_threads()} threads), "
            f"batch 64, median of {args.repeats} alternating repeats.",
            "",
            "| model | steps timed | plain loop (img/s) | our loop (img/s) | ours / plain |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
