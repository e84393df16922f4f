"""The guided latent space's generator terms: the guide's class loss and per-class statistics.

For fakes drawn from sub-space k, the frozen guide classifier should say k (cross-entropy),
and the spread of their guide features should match real class k's (the variance of each
feature within the class; optionally the means too). The real statistics are computed once
per run from the training data through the same guide. Without the statistics term G can
satisfy the guide with one image per class: exactly the collapse the term exists to stop.

`as_published` reproduces the public code's statistics term, which takes moments over a
singleton axis: every variance is 0, for generated and real alike, so the term is always
zero and has no gradient.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.data import spec
from modecollapse.errors import ConfigError
from modecollapse.models.classifier import EvalClassifier, load_classifier

if TYPE_CHECKING:
    from modecollapse.config import Config
    from modecollapse.data import Dataset
    from modecollapse.speed import SpeedPlan


def at_28(images: torch.Tensor) -> torch.Tensor:
    """Float images resized to the guide's 28x28 input (antialiased bilinear) when needed."""
    x = images.float()
    if x.shape[-1] != 28:
        x = F.interpolate(x, size=28, mode="bilinear", antialias=True, align_corners=False)
    return x


def class_statistics(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class feature means (K, F), variances (K, F, population) and counts (K,)."""
    counts = torch.bincount(labels, minlength=num_classes).to(features.dtype)
    one_hot = F.one_hot(labels, num_classes).to(features.dtype)  # (N, K)
    sums = one_hot.T @ features
    means = sums / counts.clamp_min(1).unsqueeze(1)
    squares = one_hot.T @ features.pow(2)
    variances = (squares / counts.clamp_min(1).unsqueeze(1) - means.pow(2)).clamp_min(0)
    return means, variances, counts


def statistics_distance(
    features: torch.Tensor,
    labels: torch.Tensor,
    real_means: torch.Tensor,
    real_variances: torch.Tensor,
    match_means: bool = False,
    as_published: bool = False,
) -> torch.Tensor:
    """Mean squared distance between generated and real per-class variances (and means).

    Classes with fewer than two samples in the batch have no variance and are left out.
    """
    num_classes = real_means.shape[0]
    if as_published:
        singleton = features.unsqueeze(1)  # (N, 1, F): moments over the size-1 axis
        fake_variance = singleton.var(dim=1, unbiased=False)
        real_variance = torch.zeros_like(fake_variance)
        return F.mse_loss(fake_variance, real_variance)
    means, variances, counts = class_statistics(features, labels, num_classes)
    present = counts >= 2
    if not present.any():
        return features.sum() * 0.0
    loss = F.mse_loss(variances[present], real_variances[present])
    if match_means:
        loss = loss + F.mse_loss(means[present], real_means[present])
    return loss


@dataclass
class GuideTerm:
    """lambda_cls * CE(guide(G(z_k)), k) + lambda_var * statistics distance, for G's loss."""

    guide: EvalClassifier
    real_means: torch.Tensor
    real_variances: torch.Tensor
    class_weight: float
    variance_weight: float
    match_means: bool = False
    as_published: bool = False
    warmup_steps: int = 0
    start_step: int = 0
    balance_on: torch.Tensor | None = None

    def __call__(
        self,
        fake: torch.Tensor,
        labels: torch.Tensor,
        step: int = 0,
        adversarial_loss: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weighted guide loss and its parts for the log.

        With `balance_on` (one of G's weights, e.g. its last layer's) each term is rescaled so
        that its gradient there is its weight times the adversarial loss's: the weights become
        the guide's pull relative to D's (an adaptive weight, as in Esser et al. 2021).
        """
        logits, features = self.guide.model(at_28(fake))
        class_loss = F.cross_entropy(logits, labels)
        stats_loss = statistics_distance(
            features, labels, self.real_means, self.real_variances, self.match_means, self.as_published
        )
        stats = {"guide_class_loss": class_loss.detach(), "guide_stats_loss": stats_loss.detach()}
        ramp = guide_ramp(step, self.start_step, self.warmup_steps)
        class_weight, variance_weight = ramp * self.class_weight, ramp * self.variance_weight
        if self.balance_on is not None and (class_weight or variance_weight):
            if adversarial_loss is None:
                raise ValueError("a balanced guide term needs the adversarial loss")
            target = gradient_norm(adversarial_loss, self.balance_on)
            if class_weight:
                class_weight = class_weight * balancing_scale(class_loss, self.balance_on, target)
            if variance_weight:
                variance_weight = variance_weight * balancing_scale(stats_loss, self.balance_on, target)
        return class_weight * class_loss + variance_weight * stats_loss, stats


def guide_ramp(step: int, start_step: int, warmup_steps: int) -> float:
    """0 before `start_step`, then rising linearly to 1 over `warmup_steps`."""
    if step < start_step:
        return 0.0
    return min(1.0, (step - start_step) / warmup_steps) if warmup_steps else 1.0


def gradient_norm(loss: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    """||d loss / d tensor||, keeping the graph for the real backward pass (0 without a path)."""
    if not loss.requires_grad:
        return torch.zeros((), device=tensor.device)
    (grad,) = torch.autograd.grad(loss, tensor, retain_graph=True, allow_unused=True)
    return torch.zeros((), device=tensor.device) if grad is None else grad.float().norm()


def balancing_scale(loss: torch.Tensor, tensor: torch.Tensor, target_norm: torch.Tensor) -> torch.Tensor:
    """The constant that gives `loss` a gradient of norm `target_norm` on `tensor` (0 if it has none)."""
    norm = gradient_norm(loss, tensor)
    return torch.where(norm > 0, target_norm / norm.clamp_min(1e-12), torch.zeros_like(norm)).detach()


def last_weight(generator: torch.nn.Module) -> torch.Tensor:
    """G's last multi-dimensional weight (its output layer's), where guide terms are balanced."""
    weights = [p for p in generator.parameters() if p.dim() > 1]
    if not weights:
        raise ValueError("the generator has no weight matrix to balance the guide terms on")
    return weights[-1]


@torch.no_grad()
def real_class_statistics(
    guide: EvalClassifier, batches: Iterable[torch.Tensor], labels: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class means and variances of the guide's features over real images in [-1, 1],
    given batch by batch (in the order of `labels`) so the whole set is never held as floats."""
    features = [guide.model(at_28(batch))[1] for batch in batches]
    means, variances, _ = class_statistics(torch.cat(features), labels, num_classes)
    return means, variances


def frozen(guide: EvalClassifier, device: torch.device) -> EvalClassifier:
    """The guide in eval mode on `device`, its weights never updated (gradients still reach G)."""
    guide.model.to(device).eval().requires_grad_(False)
    return guide


def build_guide_term(config: Config, dataset: Dataset, generator: nn.Module, speed: SpeedPlan) -> GuideTerm:
    """The guide classifier (frozen, never the evaluation classifier) and the real per-class
    statistics of its features, as objective.guide_* say."""
    obj = config.objective
    grader = spec(dataset.name).classifier
    if obj.guide_classifier == grader:
        raise ConfigError(
            f"objective.guide_classifier = '{obj.guide_classifier}' is the evaluation classifier; "
            "a GAN must not be graded by the network it trained against (use 'guide-mnist')"
        )
    guide = frozen(load_classifier(obj.guide_classifier), speed.device)
    speed.prepare(guide.model)
    if guide.card.get("dataset") != grader:
        raise ConfigError(
            f"the guide '{obj.guide_classifier}' was trained on {guide.card.get('dataset')}, but the data "
            f"is {dataset.name}; train a guide for it (see training/classifier.py RECIPES)"
        )
    batches = (dataset.batch(i) for i in torch.arange(len(dataset), device=speed.device).split(1000))
    means, variances = real_class_statistics(guide, batches, dataset.labels, dataset.num_classes)
    return GuideTerm(
        guide,
        means,
        variances,
        obj.guide_class_weight,
        obj.guide_variance_weight,
        obj.guide_match_means,
        as_published=config.model.guided_variant == "as_published",
        warmup_steps=obj.guide_warmup_steps,
        start_step=obj.guide_start_step,
        balance_on=last_weight(generator) if obj.guide_balance else None,
    )
