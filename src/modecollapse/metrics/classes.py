"""Class-histogram metrics from the evaluation classifier's predictions (natural logs)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import nnls


def class_counts(predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.bincount(predictions.flatten().long(), minlength=num_classes).double()


def modes_covered(counts: torch.Tensor, min_share_of_uniform: float = 0.1) -> int:
    """Classes holding at least `min_share_of_uniform` of a uniform share (0 = any sample).
    Nulls: a constant output or one repeated digit (1 mode), three classes only (3)."""
    if counts.sum() <= 0:
        return 0
    if min_share_of_uniform <= 0:
        return int((counts > 0).sum())
    threshold = min_share_of_uniform * counts.sum() / len(counts)
    return int((counts >= threshold).sum())


def shares_beyond_confusion(counts: torch.Tensor, confusion: torch.Tensor) -> torch.Tensor:
    """The class shares that best explain the classifier's histogram, given its confusion on held-out
    real data (rows: true class, columns: read as; each row sums to 1): the non-negative least-
    squares solution of confusion^T q = p, normalised (label-shift estimation, as in Lipton et al.
    2018, "Detecting and Correcting for Label Shift with Black Box Predictors").

    It assumes the samples are misread as often as real test images are. A class whose reads stay
    within what the other classes leak into it cannot be told from that leakage: 92 % T-shirts and
    8 % shirts read as T-shirts alone (the classifier reads ~9 % of real T-shirts as shirts)."""
    confusion = confusion.double()
    square = confusion.dim() == 2 and confusion.shape == (len(counts), len(counts))
    if not square or not confusion.isfinite().all():
        raise ValueError(f"confusion must be a finite {len(counts)} x {len(counts)} matrix")
    if counts.sum() <= 0:
        return torch.zeros(len(counts), dtype=torch.float64)
    estimate, _ = nnls(confusion.T.numpy(), (counts / counts.sum()).double().numpy())
    total = estimate.sum()
    return torch.from_numpy(estimate / total if total > 0 else np.zeros_like(estimate))


def modes_beyond_confusion(
    counts: torch.Tensor, confusion: torch.Tensor, min_share_of_uniform: float = 0.1
) -> int:
    """`modes_covered` of the shares beyond confusion: classes the classifier only reads into other
    classes' samples do not count. Null: one Fashion-MNIST class alone (1 mode; the raw count
    reads 2-5, tests/metrics/test_classes.py)."""
    shares = shares_beyond_confusion(counts, confusion)
    return modes_covered((shares * counts.sum()).round(), min_share_of_uniform)  # whole samples


BOOTSTRAP_DRAWS = 200


def modes_beyond_confusion_sd(
    counts: torch.Tensor, confusion: torch.Tensor, min_share_of_uniform: float = 0.1
) -> float:
    """The sampling sd of `modes_beyond_confusion`: the histogram redrawn BOOTSTRAP_DRAWS times
    (multinomial, fixed seed) and estimated again; at 64 samples one class or two can come and go."""
    total = int(counts.sum())
    if total <= 0:
        return 0.0
    shares = (counts / counts.sum()).double().numpy()
    redrawn = np.random.default_rng(0).multinomial(total, shares, size=BOOTSTRAP_DRAWS)
    found = [modes_beyond_confusion(torch.from_numpy(r), confusion, min_share_of_uniform) for r in redrawn]
    return float(np.std(found))


def kl_to_reference(counts: torch.Tensor, reference: torch.Tensor | None = None) -> float:
    """KL(p_gen || reference) over non-empty bins; reference defaults to uniform.
    Nulls: three classes only (ln(10/3) = 1.20), one class (ln 10 = 2.30)."""
    p = counts / counts.sum()
    q = torch.full_like(p, 1 / len(p)) if reference is None else reference.double() / reference.sum()
    keep = p > 0
    return float((p[keep] * (p[keep] / q[keep]).log()).sum())


def stacked_labels(predictions: torch.Tensor) -> torch.Tensor:
    """(N, 3) per-channel digit predictions -> one of 1,000 modes, 100a + 10b + c."""
    return predictions[:, 0] * 100 + predictions[:, 1] * 10 + predictions[:, 2]


MIN_SPLIT_SAMPLES = 50
"""The fewest samples a split of the classifier score holds: 10 splits from 500 samples on."""


def classifier_score(probabilities: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """The Inception score computed with our classifier: exp E_x KL(p(y|x) || p(y)), mean/std.
    Null: one class (score 1). It is not a collapse test on its own: a confident classifier
    scores pixel noise high (see recognizable.py), which is why the panel pairs it with others.

    Samples are shuffled (fixed seed) before splitting: files sorted by class would
    otherwise give each split one class and a score of 1. Each split keeps at least
    MIN_SPLIT_SAMPLES (fewer splits for few samples): a split of one sample scores 1 whatever it is.
    """
    splits = max(1, min(splits, len(probabilities) // MIN_SPLIT_SAMPLES))
    order = torch.randperm(len(probabilities), generator=torch.Generator().manual_seed(0))
    scores = []
    for chunk in probabilities[order].double().tensor_split(splits):  # sizes differ by at most 1
        marginal = chunk.mean(0, keepdim=True)
        kl = (chunk * (chunk.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(1)
        scores.append(kl.mean().exp())
    scores_t = torch.stack(scores)
    return float(scores_t.mean()), float(scores_t.std(unbiased=False))
