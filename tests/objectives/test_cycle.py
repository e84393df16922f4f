import torch
import torch.nn.functional as F
from torch import nn

from modecollapse.config import ObjectiveConfig
from modecollapse.objectives.cycle import CycleObjective


class Half(nn.Module):
    """A 'translator' that halves its input, and a critic that scores 0.5 everywhere."""

    pack, conditioning = 1, None

    def forward(self, x):
        return 0.5 * x


class Flat(nn.Module):
    pack, conditioning = 1, None

    def forward(self, x):
        return torch.full((x.shape[0], 1, 2, 2), 0.5)


def test_generator_loss_is_adversarial_plus_weighted_cycle_and_identity():
    a, b = torch.ones(2, 1, 4, 4), -torch.ones(2, 1, 4, 4)
    objective = CycleObjective(ObjectiveConfig(loss="lsgan", cycle_weight=10.0, identity_weight=0.5))
    loss, stats, (fake_a, fake_b) = objective.generator_loss(Half(), Half(), Flat(), Flat(), a, b, 0)
    adversarial = 2.0 * 2 * 0.5 * (0.5 - 1) ** 2  # two domains, reference MSE = 2 x our 0.5 MSE
    cycle = F.l1_loss(0.25 * a, a) + F.l1_loss(0.25 * b, b)  # 0.75 + 0.75
    identity = F.l1_loss(0.5 * b, b) + F.l1_loss(0.5 * a, a)  # 0.5 + 0.5
    torch.testing.assert_close(loss, adversarial + 10 * cycle + 10 * 0.5 * identity)
    torch.testing.assert_close(stats["cycle_loss"], cycle)
    torch.testing.assert_close(fake_b, 0.5 * a)
    off = CycleObjective(ObjectiveConfig(loss="lsgan", identity_weight=0.0))
    _, stats_off, _ = off.generator_loss(Half(), Half(), Flat(), Flat(), a, b, 0)
    assert stats_off["identity_loss"].item() == 0


def test_each_domain_keeps_its_own_history_pool():
    objective = CycleObjective(ObjectiveConfig(loss="lsgan", history_buffer_size=4))
    a, b = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    objective.discriminator_loss(Flat(), Flat(), a, b, a + 1, b + 1, 0)
    state = objective.state_tensors()
    assert set(state) == {"pool_a.history_buffer", "pool_b.history_buffer"}
    assert state["pool_a.history_buffer"].eq(1).all() and state["pool_b.history_buffer"].eq(2).all()
    fresh = CycleObjective(ObjectiveConfig(loss="lsgan", history_buffer_size=4))
    fresh.load_state_tensors(state, torch.device("cpu"))
    assert fresh.state_tensors().keys() == state.keys()


def test_slot_crops_undo_the_placement_of_each_digit():
    from modecollapse.data import spatial
    from modecollapse.objectives.cycle import cut_digits, slot_crops

    digits = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    digits[0, 0, 6:22, 12:16] = 255  # a bar (a "1")
    digits[1, 0, 8:12, 6:22] = 255  # a flat bar
    for layout in (spatial.SPATIAL_ONE["a"], spatial.SPATIAL_ONE["b"]):
        canvases = spatial.render(digits, layout, 56).float() / 127.5 - 1
        back = cut_digits(canvases, slot_crops(layout, 56))
        original = digits.float() / 127.5 - 1
        # the rotated, scaled, placed digit comes back where it was drawn (resampling blurs edges)
        assert (back - original).abs().mean() < 0.1
        assert (back - original).abs().mean() < 0.3 * (back - original.flip(0)).abs().mean()


def test_semantic_consistency_is_low_for_kept_digits_and_high_for_swapped_ones():
    from modecollapse.config import DataConfig
    from modecollapse.data import load_dataset
    from modecollapse.models.classifier import load_classifier
    from modecollapse.objectives.cycle import SemanticConsistency

    data = load_dataset(DataConfig(name="spatial-one", num_samples=64))
    semantic = SemanticConsistency(load_classifier("guide-mnist").model, data.a_layout, data.b_layout, 56)
    real_a, real_b = data.a.batch(torch.arange(32)), data.b.batch(torch.arange(32))
    truth_b = data.held_out.truth  # the held-out A digits drawn in B's layout: a perfect translation
    held_a = data.held_out.a.batch(torch.arange(32))
    # the B -> A term is the same in both (real_a is no translation of real_b: a constant offset)
    kept = semantic(held_a, truth_b[:32].float() / 127.5 - 1, real_b, real_a)
    swapped = semantic(held_a, truth_b[32:64].float() / 127.5 - 1, real_b, real_a)
    assert swapped - kept > 3.0  # the guide reads the kept digits (>= 98 % right) and not the others


def test_patch_nce_prefers_the_patch_at_the_same_place():
    from modecollapse.objectives.patchnce import patch_nce

    keys = torch.nn.functional.normalize(torch.randn(2 * 16, 8), dim=1)
    same = patch_nce(keys, keys, images=2)  # each query is its own key: the positive wins
    shuffled = patch_nce(keys, keys[torch.randperm(32, generator=torch.Generator().manual_seed(0))], images=2)
    assert same < 1.0 < shuffled


def test_patch_nce_uses_the_reference_layers_of_our_resnet_generator():
    from modecollapse.models.cyclegan import resnet_generator
    from modecollapse.objectives.patchnce import PatchNCE, nce_layers

    g = resnet_generator(1, 1, 4, 6)
    assert nce_layers(g) == [0, 4, 7, 10, 14]  # CUT's 0, 4, 8, 12, 16 on our layout
    nce = PatchNCE(g, 1, 56)
    assert [head[0].in_features for head in nce.heads] == [1, 8, 16, 16, 16]
    x = torch.rand(2, 1, 56, 56) * 2 - 1
    loss = nce.loss(g, x, g(x))
    loss.backward()
    assert loss > 0 and all(p.grad is not None for p in nce.heads.parameters())
