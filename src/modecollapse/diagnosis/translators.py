"""A user's own translators (G_AB, G_BA) from files: TorchScript, or weights files with their
class (weights.py), one file each or one checkpoint holding both."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from modecollapse.data import dataset_kind, dataset_name
from modecollapse.diagnosis.inputs import (
    is_generator_file,
    is_state_file,
    load_torchscript,
    refuse_own_checkpoint,
)
from modecollapse.diagnosis.weights import Rebuild, generator_entries, load_network
from modecollapse.errors import ModeCollapseError
from modecollapse.options import option


def is_translator_file(path: Path, dataset: str | None) -> bool:
    """A TorchScript or weights file named with a translation dataset: a user's G_AB."""
    translating = dataset is not None and dataset_kind(dataset_name(dataset)) == "translation"
    return translating and is_generator_file(path)


def load_user_translators(
    g_ab: Path, g_ba: str | Path | nn.Module | None, rebuild: Rebuild | None
) -> tuple[nn.Module, nn.Module | None, tuple[str, str]]:  # fmt: skip
    """A user's G_AB (and G_BA: a path, a module or None) with how each is described."""
    back_path = Path(g_ba) if isinstance(g_ba, str | Path) else None
    for path in (g_ab, back_path):
        if path is not None and path.is_file():
            refuse_own_checkpoint(path)
    back_rebuild = rebuild.for_g_ba() if rebuild else None
    if back_path is not None and _same_entry(g_ab, back_path, rebuild, back_rebuild):
        raise _one_entry_for_both(g_ab)
    forward, described = load_translator_network(g_ab, rebuild)
    back, back_described = (
        load_translator_network(back_path, back_rebuild) if back_path else (g_ba, "given in memory")
    )
    return forward, back, (f"G_AB: {described}", f"G_BA: {back_described}")


def _same_entry(g_ab: Path, g_ba: Path, rebuild: Rebuild | None, back: Rebuild | None) -> bool:
    """G_AB and G_BA would be read from one entry of one weights file."""
    same_file = is_state_file(g_ab) and g_ba.exists() and g_ab.resolve() == g_ba.resolve()
    return same_file and (rebuild is None or rebuild.weights_key == back.weights_key)


def _one_entry_for_both(path: Path) -> ModeCollapseError:
    named = generator_entries(path)
    if len(named) < 2:
        return ModeCollapseError(
            f"{path} is given as both G_AB and G_BA, and it holds one network: give G_BA's own file "
            f"with {option('g_ba')}"
        )
    return ModeCollapseError(
        f"{path} is given as both G_AB and G_BA: name each one's entry, e.g. "
        f"{option('weights_key', named[0])} {option('g_ba_weights_key', named[1])} "
        f"(its generator entries: {', '.join(named)})"
    )


def load_translator_network(path: Path, rebuild: Rebuild | None) -> tuple[nn.Module, str]:
    """A user's translator (G_AB or G_BA) from TorchScript, or from weights and its class, with
    where it came from."""
    if not path.is_file():
        raise ModeCollapseError(f"{path}: no such file")
    if not is_state_file(path):
        return load_torchscript(path), f"TorchScript from {path}"
    if rebuild is None or rebuild.arch is None:
        raise ModeCollapseError(
            f"{path}: a translator's weights need its class: "
            f"{option('arch', 'models.py:ResnetGenerator')} (with {option('arch_kwargs')} for its "
            "arguments), or a TorchScript file"
        )
    network = load_network(path, rebuild)
    return network.module, network.described
