"""Checkpoints: safetensors + JSON, written atomically, rotated, read back exactly; nothing else
is read."""

import pytest
import torch

from modecollapse.errors import CheckpointError
from modecollapse.training import checkpoint as ckpt


def test_checkpoint_refuses_foreign_files(tmp_path):
    folder = tmp_path / "step-00000001"
    folder.mkdir()
    (folder / "weights.safetensors").write_bytes(b"\x80\x04pickle")
    (folder / "state.json").write_text('{"format": "modecollapse-checkpoint-v1"}')
    with pytest.raises(CheckpointError, match="not a readable modecollapse checkpoint"):
        ckpt.load_checkpoint(folder)


def test_a_module_and_its_optimizer_come_back_exactly_and_old_checkpoints_rotate(tmp_path):
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(module.parameters(), 1e-3)
    module(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    for step in (1, 2, 3):
        flat, state = ckpt.optimizer_to_flat("opt", optimizer)
        tensors = {**ckpt.module_tensors("net", module), **flat, **ckpt.rng_tensors()}
        saved = ckpt.save_checkpoint(
            tmp_path, step, tensors, {"step": step, "config": {}, "opt": state}, keep=2
        )
    assert ckpt.latest_checkpoint(tmp_path) == saved and saved.name == "step-00000003"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir()) == [
        "step-00000002", "step-00000003",
    ]  # fmt: skip
    kept = ckpt.keep_copy(saved)
    assert kept.name == ckpt.LAST_HEALTHY
    tensors, state = ckpt.load_checkpoint(kept)
    fresh = torch.nn.Linear(3, 2)
    ckpt.load_module("net", fresh, tensors)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), 1e-3)
    ckpt.optimizer_from_flat("opt", fresh_optimizer, tensors, state["opt"])
    for a, b in zip(module.parameters(), fresh.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    before, after = optimizer.state_dict()["state"], fresh_optimizer.state_dict()["state"]
    for key in before:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(after[key][name], before[key][name], rtol=0, atol=0)
    with pytest.raises(CheckpointError, match="does not fit the net"):
        ckpt.load_module("net", torch.nn.Linear(3, 5), tensors)


def test_a_damaged_latest_pointer_falls_back_to_the_newest_complete_checkpoint(tmp_path):
    tensors = {"w": torch.zeros(2)}
    for step in (15, 20):
        ckpt.save_checkpoint(tmp_path, step, tensors, {"step": step, "config": {}}, keep=3)
    root = tmp_path / "checkpoints"
    (root / "latest").write_text("")
    assert ckpt.latest_checkpoint(tmp_path) == root / "step-00000020"
    (root / "latest").unlink()
    assert ckpt.latest_checkpoint(tmp_path) == root / "step-00000020"
    (root / "latest").write_text("../../elsewhere\n")
    assert ckpt.latest_checkpoint(tmp_path) == root / "step-00000020"
    (root / "latest").write_text("step-00000020\n")
    (root / "step-00000020" / "state.json").unlink()  # incomplete: the one before it
    assert ckpt.latest_checkpoint(tmp_path) == root / "step-00000015"
    ckpt.keep_copy(root / "step-00000015")  # last-healthy is not in the rotation
    for folder in root.glob("step-*"):
        for file in folder.iterdir():
            file.unlink()
    assert ckpt.latest_checkpoint(tmp_path) is None


@pytest.mark.parametrize(
    "state, message",
    [
        (b'{"format": "modecollapse-checkpoint-v1", "step": 3}', "lacks config: damaged"),
        (b"\xff\xfe\x00garbage", "not a readable modecollapse checkpoint"),
        (b"[]", "unknown checkpoint format 'list'"),
    ],
)
def test_a_damaged_state_file_is_a_checkpoint_error(tmp_path, state, message):
    saved = ckpt.save_checkpoint(tmp_path, 1, {"w": torch.zeros(2)}, {"step": 1, "config": {}}, keep=1)
    (saved / "state.json").write_bytes(state)
    with pytest.raises(CheckpointError, match=message):
        ckpt.load_checkpoint(saved)


def test_folders_left_by_a_save_killed_midway_are_cleaned_up(tmp_path):
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no process has now
    root = tmp_path / "checkpoints"
    for name in (f".tmp-step-00000005-{gone.pid}", f".old-last-healthy-{gone.pid}", ".tmp-step-00000005-1"):
        (root / name).mkdir(parents=True)
    ckpt.save_checkpoint(tmp_path, 6, {"w": torch.zeros(2)}, {"step": 6, "config": {}}, keep=2)
    assert sorted(p.name for p in root.iterdir()) == [".tmp-step-00000005-1", "latest", "step-00000006"]
