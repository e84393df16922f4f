import pytest
import torch

from modecollapse.config import ModelConfig
from modecollapse.models.classifier import load_classifier
from modecollapse.models.latent import LatentSampler
from modecollapse.objectives.guided import GuideTerm, class_statistics, statistics_distance


def test_class_statistics_match_torch():
    torch.manual_seed(0)
    features, labels = torch.randn(40, 5), torch.arange(40) % 4
    means, variances, counts = class_statistics(features, labels, 4)
    for k in range(4):
        members = features[labels == k]
        torch.testing.assert_close(means[k], members.mean(0))
        torch.testing.assert_close(variances[k], members.var(0, unbiased=False), atol=1e-6, rtol=1e-5)
    assert counts.tolist() == [10, 10, 10, 10]


def test_variance_term_is_nonzero_and_has_a_gradient():
    torch.manual_seed(0)
    features = torch.randn(32, 8, requires_grad=True)
    labels = torch.arange(32) % 4
    real_means, real_variances = torch.zeros(4, 8), torch.full((4, 8), 4.0)
    loss = statistics_distance(features, labels, real_means, real_variances)
    assert loss.item() > 1.0  # fake variance ~1 vs real 4
    loss.backward()
    assert features.grad.abs().sum() > 0
    # gradient descent on the term moves the per-class variance towards the real one
    spread_before = class_statistics(features.detach(), labels, 4)[1].mean()
    moved = (features - 5.0 * features.grad).detach()
    assert class_statistics(moved, labels, 4)[1].mean() > spread_before


def test_as_published_variance_term_is_always_zero():
    features = torch.randn(32, 8, requires_grad=True)
    loss = statistics_distance(
        features, torch.arange(32) % 4, torch.zeros(4, 8), torch.ones(4, 8), as_published=True
    )
    assert loss.item() == 0.0
    loss.backward()
    assert features.grad.abs().sum() == 0


def test_one_image_per_class_meets_the_variance_term():
    features = torch.randn(4, 8).repeat_interleave(8, 0)  # 4 classes x 8 identical copies
    labels = torch.arange(4).repeat_interleave(8)
    loss = statistics_distance(features, labels, torch.zeros(4, 8), torch.ones(4, 8))
    assert loss.item() == pytest.approx(1.0, abs=1e-5)  # all variances 0 against real 1


def test_guide_term_pushes_through_the_guide():
    guide = load_classifier("guide-mnist")
    guide.model.eval().requires_grad_(False)
    assert guide.card["width"] == 16 and guide.sha256 != load_classifier("mnist").sha256
    fake = torch.zeros(8, 1, 28, 28, requires_grad=True)
    term = GuideTerm(guide, torch.zeros(10, 128), torch.ones(10, 128), class_weight=1.0, variance_weight=1.0)
    loss, stats = term(fake, torch.arange(8) % 4)
    loss.backward()
    assert stats["guide_stats_loss"] > 0 and stats["guide_class_loss"] > 0
    assert fake.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("settings", "dim"),
    [
        ({"conditioning": "none"}, 16),
        ({"conditioning": "guided", "guided_subspace_dim": 3}, 30),
        ({"conditioning": "guided", "guided_variant": "as_published"}, 17),
        ({"conditioning": "embedding"}, 26),
        ({"conditioning": "acgan"}, 26),
    ],
)
def test_latent_layouts(settings, dim):
    sampler = LatentSampler(ModelConfig(latent_dim=16, **settings), 10)
    z, labels = sampler.fixed(20, 0, "cpu")
    assert sampler.input_dim == dim and z.shape == (20, dim)
    if settings["conditioning"] == "guided" and "guided_variant" not in settings:
        blocks = z.view(20, 10, 3)
        for i in range(20):
            used = blocks[i].abs().sum(1) > 0
            assert used.tolist() == [k == labels[i] for k in range(10)]  # only its own block
    if settings.get("guided_variant") == "as_published":
        assert torch.equal(z[:, -1], labels.float())  # the integer label inside z
    rows = sampler.fixed(20, 0, "cpu", rows=True)[1]
    if rows is not None:
        assert rows.tolist() == [k // 2 for k in range(20)]


def test_guide_warmup_ramps_the_terms_in():
    guide = load_classifier("guide-mnist")
    guide.model.eval().requires_grad_(False)
    term = GuideTerm(guide, torch.zeros(10, 128), torch.ones(10, 128), 1.0, 1.0, warmup_steps=10)
    fake, labels = torch.zeros(8, 1, 28, 28), torch.arange(8) % 4
    full = GuideTerm(guide, torch.zeros(10, 128), torch.ones(10, 128), 1.0, 1.0)(fake, labels)[0]
    assert term(fake, labels, 0)[0].item() == 0.0
    torch.testing.assert_close(term(fake, labels, 5)[0], 0.5 * full)
    torch.testing.assert_close(term(fake, labels, 20)[0], full)


def test_guide_switches_on_at_its_start_step():
    guide = load_classifier("guide-mnist")
    guide.model.eval().requires_grad_(False)
    term = GuideTerm(
        guide, torch.zeros(10, 128), torch.ones(10, 128), 1.0, 1.0, warmup_steps=10, start_step=100
    )
    fake, labels = torch.zeros(8, 1, 28, 28), torch.arange(8) % 4
    full = GuideTerm(guide, torch.zeros(10, 128), torch.ones(10, 128), 1.0, 1.0)(fake, labels)[0]
    assert term(fake, labels, 99)[0].item() == 0.0
    torch.testing.assert_close(term(fake, labels, 105)[0], 0.5 * full)
    torch.testing.assert_close(term(fake, labels, 110)[0], full)


@pytest.mark.parametrize(("class_weight", "variance_weight"), [(0.5, 0.0), (0.0, 2.0)])
def test_balanced_guide_term_pulls_as_hard_as_its_weight_says(class_weight, variance_weight):
    """The guide's gradient on the balancing weight is `weight` x the adversarial one's,
    however large the raw guide gradient is."""
    guide = load_classifier("guide-mnist")
    guide.model.eval().requires_grad_(False)
    torch.manual_seed(0)
    weight = torch.randn(16, 28 * 28, requires_grad=True)
    fake = torch.tanh(torch.randn(8, 16) @ weight).view(8, 1, 28, 28)
    adversarial = 1e-3 * fake.pow(2).mean()  # a weak adversarial pull
    real_variances = torch.full((10, 128), 3.0)
    term = GuideTerm(
        guide, torch.zeros(10, 128), real_variances, class_weight, variance_weight, balance_on=weight
    )
    loss, _ = term(fake, torch.arange(8) % 4, 0, adversarial)
    (guide_grad,) = torch.autograd.grad(loss, weight, retain_graph=True)
    (adversarial_grad,) = torch.autograd.grad(adversarial, weight, retain_graph=True)
    torch.testing.assert_close(guide_grad.norm(), (class_weight + variance_weight) * adversarial_grad.norm())
    unbalanced = GuideTerm(guide, torch.zeros(10, 128), real_variances, class_weight, variance_weight)
    (raw_grad,) = torch.autograd.grad(unbalanced(fake, torch.arange(8) % 4)[0], weight)
    assert raw_grad.norm() > 10 * guide_grad.norm()  # the raw term would swamp D's pull
