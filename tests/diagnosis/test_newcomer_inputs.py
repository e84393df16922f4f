"""What a newcomer hands diagnose: grey digits saved as RGB, a closed pipe, an --out that cannot
be made, strict JSON, an unknown metric. Each gets an answer or a sentence, never a traceback."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from modecollapse import diagnose
from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.errors import ModeCollapseError


@pytest.fixture(scope="module")
def digits():
    data = load_dataset(DataConfig(name="mnist-5k"))
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:600]  # the file is sorted
    return data.data[order].numpy().reshape(600, 28, 28)  # uint8 real digits of every class


@pytest.mark.slow
def test_grey_digits_saved_as_rgb_pngs_are_read_as_grey(tmp_path, digits):
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, digit in enumerate(digits[:300]):
        Image.fromarray(digit).convert("RGB").save(folder / f"{i:04d}.png")
    report = diagnose(folder, dataset="mnist")
    assert "3 equal colour channels (grey saved as RGB) read as grey" in report["input_notes"]
    assert report.scores["modes"] >= 9 and len(report["class_counts"]) == 10


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_grey_digits_as_an_rgb_array_are_read_as_grey(digits, layout):
    rgb = np.repeat(digits[:300, :, :, None], 3, axis=3)
    array = rgb if layout == "NHWC" else rgb.transpose(0, 3, 1, 2)
    report = diagnose(array, dataset="mnist")
    assert "3 equal colour channels (grey saved as RGB) read as grey" in report["input_notes"]
    assert report.scores["modes"] >= 9


@pytest.mark.slow
def test_three_different_channels_for_a_grey_dataset_are_a_sentence(digits):
    stacks = np.stack([digits[:300], digits[300:600], digits[:300][::-1]], axis=1)
    said = r"3 different colour channels \(mean gap .*\), but mnist is grey"
    with pytest.raises(ModeCollapseError, match=said):
        diagnose(stacks, dataset="mnist")
    from modecollapse.metrics.features import prepare_images
    from modecollapse.metrics.scores import extract
    from modecollapse.models.classifier import load_classifier

    others = load_dataset(DataConfig(name="stacked-mnist", num_samples=500, seed=6))
    reference = extract(load_classifier("mnist"), prepare_images(others.data.numpy())[0])  # not 60k stacks
    assert diagnose(stacks, dataset="stacked-mnist", reference=reference).scores["num_classes"] == 1000


@pytest.mark.slow
def test_grey_digits_from_a_three_channel_g_with_noise_are_read_as_their_mean(digits):
    noisy = np.repeat(digits[:300, None] / 255.0, 3, axis=1)  # an nc=3 DCGAN's grey digits, channels apart
    noisy = noisy + np.random.default_rng(0).normal(0, 0.03, noisy.shape)
    report = diagnose(noisy.astype(np.float32), dataset="mnist")
    assert any(note.startswith("3 nearly equal colour channels") for note in report["input_notes"])
    assert report.scores["modes"] >= 9


def cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "modecollapse", *args], capture_output=True, text=True, **kwargs
    )


@pytest.fixture
def samples_file(tmp_path, digits):
    path = tmp_path / "samples.npy"
    np.save(path, digits[:200])
    return path


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(samples_file):
    reader = subprocess.Popen(
        [sys.executable, "-m", "modecollapse", "diagnose", str(samples_file), "--dataset", "mnist"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    first = reader.stdout.readline()
    reader.stdout.close()  # as `| head -1` does
    reader.wait(timeout=300)
    assert first.startswith(b"verdict:")
    assert b"Traceback" not in reader.stderr.read()


@pytest.mark.parametrize("where", ["file-in-the-way", "proc"])
@pytest.mark.slow
def test_an_out_folder_that_cannot_be_made_is_a_sentence(tmp_path, samples_file, where):
    if where == "proc":
        out = "/proc/modecollapse-evidence"
    else:
        (tmp_path / "blocker").write_text("")
        out = str(tmp_path / "blocker" / "evidence")
    result = cli("diagnose", str(samples_file), "--dataset", "mnist", "--out", out, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    named = "modecollapse-evidence" if where == "proc" else "blocker"
    assert result.stderr.startswith("error: cannot use") and named in result.stderr


@pytest.mark.slow
def test_json_is_strict(samples_file):
    result = cli("diagnose", str(samples_file), "--dataset", "mnist", "--json", timeout=300)

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    parsed = json.loads(result.stdout, parse_constant=refuse)
    assert parsed["verdict"] in ("healthy", "partial collapse", "collapsed")


def test_an_unknown_metric_lists_the_known_ones():
    import torch

    from modecollapse.metrics.scores import FeatureSet, score

    features = FeatureSet(torch.full((4, 10), 0.1), torch.zeros(4, 128), torch.zeros(4, dtype=torch.long))
    with pytest.raises(
        ModeCollapseError, match="unknown metric 'fid'; the metrics are: class_histogram_10pct"
    ):
        score(features, features, ["fid"])
    said = "unknown metric 'class_histogram' \\(did you mean 'class_histogram_10pct'\\?\\)"
    with pytest.raises(ModeCollapseError, match=said):
        score(features, features, ["class_histogram"])


def test_a_flat_z_given_to_a_dcgan_says_how_to_give_z_its_spatial_shape():
    from modecollapse.options import command_line

    dcgan = torch.nn.Sequential(torch.nn.ConvTranspose2d(8, 1, 28), torch.nn.Tanh())  # z as (N, 8, 1, 1)
    with pytest.raises(ModeCollapseError, match=r"takes z as \(N, 8, 1, 1\): pass latent_shape=\(8, 1, 1\)"):
        diagnose(dcgan, dataset="mnist-5k", latent_dim=8, num_samples=100)
    spelled = "pass --latent-shape 8,1,1, or leave --latent-dim"
    with command_line(), pytest.raises(ModeCollapseError, match=spelled):
        diagnose(dcgan, dataset="mnist-5k", latent_dim=8, num_samples=100)
    flat = torch.nn.Sequential(torch.nn.Linear(8, 784), torch.nn.Tanh())
    with pytest.raises(ModeCollapseError) as refused:
        diagnose(flat, dataset="mnist-5k", latent_dim=5, num_samples=100)  # a wrong size, not a shape
    assert "latent_shape" not in str(refused.value)


def test_diagnose_leaves_the_callers_random_numbers_where_they_were(digits):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    diagnose(digits[:100], dataset="mnist")  # mid-training, between two of the user's draws
    assert torch.equal(torch.rand(3), expected)


def test_points_given_without_their_dataset_are_sent_to_the_mixtures():
    ring = np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32)
    said = r"\(500, 2\) are 2-D points, not mnist images: pass dataset='ring8' or dataset='grid25'"
    with pytest.raises(ModeCollapseError, match=said):
        diagnose(ring)  # in memory, no dataset named: read as images of the default, MNIST


def test_the_latent_probe_of_a_diverged_generator_says_it_cannot_measure():
    from modecollapse.diagnosis import probe_latent
    from modecollapse.models.latent import Latent

    diverged = lambda z: torch.full((len(z), 784), float("nan"))  # noqa: E731 - a user's G, as posted
    probe = probe_latent(diverged, Latent((4,), "normal", 1.0), count=16)
    assert probe["statement"].startswith("the outputs hold NaN") and not probe["ignores_latent"]


def test_the_latent_probe_gives_the_scale_of_a_small_spread():
    from modecollapse.diagnosis import probe_latent
    from modecollapse.models.latent import Latent

    barely = lambda z: 0.05 * torch.tanh(z[:, :1]).expand(len(z), 784)  # noqa: E731 - near one output
    probe = probe_latent(barely, Latent((4,), "normal", 1.0), count=64, value_range="-1-1")
    assert not probe["ignores_latent"] and 0.02 < probe["output_spread"] < 0.05
    assert "mean absolute difference of pixels in [-1, 1]; under 0.02 G ignores z" in probe["statement"]
    halved = lambda z: (barely(z) + 1) / 2  # noqa: E731 - the same images as a Sigmoid G gives them
    same = probe_latent(halved, Latent((4,), "normal", 1.0), count=64, value_range="0-1")
    assert same["output_spread"] == pytest.approx(probe["output_spread"]) and not same["ignores_latent"]
    wild = probe_latent(lambda z: 40 * barely(z), Latent((4,), "normal", 1.0), count=64)  # no range fits
    assert "in G output units (no known range fits them)" in wild["statement"]


def test_options_of_the_wrong_type_get_a_sentence_and_rules_may_be_a_dict(digits):
    sample = digits[:300]
    with pytest.raises(ModeCollapseError, match="reference takes real images. features .*, not ndarray"):
        diagnose(sample, dataset="mnist", reference=np.zeros((10, 128)))
    with pytest.raises(ModeCollapseError, match="mixture_scale takes a positive number .*, not 0"):
        diagnose(np.zeros((500, 2)), dataset="ring8", mixture_scale=0)
    misspelt = "rules: unknown key 'partial_kl': did you mean 'partial_kl_uniform'"
    with pytest.raises(ModeCollapseError, match=misspelt):
        diagnose(sample, dataset="mnist", rules={"partial_kl": 0.2})
    strict = diagnose(sample, dataset="mnist", rules={"partial_diversity_ratio": 2.0})  # thresholds as a dict
    assert any("(< 2.0)" in reason for reason in strict.reasons), strict.reasons


class _Returns(torch.nn.Module):
    """A G whose forward returns (samples, z), or a dict of them, as some posted code does."""

    def __init__(self, digits, shape):
        super().__init__()
        self.digits, self.shape = torch.as_tensor(digits).float() / 255, shape

    def forward(self, z):
        images = self.digits[torch.arange(len(z)) % len(self.digits)][:, None]
        return (images, z) if self.shape == "tuple" else {"images": images, "z": z}


def test_a_g_returning_a_tuple_is_judged_on_its_first_element_and_says_so(digits):
    report = diagnose(_Returns(digits, "tuple"), dataset="mnist", latent_dim=8, num_samples=300)
    note = "G returns a tuple of 2: judged on its first element, shape (300, 1, 28, 28)"
    assert note in report["input_notes"]
    assert report.scores["modes"] >= 9


def test_a_g_returning_a_dict_gets_a_sentence_naming_its_keys(digits):
    said = r"G returned a dict \(keys 'images', 'z'\).*G\(z\)\['images'\]"
    with pytest.raises(ModeCollapseError, match=said):
        diagnose(_Returns(digits, "dict"), dataset="mnist", latent_dim=8, num_samples=300)


def test_a_g_returning_a_list_of_per_sample_images_gets_a_sentence(digits):
    class PerSample(torch.nn.Module):
        def forward(self, z):
            return [torch.as_tensor(digits[i % 600]).float()[None] / 255 for i in range(len(z))]

    with pytest.raises(ModeCollapseError, match=r"for a batch of 300 inputs.*a list of per-sample outputs"):
        diagnose(PerSample(), dataset="mnist", latent_dim=8, num_samples=300)
