"""Checkpoints: tensors in safetensors, everything else in JSON; written atomically; no pickle.

Layout: checkpoints/step-00001000/{weights.safetensors, state.json} and checkpoints/latest,
a one-line file naming the newest complete checkpoint. A checkpoint folder is built under a
temporary name and renamed into place, so a killed run never leaves half a checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from modecollapse.errors import CheckpointError
from modecollapse.files import atomic_write_text, sync_folder

FORMAT = "modecollapse-checkpoint-v1"
WEIGHTS, STATE, LATEST = "weights.safetensors", "state.json", "latest"
LAST_HEALTHY = "last-healthy"


def save_checkpoint(
    run_dir: Path, step: int, tensors: dict[str, torch.Tensor], state: dict[str, Any], keep: int
) -> Path:
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final, tmp = root / name, root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tensors = {key: value.detach().cpu().contiguous() for key, value in tensors.items()}
    save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
    (tmp / STATE).write_text(json.dumps({"format": FORMAT, **state}, indent=2))
    _sync_files(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.rename(tmp, final)
    atomic_write_text(root / LATEST, name + "\n")
    _prune(root, keep, name)
    return final


def keep_copy(checkpoint: Path, name: str = LAST_HEALTHY) -> Path:
    """Copy a checkpoint folder to checkpoints/<name>, out of the rotation (atomically replaced)."""
    final = checkpoint.parent / name
    tmp = checkpoint.parent / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(checkpoint, tmp)
    _sync_files(tmp)
    old = checkpoint.parent / f".old-{name}-{os.getpid()}"
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    sync_folder(checkpoint.parent)
    shutil.rmtree(old, ignore_errors=True)
    return final


def _sync_files(folder: Path) -> None:
    """fsync every file in a checkpoint folder (it holds no sub-folders), then the folder, before it
    is renamed into place."""
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        with path.open("r+b" if os.name == "nt" else "rb") as handle:  # Windows syncs writable handles only
            os.fsync(handle.fileno())
    sync_folder(folder)


def _prune(root: Path, keep: int, newest: str) -> None:
    """Keep the newest `keep` checkpoints, and drop the temporary folders of processes killed
    mid-save (.tmp-* and .old-*, named by their pid)."""
    done = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in done[:-keep]:
        if old.name != newest:
            shutil.rmtree(old, ignore_errors=True)
    for left in [*root.glob(".tmp-*"), *root.glob(".old-*")]:
        pid = left.name.rpartition("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(left, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint `latest` names; without a usable `latest` (lost, emptied, or naming a folder
    gone), the newest complete step-* folder, so that a damaged pointer never restarts a run."""
    root = Path(run_dir) / "checkpoints"
    try:
        named = root / (root / LATEST).read_text().strip()
    except (OSError, ValueError):
        named = None
    if named is not None and named.parent == root and _complete(named):
        return named
    complete = [p for p in sorted(root.glob("step-*")) if _complete(p)]
    return complete[-1] if complete else None


def _complete(path: Path) -> bool:
    return (path / WEIGHTS).is_file() and (path / STATE).is_file()


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint folder written by this tool; refuse anything else."""
    path = Path(path)
    hint = "move the folder aside to use the one before it"
    try:
        state = json.loads((path / STATE).read_text())
        tensors = load_file(str(path / WEIGHTS), device="cpu")
    except (OSError, ValueError, SafetensorError) as error:  # ValueError: bad JSON or bytes
        raise CheckpointError(f"{path}: not a readable modecollapse checkpoint ({error}); {hint}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path}: unknown checkpoint format {found!r}")
    if missing := [key for key in ("config", "step") if key not in state]:
        raise CheckpointError(f"{path}/{STATE} lacks {', '.join(missing)}: damaged; {hint}")
    return tensors, state


# --- flattening modules, optimizers and RNG into tensors + JSON ---------------------------


def optimizer_to_flat(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    tensors, plain = {}, {}
    saved = optimizer.state_dict()
    for param_id, slots in saved["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{param_id}.{key}"] = value
            else:
                plain[f"{param_id}.{key}"] = value
    return tensors, {"param_groups": saved["param_groups"], "plain_state": plain}


def optimizer_from_flat(
    prefix: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    state: dict[int, dict[str, Any]] = {}
    marker = f"{prefix}.state."
    for key, value in tensors.items():
        if key.startswith(marker):
            param_id, slot = key[len(marker) :].split(".", 1)
            state.setdefault(int(param_id), {})[slot] = value
    for key, value in meta["plain_state"].items():
        param_id, slot = key.split(".", 1)
        state.setdefault(int(param_id), {})[slot] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    # saved contiguous; a fused kernel walks memory, so each slot must share its parameter's layout
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for param in params:
        for slot, value in optimizer.state.get(param, {}).items():
            matches = isinstance(value, torch.Tensor) and value.shape == param.shape
            if matches and value.stride() != param.stride():
                optimizer.state[param][slot] = torch.empty_like(param).copy_(value)


def module_tensors(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{key}": value for key, value in module.state_dict().items()}


def load_module(prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    marker = prefix + "."
    own = {key[len(marker) :]: value for key, value in tensors.items() if key.startswith(marker)}
    try:
        module.load_state_dict(own)
    except RuntimeError as error:
        raise CheckpointError(f"checkpoint does not fit the {prefix}: {error}") from None


def rng_tensors() -> dict[str, torch.Tensor]:
    tensors = {"rng.cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    return tensors


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng.cpu"])
    keys = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.split(".")[2]))
    cuda = [tensors[key] for key in keys]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
