"""Generators recognized from their weights alone: a DCGAN in the layout of PyTorch's DCGAN
example and tutorial (transposed convolutions with BatchNorm between them). Weights do not record
activations, strides or padding: ReLU, a final Tanh, a k x k stride-1 first layer and 4 x 4
stride-2 padding-1 layers after it are assumed, and the rebuilt network's description says so."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, NamedTuple

import torch
from torch import nn

from modecollapse.options import option


def _chain(groups: list[dict[str, torch.Tensor]]) -> list[tuple[str, dict[str, torch.Tensor]]] | None:
    """The layers in this order as (conv | norm, params), if they form a DCGAN generator chain."""
    layers: list[tuple[str, dict[str, torch.Tensor]]] = []
    for params in groups:
        weight = params.get("weight")
        if weight is not None and weight.dim() == 4 and weight.shape[2] == weight.shape[3]:
            layers.append(("conv", params))
        elif "running_mean" in params and weight is not None and weight.dim() == 1:
            layers.append(("norm", params))
        else:
            return None
    convs = [params for kind, params in layers if kind == "conv"]
    norms = [params for kind, params in layers if kind == "norm"]
    if len(convs) < 2 or [kind for kind, _ in layers] != ["conv", "norm"] * (len(convs) - 1) + ["conv"]:
        return None
    shapes = [tuple(params["weight"].shape) for params in convs]
    if any(s[0] != prev[1] for prev, s in zip(shapes, shapes[1:], strict=False)):
        return None
    if any(s[2] != 4 for s in shapes[1:]) or shapes[-1][1] not in (1, 3):
        return None
    if any(n["weight"].shape[0] != c[1] for n, c in zip(norms, shapes, strict=False)):
        return None
    return layers


def _natural(name: str) -> list[Any]:
    """A sort key that puts "main.10" after "main.9" (safetensors stores names sorted as text)."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


class FromZ(nn.Sequential):
    """A DCGAN generator's layers, fed z flat (N, nz) or as (N, nz, 1, 1)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return super().forward(z.reshape(z.shape[0], -1, 1, 1))


class Recognized(NamedTuple):
    network: nn.Module
    sizes: str  # "nz=100, ngf=64, 64x64, 1 channel"
    described: str
    latent_shape: tuple[int, ...]


def dcgan_from_weights(state: dict[str, torch.Tensor]) -> Recognized | None:
    """A DCGAN generator rebuilt from weights alone, or None if they are not one: a chain of
    transposed convolutions with BatchNorm after each but the last, as PyTorch's DCGAN example
    builds it (see the module's assumptions)."""
    groups: OrderedDict[str, dict[str, torch.Tensor]] = OrderedDict()
    for name, tensor in state.items():
        layer, _, leaf = name.rpartition(".")
        groups.setdefault(layer, {})[leaf] = tensor
    layers = _chain(list(groups.values())) or _chain([groups[k] for k in sorted(groups, key=_natural)])
    if layers is None:
        return None
    convs = [params for kind, params in layers if kind == "conv"]
    norms = [params for kind, params in layers if kind == "norm"]
    shapes = [tuple(params["weight"].shape) for params in convs]
    modules: list[nn.Module] = []
    for i, (shape, params) in enumerate(zip(shapes, convs, strict=True)):
        first = i == 0
        modules.append(
            nn.ConvTranspose2d(shape[0], shape[1], shape[2], 1 if first else 2, 0 if first else 1,
                               bias="bias" in params)
        )  # fmt: skip
        if i < len(norms):
            modules += [nn.BatchNorm2d(shape[1]), nn.ReLU(True)]
    modules.append(nn.Tanh())
    network = FromZ(*modules)
    theirs = [params for _, params in layers]
    ours = [m for m in network if isinstance(m, nn.ConvTranspose2d | nn.BatchNorm2d)]
    for module, params in zip(ours, theirs, strict=True):
        wanted = module.state_dict()
        if set(params) - set(wanted) or set(wanted) - set(params) - {"num_batches_tracked"}:
            return None
        if any(params[k].shape != wanted[k].shape for k in params):
            return None  # e.g. a BatchNorm buffer of another size: not this layout
        module.load_state_dict({**wanted, **params})
    side = shapes[0][2] * 2 ** (len(shapes) - 1)
    nz, channels = shapes[0][0], shapes[-1][1]
    sizes = f"nz={nz}, ngf={shapes[-1][0]}, {side}x{side}, {channels} channel{'s' if channels > 1 else ''}"
    described = (
        f"DCGAN generator rebuilt from its weights as PyTorch's DCGAN example builds it: {sizes}; "
        f"{len(shapes)} transposed convolutions (stride 2, padding 1 after the first), BatchNorm + "
        f"ReLU between them and Tanh at the end, as {option('arch', 'dcgan-example')} says "
        "(weights do not record them)"
    )
    return Recognized(network.eval(), sizes, described, (nz, 1, 1))
