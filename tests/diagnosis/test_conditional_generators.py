"""A user's class-conditional G(z, label), as the cGAN tutorials write it: labels taken as class
indices (an nn.Embedding) or one-hot rows, judged overall and class by class."""

import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from modecollapse.cli import main
from modecollapse.diagnosis import diagnose
from modecollapse.errors import ModeCollapseError

CGAN_MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn

    class ClassMemorizer(nn.Module):
        '''Distinct real digits of the class asked for (one-hot rows); Sigmoid-range, flat.'''

        def __init__(self, per_class=150, varied=True):
            super().__init__()
            self.varied = varied
            self.register_buffer("digits", torch.zeros(10, per_class, 784))

        def forward(self, z, labels):
            k = labels.argmax(1)
            return self.digits[k, served(k, self.digits.shape[1]) if self.varied else 0 * k]

    TAKEN = {}

    def served(k, pool):
        # each class's digits in turn, across calls (G is called a chunk at a time)
        index = torch.empty_like(k)
        for c in k.unique().tolist():
            mask = k == c
            start = TAKEN.get(c, 0)
            index[mask] = (start + torch.arange(int(mask.sum()))) % pool
            TAKEN[c] = start + int(mask.sum())
        return index
    """
)


class IgnoresItsLabel(nn.Module):
    """Takes class indices through an Embedding, then draws any real digit: the label is ignored."""

    def __init__(self, digits: torch.Tensor) -> None:
        super().__init__()
        self.label_emb = nn.Embedding(10, 10)
        self.register_buffer("digits", digits)

    def forward(self, z, labels):
        self.label_emb(labels)  # an index out of range or a float one-hot row fails here
        return self.digits[(z[:, 0].abs() * 1e4).long() % len(self.digits)]


@pytest.fixture(scope="module")
def by_class(mnist_test):
    images, labels, reference = mnist_test
    flat = torch.from_numpy(images.reshape(len(images), 784)).float() / 255
    labels = torch.from_numpy(labels)
    per_class = torch.stack([flat[labels == k][:150] for k in range(10)])
    return per_class, flat[:500], reference


@pytest.fixture
def cgan_file(tmp_path, by_class):
    (tmp_path / "cgan.py").write_text(CGAN_MODELS)
    torch.save({"digits": by_class[0]}, tmp_path / "G.pth")
    return tmp_path / "G.pth", f"{tmp_path / 'cgan.py'}:ClassMemorizer"


@pytest.mark.slow
def test_a_conditional_g_from_weights_is_judged_class_by_class(cgan_file, by_class):
    weights, arch = cgan_file
    options = dict(latent_dim=16, num_samples=1500, arch=arch, reference=by_class[2], num_classes=10)
    report = diagnose(weights, "mnist", **options)
    assert report.verdict == "healthy"
    assert report.scores["class_conditional_accuracy"] > 0.9
    assert report.scores["per_class_diversity_min"] > 0.5
    assert "G(z, label) with labels as one-hot rows of shape (N, K), 150 per class" in report["input_notes"]
    assert report["_predictions"][:10].tolist() == list(range(10))  # classes in turn: the grid shows each
    # one image per class: the classes are there, but each class has no variety
    collapsed = diagnose(weights, "mnist", **{**options, "arch_kwargs": {"varied": False}})
    assert collapsed.scores["modes"] >= 9  # one digit a class (one of them may be misread)
    assert collapsed.scores["per_class_diversity_min"] < 0.05
    assert collapsed.verdict == "collapsed"
    assert any("some class has 0.00 of real within-class variety" in r for r in collapsed.reasons)


@pytest.mark.slow
def test_a_conditional_g_in_memory_that_ignores_its_label(by_class):
    report = diagnose(IgnoresItsLabel(by_class[1]), latent_dim=16, num_samples=500, num_classes=10)
    said = "G(z, label) with labels as class indices of shape (N,), int64, 50 per class"
    assert said in report["input_notes"]
    assert report.scores["modes"] == 10
    assert report.scores["class_conditional_accuracy"] < 0.25  # chance is 0.1
    said = "read as that class (a G that ignores its label: 10%)"
    assert any(said in reason for reason in report.reasons), report.reasons


def test_without_num_classes_the_error_says_how_to_give_the_label(cgan_file, capsys):
    weights, arch = cgan_file
    assert main(["diagnose", str(weights), "--arch", arch, "--latent-dim", "16"]) == 2
    assert "A class-conditional G(z, label) is sampled with --num-classes K" in capsys.readouterr().err


def test_conditional_mistakes_get_one_sentence(cgan_file, by_class, capsys):
    weights, arch = cgan_file
    args = ["diagnose", str(weights), "--arch", arch, "--num-classes"]
    assert main([*args, "10"]) == 2
    assert "a class-conditional generator needs z's size without the label: --latent-dim N" in (
        capsys.readouterr().err
    )
    with pytest.raises(ModeCollapseError, match=r"num_classes=5, but mnist has 10 classes"):
        diagnose(weights, "mnist", latent_dim=16, num_samples=100, arch=arch, num_classes=5,
                 reference=by_class[2])  # fmt: skip
    with pytest.raises(ModeCollapseError, match="num_classes is for class-conditional image generators"):
        diagnose(weights, "ring8", latent_dim=16, arch=arch, num_classes=8)
    np.save(weights.parent / "samples.npy", np.zeros((100, 784), np.float32))  # samples, not a generator
    for samples in (weights.parent / "samples.npy", torch.zeros(100, 784)):
        with pytest.raises(ModeCollapseError, match="num_classes is for a (generator's|class-conditional)"):
            diagnose(samples, "mnist", num_classes=10)

    def takes_no_label(z, labels):
        return z.view(len(z), 1, 4, 4) @ torch.ones(3, 3)  # fails for any label form

    every_call = r"G\(z, label\) with labels as class indices .*; as G\(label, z\) with labels as one-hot"
    with pytest.raises(ModeCollapseError, match=every_call):
        diagnose(takes_no_label, latent_dim=16, num_classes=10)


class DigitOfItsClass(nn.Module):
    """Real digits of the class asked for, each draw its own; how G takes the class is set by the
    subclass (as the tutorials differ)."""

    def __init__(self, per_class: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("digits", per_class)
        self.served = 0

    def digit(self, k: torch.Tensor) -> torch.Tensor:
        index = (self.served + torch.arange(len(k))) % self.digits.shape[1]
        self.served += len(k)
        return self.digits[k, index]


class LabelFirstEmbedding(DigitOfItsClass):
    def forward(self, labels, noise):
        return self.digit(labels.long()) + 0 * noise.sum()  # a float z in the label's place fails here


class DigitOfOneHotGivenFirst(DigitOfItsClass):
    def __init__(self, per_class: torch.Tensor) -> None:
        super().__init__(per_class)
        self.joint = nn.Linear(10 + 16, 4)  # accepts (z, one-hot) swapped too: only the names tell

    def forward(self, y, z):
        self.joint(torch.cat([y, z], 1))
        return self.digit(y[:, :10].argmax(1))


class OneInput(DigitOfItsClass):
    def forward(self, x):
        if x.shape[1] != 16 + 10:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied (500x{x.shape[1]} and 26x128)")
        return self.digit(x[:, 16:].argmax(1))


@pytest.mark.parametrize(
    ("network", "said"),
    [
        (LabelFirstEmbedding, "G(label, z) with labels as class indices of shape (N,), int64"),
        (DigitOfOneHotGivenFirst, "G(label, z) with labels as one-hot rows of shape (N, K)"),
        (OneInput, "G(z with one-hot rows of shape (N, K) appended)"),
    ],
)
def test_a_label_given_first_or_appended_to_z_is_given_so(by_class, network, said):
    report = diagnose(network(by_class[0]), latent_dim=16, num_samples=500, num_classes=10,
                      reference=by_class[2])  # fmt: skip
    assert f"{said}, 50 per class" in report["input_notes"]
    assert report.scores["class_conditional_accuracy"] > 0.9


class ReturnsItsLatentToo(DigitOfItsClass):
    def forward(self, z, labels):
        return self.digit(labels.long()), z


def test_a_conditional_g_returning_a_tuple_says_what_was_judged(by_class):
    report = diagnose(ReturnsItsLatentToo(by_class[0]), latent_dim=16, num_samples=500, num_classes=10,
                      reference=by_class[2])  # fmt: skip
    said = [note for note in report["input_notes"] if "50 per class" in note][0]
    assert "per class; G returns a tuple of 2: judged on its first element, shape (500, " in said
    assert report.scores["class_conditional_accuracy"] > 0.9
