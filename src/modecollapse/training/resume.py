"""Which checkpoint a run resumes from, and whether it may."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from modecollapse.config import BOOKKEEPING, Config, config_changes, config_from_dict, lengthens
from modecollapse.errors import CheckpointError
from modecollapse.runfolder import RunFolder
from modecollapse.training import checkpoint as ckpt

Loaded = tuple[Path, dict[str, torch.Tensor], dict[str, Any]]
"""A checkpoint read from disk: (its folder, tensors, JSON state)."""


def checkpoint_to_resume(run: RunFolder, config: Config, resume: bool, allow_change: bool) -> Loaded | None:
    """The checkpoint a resumed run starts from, read once (None: start afresh); refuses to
    overwrite a run, or to resume with another config unless `allow_change` or the new config
    only lengthens the run (config.lengthens: a finished run then trains on to the new length)."""
    latest = ckpt.latest_checkpoint(run.path)
    if not resume:
        if latest is not None:
            raise CheckpointError(
                f"{run.path} already holds a run with checkpoints; resume it with "
                f"--resume {run.path}, or pick a new --out"
            )
        held = sorted(p.name for p in run.path.iterdir() if p != run.lock) if run.path.is_dir() else []
        if held:  # a user's folder: its config.toml would be overwritten by the run's
            raise CheckpointError(
                f"{run.path} is not empty (it holds {', '.join(held[:4])}{', ...' * (len(held) > 4)}); "
                f"a run starts in a new or empty folder: pick a new --out, or --resume {run.path} to "
                "continue a run there"
            )
        return None
    if latest is None:
        return None  # killed before the first checkpoint: start over in the same folder
    tensors, state = ckpt.load_checkpoint(latest)
    saved = config_from_dict(state["config"], source=f"{latest}")
    changes = config_changes(saved, config, ignore=BOOKKEEPING)  # a moved data folder is no change
    if changes and not allow_change and not lengthens(saved, config):
        changed = ", ".join(changes)
        raise CheckpointError(
            f"the config differs from the one {run.path} was trained with ({changed}); "
            "pass --allow-config-change to resume anyway"
        )
    return latest, tensors, state

