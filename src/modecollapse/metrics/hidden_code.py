"""Does a translator hide its input in the translation? The check behind diagnose's "hidden code"
line (Chu et al. 2017, "CycleGAN, a Master of Steganography"; results/translation/steganography).

G_BA's reconstruction of each held-out input is classified as is and after Gaussian noise of
`noise` (in [-1, 1] units; 0.02 is 2.6 grey levels of 255) on the translation; G_BA on real B
digits is the control. A translator whose reconstruction keeps the input's digit, loses it under
faint noise, and whose G_BA does not read visible B digits, keeps the cycle through a code the eye
does not see: its low cycle error says nothing about whether the translation shows the input.
"""

from __future__ import annotations

import torch
from torch import nn

from modecollapse.data.translation import TranslationData
from modecollapse.metrics.features import classifier_for
from modecollapse.metrics.scores import extract
from modecollapse.metrics.translation import measure_digits
from modecollapse.models import generate
from modecollapse.models.classifier import EvalClassifier, load_classifier

NOISE = 0.02
"""The disturbance's std: on 5 collapsed spatial-one runs it took the reconstructed digit to
chance (10-16 %), while 2 of 3 translators that show the digit kept it (85-88 %)."""
KEPT, LOST = 0.5, 0.3
"""A hidden code: the undisturbed cycle brings back at least KEPT of the digits, the disturbed one
at most LOST, and G_BA reads at most LOST of real B digits (so it is not merely fragile to noise)."""


@torch.no_grad()
def hidden_code_scores(
    g_ab: nn.Module,
    g_ba: nn.Module,
    data: TranslationData,
    count: int,
    noise: float = NOISE,
    seed: int = 0,
    classifier: EvalClassifier | None = None,
) -> dict[str, float]:
    """cycle_identity_kept, cycle_identity_kept_noisy, real_b_identity_kept (shares of digits the
    shipped classifier reads as the input's) and hidden_code (1.0 or 0.0). Draws its noise from
    its own seeded generator: a training run's random state is not touched."""
    classifier = classifier or load_classifier(classifier_for(data.name))
    count = min(count, len(data.held_out.a), len(data.b))
    inputs = data.held_out.a.batch(torch.arange(count, device=data.held_out.a.data.device))
    digits = data.held_out.a_digits[:count].view(count, -1).cpu()
    real_b = data.b.batch(torch.arange(count, device=data.b.data.device))
    real_digits = data.b_digits[:count].view(count, -1).cpu()

    def kept(images: torch.Tensor, truth: torch.Tensor) -> float:
        predicted = extract(classifier, measure_digits(images, data.a_layout).crops).predictions
        return float((predicted.view(truth.shape).cpu() == truth).all(dim=1).float().mean())

    translated = generate(g_ab, inputs, 250)
    generator = torch.Generator().manual_seed(seed)
    jitter = noise * torch.randn(translated.shape, generator=generator).to(translated.device)
    disturbed = (translated + jitter).clamp(-1, 1)
    scores = {
        "cycle_identity_kept": kept(generate(g_ba, translated, 250), digits),
        "cycle_identity_kept_noisy": kept(generate(g_ba, disturbed, 250), digits),
        "real_b_identity_kept": kept(generate(g_ba, real_b, 250), real_digits),
    }
    hidden = (
        scores["cycle_identity_kept"] >= KEPT
        and scores["cycle_identity_kept_noisy"] <= LOST
        and scores["real_b_identity_kept"] <= LOST
    )
    return {**scores, "hidden_code": float(hidden)}
