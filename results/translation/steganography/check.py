"""Is the reference CycleGAN hiding its input in the translation (Chu et al. 2017)? Exploratory.

For each run: translate held-out A inputs (y = G_AB(a)), reconstruct (G_BA(y)), and ask how much
of a survives when y is disturbed before G_BA: Gaussian noise of a few grey levels, a 3x3 blur, or
y swapped for another input's translation. Reported: the reconstruction's mean absolute error
(in [-1, 1] units), retrieval accuracy (the share of reconstructions nearer, in L2, to their own
input than to every other input of the batch; chance 1/N: the input itself comes back) and class
kept (the share of reconstructions the shipped classifier reads as the input's digit; about 0.1
by chance: the digit comes back). A translator that shows the digit
keeps its reconstructions under small noise; one that hides the input in a faint signal loses
them. Also: how far apart the translations of different inputs are (mean absolute difference).

    python results/translation/steganography/check.py RUN_FOLDER [RUN_FOLDER ...] [--count 500]
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from modecollapse.data import load_dataset
from modecollapse.metrics.features import classifier_for
from modecollapse.metrics.scores import extract
from modecollapse.metrics.translation import measure_digits
from modecollapse.models import generate
from modecollapse.models.classifier import load_classifier
from modecollapse.trained import load_translator

NOISE = (0.0, 0.01, 0.02, 0.05, 0.1)  # std in [-1, 1] units: 0.01 is about 1.3 grey levels of 255


def retrieval(recon: torch.Tensor, inputs: torch.Tensor) -> float:
    """Share of reconstructions nearest (L2) to their own input among all inputs."""
    distances = torch.cdist(recon.flatten(1), inputs.flatten(1))
    return (distances.argmin(dim=1) == torch.arange(len(inputs))).float().mean().item()


def blur(images: torch.Tensor) -> torch.Tensor:
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    kernel = kernel.expand(images.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel, groups=images.shape[1])


@torch.no_grad()
def check(folder: str, count: int, seed: int = 0) -> dict:
    translator = load_translator(folder)
    data = load_dataset(translator.config.data)
    held_out = data.held_out
    inputs = held_out.a.batch(torch.arange(min(count, len(held_out.a))))
    digits = held_out.a_digits[: len(inputs)]
    classifier = load_classifier(classifier_for(data.name))
    translated = generate(translator.g_ab, inputs)
    generator = torch.Generator().manual_seed(seed)

    def judged(recon: torch.Tensor) -> tuple[float, float, float]:
        predicted = extract(classifier, measure_digits(recon, data.a_layout).crops).predictions
        kept = (predicted.view(digits.shape).cpu() == digits.cpu()).all(dim=1).float().mean().item()
        return (recon - inputs).abs().mean().item(), retrieval(recon, inputs), kept

    rows = {}
    for std in NOISE:
        noisy = (translated + std * torch.randn(translated.shape, generator=generator)).clamp(-1, 1)
        rows[f"noise {std}"] = judged(generate(translator.g_ba, noisy))
    rows["blur 3x3"] = judged(generate(translator.g_ba, blur(translated)))
    # control: does G_BA keep a real B digit under the same noise? (a G_BA that reads the visible
    # digit should; one that is merely fragile to noise would fail here too)
    real_b = data.b.batch(torch.arange(len(inputs)))
    real_digits = data.b_digits[: len(inputs)].view(len(inputs), -1)
    for std in (0.0, 0.01, 0.02):
        noisy = (real_b + std * torch.randn(real_b.shape, generator=generator)).clamp(-1, 1)
        crops = measure_digits(generate(translator.g_ba, noisy), data.a_layout).crops
        predicted = extract(classifier, crops).predictions.view(real_digits.shape).cpu()
        kept = (predicted == real_digits.cpu()).all(1).float().mean()
        rows[f"real B, noise {std}"] = float("nan"), float("nan"), kept.item()
    shifted = translated.roll(1, dims=0)  # each input's translation replaced by its neighbour's
    rows["swapped"] = judged(generate(translator.g_ba, shifted))
    spread = (translated - translated.roll(1, dims=0)).abs().mean().item()
    return {
        "run": folder,
        "step": translator.step,
        "inputs": len(inputs),
        "translation_spread": spread,
        "input_spread": (inputs - inputs.roll(1, dims=0)).abs().mean().item(),
        "rows": {
            k: {"recon_l1": round(a, 4), "retrieval": round(b, 4), "class_kept": round(c, 4)}
            for k, (a, b, c) in rows.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    for folder in args.runs:
        print(json.dumps(check(folder, args.count)))


if __name__ == "__main__":
    main()
