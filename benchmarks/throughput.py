"""Training throughput: our loop at its defaults vs a plain fp32 PyTorch loop, and a roofline.

For each model the plain loop is the classic step written out by hand (DCGAN/MLP: one D
step on BCE, one G step reusing the fakes; CycleGAN: the reference's optimize_parameters
with LSGAN + 10 x cycle + 5 x identity and 50-image pools), fp32, contiguous memory and
torch's default Adam. Ours is `modecollapse.training.loop.train` with every default: the
speed plan of speed.py (precision, memory format, Adam kernel) and its steady rate
(summary.json's images_per_second: warm-up, evaluation, samples and checkpoints left out).
Same networks (`build_models` / `build_cyclegan`), same data, same process; runs alternate
(plain, ours, plain, ...) so drift in machine speed hits both; medians are reported.

The roofline line: this machine's measured matmul peak in fp32 and bf16 (2048 x 2048) and
the FLOP/s our loop achieves (FLOPs of one training step counted by
torch.utils.flop_counter, times our steps per second).

    .venv/bin/python benchmarks/throughput.py --repeats 5 --out /tmp/throughput.md
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import items_per_second, our_loop_summary
from torch.utils.flop_counter import FlopCounterMode

from modecollapse.config import Config, config_from_dict
from modecollapse.data import load_dataset
from modecollapse.devices import pick_device
from modecollapse.models import build_cyclegan, build_models
from modecollapse.speed import native_bf16, plan_speed

Step = Callable[[int], None]

SETTINGS = {
    "DCGAN-28 w32 (dcgan28_mnist5k.toml)": {
        "data": {"name": "mnist-5k"},
        "model": {"family": "dcgan", "latent_dim": 64, "g_width": 32, "d_width": 32},
        "batch": 64,
        "steps": 60,
    },
    "DCGAN-28 w64 (nz=100)": {
        "data": {"name": "mnist-5k"},
        "model": {"family": "dcgan", "latent_dim": 100, "g_width": 64, "d_width": 64},
        "batch": 64,
        "steps": 25,
    },
    "DCGAN-64 classic (nz=100, ngf=ndf=64)": {
        "data": {"name": "mnist-5k", "image_size": 64},
        "model": {"family": "dcgan", "latent_dim": 100, "g_width": 64, "d_width": 64},
        "batch": 64,
        "steps": 6,
    },
    "MLP GAN 2-D (ring8_vanilla.toml)": {
        "data": {"name": "ring8"},
        "model": {"family": "mlp", "latent_dim": 64, "g_width": 128, "d_width": 128, "mlp_hidden_layers": 2},
        "batch": 256,
        "steps": 300,
    },
    "CycleGAN 32 px (ngf=ndf=64, 6 blocks, batch 4)": {
        "data": {"name": "mnist-rgb", "num_samples": 512},
        "model": {"family": "cyclegan", "g_width": 64, "d_width": 64, "resnet_blocks": 6, "patch_layers": 2},
        "objective": {"loss": "lsgan", "history_buffer_size": 50},
        "batch": 4,
        "steps": 6,
    },
}


def make_config(setting: dict, device: str) -> Config:
    return config_from_dict(
        {
            "name": "bench",
            "data": setting["data"],
            "model": setting["model"],
            "objective": setting.get("objective", {}),
            "train": {
                "epochs": 10_000,
                "max_steps": setting["steps"] + 1,  # + the warm-up step our rate leaves out
                "batch_size": setting["batch"],
                "device": device,
                "tensorboard": False,
                "progress": False,
                "sample_every": 10**9,
                "checkpoint_every": 10**9,
                "eval_every_steps": 10**9,
                "log_every": 25,
            },
        }
    )


# --- the plain loops ------------------------------------------------------------------------


def plain_gan_step(config: Config, device: torch.device) -> Step:
    """The classic DCGAN step, fp32, contiguous, default Adam."""
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

    return step


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


def plain_cyclegan_step(config: Config, device: torch.device) -> Step:
    """The reference's optimize_parameters written out: G_AB and G_BA, then D_A and D_B."""
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

    return step


def plain_step(config: Config, device: torch.device) -> Step:
    return (plain_cyclegan_step if config.model.family == "cyclegan" else plain_gan_step)(config, device)


# --- roofline -------------------------------------------------------------------------------


def matmul_peak(dtype: torch.dtype, size: int = 2048, seconds: float = 2.0) -> float:
    """FLOP/s of a square matmul in `dtype` on the CPU, best of repeated timings."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    best, spent = 0.0, 0.0
    while spent < seconds:
        start = time.perf_counter()
        a @ b
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = max(best, 2 * size**3 / elapsed)
    return best


def flops_per_step(config: Config, device: torch.device) -> int:
    """FLOPs of one training step (forward and backward of every network), as counted."""
    step = plain_step(config, device)
    step(0)
    with FlopCounterMode(display=False) as counter:
        step(1)
    return counter.get_total_flops()


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", help="run only settings whose name contains this")
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    args = parser.parse_args()
    device = pick_device(args.device)
    rows, repeats, roofline = [], [], []
    peak32 = matmul_peak(torch.float32)
    peak16 = matmul_peak(torch.bfloat16, size=512 if not native_bf16(device)[0] else 2048, seconds=1.0)
    for name, setting in SETTINGS.items():
        if args.only and args.only not in name:
            continue
        config = make_config(setting, args.device)
        plan = plan_speed(config.train, config.model.family)
        batch, steps = setting["batch"], setting["steps"]
        plain, ours = [], []
        for _ in range(args.repeats):
            plain.append(items_per_second(plain_step(config, device), steps, batch, device))
            ours.append(our_loop_summary(config)["images_per_second"])
            line = f"{name}: plain {plain[-1]:.1f}/s, ours {ours[-1]:.1f}/s"
            repeats.append(f"- {line}")
            print(line, flush=True)
        p, o = statistics.median(plain), statistics.median(ours)
        settings = f"{plan.precision}, {plan.memory_format}, {plan.adam_kernel} Adam"
        rows.append(f"| {name} | {steps} | {settings} | {p:.1f} | {o:.1f} | {o / p:.2f}x |")
        flops = flops_per_step(config, device)
        achieved = flops * o / batch
        roofline.append(
            f"| {name} | {flops / 1e9:.2f} | {achieved / 1e9:.1f} "
            f"| {achieved / peak32:.0%} | {achieved / peak16:.0%} |"
        )
    cpu = platform.processor() or platform.machine()
    bf16 = native_bf16(device)
    text = "\n".join(
        [
            f"Device: {device} ({cpu}, torch {torch.__version__}, {torch.get_num_threads()} threads); "
            f"native bf16: {'yes' if bf16[0] else 'no'} ({bf16[1]}); median of {args.repeats} "
            "alternating repeats. Rates are items per second "
            "(images; points for the MLP; A/B pairs for CycleGAN).",
            "",
            "| model | steps timed | ours at defaults | plain fp32 loop | ours | ours / plain |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Roofline: measured matmul peak fp32 {peak32 / 1e9:.0f} GFLOP/s, "
            f"bf16 {peak16 / 1e9:.1f} GFLOP/s.",
            "",
            "| model | GFLOP per step | ours achieved (GFLOP/s) | of fp32 peak | of bf16 peak |",
            "|---|---|---|---|---|",
            *roofline,
            "",
            "Per repeat, in the order run:",
            "",
            *repeats,
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
