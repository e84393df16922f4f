"""`diagnose` on malformed input: exit code 2, one specific message, no traceback, nothing written."""

import shutil
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from modecollapse.cli import main


def npy(path, array):
    np.save(path, array)
    return path


def png(path, array):
    Image.fromarray(array).save(path)
    return path


def build_cases(root, trained=None):
    """(name, CLI arguments) of malformed inputs, each made under `root`."""
    rng = np.random.default_rng(0)
    digits = (rng.random((20, 28, 28)) * 255).astype(np.uint8)
    cases = {}

    def case(name, path, *extra):
        cases[name] = [str(path), *extra]

    npy(root / "digits.npy", digits.astype(np.float32))  # well formed: the spoiled files start from it
    case("empty array", npy(root / "empty.npy", np.zeros((0, 28, 28), np.float32)))
    case("1-D array", npy(root / "flat.npy", np.zeros(784, np.float32)))
    case("wrong image size", npy(root / "size.npy", np.zeros((10, 27, 27), np.float32)))
    case("non-square", npy(root / "rect.npy", np.zeros((10, 28, 32), np.float32)))
    case("five dims", npy(root / "5d.npy", np.zeros((2, 2, 1, 28, 28), np.float32)))
    case("strings", npy(root / "str.npy", np.array(["a", "b"])))
    case("complex", npy(root / "complex.npy", np.zeros((4, 28, 28), np.complex64)))
    np.save(root / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    case("object array (pickle)", root / "objects.npy")
    raw = (root / "digits.npy").read_bytes()
    (root / "truncated.npy").write_bytes(raw[: len(raw) // 2])
    case("truncated npy", root / "truncated.npy")
    (root / "garbage.npy").write_bytes(b"not numpy at all")
    case("garbage npy", root / "garbage.npy")
    np.savez(root / "two.npz", a=digits, b=digits)
    case("npz with two unnamed arrays", root / "two.npz")
    (root / "garbage.npz").write_bytes(b"PK\x03\x04broken")
    case("broken npz", root / "garbage.npz")
    case("missing file", root / "nowhere.npy")
    (root / "empty_dir").mkdir()
    case("empty folder", root / "empty_dir")
    mixed = root / "mixed"
    mixed.mkdir()
    png(mixed / "a.png", digits[0])
    png(mixed / "b.png", np.zeros((32, 32), np.uint8))
    case("PNGs of mixed sizes", mixed)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    case("corrupt PNG", root / "broken.png")
    whole = root / "grid.png"
    png(whole, np.zeros((242, 242), np.uint8))
    (root / "cut.png").write_bytes(whole.read_bytes()[:40])
    case("truncated PNG", root / "cut.png")
    case("1x1 image", png(root / "dot.png", np.zeros((1, 1), np.uint8)))
    case("not a grid", png(root / "odd.png", np.zeros((100, 37), np.uint8)))
    noise = (rng.random((224, 224)) * 255).astype(np.uint8)
    case("ambiguous grid", png(root / "noise.png", noise))
    case("grid with a tile size that does not fit", png(root / "g2.png", noise), "--tile-size", "64")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    case("corrupt JPEG", root / "photo.jpg")
    (root / "model.pt").write_bytes(b"\x80\x04K\x01.")
    case("pickle", root / "model.pt")
    with zipfile.ZipFile(root / "fake.ts", "w") as archive:
        archive.writestr("fake/constants.pkl", b"x")
        archive.writestr("fake/code/__torch__.py", b"x")
    case("broken TorchScript", root / "fake.ts", "--latent-dim", "100")
    case("TorchScript without a latent size", root / "fake.ts")
    case("zero samples", root / "digits.npy", "--num-samples", "0")
    case("negative samples", root / "digits.npy", "--num-samples", "-5")
    case("negative padding", root / "noise.png", "--padding", "-1")
    case("bad latent shape", root / "fake.ts", "--latent-shape", "a,b")
    case("negative latent range", root / "fake.ts", "--latent-dim", "4", "--latent-dist", "uniform",
         "--latent-range", "-1")  # fmt: skip
    run = root / "run"
    run.mkdir()
    (run / "config.toml").write_text("this is [not toml")
    case("run folder without checkpoints", run)
    if trained is not None:
        for name, spoil in SPOILED_RUNS.items():
            copy = root / name.replace(" ", "-")
            shutil.copytree(trained, copy)
            spoil(copy / "checkpoints" / (copy / "checkpoints" / "latest").read_text().strip())
            case(name, copy)
    return cases


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


SPOILED_RUNS = {
    "run with truncated safetensors": lambda ckpt: truncate(ckpt / "weights.safetensors"),
    "run with broken state JSON": lambda ckpt: (ckpt / "state.json").write_text("{broken"),
    "run with a foreign checkpoint format": lambda ckpt: (ckpt / "state.json").write_text('{"format": 99}'),
    "run with a state lacking its config": lambda ckpt: (ckpt / "state.json").write_text(
        '{"format": "modecollapse-checkpoint-v1", "step": 3}'
    ),
    "run with a non-UTF-8 state": lambda ckpt: (ckpt / "state.json").write_bytes(b"\xff\xfe\x00"),
    "run with a state that is a list": lambda ckpt: (ckpt / "state.json").write_text("[]"),
    "run with weights of another shape": lambda ckpt: save_file(
        {"generator.net.0.weight": torch.zeros(3)}, str(ckpt / "weights.safetensors")
    ),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real run folder (a few steps of a tiny DCGAN), for spoiling copies of it."""
    from modecollapse.training.loop import train
    from tests.conftest import tiny_image_config

    folder = tmp_path_factory.mktemp("trained") / "run"
    train(tiny_image_config(), folder)
    return folder


@pytest.mark.slow
def test_malformed_inputs_exit_2_with_a_message_and_write_nothing(tmp_path, capsys, trained):
    cases = build_cases(tmp_path, trained)
    assert len(cases) >= 30
    failures = []
    for name, argv in cases.items():
        out = tmp_path / "evidence"
        try:
            code = main(["diagnose", *argv, "--out", str(out)])
        except Exception as error:  # a traceback is the failure this test exists for
            failures.append(f"{name}: {type(error).__name__}: {error}")
            continue
        captured = capsys.readouterr()
        if code != 2 or "error:" not in captured.err or "Traceback" in captured.err:
            failures.append(f"{name}: exit {code}, stderr {captured.err.strip()[:200]!r}")
        if out.exists():
            failures.append(f"{name}: wrote {sorted(p.name for p in out.iterdir())}")
            shutil.rmtree(out)
    assert not failures, "\n".join(failures)


def test_messages_name_the_problem(tmp_path, capsys):
    cases = build_cases(tmp_path)
    expected = {
        "empty array": "empty",
        "zero samples": "--num-samples",
        "ambiguous grid": "--tile-size",
        "pickle": "pickle",
        "PNGs of mixed sizes": "differ in size",
        "garbage npy": "no NumPy header",
    }
    for name, phrase in expected.items():
        assert main(["diagnose", *cases[name]]) == 2
        assert phrase in capsys.readouterr().err, name


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_samples_holding_nan_or_inf_are_judged_collapsed_not_refused(tmp_path, capsys, bad):
    """The one NaN policy (trainer, Monitor, diagnose alike): a verdict, with the share said."""
    samples = np.random.default_rng(0).random((20, 28, 28)).astype(np.float32)
    samples[3, 5, 5] = bad
    code = main(["diagnose", str(npy(tmp_path / "bad.npy", samples)), "--out", str(tmp_path / "evidence")])
    out = capsys.readouterr().out
    assert code == 5 and "verdict: COLLAPSED" in out
    assert "1 of 20 outputs (5%) are NaN or infinite: G diverged" in out
    assert "1 of 20 samples hold NaN or infinite values" in out
