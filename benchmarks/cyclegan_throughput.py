"""CycleGAN training throughput (image pairs/s): our loop vs a plain PyTorch loop, same networks.

The plain loop is the reference code's `optimize_parameters` written out by hand: G_AB and
G_BA step on LSGAN + 10 x L1 cycle + 5 x L1 identity, then D_A and D_B step on real images
and pooled fakes (50-image pool). Both use the reference architecture (ResNet generator,
ngf = ndf = 64, 70x70 PatchGAN) unless --width/--blocks say otherwise. Runs alternate
(plain, ours, ...), the table reports medians. With --epoch-pairs N it also times one epoch
of N pairs (73,257 = SVHN's training set) through our loop, evaluation excluded.

    .venv/bin/python benchmarks/cyclegan_throughput.py --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics

import torch
import torch.nn.functional as F
from timing import items_per_second, our_loop_summary

from modecollapse.config import config_from_dict
from modecollapse.data.datasets import load_dataset
from modecollapse.devices import pick_device
from modecollapse.models import build_cyclegan

SETTINGS = {
    "32x32 RGB (mnist-rgb)": {"name": "mnist-rgb"},
    "56x56 grey (spatial-one)": {"name": "spatial-one"},
}


def make_config(dataset: str, args, steps: int, samples: int | None = 512):
    return config_from_dict(
        {
            "name": "bench",
            "data": {"name": dataset, "num_samples": samples},
            "model": {
                "family": "cyclegan",
                "g_width": args.width,
                "d_width": args.width,
                "resnet_blocks": args.blocks,
                "patch_layers": 3,
            },
            "objective": {"loss": "lsgan", "history_buffer_size": 50},
            "train": {
                "epochs": 1000,
                "max_steps": steps,
                "batch_size": args.batch,
                "device": args.device,
                "tensorboard": False,
                "progress": False,
                "sample_every": 10**9,
                "checkpoint_every": 10**9,
                "eval_every_epochs": 10**6,
                "log_every": 25,
            },
        }
    )


class Pool:
    """The reference's 50-image pool, per image."""

    def __init__(self, size: int = 50) -> None:
        self.size, self.images = size, []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.random() > 0.5:
                k = random.randrange(self.size)
                out.append(self.images[k].clone())
                self.images[k] = image
            else:
                out.append(image)
        return torch.stack(out)


def plain_loop(config, steps: int) -> float:
    device = pick_device(config.train.device)
    torch.manual_seed(0)
    data = load_dataset(config.data, device)
    g_ab, g_ba, d_a, d_b = (m.to(device) for m in build_cyclegan(config.model, data.sample_shape))
    g_opt = torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], lr=2e-4, betas=(0.5, 0.999))
    pool_a, pool_b = Pool(), Pool()
    batch = config.train.batch_size

    def gan(prediction: torch.Tensor, real: bool) -> torch.Tensor:
        return F.mse_loss(prediction, torch.full_like(prediction, float(real)))

    def step(i: int) -> None:
        index = torch.randint(len(data.a), (batch,), device=device)
        real_a, real_b = data.a.batch(index), data.b.batch(index.flip(0))
        fake_b, fake_a = g_ab(real_a), g_ba(real_b)
        for d in (d_a, d_b):
            d.requires_grad_(False)
        loss_g = (
            gan(d_b(fake_b), True)
            + gan(d_a(fake_a), True)
            + 10 * (F.l1_loss(g_ba(fake_b), real_a) + F.l1_loss(g_ab(fake_a), real_b))
            + 5 * (F.l1_loss(g_ab(real_b), real_b) + F.l1_loss(g_ba(real_a), real_a))
        )
        g_opt.zero_grad()
        loss_g.backward()
        g_opt.step()
        for d in (d_a, d_b):
            d.requires_grad_(True)
        pooled_a, pooled_b = pool_a.query(fake_a), pool_b.query(fake_b)
        loss_d = 0.5 * (gan(d_a(real_a), True) + gan(d_a(pooled_a), False))
        loss_d = loss_d + 0.5 * (gan(d_b(real_b), True) + gan(d_b(pooled_b), False))
        d_opt.zero_grad()
        loss_d.backward()
        d_opt.step()

    return items_per_second(step, steps, batch, device)


def our_loop(config) -> tuple[float, float]:
    summary = our_loop_summary(config)
    return summary["pairs_per_second"], summary["wall_time_s"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epoch-pairs", type=int, default=0, help="also time one epoch of this many pairs")
    args = parser.parse_args()
    device = pick_device(args.device)
    rows = []
    for name, setting in SETTINGS.items():
        config = make_config(setting["name"], args, args.steps)
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(plain_loop(config, args.steps))
            ours.append(our_loop(config)[0])
            print(f"{name}: plain {plain[-1]:.2f} pairs/s, ours {ours[-1]:.2f} pairs/s", flush=True)
        p, o = statistics.median(plain), statistics.median(ours)
        rows.append(f"| {name} | {args.steps} | {p:.2f} | {o:.2f} | {o / p:.3f} |")
    cpu = platform.processor() or platform.machine()
    lines = [
        f"Device: {device} ({cpu}, torch {torch.__version__}, {torch.get_num_threads()} threads); "
        f"ResNet generator ngf={args.width}, {args.blocks} blocks; PatchGAN ndf={args.width}, 3 layers; "
        f"batch {args.batch}; median of {args.repeats} alternating repeats.",
        "",
        "| setting | steps timed | plain loop (pairs/s) | our loop (pairs/s) | ours / plain |",
        "|---|---|---|---|---|",
        *rows,
    ]
    if args.epoch_pairs:
        steps = args.epoch_pairs // args.batch
        config = make_config("mnist-rgb", args, steps, samples=min(args.epoch_pairs, 60_000))
        config.train.max_steps = steps
        rate, wall = our_loop(config)
        lines += [
            "",
            f"One epoch of {args.epoch_pairs} pairs at 32x32 (our loop, no evaluation): "
            f"{wall:.1f} s ({rate:.1f} pairs/s).",
        ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
