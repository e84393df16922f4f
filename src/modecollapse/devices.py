"""Pick the compute device: CUDA, then Apple MPS, then CPU, unless the user names one."""

from __future__ import annotations

import torch

from modecollapse.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device = 'cuda' but this torch build sees no CUDA GPU "
            f"(torch {torch.__version__}); see the README for a CUDA build"
        )
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("train.device = 'mps' but Apple's MPS backend is not available here")
    return torch.device(name)
