"""A user's network from a weights file: safetensors, or a `torch.save`d state_dict read with
`torch.load(weights_only=True)` (torch's restricted unpickler: tensors and plain containers only).
In a checkpoint holding several networks the generator is the entry `weights_key` names, else
the one whose names fit the user's class (user_code.py), else the one recognized as a DCGAN
(recognize.py); entries named like a generator are tried first."""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from modecollapse.diagnosis.recognize import dcgan_from_weights
from modecollapse.diagnosis.user_code import build_arch
from modecollapse.errors import ModeCollapseError
from modecollapse.generators import error_line
from modecollapse.options import option

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt", ".bin", ".tar", ".pkl", ".pickle")
OTHER_SUFFIXES = (".npy", ".npz", ".png", ".jpg", ".jpeg", ".ts", ".pt2", ".json", ".toml")
DCGAN_EXAMPLE = "dcgan-example"  # --arch for PyTorch's DCGAN example layout (recognize.py)
WRAPPERS = ("module.", "_orig_mod.")  # DataParallel / DistributedDataParallel, torch.compile
GENERATOR_NAME = re.compile(
    r"(net_?)?(g|gen|generator)(_?(a|b|ab|ba|a2b|b2a|ema|s))?|(g_?)?ema(_g)?|(generator_?)?ema(_?generator)?",
    re.I,
)

TRANSLATOR_NAME = re.compile(r"(^|_)(a|b|ab|ba|a2b|b2a)$", re.I)  # G_A, netG_B, G_AB, G_A2B


@dataclass(frozen=True)
class Rebuild:
    """How to rebuild a user's network from a weights file: their class (`arch`, "file.py:Class"
    or "package.module:Class", called with `arch_kwargs`), and which entry of a checkpoint
    holding several networks is the one (`weights_key`, e.g. "netG"; a translator's G_BA:
    `g_ba_weights_key`, else `weights_key`)."""

    arch: str | None = None
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    weights_key: str | None = None
    g_ba_weights_key: str | None = None

    @property
    def given(self) -> bool:
        keys = (self.weights_key, self.g_ba_weights_key)
        return self.arch is not None or bool(self.arch_kwargs) or any(k is not None for k in keys)

    def for_g_ba(self) -> Rebuild:
        """The same class, with G_BA's entry."""
        return replace(self, weights_key=self.g_ba_weights_key or self.weights_key)


@dataclass
class UserNetwork:
    module: nn.Module
    described: str
    latent_shape: tuple[int, ...] | None = None  # known from the weights alone (a recognized DCGAN)
    value_range: str = "auto"  # "-1-1" where the output layer is known (a recognized DCGAN's Tanh)


def _unreadable(path: Path, error: Exception) -> ModeCollapseError:
    return ModeCollapseError(
        f"{path}: not a readable torch.save file: truncated or damaged, or a plain pickle, which "
        f"diagnose does not read ({_torch_detail(error)})"
    )


def _torch_detail(error: Exception) -> str:
    """What torch.load's error says went wrong, without its advice to load with weights_only=False
    (unsafe for a file from someone else) or its terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    return detail.group(1).strip() if detail else error_line(Exception(text))


def _looks_like_safetensors(path: Path) -> bool:
    """A safetensors file under another suffix: an 8-byte header length, then a JSON header."""
    with path.open("rb") as handle:
        head = handle.read(10)
    size = int.from_bytes(head[:8], "little") if len(head) == 10 else 0
    return 2 <= size <= path.stat().st_size - 8 and head[8:10] == b'{"'


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
    """The network in the weights file `path`, on the CPU, in eval mode: the user's class loaded
    with the one entry whose names fit it, or, with arch "dcgan-example", the DCGAN recognized."""
    rebuild = rebuild or Rebuild()
    entries = weight_entries(read_weights(path), rebuild.weights_key, path)
    if rebuild.arch is not None and rebuild.arch != DCGAN_EXAMPLE:
        module = build_arch(rebuild.arch, rebuild.arch_kwargs)
        label, state = _fitting(entries, module, path, rebuild.arch)
        module.load_state_dict(state)
        return UserNetwork(module.eval(), f"{rebuild.arch} with weights from {Path(path).name}{label}")
    found = [(label, rebuilt) for label, state in entries if (rebuilt := dcgan_from_weights(state))]
    if len(distinct := _named(found)) > 1:
        raise _several(path, distinct)
    if found and rebuild.arch == DCGAN_EXAMPLE:
        label, recognized = found[0]
        described = f"{recognized.described}{_said(label)}"
        return UserNetwork(recognized.network, described, recognized.latent_shape, "-1-1")
    raise _no_architecture(path, entries, found, rebuild.arch == DCGAN_EXAMPLE)


def _no_architecture(
    path: Path, entries: list[tuple[str, dict[str, torch.Tensor]]], found: list[Any], asked: bool
) -> ModeCollapseError:  # fmt: skip
    """Why a weights file was not rebuilt without the user's class, and what to pass."""
    yours = (
        f"your class: {option('arch', 'models.py:Generator')} (with {option('arch_kwargs', {'nz': 100})} "
        "if it takes arguments), or export samples: np.save('samples.npy', G(z).detach().cpu().numpy())"
    )
    if found:
        return ModeCollapseError(
            f"{path}: looks like PyTorch's DCGAN example generator ({found[0][1].sizes}). Weights do not "
            f"record activations or strides: if it uses ReLU between layers, Tanh at the end and the "
            f"example's strides, pass {option('arch', DCGAN_EXAMPLE)}; otherwise {yours}"
        )
    names = ", ".join(list(entries[0][1])[:6]) + (", ..." if len(entries[0][1]) > 6 else "")
    layout = (
        "not in the layout of PyTorch's DCGAN example"
        if asked
        else "of an architecture diagnose does not know"
    )
    return ModeCollapseError(f"{path}: weights {layout} ({names}); name {yours}")


def _fitting(
    entries: list[tuple[str, dict[str, torch.Tensor]]], module: nn.Module, path: Path, arch: str
) -> tuple[str, dict[str, torch.Tensor]]:  # fmt: skip
    """The entry whose names and shapes are exactly the module's; else a sentence on the likeliest."""
    mine = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    fits = [
        (label, state) for label, state in entries if {n: tuple(t.shape) for n, t in state.items()} == mine
    ]
    if len(distinct := _named(fits)) > 1:
        raise _several(path, distinct)
    if fits:
        return _said(fits[0][0]), fits[0][1]
    state = entries[0][1]
    missing = [n for n in mine if n not in state]
    unexpected = [n for n in state if n not in mine]
    shapes = {n: tuple(t.shape) for n, t in state.items()}
    wrong = [f"{n} {shapes[n]} vs {mine[n]}" for n in mine if n in shapes and shapes[n] != mine[n]]
    parts = [
        f"{label}: {', '.join(names[:4])}{', ...' if len(names) > 4 else ''}"
        for label, names in (("missing", missing), ("unexpected", unexpected), ("shapes differ", wrong))
        if names
    ]
    where = f" (entry {entries[0][0]!r})" if entries[0][0] else ""
    tops = _tops(entries)
    pick = f", or pick the generator's entry with {option('weights_key')} (entries: {', '.join(tops)})"
    saved_them = f" and that {option('arch')} is the class that saved them"
    raise ModeCollapseError(
        f"{path}: the weights{where} do not fit {arch} ({'; '.join(parts)}); check {option('arch_kwargs')}"
        f"{pick if tops != ['(top level)'] else saved_them}"
    )


def _named(found: list[tuple[str, Any]]) -> list[str]:
    """The distinct entries among `found`: one inside another found one counts as that one."""
    labels = {label for label, _ in found}
    inside = {b for a in labels for b in labels if b != a and (not a or b.startswith(a + "."))}
    return sorted(labels - inside)


def _several(path: Path, labels: list[str]) -> ModeCollapseError:
    averaged = [label for label in labels if "ema" in label.lower()]
    named = [label for label in labels if any(GENERATOR_NAME.fullmatch(p) for p in label.split("."))]
    why = " (an EMA copy is usually the one to judge)" if averaged else ""
    paired = sum(bool(TRANSLATOR_NAME.search(label)) for label in labels) >= 2
    pair = (
        f"; a translator pair: {option('weights_key')} for G_AB and {option('g_ba_weights_key')} for G_BA"
        if paired
        else ""
    )
    return ModeCollapseError(
        f"{path}: holds several generators ({', '.join(labels)}); pick one with "
        f"{option('weights_key', (averaged or named or labels)[0])}{why}{pair}"
    )


def _said(label: str) -> str:
    return f" (entry {label!r})" if label else ""


def _tops(entries: list[tuple[str, dict[str, torch.Tensor]]]) -> list[str]:
    """The file's top-level networks, as a sentence lists them; with one or two (Lightning's
    `state_dict`), the networks inside them too."""
    labels = [label or "(top level)" for label, state in entries if "." not in label and _is_network(state)]
    if len(labels) <= 3:  # "(top level)" and one or two wrappers: the networks inside them
        labels += [label for label, state in entries if label.count(".") == 1 and _is_network(state)]
    return labels[:8] + (["..."] if len(labels) > 8 else [])


def _is_network(state: dict[str, torch.Tensor]) -> bool:
    """Holds layers (dotted names such as "0.weight"), not one layer's or a callback's tensors."""
    return any("." in name for name in state)


def generator_entries(path: Path) -> list[str]:
    """The entries of the weights file `path` named like a generator ("G_AB", "state_dict.netG_A")."""
    return sorted(_generator_prefixes(_flatten(read_weights(path))))


def read_weights(path: Path) -> dict[str, Any]:
    """What a weights file holds, read without unpickling anything but tensors and containers."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors" or _looks_like_safetensors(path):
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
        modules = ("torch.nn.", "torch.ao.", "torch.jit.")  # an nn.Module of torch's own classes
        if found is None or found.group(1).startswith("torch.") and not found.group(1).startswith(modules):
            raise _unreadable(path, error) from None  # other names of torch's: a damaged file
        raise ModeCollapseError(
            f"{path} holds pickled Python objects ({found.group(1)}): a whole model saved with "
            "torch.save(G), or a checkpoint whose other entries (hyper-parameters, args) are objects. "
            "Loading those could run arbitrary code, so diagnose reads weights only: save the "
            "generator's alone, torch.save(G.state_dict(), 'G.pt'), and pass "
            f"{option('arch', 'models.py:Generator')}; "
            "or export samples: np.save('samples.npy', G(z).detach().cpu().numpy())"
        ) from None
    except Exception as error:  # torch's reader fails in many ways on damaged files
        raise _unreadable(path, error) from None
    if isinstance(loaded, torch.Tensor):
        raise ModeCollapseError(
            f"{path} holds one tensor of shape {tuple(loaded.shape)}, not a state_dict. Samples? Save them "
            "with np.save('samples.npy', fake.detach().cpu().numpy()) and pass that file; a generator: "
            "torch.save(G.state_dict(), 'G.pt')"
        )
    if isinstance(loaded, nn.Module) or not isinstance(loaded, dict):
        raise ModeCollapseError(
            f"{path} holds a {type(loaded).__name__}, not a state_dict; save torch.save(G.state_dict(), "
            "'G.pt')"
        )
    return loaded


def weight_entries(
    loaded: dict[str, Any], key: str | None, path: Path
) -> list[tuple[str, dict[str, torch.Tensor]]]:  # fmt: skip
    """The state_dicts a file may hold, as (entry, tensors), the likeliest generator first: the
    entry `key` names ("netG", "state_dict.generator") alone, else entries named like a generator,
    then every dict holding tensors (the whole file first). "module."-style wrappers are removed."""
    flat = _flatten(loaded)
    if not flat:
        raise ModeCollapseError(f"{path}: holds no tensors; save torch.save(G.state_dict(), 'G.pt')")
    if key is not None:
        chosen = _under(flat, key)
        if not chosen:
            raise ModeCollapseError(
                f"{path}: no weights under {key!r}; it holds {', '.join(_tops(_containers(flat)))}"
            )
        return [(key, chosen)]
    named = [(p, _under(flat, p)) for p in sorted(_generator_prefixes(flat))]
    return named + [(p, t) for p, t in _containers(flat) if p not in dict(named)]


def _under(flat: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if not prefix:
        return _unwrapped(dict(flat))
    return _unwrapped({n[len(prefix) + 1 :]: t for n, t in flat.items() if n.startswith(prefix + ".")})


def _containers(flat: dict[str, torch.Tensor]) -> list[tuple[str, dict[str, torch.Tensor]]]:
    """Every dotted prefix of the file's names that holds tensors, shallowest first ("" = all)."""
    held: dict[str, dict[str, torch.Tensor]] = {"": dict(flat)}
    for name, tensor in flat.items():  # one pass: each name filed under every prefix it has
        parts = name.split(".")
        for depth in range(1, len(parts)):
            held.setdefault(".".join(parts[:depth]), {})[".".join(parts[depth:])] = tensor
    ordered = sorted(held, key=lambda p: p.count(".") + (p != ""))  # stable: first seen first
    return [(p, _unwrapped(held[p])) for p in ordered]


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
            if "optim" in parts[depth - 1].lower():  # an optimizer's state, even under "g"
                break
            if GENERATOR_NAME.fullmatch(parts[depth - 1]):
                found.add(".".join(parts[:depth]))
                break
    return {p for p in found if not any(p.startswith(q + ".") for q in found if q != p)}


def _unwrapped(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Names without the wrappers DataParallel and torch.compile add ("module.", "_orig_mod.")."""
    for wrapper in WRAPPERS:
        if state and all(name.startswith(wrapper) for name in state):
            state = {name[len(wrapper) :]: t for name, t in state.items()}
    return state
