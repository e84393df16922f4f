"""How much a generator's output moves with z: the latent probe diagnose reports for a G."""

from __future__ import annotations

import math

import torch
from torch import nn

from modecollapse.diagnosis.inputs import PROBE_SEED
from modecollapse.generators import as_tensor
from modecollapse.metrics.features import guess_value_range, range_bounds
from modecollapse.models.latent import Latent, placement

IGNORES_Z = 0.02
"""Output spread under which G is said to ignore z (two real MNIST test digits differ by 0.33 on
average, two Fashion-MNIST test images by 0.55)."""


@torch.no_grad()
def probe_latent(generator: nn.Module, latent: Latent, count: int = 256, value_range: str = "auto") -> dict:
    """How much the output moves with z: overall, per latent dimension, and for one-hot z.

    Distances are mean absolute pixel differences, rescaled to [-1, 1] units from `value_range`
    (or the range the outputs fit, when "auto"; G's own units when none fits). A generator whose
    outputs for independent z differ by far less than real images differ from each other ignores z.
    """
    device, dtype = placement(generator)

    def run(z: torch.Tensor) -> torch.Tensor:
        return as_tensor(generator(z.to(device=device, dtype=dtype))).float().cpu()

    shape = latent.shape
    z = latent.draw(count, PROBE_SEED + 1)
    out = run(z).float()
    other = run(latent.draw(count, PROBE_SEED + 2)).float()
    unit = _unit_factor(out, value_range)
    spread = float((out - other).abs().mean()) * (unit or 1.0)
    step = 0.5
    flat = z.reshape(count, -1)
    per_dimension = []
    for d in range(flat.shape[1]):
        moved = flat.clone()
        moved[:, d] += step
        per_dimension.append(float((run(moved.reshape(z.shape)).float() - out).abs().mean() / step))
    sensitivities = torch.tensor(per_dimension)
    dead = int((sensitivities < 0.01 * sensitivities.max().clamp_min(1e-12)).sum())
    dims = flat.shape[1]
    height = 3.0 if latent.distribution == "normal" else latent.range  # far out, yet a value z takes
    one_hot = torch.eye(dims)[: min(dims, 100)].reshape(-1, *shape) * height
    one_hot_out = run(one_hot).float()
    one_hot_spread = float(
        torch.cdist(one_hot_out.flatten(1), one_hot_out.flatten(1), p=1).mean() / one_hot_out[0].numel()
    ) * (unit or 1.0)
    ignores = spread < IGNORES_Z
    return {
        "output_spread": spread,
        "mean_sensitivity": float(sensitivities.mean()),
        "max_sensitivity": float(sensitivities.max()),
        "dead_dimensions": dead,
        "latent_dimensions": dims,
        "one_hot_spread": one_hot_spread,
        "ignores_latent": bool(ignores),
        "statement": _statement(spread, ignores, dead, dims, unit is not None),
    }


def _unit_factor(values: torch.Tensor, value_range: str) -> float | None:
    """The factor taking differences of `values` to [-1, 1] units; None when no range fits."""
    named = value_range if value_range != "auto" else guess_value_range(values)
    if named is None:
        return None
    low, high = range_bounds(named)
    return 2.0 / (high - low)


def _statement(spread: float, ignores: bool, dead: int, dims: int, in_unit: bool = True) -> str:
    if not math.isfinite(spread):
        return "the outputs hold NaN or infinite values: how they move with z cannot be measured"
    if ignores:
        return "the generator ignores z: outputs for independent z are nearly identical"
    return (
        f"outputs move with z (spread {spread:.3f}, the mean absolute difference of pixels "
        f"{'in [-1, 1]' if in_unit else 'in G output units (no known range fits them)'}; under "
        f"{IGNORES_Z} G ignores z); {dead} of {dims} latent dims have no effect"
    )
