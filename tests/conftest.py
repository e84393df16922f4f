from __future__ import annotations

from pathlib import Path

import pytest
import torch

from modecollapse.config import config_from_dict

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real cache or data folder."""
    monkeypatch.setenv("MODECOLLAPSE_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("MODECOLLAPSE_DATA", raising=False)
    torch.set_num_threads(1)


SLICE_DIR = REPO / "tests" / "fixtures" / "mnist"
"""The first 4,000 official MNIST test digits, committed (tests/fixtures/README.md)."""


@pytest.fixture(scope="session")
def mnist_digits():
    """(images uint8 N x 28 x 28, labels, full): MNIST's test split next to the checkout, else
    the committed 4,000-digit slice, so the tests that need real digits run in any clone."""
    from modecollapse.data.idx import read_idx

    folder = MNIST_DIR if (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file() else SLICE_DIR
    images = read_idx(folder / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    return images, labels, folder == MNIST_DIR


@pytest.fixture
def mnist_dir() -> Path:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("the shared MNIST test set is not next to this checkout")
    return MNIST_DIR


def with_sections(raw: dict, sections: dict):
    """The config `raw` with each section's keys updated from `sections`."""
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return config_from_dict(raw)


def tiny_ring_config(**sections):
    """A ring8 MLP run that trains in about a second."""
    raw = {
        "name": "tiny-ring",
        "data": {"name": "ring8", "num_samples": 512},
        "model": {"family": "mlp", "latent_dim": 4, "g_width": 16, "d_width": 16, "mlp_hidden_layers": 2},
        "train": {
            "epochs": 2,
            "batch_size": 32,
            "log_every": 4,
            "sample_every": 16,
            "checkpoint_every": 5,
            "tensorboard": False,
            "progress": False,
            "keep_checkpoints": 10,
        },
    }
    return with_sections(raw, sections)


def tiny_image_config(**sections):
    raw = {
        "name": "tiny-dcgan",
        "data": {"name": "mnist-5k", "num_samples": 128},
        "model": {"family": "dcgan", "latent_dim": 8, "g_width": 4, "d_width": 4},
        "train": {
            "epochs": 1,
            "batch_size": 16,
            "log_every": 2,
            "sample_every": 4,
            "checkpoint_every": 4,
            "tensorboard": False,
            "progress": False,
        },
    }
    return with_sections(raw, sections)


def tiny_cyclegan(**sections):
    """A CycleGAN on 48 mnist-rgb pairs, 2 epochs of 6 steps."""
    raw = {
        "name": "tiny-cyclegan",
        "data": {"name": "mnist-rgb", "num_samples": 48},
        "model": {"family": "cyclegan", "g_width": 4, "d_width": 4, "resnet_blocks": 1, "patch_layers": 2},
        "objective": {"loss": "lsgan", "history_buffer_size": 8},
        "train": {
            "epochs": 2,
            "batch_size": 8,
            "lr_decay_epochs": 1,
            "log_every": 2,
            "sample_every": 6,
            "checkpoint_every": 4,
            "eval_samples": 100,
            "tensorboard": False,
            "progress": False,
            "keep_checkpoints": 5,
        },
    }
    return with_sections(raw, sections)
