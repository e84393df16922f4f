"""A user's network from a weights file: safetensors, or a `torch.save`d state_dict read with
`torch.load(weights_only=True)` (tensors and plain containers only: never a full unpickle).
The architecture is the user's own class (`arch="models.py:Generator"`, built with
`arch_kwargs`) or, without one, a DCGAN generator recognized from its weights' shapes (the
layout of PyTorch's DCGAN example and tutorial: transposed convolutions with BatchNorm and ReLU
between them, Tanh at the end)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import pickle
import re
import sys
import warnings
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from modecollapse.errors import ModeCollapseError

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt", ".bin", ".tar", ".pkl", ".pickle")
OTHER_SUFFIXES = (".npy", ".npz", ".png", ".jpg", ".jpeg", ".ts", ".pt2", ".json", ".toml")
WRAPPERS = ("module.", "_orig_mod.")  # DataParallel / DistributedDataParallel, torch.compile
GENERATOR_NAME = re.compile(
    r"(net_?)?(g|gen|generator)(_?(a|b|ab|ba|a2b|b2a|ema))?|(g_?)?ema(_g)?|generator_ema", re.I
)


@dataclass(frozen=True)
class Rebuild:
    """How to rebuild a user's network from a weights file: their class (`arch`, "file.py:Class"
    or "package.module:Class", called with `arch_kwargs`), and which entry of a checkpoint
    holding several networks is the one (`weights_key`, e.g. "netG")."""

    arch: str | None = None
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    weights_key: str | None = None


@dataclass
class UserNetwork:
    module: nn.Module
    described: str
    latent_shape: tuple[int, ...] | None = None  # known from the weights alone (a recognized DCGAN)


def is_weights_file(path: Path) -> bool:
    """A file that may hold weights: a safetensors file or a torch.save file (zip or legacy)."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix.lower() in WEIGHT_SUFFIXES:
        return True
    if path.suffix.lower() in OTHER_SUFFIXES:
        return False
    with path.open("rb") as handle:
        head = handle.read(2)
    return head[:1] == b"\x80" or zipfile.is_zipfile(path)


def load_network(path: Path, rebuild: Rebuild | None = None) -> UserNetwork:
    """The network in the weights file `path`, on the CPU, in eval mode."""
    rebuild = rebuild or Rebuild()
    state = select_weights(read_weights(path), rebuild.weights_key, path)
    if rebuild.arch is not None:
        module = build_arch(rebuild.arch, rebuild.arch_kwargs)
        _load_into(module, state, path, rebuild.arch)
        return UserNetwork(module.eval(), f"{rebuild.arch} with weights from {Path(path).name}")
    recognized = dcgan_from_weights(state)
    if recognized is None:
        names = ", ".join(list(state)[:6]) + (", ..." if len(state) > 6 else "")
        raise ModeCollapseError(
            f"{path}: weights of an architecture diagnose cannot rebuild on its own ({names}); name "
            "your class: --arch models.py:Generator (with --arch-kwargs '{\"nz\": 100}' if it takes "
            "arguments), or export samples: np.save('samples.npy', G(z).detach().cpu().numpy())"
        )
    return recognized


def read_weights(path: Path) -> dict[str, Any]:
    """What a weights file holds, read without unpickling anything but tensors and containers."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        try:
            return dict(load_file(str(path), device="cpu"))
        except (SafetensorError, OSError, ValueError) as error:
            raise ModeCollapseError(f"{path}: not a readable safetensors file ({error})") from None
    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": the error below says it all
            warnings.simplefilter("ignore")
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL ([\w.]+)", str(error))
        what = f" ({found.group(1)})" if found else ""
        raise ModeCollapseError(
            f"{path} holds pickled Python objects{what}, e.g. a whole model saved with torch.save(G); "
            "loading those could run arbitrary code, so diagnose reads weights only. Save "
            "torch.save(G.state_dict(), 'G.pt') and pass --arch models.py:Generator, or export samples: "
            "np.save('samples.npy', G(z).detach().cpu().numpy())"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModeCollapseError(
            f"{path}: not a readable torch.save file: truncated, or a plain pickle, which diagnose "
            f"does not read ({first})"
        ) from None
    if isinstance(loaded, nn.Module) or not isinstance(loaded, dict):
        raise ModeCollapseError(
            f"{path} holds a {type(loaded).__name__}, not a state_dict; save torch.save(G.state_dict(), "
            "'G.pt')"
        )
    return loaded


def select_weights(loaded: dict[str, Any], key: str | None, path: Path) -> dict[str, torch.Tensor]:
    """The generator's state_dict inside what a file holds: all of a plain state_dict, the entry
    `key` names ("netG", "state_dict.generator"), or the one entry named like a generator."""
    flat = _flatten(loaded)
    if not flat:
        raise ModeCollapseError(f"{path}: holds no tensors; save torch.save(G.state_dict(), 'G.pt')")
    if key is not None:
        chosen = {name[len(key) + 1 :]: t for name, t in flat.items() if name.startswith(key + ".")}
        if not chosen:
            raise ModeCollapseError(f"{path}: no weights under {key!r}; it holds {', '.join(_entries(flat))}")
        return _unwrapped(chosen)
    prefixes = _generator_prefixes(flat)
    if len(prefixes) == 1:
        (prefix,) = prefixes
        return _unwrapped({n[len(prefix) + 1 :]: t for n, t in flat.items() if n.startswith(prefix + ".")})
    if len(prefixes) > 1:
        raise ModeCollapseError(
            f"{path}: holds several generators ({', '.join(sorted(prefixes))}); pick one with "
            f"--weights-key {sorted(prefixes)[0]}"
        )
    if all(isinstance(value, torch.Tensor) for value in loaded.values()):
        return _unwrapped(flat)
    raise ModeCollapseError(
        f"{path}: holds {', '.join(_entries(flat))} and none is named like a generator; pick the "
        "generator's weights with --weights-key NAME"
    )


def _flatten(tree: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Tensors of nested dicts under dotted names ("netG.main.0.weight")."""
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    if not isinstance(tree, dict):
        return {}
    flat: dict[str, torch.Tensor] = {}
    for name, value in tree.items():
        flat.update(_flatten(value, f"{prefix}.{name}" if prefix else str(name)))
    return flat


def _generator_prefixes(flat: dict[str, torch.Tensor]) -> set[str]:
    """The shallowest dotted prefixes whose last part names a generator ("netG", "state_dict.G_A")."""
    found: set[str] = set()
    for name in flat:
        parts = name.split(".")
        for depth in range(1, len(parts)):
            if GENERATOR_NAME.fullmatch(parts[depth - 1]):
                found.add(".".join(parts[:depth]))
                break
    return {p for p in found if not any(p.startswith(q + ".") for q in found if q != p)}


def _entries(flat: dict[str, torch.Tensor]) -> list[str]:
    tops = OrderedDict.fromkeys(name.split(".")[0] for name in flat)
    shown = list(tops)[:8]
    return shown + (["..."] if len(tops) > 8 else [])


def _unwrapped(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Names without the wrappers DataParallel and torch.compile add ("module.", "_orig_mod.")."""
    for wrapper in WRAPPERS:
        if state and all(name.startswith(wrapper) for name in state):
            state = {name[len(wrapper) :]: t for name, t in state.items()}
    return state


def build_arch(arch: str, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """The user's class named "file.py:Class" or "package.module:Class", called with `kwargs`.
    Importing runs that file's code, as `python file.py` would: name only your own code."""
    with contextlib.redirect_stdout(sys.stderr):  # their prints must not spoil --json output
        return _build(arch, kwargs)


def _build(arch: str, kwargs: dict[str, Any] | None) -> nn.Module:
    where, _, name = arch.rpartition(":")
    if not where or not name:
        raise ModeCollapseError(f"--arch takes FILE.py:CLASS or MODULE:CLASS, got {arch!r}")
    if where.endswith(".py") or Path(where).is_file():
        module = _import_file(Path(where))
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as error:
            raise ModeCollapseError(f"--arch {arch}: cannot import {where} ({error})") from None
    built = getattr(module, name, None)
    if built is None:
        raise ModeCollapseError(f"--arch {arch}: {where} has no {name}")
    try:
        network = built(**(kwargs or {}))
    except TypeError as error:
        raise ModeCollapseError(
            f"--arch {arch}: {name}(**{json.dumps(kwargs or {})}) failed ({error}); give its "
            "arguments with --arch-kwargs '{\"nz\": 100}'"
        ) from None
    if not isinstance(network, nn.Module):
        raise ModeCollapseError(
            f"--arch {arch}: {name}(...) returned a {type(network).__name__}, not a module"
        )
    return network


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise ModeCollapseError(f"--arch: no such file {path}")
    name = "_modecollapse_user_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModeCollapseError(f"--arch: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # so it can import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's own code failed to import: say where, keep the cause
        raise ModeCollapseError(
            f"--arch: importing {path} failed: {type(error).__name__}: {error}"
        ) from error
    finally:
        sys.path.remove(str(path.resolve().parent))
    return module


def _load_into(module: nn.Module, state: dict[str, torch.Tensor], path: Path, arch: str) -> None:
    mine = module.state_dict()
    missing = [n for n in mine if n not in state]
    unexpected = [n for n in state if n not in mine]
    wrong = [
        f"{n} {tuple(state[n].shape)} vs {tuple(mine[n].shape)}"
        for n in mine
        if n in state and state[n].shape != mine[n].shape
    ]
    if missing or unexpected or wrong:
        parts = [
            f"{label}: {', '.join(names[:4])}{', ...' if len(names) > 4 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("shapes differ", wrong))
            if names
        ]
        raise ModeCollapseError(
            f"{path}: the weights do not fit {arch} ({'; '.join(parts)}); check --arch-kwargs, or pick "
            "the generator's entry with --weights-key"
        )
    module.load_state_dict(state)


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


def dcgan_from_weights(state: dict[str, torch.Tensor]) -> UserNetwork | None:
    """A DCGAN generator rebuilt from weights alone, or None if they are not one: a chain of
    transposed convolutions (the first from z, k x k, stride 1; the rest 4 x 4, stride 2,
    padding 1) with BatchNorm after each but the last, as PyTorch's DCGAN example builds it.
    ReLU between layers and Tanh at the end are assumed: weights do not record activations."""
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
        module.load_state_dict({**wanted, **params})
    side = shapes[0][2] * 2 ** (len(shapes) - 1)
    nz, channels = shapes[0][0], shapes[-1][1]
    described = (
        f"DCGAN generator rebuilt from its weights (PyTorch's DCGAN example layout: {len(shapes)} "
        f"transposed convolutions, BatchNorm + ReLU between, Tanh assumed at the end): nz={nz}, "
        f"ngf={shapes[-1][0]}, {side}x{side}, {channels} channel{'s' if channels > 1 else ''}"
    )
    return UserNetwork(network.eval(), described, (nz, 1, 1))
