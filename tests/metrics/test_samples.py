"""The one scorer (metrics/samples.py), as newcomers' generators and sample sets reach it: Sigmoid
outputs in [0, 1], black-on-white digits, flat (N, 784) vectors, float64 and bf16 generators, copies
of the named training data, a dataset's missing files. Each test failed before the one scorer."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from modecollapse import Monitor, diagnose
from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.errors import DamagedCache, DatasetUnavailable, ModeCollapseError
from modecollapse.metrics.samples import reference_for, score_samples


class RealDigits(nn.Module):
    """A 'generator' that returns real MNIST test digits (never seen in training data), picked by z,
    through a Sigmoid-like [0, 1] output: what a healthy user's G draws."""

    def __init__(self, digits: torch.Tensor, flat: bool = False, inverted: bool = False):
        super().__init__()
        self.register_buffer("digits", digits.float() / 255)
        self.scale = nn.Parameter(torch.ones(()))
        self.flat, self.inverted = flat, inverted

    def forward(self, z):
        index = (torch.special.ndtr(z[:, 0].float()) * len(self.digits)).long().clamp(0, len(self.digits) - 1)
        out = self.digits[index].unsqueeze(1) * self.scale
        out = 1 - out if self.inverted else out
        return out.flatten(1).to(z.dtype) if self.flat else out.to(z.dtype)


@pytest.fixture(scope="module")
def test_digits(mnist_digits):
    images, _, _ = mnist_digits
    return torch.as_tensor(np.asarray(images[:4000]))


def monitor_verdict(generator, tmp_path, **options):
    # 300 picks of 4,000 digits: ~7% repeat by chance (the birthday problem), under the 20% threshold
    monitor = Monitor(
        "mnist-5k", every=1, latent_dim=4, num_samples=300, verbose=False, out=tmp_path, **options
    )
    status = monitor.update(0, generator)
    return status, json.loads((tmp_path / "summary.json").read_text())


@pytest.mark.slow
def test_a_sigmoid_generator_of_real_digits_is_healthy_in_the_monitor(tmp_path, test_digits):
    status, summary = monitor_verdict(RealDigits(test_digits), tmp_path)
    assert status.verdict == "healthy", status.reasons
    assert status.scores["modes"] == 10 and status.scores["recognizable_share"] > 0.9
    assert any("read as [0, 1]" in note for note in status.notes)
    assert status.protocol.endswith("/n300") and summary["notes"] == status.notes


@pytest.mark.slow
def test_black_on_white_digits_are_read_inverted_and_said_so(tmp_path, test_digits):
    status, _ = monitor_verdict(RealDigits(test_digits, inverted=True), tmp_path)
    assert status.verdict == "healthy", status.reasons
    assert any("light background: read inverted" in note for note in status.notes)
    inverted = RealDigits(test_digits, inverted=True)
    report = diagnose(inverted, dataset="mnist-5k", latent_dim=4, num_samples=300)
    assert report.scores["modes"] == 10 and any("inverted" in note for note in report["input_notes"])


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_flat_vectors_and_other_dtypes_are_read(tmp_path, test_digits, dtype):
    generator = RealDigits(test_digits, flat=True).to(dtype)
    status, _ = monitor_verdict(generator, tmp_path)
    assert status.scores["modes"] == 10
    assert any("flat vectors of 784 values read as 1x28x28" in note for note in status.notes)
    report = diagnose(generator, dataset="MNIST-5K", latent_dim=4, num_samples=300)  # case aside
    assert report.scores["modes"] == 10 and report["dataset"] == "mnist"  # mnist-5k is judged as MNIST


class Overshooting(RealDigits):
    """Real digits in [-1, 1] from a linear output layer, scaled by `gain` (set between steps)."""

    gain = 1.0

    def forward(self, z):
        return (super().forward(z) * 2 - 1) * self.gain


@pytest.mark.slow
def test_a_range_read_from_the_values_is_kept_when_a_later_output_overshoots_it(tmp_path, test_digits):
    generator = Overshooting(test_digits)
    monitor = Monitor("mnist-5k", every=1, latent_dim=4, num_samples=300, verbose=False, out=tmp_path)
    assert monitor.update(0, generator).verdict == "healthy"
    generator.gain = 1.6  # values -1.6..1.6: read alone, they fit no range
    status = monitor.update(1, generator)
    assert status.verdict == "healthy", status.reasons
    assert any("read as -1-1, as from step 0 on" in note for note in status.notes)
    fresh = Monitor("mnist-5k", every=1, latent_dim=4, num_samples=300, verbose=False)
    with pytest.raises(ModeCollapseError, match="fits none of 0..255"):
        fresh.update(0, generator)  # no earlier reading to keep: refused, with what to pass


class AsTheTutorialsNormalise(RealDigits):
    """Real digits normalised by MNIST's mean and std, with no output layer to say so."""

    def forward(self, z):
        return (super().forward(z) - 0.1307) / 0.3081


def test_a_monitor_reads_and_keeps_the_tutorials_normalisation(tmp_path, test_digits):
    monitor = Monitor("mnist-5k", every=1, latent_dim=4, num_samples=300, verbose=False, out=tmp_path)
    status = monitor.update(0, AsTheTutorialsNormalise(test_digits))
    assert status.verdict == "healthy", status.reasons
    assert monitor.scorer.kept_range == ("0.1307,0.3081", 0)


@pytest.mark.slow
def test_a_kept_range_carries_over_to_a_resumed_monitor_unless_it_restarts_before_it(tmp_path, test_digits):
    generator = Overshooting(test_digits)
    options = dict(every=1, latent_dim=4, num_samples=300, verbose=False, out=tmp_path)
    with Monitor("mnist-5k", **options) as monitor:
        monitor.update(0, generator)  # values span -1..1: the range is read and kept
    generator.gain = 1.6
    resumed = Monitor("mnist-5k", resume=True, **options)
    status = resumed.update(1, generator)
    assert status.verdict == "healthy", status.reasons
    assert any("read as -1-1, as from step 0 on" in note for note in status.notes)
    restarted = Monitor("mnist-5k", resume=True, **options)
    with pytest.raises(ModeCollapseError, match="fits none of 0..255"):
        restarted.update(0, generator)  # back to step 0: the reading made there is replaced


@pytest.mark.parametrize(
    "record", ["-1-1", {"range": 5, "step": 0}, {"range": "0-100", "step": 0}, {"step": 0}]
)
def test_a_kept_range_in_a_hand_edited_summary_is_read_anew(tmp_path, test_digits, record):
    options = dict(every=1, latent_dim=4, num_samples=300, verbose=False, out=tmp_path)
    with Monitor("mnist-5k", **options) as monitor:
        monitor.update(0, Overshooting(test_digits))
    summary = json.loads((tmp_path / "summary.json").read_text())
    summary["value_range_kept"] = record
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    status = Monitor("mnist-5k", resume=True, **options).update(1, Overshooting(test_digits))
    assert status.verdict == "healthy", status.reasons  # read from the values again, not a crash


def test_a_generators_tanh_or_sigmoid_output_layer_says_its_range(test_digits):
    brightened = nn.Sequential(RealDigits(test_digits[:500]), nn.Tanh())  # outputs in [0, 0.76]
    report = diagnose(brightened, dataset="mnist-5k", latent_dim=4, num_samples=300)
    assert "values read as [-1, 1]: G's last layer is a Tanh" in report["input_notes"]
    report = diagnose(RealDigits(test_digits[:500]), dataset="mnist-5k", latent_dim=4, num_samples=300)
    assert not any("last layer" in note for note in report["input_notes"])  # read from the values


def test_a_flat_vector_that_fits_no_image_is_a_sentence():
    reference = reference_for("ring8")
    with pytest.raises(ModeCollapseError, match="2-D points: expected N x 2"):
        score_samples(torch.zeros(10, 3), reference)


def test_too_few_samples_are_refused_with_how_many_it_takes(test_digits):
    grid = load_dataset(DataConfig(name="grid25", num_samples=5000)).data
    assert diagnose(grid[:1000].numpy(), dataset="grid25").verdict == "healthy"
    for few in (grid[:256], grid[:0]):  # real points, but too few for 25 modes: no verdict
        with pytest.raises(ModeCollapseError, match="too few to judge 25 modes: .* at least 1,000"):
            diagnose(few.numpy(), dataset="grid25")
    with pytest.raises(ModeCollapseError, match="5 images are too few to judge: .* at least 6"):
        diagnose(test_digits[:5].numpy(), dataset="mnist")


def test_a_misspelt_dataset_gets_the_nearest_name():
    with pytest.raises(DatasetUnavailable, match="did you mean 'mnist-5k'"):
        Monitor("mnist5k", every=1, latent_dim=4)


@pytest.mark.slow
def test_copies_of_the_named_training_data_are_caught_and_the_output_says_against_what(tmp_path):
    digits = load_dataset(DataConfig(name="mnist-5k"))
    pick = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))[:800]
    copies = digits.data[pick].float() / 127.5 - 1
    report = diagnose(copies, dataset="mnist-5k")
    assert report.scores["copy_rate"] > 0.9 and "copies of the training data" in report.kinds
    assert report["copies_of"].startswith("mnist-5k") and "training data" in report["copies_of"]


@pytest.mark.slow
def test_copies_are_counted_against_every_training_image_past_the_reference_size():
    import dataclasses

    from modecollapse.metrics import diversity

    five_k = load_dataset(DataConfig(name="mnist-5k"))
    moved = [five_k.data, five_k.data.roll(1, dims=3), five_k.data[:1000].roll(1, dims=2)]  # 11,000 distinct
    labels = torch.cat([five_k.labels, five_k.labels, five_k.labels[:1000]])
    training = dataclasses.replace(five_k, data=torch.cat(moved), labels=labels)
    reference = reference_for("mnist-5k", training=training)
    assert len(reference.copies_of) == 11_000  # not the 10,000 the reference statistics take
    in_subset = diversity.seeded_subset(torch.arange(11_000), 10_000)
    outside = torch.ones(11_000, dtype=torch.bool).index_fill_(0, in_subset, False).nonzero()[:, 0]
    copies = training.batch(outside[:500])
    assert score_samples(copies, reference).record["copy_rate"] > 0.95
    features = reference.copies_of.features  # the threshold from 2,000 queries, as from all of them
    exact = diversity.copy_threshold(features, queries=11_000)
    assert diversity.copy_threshold(features, queries=2_000) == pytest.approx(exact, rel=0.1)


@pytest.mark.slow
def test_a_missing_dataset_falls_back_and_says_so(tmp_path, test_digits):
    (tmp_path / "nothing").mkdir()  # a data dir without MNIST's files
    status, summary = monitor_verdict(RealDigits(test_digits), tmp_path, data_dir=str(tmp_path / "nothing"))
    said = [note for note in status.notes if "not on disk: judged against mnist-5k" in note]
    assert said and said[0] in summary["notes"] and summary["reference"].startswith("mnist-5k")


def test_a_damaged_cache_falls_back_and_says_it_is_damaged_not_missing(monkeypatch):
    from modecollapse.metrics import samples

    def load(config):
        if config.name == "mnist":  # the cache's test files fail their MD5 check; diagnose does not download
            raise DamagedCache("MNIST is not available here (damaged in the cache: t10k-labels-idx1-ubyte)")
        return load_dataset(config)

    monkeypatch.setattr(samples, "load_dataset", load)
    notes = []
    data, _ = samples._real_data("mnist", None, None, notes)
    assert data.name == "mnist-5k" and notes[0].startswith(
        "mnist's files in the cache fail their MD5 check: judged against mnist-5k instead"
    )


def test_a_data_dir_that_does_not_exist_is_said_not_replaced_by_the_fallback(tmp_path, test_digits):
    with pytest.raises(DatasetUnavailable, match="does not exist"):
        diagnose(test_digits[:100].numpy(), dataset="mnist", data_dir=str(tmp_path / "dta"))
