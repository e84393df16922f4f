"""A user's generator seen from outside: called without disturbing its training (mode, RNG,
autocast), fed on its own device, its output as a tensor. The Monitor's way in."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from torch import nn

from modecollapse.errors import ModeCollapseError


def unwrapped(generator: Any) -> Any:
    """The network inside DataParallel / DistributedDataParallel, torch.compile or a partial with
    nothing bound: the one whose weights and forward are G's."""
    for _ in range(8):
        if isinstance(generator, nn.DataParallel | nn.parallel.DistributedDataParallel):
            generator = generator.module
        elif getattr(generator, "_orig_mod", None) is not None:
            generator = generator._orig_mod
        elif isinstance(generator, functools.partial) and not generator.args and not generator.keywords:
            generator = generator.func
        else:
            break
    return generator


OUTPUT_LAYERS = ((nn.Tanh, "-1-1", -1.0, 1.0), (nn.Sigmoid, "0-1", 0.0, 1.0))
"""Output layers that fix a generator's value range: (class, range name, low, high)."""


def range_from_last_layer(generator: Any, values: Any, asked: str = "auto") -> tuple[str, str]:
    """The range G's outputs `values` are read in, and a note: `asked` unless "auto"; else its
    last registered layer's, a Tanh or a Sigmoid, when the outputs lie inside that layer's range
    (a forward that rescales after it is then not misread); else ("auto", "")."""
    if asked != "auto" or generator is None:
        return asked, ""
    network, values = unwrapped(generator), as_tensor(values).float()
    if not isinstance(network, nn.Module) or not values.numel():
        return "auto", ""
    leaves = [m for m in network.modules() if next(m.children(), None) is None]
    for kind, name, low, high in OUTPUT_LAYERS:
        if leaves and isinstance(leaves[-1], kind):
            if low - 1e-3 <= float(values.min()) and float(values.max()) <= high + 1e-3:
                return name, f"values read as [{low:g}, {high:g}]: G's last layer is a {kind.__name__}"
    return "auto", ""


def error_line(error: Exception) -> str:
    """The line of an error that says what went wrong: a TorchScript error's last (its first only
    says the interpreter failed), any other's first; the type when it says nothing."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return lines[-1] if isinstance(error, torch.jit.Error) else lines[0]


def as_tensor(output: Any) -> torch.Tensor:
    """A generator's output (a tensor, an array, or a tuple led by one) as a detached tensor; a
    clear sentence for anything else (a dict, an empty tuple, objects)."""
    if isinstance(output, dict):
        keys = ", ".join(repr(k) for k in output)
        first = next(iter(output), "images")
        raise ModeCollapseError(
            f"G returned a dict (keys {keys or 'none'}), not samples: give a function that returns "
            f"them, e.g. lambda z: G(z)[{first!r}]"
        )
    if isinstance(output, (tuple, list)):
        if not output:
            raise ModeCollapseError(f"G returned an empty {type(output).__name__}, not samples")
        output = output[0]
    if not isinstance(output, torch.Tensor):
        array = np.asarray(output)
        if array.dtype.kind not in "biuf":
            raise ModeCollapseError(
                f"G's output is not numbers ({type(output).__name__}, dtype {array.dtype}): it must "
                "return the samples as a tensor or array, or a tuple led by them"
            )
        output = torch.as_tensor(array)
    return output.detach()


def batch_outputs(output: Any, batch: int) -> torch.Tensor:
    """`as_tensor(output)` as fp32 on the CPU, checked to hold one sample per input of the batch."""
    values = as_tensor(output).float().cpu()
    if values.dim() == 0 or len(values) != batch:
        shape = tuple(values.shape)
        listed = " (a list of per-sample outputs? return them as one tensor: torch.stack)" if isinstance(
            output, list
        ) else ""
        raise ModeCollapseError(
            f"G returned samples of shape {shape} for a batch of {batch} inputs: it must return one "
            f"sample per input, its first dimension the batch{listed}"
        )
    return values


def output_note(output: Any) -> str | None:
    """Said when more than the samples came back: a tuple or list led by them."""
    if isinstance(output, (tuple, list)) and len(output) > 1:
        shape = tuple(as_tensor(output).shape)
        kind = type(output).__name__
        return f"G returns a {kind} of {len(output)}: judged on its first element, shape {shape}"
    return None


class OnDevice(nn.Module):
    """A network fed on its own device, answering on the CPU (evaluators keep inputs on the CPU)."""

    def __init__(self, network: Any, device: torch.device) -> None:
        super().__init__()
        self.network, self.device = network, device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return as_tensor(self.network(x.to(self.device))).float().cpu()


class untouched:
    """Evaluate G in eval mode without autocast; restore its mode and the global RNG states."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator if isinstance(generator, nn.Module) else None

    def __enter__(self) -> None:
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        modules = self.generator.modules() if self.generator is not None else ()
        self.modes = [(module, module.training) for module in modules]  # each one: some may be frozen
        if self.generator is not None:
            self.generator.eval()
        self.grad = torch.is_grad_enabled()
        torch.set_grad_enabled(False)
        kinds = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
        self.autocast = [torch.autocast(kind, enabled=False) for kind in kinds]
        for context in self.autocast:
            context.__enter__()

    def __exit__(self, *exc: object) -> None:
        for context in reversed(self.autocast):
            context.__exit__(None, None, None)
        torch.set_grad_enabled(self.grad)
        for module, training in self.modes:
            module.training = training
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
