"""The Monitor on a user's class-conditional G(z, label): labels drawn class-balanced, and the
samples judged class by class as diagnose judges them."""

import pytest
import torch
from torch import nn

from modecollapse import Monitor, diagnose
from modecollapse.errors import ModeCollapseError


class ClassDigits(nn.Module):
    """Distinct real digits of the class asked for (class indices, as an nn.Embedding takes them);
    with `varied` False one digit a class, whatever z is."""

    def __init__(self, per_class: torch.Tensor, varied: bool = True) -> None:
        super().__init__()
        self.label_emb = nn.Embedding(10, 4)
        self.register_buffer("digits", per_class)
        self.varied, self.taken = varied, [0] * 10

    def forward(self, z, labels):
        self.label_emb(labels)
        index = torch.zeros_like(labels)
        for c in labels.unique().tolist() if self.varied else ():  # each class's digits in turn, across calls
            mask = labels == c
            index[mask] = (self.taken[c] + torch.arange(int(mask.sum()))) % self.digits.shape[1]
            self.taken[c] += int(mask.sum())
        return self.digits[labels, index]


@pytest.fixture(scope="module")
def per_class(mnist_digits):
    images, labels, _ = mnist_digits
    flat = torch.from_numpy(images[:2000].reshape(2000, 784)).float() / 127.5 - 1
    labels = torch.from_numpy(labels[:2000])
    return torch.stack([flat[labels == k][:150] for k in range(10)])


@pytest.mark.slow
def test_the_monitor_judges_a_conditional_g_class_by_class(per_class, tmp_path):
    options = dict(dataset="mnist", every=1, latent_dim=8, num_classes=10, num_samples=1500, verbose=False)
    varied = Monitor(**options, out=tmp_path / "mon").update(0, ClassDigits(per_class))
    assert varied.scores["class_conditional_accuracy"] > 0.9
    assert varied.scores["per_class_diversity_min"] > 0.5
    assert not any("within-class variety" in r for r in varied.reasons)
    assert "G(z, label) with labels as class indices of shape (N,), int64, 150 per class" in varied.notes
    later = diagnose(tmp_path / "mon")  # its folder keeps the classes the samples were drawn for
    assert later.scores["class_conditional_accuracy"] == varied.scores["class_conditional_accuracy"]
    assert any("--num-classes 10" in note or "num_classes=10" in note for note in later["input_notes"])
    one = Monitor(**options).update(0, ClassDigits(per_class, varied=False))
    assert one.verdict == "collapsed" and one.scores["per_class_diversity_min"] < 0.05
    assert any("some class has 0.00 of real within-class variety" in r for r in one.reasons)


def test_conditional_options_are_checked_when_the_monitor_is_built():
    cases = {
        (("latent_dim", 8), ("num_classes", 5)): "num_classes=5, but mnist has 10 classes",
        (("num_classes", 10),): "needs z's size without the label: latent_dim",
        (("latent_dim", 8), ("num_classes", 10), ("sample", len)): "give it or sample=..., not both",
    }
    for options, message in cases.items():
        with pytest.raises(ModeCollapseError, match=message.replace("(", r"\(").replace(")", r"\)")):
            Monitor("mnist", **dict(options))
    with pytest.raises(ModeCollapseError, match="for class-conditional image generators, not ring8"):
        Monitor("ring8", latent_dim=2, num_classes=8)
