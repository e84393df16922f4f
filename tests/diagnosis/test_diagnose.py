"""Calibration: diagnose must be right on real data, one repeated digit, and three classes."""

import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from modecollapse.cli import main
from modecollapse.diagnosis import diagnose
from modecollapse.errors import ModeCollapseError
from modecollapse.training.loop import train


@pytest.mark.slow
def test_the_real_set_against_itself_is_memorized(tmp_path, mnist_test, mnist_dir):
    images, _, _ = mnist_test
    np.save(tmp_path / "real.npy", images)
    report = diagnose(tmp_path / "real.npy", "mnist", data_dir=str(mnist_dir.parent))
    assert report["verdict"] == "partial collapse"
    assert report["scores"]["copy_rate"] > 0.9
    assert any("cop" in reason for reason in report["reasons"])


@pytest.mark.slow
def test_real_test_set_is_healthy(tmp_path, mnist_test):
    images, _, reference = mnist_test
    np.save(tmp_path / "real.npy", images)
    report = diagnose(tmp_path / "real.npy", "mnist", reference=reference)
    assert report["verdict"] == "healthy"
    assert report["scores"]["modes"] == 10


@pytest.mark.slow
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


@pytest.mark.slow
def test_three_classes_is_partial_with_three_modes(tmp_path, mnist_test):
    images, labels, reference = mnist_test
    np.savez(tmp_path / "three.npz", samples=images[np.isin(labels, [2, 5, 8])] / 127.5 - 1)
    report = diagnose(tmp_path / "three.npz", "mnist", reference=reference)
    assert report["verdict"] == "partial collapse"
    assert report["scores"]["modes"] == 3


@pytest.mark.slow
def test_png_folder_at_32_pixels(tmp_path, mnist_test):

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
    with pytest.raises(ModeCollapseError, match="pickle"):
        diagnose(path, "mnist")
    assert not (tmp_path / "EXPLOITED").exists()


def test_weights_of_an_unknown_architecture_need_its_class(tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "weights.pt")
    unknown = "an architecture diagnose does not know.*arch='models.py:Generator'"
    with pytest.raises(ModeCollapseError, match=unknown):
        diagnose(tmp_path / "weights.pt", "mnist")


@pytest.mark.parametrize("name", ["G.pt2", "G.bin"])
def test_a_torch_export_program_is_refused_not_loaded(tmp_path, monkeypatch, name):
    generator = torch.nn.Sequential(torch.nn.ConvTranspose2d(8, 1, 28), torch.nn.Tanh()).eval()
    program = torch.export.export(generator, (torch.randn(2, 8, 1, 1),))
    torch.export.save(program, tmp_path / name)
    loaded = []
    monkeypatch.setattr(torch.export, "load", lambda *a, **k: loaded.append(a))
    with pytest.raises(ModeCollapseError, match=r"torch.export program \(.pt2\).*refuses it"):
        diagnose(tmp_path / name, "mnist", latent_dim=8)
    assert not loaded


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([Exploit()], dtype=object), allow_pickle=True)
    with pytest.raises(ModeCollapseError, match="only unpickling can read; refused"):
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
    with pytest.raises(ModeCollapseError, match="needs latent_dim=N"):
        diagnose(tmp_path / "g.ts", "mnist", reference=reference)
    report = diagnose(tmp_path / "g.ts", "mnist", num_samples=500, latent_dim=8, reference=reference)
    assert report["verdict"] == "collapsed"
    assert report["latent"]["ignores_latent"] is True
    assert report["latent"]["dead_dimensions"] == 8


@pytest.mark.slow
def test_run_folder_generator_is_probed(tmp_path, mnist_test):
    from modecollapse.training.loop import train
    from tests.conftest import tiny_image_config

    _, _, reference = mnist_test
    train(tiny_image_config(), tmp_path / "run")
    report = diagnose(tmp_path / "run", num_samples=300, reference=reference)
    assert report["scores"]["num_samples"] == 300
    latent = report["latent"]
    assert latent["latent_dimensions"] == 8  # the run's z, read from its config
    assert {"dead_dimensions", "output_spread", "ignores_latent"} <= set(latent)  # counts: tested below


def test_the_probe_counts_the_latent_dimensions_a_generator_ignores():
    from modecollapse.diagnosis.latent_probe import probe_latent
    from modecollapse.models.latent import Latent

    torch.manual_seed(0)
    mix = torch.nn.Linear(8, 784)
    uses_three = lambda z: torch.tanh(mix(z * (torch.arange(8) < 3))).view(-1, 1, 28, 28)  # noqa: E731
    uses_all = lambda z: torch.tanh(mix(z)).view(-1, 1, 28, 28)  # noqa: E731
    with torch.no_grad():
        three = probe_latent(uses_three, Latent((8,)), count=64, value_range="-1-1")
        every = probe_latent(uses_all, Latent((8,)), count=64, value_range="-1-1")
    assert three["dead_dimensions"] == 5 and every["dead_dimensions"] == 0
    assert not three["ignores_latent"] and every["output_spread"] > 0.1


@pytest.mark.slow
def test_cli_exit_code_json_and_evidence(tmp_path, mnist_test, capsys):
    from tests.conftest import MNIST_DIR

    images, labels, _ = mnist_test
    full = (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file()  # else the reference is mnist-5k
    np.save(tmp_path / "one.npy", np.repeat(images[labels == 1][:1], 500, axis=0))
    out = tmp_path / "evidence"
    code = main(
        [
            "diagnose",
            str(tmp_path / "one.npy"),
            "--json",
            "--out",
            str(out),
            *(["--data-dir", str(MNIST_DIR.parent)] if full else []),
        ]
    )
    assert code == 5
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "collapsed" and len(report["classifier"]["sha256"]) == 64
    for name in ("samples.png", "class_histogram.png", "samples_by_class.png"):
        assert (out / name).is_file()


def test_a_classifier_score_from_one_split_shows_no_spread(tmp_path, mnist_test, capsys):
    from tests.conftest import MNIST_DIR

    images, _, _ = mnist_test
    np.save(tmp_path / "few.npy", images[:64])  # 64 samples: one split of >= 50
    full = (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file()  # else the reference is mnist-5k
    data = ["--data-dir", str(MNIST_DIR.parent)] if full else []
    main(["diagnose", str(tmp_path / "few.npy"), *data])
    said = capsys.readouterr().out
    assert "(one split of 64 samples: no spread)" in said and "+- 0.000" not in said


def test_cli_bad_shape_exits_2(tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((4, 5, 28, 28), np.float32))
    assert main(["diagnose", str(tmp_path / "bad.npy")]) == 2
    assert "1 or 3 channels" in capsys.readouterr().err


@pytest.mark.slow
def test_checkpoint_folder_input(tmp_path, mnist_test):
    from modecollapse.training import checkpoint as ckpt
    from modecollapse.training.loop import train
    from tests.conftest import tiny_image_config

    _, _, reference = mnist_test
    train(tiny_image_config(), tmp_path / "run")
    folder = ckpt.latest_checkpoint(tmp_path / "run")
    report = diagnose(folder, num_samples=200, reference=reference)
    assert report["scores"]["num_samples"] == 200 and "latent" in report


@pytest.mark.slow
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
    assert [path.name for path in few.save(tmp_path / "evidence")] == ["samples.png"]


def test_evidence_without_class_counts_is_the_sample_grid_alone(tmp_path):
    from modecollapse.diagnosis.evidence import write_evidence

    # Stacked MNIST's scores keep no counts of its 1,000 modes: no histogram, no by-class grid
    stacks = {"_images": torch.zeros(4, 3, 28, 28), "_predictions": torch.arange(4), "class_counts": [],
              "verdict": "collapsed", "scores": {"modes": 4.0}}  # fmt: skip
    assert [path.name for path in write_evidence(stacks, tmp_path)] == ["samples.png"]
    digits = {**stacks, "_images": torch.zeros(4, 1, 28, 28), "class_counts": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]}
    written = [path.name for path in write_evidence(digits, tmp_path / "digits")]
    assert written == ["samples.png", "class_histogram.png", "samples_by_class.png"]


@pytest.mark.slow
def test_diagnose_judges_a_cyclegan_translator(tmp_path):
    from tests.conftest import tiny_cyclegan

    config = tiny_cyclegan(data={"name": "spatial-one", "num_samples": 32}, train={"epochs": 1})
    train(config, tmp_path / "run")
    report = diagnose(tmp_path / "run")
    assert report["verdict"] != "healthy"  # one epoch on 32 images has not learned the move
    assert any("translation score" in reason for reason in report["reasons"])
    keys = ("translation_score", "identity_kept", "spatial_accuracy", "cycle_error_a", "modes", "hidden_code")
    for key in keys:
        assert key in report["scores"]
    assert "cycle's digit" in str(report)
    assert "spatial rule" in str(report) and "translation score" in str(report)
    assert report["_images"].shape == (100, 1, 56, 56)  # 50 held-out (input, translation) pairs
    written = report.save(tmp_path / "evidence")
    assert [p.name for p in written] == ["samples.png", "class_histogram.png"]
    grid = np.asarray(Image.open(written[0]))
    assert grid[0, 0] == 128 and grid[1, 100] == 128  # grey padding keeps the black tiles apart
    weights = next((tmp_path / "run" / "checkpoints").glob("step-*/weights.safetensors"))
    with pytest.raises(ModeCollapseError, match="checkpoint of this tool's run: diagnose its folder"):
        diagnose(weights, "spatial-one", arch="models.py:Translator")


@pytest.mark.slow
@pytest.mark.parametrize("conditioning", ["guided", "acgan"])
def test_diagnose_judges_a_conditional_generator_per_class(tmp_path, conditioning):
    from tests.conftest import tiny_image_config

    train(tiny_image_config(model={"conditioning": conditioning}), tmp_path / "run")
    report = diagnose(tmp_path / "run", num_samples=200)
    assert len(report["per_class_diversity"]) == 10
    expected = {"class_conditional_accuracy", "per_class_diversity_min", "grader_class_accuracy"}
    assert expected <= set(report["scores"])
    assert "latent" not in report  # the probe is for unconditional z
    assert torch.equal(report["_predictions"], torch.arange(200) % 10)  # in turn: grid column k is class k
    text = str(report)
    assert "class accuracy" in text and "per-class variety" in text
    written = report.save(tmp_path / "evidence")
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
    assert "well formed" in str(smear)
    with pytest.raises(ModeCollapseError, match="dataset='ring8' or dataset='grid25'"):
        diagnose(tmp_path / "grid.npy")
    np.save(tmp_path / "wide.npy", np.zeros((10, 3), np.float32))
    with pytest.raises(ModeCollapseError, match=r"shape \(N, 2\)"):
        diagnose(tmp_path / "wide.npy", dataset="ring8")


def test_a_ring_run_is_judged_from_its_generator(tmp_path):
    from tests.conftest import tiny_ring_config

    train(tiny_ring_config(), tmp_path / "run")
    report = diagnose(tmp_path / "run")
    assert report["reference"].startswith("ring8") and report["scores"]["num_samples"] == 2500


def test_pacgans_half_scale_ring_is_judged_at_its_own_scale(tmp_path):
    from tests.conftest import tiny_ring_config
    from tests.metrics.test_mixtures import RING, RING_STD, real

    np.save(tmp_path / "pacgan_ring.npy", real(RING * 0.5, RING_STD * 0.5).numpy())  # radius 1, std 0.01
    wrong_scale = diagnose(tmp_path / "pacgan_ring.npy", dataset="ring8")
    assert wrong_scale["verdict"] == "collapsed" and wrong_scale["scores"]["modes"] == 0
    right_scale = diagnose(tmp_path / "pacgan_ring.npy", dataset="ring8", mixture_scale=0.5)
    assert right_scale["verdict"] == "healthy" and right_scale["scores"]["modes_well_formed"] == 8
    assert "std 0.01 (scale 0.5)" in right_scale["reference"]
    in_memory = diagnose(np.load(tmp_path / "pacgan_ring.npy"), dataset="ring8", mixture_scale=0.5)
    assert in_memory["verdict"] == "healthy" and "std 0.01 (scale 0.5)" in in_memory["reference"]
    for given in (tmp_path / "pacgan_ring.npy", np.load(tmp_path / "pacgan_ring.npy")):
        with pytest.raises(ModeCollapseError, match="no option 'mixtur_scale' .did you mean 'mixture_scale'"):
            diagnose(given, dataset="ring8", mixtur_scale=0.5)
    with pytest.raises(ModeCollapseError, match="tile_size is for a grid image file"):
        diagnose(np.load(tmp_path / "pacgan_ring.npy"), dataset="ring8", tile_size=28)
    command = ["diagnose", str(tmp_path / "pacgan_ring.npy"), "--dataset", "ring8", "--mixture-scale", "0.5"]
    assert main(command) == 0
    pacgan_ring = {"name": "ring8", "num_samples": 512, "mixture_scale": 0.5}
    train(tiny_ring_config(data=pacgan_ring), tmp_path / "run")
    assert "(scale 0.5)" in diagnose(tmp_path / "run")["reference"]  # a run is judged on its own mixture


# --- posted sample grids (issue 14) ---


def torchvision_style_grid(tiles, nrow=8, padding=2, pad_value=1.0):
    """A reimplementation of torchvision.utils.make_grid for (N, C, H, W) in [0, 1]: grey made
    RGB, the grid filled with pad_value, padding around every tile, empty slots left as padding."""
    tiles = torch.as_tensor(tiles, dtype=torch.float32)
    if tiles.shape[1] == 1:
        tiles = tiles.expand(-1, 3, -1, -1)
    n, _, h, w = tiles.shape
    columns, rows = min(nrow, n), -(-n // nrow)
    grid = torch.full((3, rows * (h + padding) + padding, columns * (w + padding) + padding), pad_value)
    for i in range(n):
        r, c = divmod(i, columns)
        grid[
            :,
            r * (h + padding) + padding : (r + 1) * (h + padding),
            c * (w + padding) + padding : (c + 1) * (w + padding),
        ] = tiles[i]
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_our_own_grid_of_real_digits_is_read_and_healthy(tmp_path, mnist_test):
    from modecollapse.images import save_grid

    images, _, reference = mnist_test
    save_grid(torch.from_numpy(images[:144]).float().div(127.5).sub(1).unsqueeze(1), tmp_path / "grid.png")
    report = diagnose(tmp_path / "grid.png", "mnist", reference=reference)
    assert "12 x 12 tiles of 28 px, 2 px padding" in report["input_notes"][0]
    assert report["scores"]["num_samples"] == 144
    assert report["verdict"] == "healthy", report["reasons"]


def test_a_torchvision_grid_jpeg_of_32px_tiles_on_white(tmp_path, mnist_test):

    images, labels, reference = mnist_test
    six_each = np.concatenate([np.flatnonzero(labels == k)[:6] for k in range(10)])
    tiles = np.pad(images[six_each], ((0, 0), (2, 2), (2, 2)))[:, None] / 255.0  # 32 px, as tutorials use
    Image.fromarray(torchvision_style_grid(tiles)).save(tmp_path / "posted.jpg", quality=92)
    report = diagnose(tmp_path / "posted.jpg", "mnist", reference=reference)
    assert "8 x 8 tiles of 32 px, 2 px padding" in report["input_notes"][0]
    assert any("4 empty tiles at the end skipped" in note for note in report["input_notes"])
    assert report["scores"]["num_samples"] == 60 and report["scores"]["modes"] == 10


def test_a_grid_of_one_repeated_digit_is_collapsed(tmp_path, mnist_test):

    images, labels, reference = mnist_test
    rng = np.random.default_rng(1)
    one = np.clip(images[labels == 3][0] / 255.0 + rng.normal(0, 0.03, (64, 28, 28)), 0, 1)[:, None]
    Image.fromarray(torchvision_style_grid(one, pad_value=0.5)).save(tmp_path / "collapsed.png")
    report = diagnose(tmp_path / "collapsed.png", "mnist", reference=reference)
    assert report["verdict"] == "collapsed" and report["scores"]["modes"] == 1


@pytest.mark.parametrize("padding", [4, 8])
def test_a_layout_whose_tiles_each_hold_several_digits_loses(tmp_path, mnist_test, padding):
    from modecollapse.diagnosis.grid import split_grid
    from modecollapse.images import make_grid

    images, _, _ = mnist_test  # 10 x 10 tiles of 28 px also fit as 5 x 5 of 64 px (2 x 28 + 8 = 64)
    grid = make_grid(torch.from_numpy(images[:100]).float().div(127.5).sub(1).unsqueeze(1), padding=padding)
    Image.fromarray(grid).save(tmp_path / "grid.png")
    tiles, notes = split_grid(tmp_path / "grid.png")
    assert f"10 x 10 tiles of 28 px, {padding} px padding" in notes[0] and len(tiles) == 100


def test_a_grid_without_padding_is_read_by_its_tiles(tmp_path, mnist_test):

    images, _, reference = mnist_test
    grid = images[:64].reshape(8, 8, 28, 28).transpose(0, 2, 1, 3).reshape(224, 224)  # 28 or 32 px?
    Image.fromarray(grid).save(tmp_path / "tight.png")
    report = diagnose(tmp_path / "tight.png", "mnist", reference=reference)
    assert "8 x 8 tiles of 28 px, 0 px padding" in report["input_notes"][0]
    forced = diagnose(tmp_path / "tight.png", "mnist", reference=reference, tile_size=32)
    assert "7 x 7 tiles of 32 px" in forced["input_notes"][0]


@pytest.mark.slow
def test_uniform_latent_generator_is_sampled_as_told(tmp_path, mnist_test):
    class OnlyInsideTheCube(torch.nn.Module):
        """Varies with z only for z in [-1, 1]^d, as a generator trained on U(-1, 1) may."""

        def forward(self, z):
            inside = (z.abs() <= 1).all(dim=1).float().view(-1, 1, 1, 1)
            return (inside * z[:, :1].view(-1, 1, 1, 1)).expand(-1, 1, 28, 28)

    torch.jit.script(OnlyInsideTheCube()).save(str(tmp_path / "g.ts"))
    _, _, reference = mnist_test
    normal = diagnose(tmp_path / "g.ts", "mnist", num_samples=500, reference=reference, latent_dim=4)
    uniform = diagnose(
        tmp_path / "g.ts", "mnist", num_samples=500, reference=reference, latent_dim=4, latent_dist="uniform"
    )
    assert any("N(0, I)" in note for note in normal["input_notes"])
    assert any("U(-1, 1)" in note for note in uniform["input_notes"])
    # N(0, I) leaves the cube ~80% of the time at d = 4: the probe sees far less movement
    assert uniform["latent"]["output_spread"] > 2 * normal["latent"]["output_spread"]


def test_a_generator_on_a_mixture_draws_pacgans_count_from_a_file_as_in_memory(tmp_path):
    """However many samples are asked for, a G on ring8 is judged on PacGAN's 2,500 points, from
    a file as from memory (too few points make even a perfect G look collapsed)."""

    class Ring(torch.nn.Module):
        def forward(self, z):
            angle = torch.floor(torch.rand(len(z)) * 8) * (2 * torch.pi / 8)
            return torch.stack([2 * angle.cos(), 2 * angle.sin()], dim=1) + 0.02 * z[:, :2]

    torch.jit.script(Ring()).save(str(tmp_path / "g.ts"))
    from_file = diagnose(tmp_path / "g.ts", "ring8", num_samples=300, latent_dim=2)
    in_memory = diagnose(Ring(), "ring8", num_samples=300, latent_dim=2)
    for report in (from_file, in_memory):
        assert "2500 points drawn with seed 7" in report["input_notes"] or any(
            "2500 samples drawn" in n for n in report["input_notes"]
        ), report["input_notes"]
        assert report.verdict == "healthy", report.reasons
