"""Each anti-collapse switch does what it says."""

import math

import pytest
import torch
from torch import nn

from modecollapse.config import ModelConfig, ObjectiveConfig
from modecollapse.models import build_models
from modecollapse.models.layers import MinibatchDiscrimination, MinibatchStdDev, pack_samples
from modecollapse.objectives import Objective, stabilizers

CPU = torch.device("cpu")


class Critic(nn.Module):
    """The discriminator interface the objectives rely on (models.layers.Discriminator's)."""

    pack = 1
    conditioning = None


def test_label_flip_fraction_is_p_within_sampling_error():
    torch.manual_seed(0)
    n, p = 200_000, 0.1
    targets = stabilizers.discriminator_targets(n, True, 0.0, p, "bernoulli", CPU)
    flipped = (targets == 0).float().mean().item()
    assert abs(flipped - p) < 4 * math.sqrt(p * (1 - p) / n)
    fake = stabilizers.discriminator_targets(n, False, 0.0, p, "bernoulli", CPU)
    assert abs((fake == 1).float().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_floor_rounding_flips_int_batch_times_p():
    assert stabilizers.flip_mask(64, 0.05, "floor", CPU).sum() == 3
    assert stabilizers.flip_mask(64, 0.01, "floor", CPU).sum() == 0  # the published code's 1%
    assert stabilizers.flip_mask(64, 0.0, "bernoulli", CPU).sum() == 0


def test_one_sided_smoothing_touches_only_real_targets():
    real = stabilizers.discriminator_targets(10, True, 0.1, 0.0, "bernoulli", CPU)
    fake = stabilizers.discriminator_targets(10, False, 0.1, 0.0, "bernoulli", CPU)
    torch.testing.assert_close(real, torch.full((10,), 0.9))
    torch.testing.assert_close(fake, torch.zeros(10))


def test_instance_noise_std_and_annealing():
    assert stabilizers.instance_noise_std(0.5, 100, 0) == 0.5
    assert stabilizers.instance_noise_std(0.5, 100, 50) == 0.25
    assert stabilizers.instance_noise_std(0.5, 100, 150) == 0.0
    assert stabilizers.instance_noise_std(0.5, 0, 10_000) == 0.5
    torch.manual_seed(0)
    x = torch.zeros(100_000)
    torch.testing.assert_close(stabilizers.add_instance_noise(x, 0.3).std().item(), 0.3, rtol=0.02, atol=0)


def test_instance_noise_reaches_the_discriminator():
    seen = []

    class Spy(Critic):
        def forward(self, x):
            seen.append(x.clone())
            return x.flatten(1).sum(1)

    objective = Objective(ObjectiveConfig(instance_noise_std=1.0))
    real = torch.zeros(1000, 2)
    objective.discriminator_loss(Spy(), real, real.clone(), step=0)
    assert all(0.9 < s.std().item() < 1.1 for s in seen)


def test_minibatch_stddev_appends_the_group_std():
    layer = MinibatchStdDev(group_size=4)
    x = torch.randn(8, 3, 5, 5)
    out = layer(x)
    assert out.shape == (8, 4, 5, 5)
    groups = x.reshape(4, 2, 3, 5, 5)
    expected = groups.var(0, unbiased=False).add(1e-8).sqrt().reshape(2, -1).mean(1)
    torch.testing.assert_close(out[0, 3, 0, 0], expected[0])
    torch.testing.assert_close(out[1, 3, 2, 2], expected[1])
    same = layer(torch.ones(8, 3, 5, 5))
    torch.testing.assert_close(same[:, 3], torch.full((8, 5, 5), 1e-4))


def test_minibatch_discrimination_sees_duplicates():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, kernels=10, kernel_dim=3)
    duplicates = layer(torch.ones(5, 6))
    assert duplicates.shape == (5, 16)
    torch.testing.assert_close(duplicates[:, 6:], torch.full((5, 10), 4.0))  # N - 1 identical peers
    spread = layer(torch.eye(5, 6) * 1000)  # far apart under any projection
    assert spread[:, 6:].max() < 0.01


def test_packing_changes_what_d_sees():
    generator, discriminator = build_models(
        ModelConfig(latent_dim=4, g_width=4, d_width=4, pack=3), (1, 28, 28)
    )
    first_conv = next(m for m in discriminator.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == 3
    x = torch.randn(6, 1, 28, 28)
    assert discriminator(x).shape == (2,)
    torch.testing.assert_close(
        pack_samples(x, 3),
        torch.cat([x[0:3].transpose(0, 1), x[3:6].transpose(0, 1)]).squeeze(1).reshape(2, 3, 28, 28),
    )
    # one output per pack: changing a sample of pack 0 leaves pack 1's verdict alone
    discriminator.eval()
    before = discriminator(x)
    x2 = x.clone()
    x2[1] += 1
    after = discriminator(x2)
    assert not torch.isclose(before[0], after[0]) and torch.isclose(before[1], after[1])


def test_packing_mlp_input_dimension():
    _, discriminator = build_models(ModelConfig(family="mlp", latent_dim=2, pack=4, d_width=8), (2,))
    assert discriminator.features[0].in_features == 8
    assert discriminator(torch.randn(8, 2)).shape == (2,)


def test_spectral_norm_keeps_top_singular_value_near_one():
    torch.manual_seed(0)
    config = ModelConfig(latent_dim=4, g_width=4, d_width=8, spectral_norm=True)
    _, discriminator = build_models(config, (1, 28, 28))
    for _ in range(30):  # power iterations run in training-mode forward passes
        discriminator(torch.randn(4, 1, 28, 28))
    for layer in discriminator.modules():
        if isinstance(layer, nn.Conv2d):
            sigma = torch.linalg.matrix_norm(layer.weight.reshape(layer.weight.shape[0], -1), ord=2)
            torch.testing.assert_close(sigma.item(), 1.0, rtol=0.05, atol=0)


def test_without_spectral_norm_singular_values_differ_from_one():
    _, discriminator = build_models(ModelConfig(d_width=8), (1, 28, 28))
    conv = next(m for m in discriminator.modules() if isinstance(m, nn.Conv2d))
    sigma = torch.linalg.matrix_norm(conv.weight.reshape(conv.weight.shape[0], -1), ord=2)
    assert abs(sigma.item() - 1.0) > 0.3


def test_mode_seeking_penalty():
    z = torch.zeros(4, 2)
    z[2:] = 1.0  # |z1 - z2| = 1
    fake = torch.zeros(4, 3)
    fake[2:] = 2.0  # |G1 - G2| = 2
    torch.testing.assert_close(stabilizers.mode_seeking_penalty(z, fake), torch.tensor(1 / (2 + 1e-5)))
    collapsed = stabilizers.mode_seeking_penalty(z, torch.zeros(4, 3))
    assert collapsed > 1e4  # identical outputs for different z are punished hard


def test_mode_seeking_adds_to_generator_loss():
    class Flat(Critic):
        def forward(self, x):
            return x.flatten(1).mean(1)

    z, fake = torch.randn(8, 2), torch.randn(8, 3)
    plain, _ = Objective(ObjectiveConfig()).generator_loss(Flat(), z, fake, 0)
    seeking, stats = Objective(ObjectiveConfig(mode_seeking_weight=2.0)).generator_loss(Flat(), z, fake, 0)
    torch.testing.assert_close(stats["g_loss"], seeking.detach())
    torch.testing.assert_close(seeking - plain, 2.0 * stabilizers.mode_seeking_penalty(z, fake))


def test_history_buffer_fills_then_mixes_old_fakes():
    torch.manual_seed(0)
    buffer = stabilizers.HistoryBuffer(capacity=100, swap_probability=0.5)
    first = torch.zeros(100, 1)
    torch.testing.assert_close(buffer.push_and_sample(first), first)  # filling: passed through
    assert buffer.filled == 100
    mixed = buffer.push_and_sample(torch.ones(4000, 1))
    old_fraction = (mixed == 0).float().mean().item()
    assert abs(old_fraction - 0.5) < 0.04  # each fake swapped for a stored one with p = 0.5
    assert (buffer.images == 1).any()  # new fakes took the swapped slots
    later = buffer.push_and_sample(torch.full((4000, 1), 2.0))
    assert (later == 1).float().mean() > 0.3  # the previous batch's fakes now come back


def test_history_buffer_state_round_trip():
    buffer = stabilizers.HistoryBuffer(8)
    buffer.push_and_sample(torch.arange(5.0).reshape(5, 1))
    copy = stabilizers.HistoryBuffer(8)
    copy.load_state_tensors(buffer.state_tensors(), CPU)
    assert copy.filled == 5
    torch.testing.assert_close(copy.images[:5], buffer.images[:5])


def test_unrolled_d_looks_ahead_then_restores():
    torch.manual_seed(0)
    d = nn.Linear(2, 1)
    optimizer = torch.optim.Adam(d.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in d.state_dict().items()}

    def d_step():
        optimizer.zero_grad()
        d(torch.randn(16, 2)).pow(2).mean().backward()
        optimizer.step()

    with stabilizers.unrolled_discriminator(d, optimizer, 3, d_step):
        inside = {k: v.clone() for k, v in d.state_dict().items()}
    assert not torch.equal(inside["weight"], before["weight"])
    for key, value in d.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert optimizer.state_dict()["state"] == {}  # optimizer restored to before too


def test_r1_switch_adds_the_penalty():
    class Lin(Critic):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor([3.0, 4.0]))

        def forward(self, x):
            return x @ self.w

    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    plain, _ = Objective(ObjectiveConfig()).discriminator_loss(Lin(), real, fake, 0)
    with_r1, _ = Objective(ObjectiveConfig(r1_gamma=2.0)).discriminator_loss(Lin(), real, fake, 0)
    torch.testing.assert_close(with_r1 - plain, torch.tensor(0.5 * 2.0 * 25.0))


def test_patch_scores_share_their_image_target():

    class Patches(Critic):  # a PatchGAN-shaped D: one score per 2x2 patch, always 0.3
        def forward(self, x):
            return torch.full((x.shape[0], 1, 2, 2), 0.3)

    objective = Objective(ObjectiveConfig(loss="lsgan", label_smoothing=0.2))
    loss, _ = objective.discriminator_loss(Patches(), torch.zeros(4, 1, 8, 8), torch.zeros(4, 1, 8, 8), 0)
    expected = 0.5 * (0.3 - 0.8) ** 2 + 0.5 * 0.3**2  # smoothed real target 0.8, fake 0
    torch.testing.assert_close(loss, torch.tensor(expected))


def test_r2_switch_penalizes_the_gradient_on_fakes_only():
    class Lin(Critic):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor([3.0, 4.0]))

        def forward(self, x):
            return x @ self.w

    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    rpgan = {"loss": "rpgan"}
    plain, _ = Objective(ObjectiveConfig(**rpgan)).discriminator_loss(Lin(), real, fake, 0)
    r2, _ = Objective(ObjectiveConfig(**rpgan, r2_gamma=2.0)).discriminator_loss(Lin(), real, fake, 0)
    both, _ = Objective(ObjectiveConfig(**rpgan, r1_gamma=2.0, r2_gamma=2.0)).discriminator_loss(
        Lin(), real, fake, 0
    )
    torch.testing.assert_close(r2 - plain, torch.tensor(0.5 * 2.0 * 25.0))
    torch.testing.assert_close(both - plain, torch.tensor(2 * 0.5 * 2.0 * 25.0))


def test_relativistic_generator_loss_needs_and_uses_the_real_batch():
    class Lin(Critic):
        def forward(self, x):
            return x.sum(1)

    objective = Objective(ObjectiveConfig(loss="rpgan"))
    fake, real = torch.zeros(4, 2), torch.ones(4, 2)
    loss, _ = objective.generator_loss(Lin(), torch.zeros(4, 3), fake, 0, real=real)
    torch.testing.assert_close(loss, torch.tensor(math.log1p(math.exp(2.0))))
    with pytest.raises(AssertionError, match="needs the real batch"):
        objective.generator_loss(Lin(), torch.zeros(4, 3), fake, 0)
