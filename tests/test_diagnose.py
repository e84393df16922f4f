"""Calibration: diagnose must be right on real data, one repeated digit, and three classes."""

import json
import pickle

import numpy as np
import pytest
import torch

from modecollapse.cli import main
from modecollapse.data.idx import read_idx
from modecollapse.diagnose import diagnose, format_report
from modecollapse.errors import ModeCollapseError
from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.scores import extract
from modecollapse.models.classifier import load_classifier
from modecollapse.training.loop import train


@pytest.fixture(scope="module")
def mnist_test(request):
    from tests.conftest import MNIST_DIR

    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("the shared MNIST test set is not next to this checkout")
    images = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    # Samples come from the first half and the reference from the second: judged against
    # itself, a real set is (rightly) all copies of its reference.
    reference = extract(load_classifier("mnist"), prepare_images(images[5000:], "0-255")[0])
    return images[:5000], labels[:5000], reference


def test_the_real_set_against_itself_is_memorized(tmp_path, mnist_test):
    from tests.conftest import MNIST_DIR

    images, _, _ = mnist_test
    np.save(tmp_path / "real.npy", images)
    report = diagnose(tmp_path / "real.npy", "mnist", data_dir=str(MNIST_DIR.parent))
    assert report["verdict"] == "partial collapse"
    assert report["scores"]["copy_rate"] > 0.9
    assert any("cop" in reason for reason in report["reasons"])


def test_real_test_set_is_healthy(tmp_path, mnist_test):
    images, _, reference = mnist_test
    np.save(tmp_path / "real.npy", images)
    report = diagnose(tmp_path / "real.npy", "mnist", reference=reference)
    assert report["verdict"] == "healthy"
    assert report["scores"]["modes"] == 10


def test_one_repeated_digit_is_collapsed(tmp_path, mnist_test):
    images, labels, reference = mnist_test
    rng = np.random.default_rng(0)
    digit = images[labels == 7][0].astype(np.float32) / 255
    noisy = np.clip(digit + rng.normal(0, 0.03, (3000, 28, 28)), 0, 1).astype(np.float32)
    np.save(tmp_path / "one.npy", noisy)
    report = diagnose(tmp_path / "one.npy", "mnist", reference=reference)
    assert report["verdict"] == "collapsed"
    assert report["scores"]["modes"] == 1
    assert any("[0, 1]" in note for note in report["input_notes"])


def test_three_classes_is_partial_with_three_modes(tmp_path, mnist_test):
    images, labels, reference = mnist_test
    np.savez(tmp_path / "three.npz", samples=images[np.isin(labels, [2, 5, 8])] / 127.5 - 1)
    report = diagnose(tmp_path / "three.npz", "mnist", reference=reference)
    assert report["verdict"] == "partial collapse"
    assert report["scores"]["modes"] == 3


def test_png_folder_at_32_pixels(tmp_path, mnist_test):
    from PIL import Image

    images, _, reference = mnist_test
    for i in range(200):
        Image.fromarray(np.pad(images[i], 2)).save(tmp_path / f"{i:03d}.png")
    report = diagnose(tmp_path, "mnist", reference=reference)
    assert report["scores"]["num_samples"] == 200
    assert any("resized 32x32 -> 28x28" in note for note in report["input_notes"])


class Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch EXPLOITED",))


@pytest.mark.parametrize("suffix", [".pt", ".pkl", ".pth"])
def test_malicious_pickle_is_never_executed(tmp_path, monkeypatch, suffix):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"generator{suffix}"
    path.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ModeCollapseError, match="pickle.*TorchScript"):
        diagnose(path, "mnist")
    assert not (tmp_path / "EXPLOITED").exists()


def test_torch_save_state_dict_is_refused(tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "weights.pt")
    with pytest.raises(ModeCollapseError, match="refuses"):
        diagnose(tmp_path / "weights.pt", "mnist")


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([Exploit()], dtype=object), allow_pickle=True)
    with pytest.raises(ModeCollapseError, match="without unpickling"):
        diagnose(tmp_path / "objects.npy", "mnist")


class FixedImage(torch.nn.Module):
    """A generator that ignores z: one real digit, always."""

    def __init__(self, image: torch.Tensor):
        super().__init__()
        self.register_buffer("image", image)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.image.expand(z.shape[0], 1, 28, 28) + 0 * z.sum(1).view(-1, 1, 1, 1)


def test_torchscript_generator_that_ignores_z(tmp_path, mnist_test):
    images, _, reference = mnist_test
    digit = torch.from_numpy(images[0]).float().div(127.5).sub(1)
    torch.jit.script(FixedImage(digit)).save(str(tmp_path / "g.ts"))
    with pytest.raises(ModeCollapseError, match="--latent-dim"):
        diagnose(tmp_path / "g.ts", "mnist", reference=reference)
    report = diagnose(tmp_path / "g.ts", "mnist", num_samples=500, latent_dim=8, reference=reference)
    assert report["verdict"] == "collapsed"
    assert report["latent"]["ignores_latent"] is True
    assert report["latent"]["dead_dimensions"] == 8


def test_run_folder_generator_is_probed(tmp_path, mnist_test):
    from modecollapse.training.loop import train
    from tests.conftest import tiny_image_config

    _, _, reference = mnist_test
    train(tiny_image_config(), tmp_path / "run")
    report = diagnose(tmp_path / "run", num_samples=300, reference=reference)
    assert report["scores"]["num_samples"] == 300
    assert report["verdict"] in ("healthy", "partial collapse", "collapsed")
    latent = report["latent"]
    assert latent["latent_dimensions"] == 8 and 0 <= latent["dead_dimensions"] <= 8
    assert latent["output_spread"] > 0


def test_cli_exit_code_json_and_evidence(tmp_path, mnist_test, capsys):
    from tests.conftest import MNIST_DIR

    images, labels, _ = mnist_test
    np.save(tmp_path / "one.npy", np.repeat(images[labels == 1][:1], 500, axis=0))
    out = tmp_path / "evidence"
    code = main(
        [
            "diagnose",
            str(tmp_path / "one.npy"),
            "--json",
            "--out",
            str(out),
            "--data-dir",
            str(MNIST_DIR.parent),
        ]
    )
    assert code == 5
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "collapsed" and len(report["classifier"]["sha256"]) == 64
    for name in ("samples.png", "class_histogram.png", "samples_by_class.png"):
        assert (out / name).is_file()


def test_cli_bad_shape_exits_2(tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((4, 5, 28, 28), np.float32))
    assert main(["diagnose", str(tmp_path / "bad.npy")]) == 2
    assert "1 or 3 channels" in capsys.readouterr().err


def test_checkpoint_folder_input(tmp_path, mnist_test):
    from modecollapse.training import checkpoint as ckpt
    from modecollapse.training.loop import train
    from tests.conftest import tiny_image_config

    _, _, reference = mnist_test
    train(tiny_image_config(), tmp_path / "run")
    folder = ckpt.latest_checkpoint(tmp_path / "run")
    report = diagnose(folder, num_samples=200, reference=reference)
    assert report["scores"]["num_samples"] == 200 and "latent" in report


def test_stacked_mnist_samples_of_real_stacks_are_healthy(tmp_path):
    from modecollapse.config import DataConfig
    from modecollapse.data import load_dataset
    from modecollapse.metrics.features import prepare_images
    from modecollapse.metrics.scores import extract
    from modecollapse.models.classifier import load_classifier

    stacks = load_dataset(DataConfig(name="stacked-mnist", num_samples=2000, seed=5))
    others = load_dataset(DataConfig(name="stacked-mnist", num_samples=2000, seed=6))
    reference = extract(load_classifier("mnist"), prepare_images(others.data.numpy())[0])
    np.save(tmp_path / "stacks.npy", stacks.data.numpy())  # uint8, N x 3 x 28 x 28
    report = diagnose(tmp_path / "stacks.npy", "stacked-mnist", reference=reference)
    assert report["scores"]["num_classes"] == 1000
    assert 830 <= report["scores"]["modes"] <= 900  # a perfect generator covers ~865 at N = 2,000
    assert report["verdict"] == "healthy"
    collapsed = np.repeat(stacks.data.numpy()[:20], 100, axis=0)  # 20 stacks, 100 times each
    np.save(tmp_path / "few.npy", collapsed)
    few = diagnose(tmp_path / "few.npy", "stacked-mnist", reference=reference)
    assert few["scores"]["modes"] <= 20 and few["verdict"] == "collapsed"


def test_diagnose_judges_a_cyclegan_translator(tmp_path):
    from modecollapse.diagnose import write_evidence
    from tests.conftest import tiny_cyclegan

    config = tiny_cyclegan(data={"name": "spatial-one", "num_samples": 32}, train={"epochs": 1})
    train(config, tmp_path / "run")
    report = diagnose(tmp_path / "run")
    assert report["verdict"] != "healthy"  # one epoch on 32 images has not learned the move
    assert any("translation score" in reason for reason in report["reasons"])
    for key in ("translation_score", "identity_kept", "spatial_accuracy", "cycle_error_a", "modes"):
        assert key in report["scores"]
    assert "spatial rule" in format_report(report) and "translation score" in format_report(report)
    assert report["_images"].shape == (100, 1, 56, 56)  # 50 held-out (input, translation) pairs
    written = write_evidence(report, tmp_path / "evidence")
    assert [p.name for p in written] == ["samples.png", "class_histogram.png"]


@pytest.mark.parametrize("conditioning", ["guided", "acgan"])
def test_diagnose_judges_a_conditional_generator_per_class(tmp_path, conditioning):
    from modecollapse.diagnose import write_evidence
    from tests.conftest import tiny_image_config

    train(tiny_image_config(model={"conditioning": conditioning}), tmp_path / "run")
    report = diagnose(tmp_path / "run", num_samples=200)
    assert len(report["per_class_diversity"]) == 10
    assert {"class_conditional_accuracy", "per_class_diversity_min"} <= set(report["scores"])
    assert "latent" not in report  # the probe is for unconditional z
    assert torch.equal(report["_predictions"], torch.arange(200) // 20)  # grouped by the class drawn for
    text = format_report(report)
    assert "class accuracy" in text and "per-class variety" in text
    written = write_evidence(report, tmp_path / "evidence")
    assert "samples_by_class.png" in [p.name for p in written]


def test_two_dimensional_samples_are_judged_with_the_mixture_rules(tmp_path):
    from tests.metrics.test_mixtures import GRID, GRID_STD, real, smeared_ring

    np.save(tmp_path / "grid.npy", real(GRID, GRID_STD).numpy())
    np.save(tmp_path / "smear.npy", smeared_ring().numpy())
    report = diagnose(tmp_path / "grid.npy", dataset="grid25")
    assert report["verdict"] == "healthy" and report["scores"]["modes_well_formed"] == 25
    out = tmp_path / "evidence"
    assert main(["diagnose", str(tmp_path / "smear.npy"), "--dataset", "ring8", "--out", str(out)]) == 5
    assert (out / "samples.png").is_file() and (out / "class_histogram.png").is_file()
    smear = diagnose(tmp_path / "smear.npy", dataset="ring8")
    assert smear["scores"]["modes"] == 8 and smear["scores"]["modes_well_formed"] == 0
    assert "well formed" in format_report(smear)
    with pytest.raises(ModeCollapseError, match="--dataset ring8 or grid25"):
        diagnose(tmp_path / "grid.npy")
    np.save(tmp_path / "wide.npy", np.zeros((10, 3), np.float32))
    with pytest.raises(ModeCollapseError, match=r"shape \(N, 2\)"):
        diagnose(tmp_path / "wide.npy", dataset="ring8")


def test_a_ring_run_is_judged_from_its_generator(tmp_path):
    from tests.conftest import tiny_ring_config

    train(tiny_ring_config(), tmp_path / "run")
    report = diagnose(tmp_path / "run")
    assert report["reference"].startswith("ring8") and report["scores"]["num_samples"] == 2500
