"""The CycleGAN training loop (Zhu et al. 2017), read top to bottom like training/loop.py.

Per step, as in the reference code: the generators G_AB and G_BA take one joint update on the
CycleGAN objective (objectives/cycle.py: adversarial + cycle + identity), then D_A and D_B
take one joint update on real images and fakes drawn through each one's history pool
(objective.history_buffer_size; 50 in the reference). The learning rates stay constant, then
decay linearly to zero over the last `train.lr_decay_epochs` epochs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modecollapse.config import Config
from modecollapse.data import load_dataset
from modecollapse.data.translation import TranslationData
from modecollapse.errors import ConfigError
from modecollapse.images import GREY, make_grid, save_grid
from modecollapse.metrics.evaluators import translation_evaluator
from modecollapse.models import build_cyclegan
from modecollapse.models.average import GeneratorAverage
from modecollapse.objectives.cycle import CycleObjective, GeometryConsistency, SemanticConsistency
from modecollapse.objectives.patchnce import PatchNCE
from modecollapse.training.batches import EpochOrder
from modecollapse.training.run import Callback, Run, TrainerParts, grad_norm

MODULES = ("g_ab", "g_ba", "d_a", "d_b")


def lr_factor(epoch: int, epochs: int, decay_epochs: int) -> float:
    """The reference's 'linear' policy: 1 for epochs - decay_epochs epochs, then down towards 0."""
    if decay_epochs <= 0:
        return 1.0
    return 1.0 - max(0, epoch + 1 - (epochs - decay_epochs)) / (decay_epochs + 1)


def train_cyclegan(
    config: Config,
    run_dir: str | Path,
    resume: bool = False,
    allow_config_change: bool = False,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train a CycleGAN as `config` says, writing everything into `run_dir`; return the summary.
    One function on purpose (over 60 lines): the translator's step reads top to bottom, as the
    GAN step does in loop.py."""
    run = Run(config, run_dir, resume, allow_config_change, callbacks)
    cfg, speed = config.train, run.speed
    device, autocast = speed.device, speed.autocast

    # --- data, models, optimizers, objective ---
    data = load_dataset(config.data, device)
    assert isinstance(data, TranslationData)
    nets = dict(zip(MODULES, build_cyclegan(config.model, data.sample_shape), strict=True))
    if config.objective.geometry_weight:  # GcGAN: a second D per domain, for flipped images
        nets["d_gc_a"], nets["d_gc_b"] = build_cyclegan(config.model, data.sample_shape)[2:]
    nets = {name: speed.prepare(net) for name, net in nets.items()}
    g_ab, g_ba, d_a, d_b = (nets[name] for name in MODULES)
    if config.objective.nce_weight:  # CUT: one projection head set per generator, trained with G
        channels, size = data.sample_shape[0], data.sample_shape[-1]
        nets["nce_ab"], nets["nce_ba"] = (PatchNCE(g, channels, size).to(device) for g in (g_ab, g_ba))
    discriminators = [net for name, net in nets.items() if name.startswith("d_")]
    trained_with_g = [net for name, net in nets.items() if not name.startswith("d_")]
    decay = config.model.g_ema_decay if config.model.g_ema else None
    averages = [GeneratorAverage(g, decay, f"{name}_ema") for g, name in ((g_ab, "g_ab"), (g_ba, "g_ba"))]
    eval_ab, eval_ba = (average.evaluated for average in averages)  # G, or its moving average
    betas = (cfg.beta1, cfg.beta2)
    g_optimizer = speed.adam([p for net in trained_with_g for p in net.parameters()], cfg.lr_g, betas)
    d_optimizer = speed.adam([p for net in discriminators for p in net.parameters()], cfg.lr_d, betas)
    geometry = None
    if config.objective.geometry_weight:
        geometry = GeometryConsistency(config.objective, nets["d_gc_a"], nets["d_gc_b"])
    contrastive = (nets["nce_ab"], nets["nce_ba"]) if config.objective.nce_weight else None
    objective = CycleObjective(config.objective, _semantic(config, data), geometry, contrastive)
    evaluator = translation_evaluator(data, min(cfg.eval_samples, len(data.a), len(data.b)))
    batch_size = cfg.batch_size
    fixed = torch.randperm(len(data.a), generator=torch.Generator().manual_seed(cfg.seed + 1))
    fixed_a = data.a.batch(fixed[: min(cfg.num_sample_images, 32)].to(device))

    steps_per_epoch = min(len(data.a), len(data.b)) // batch_size
    if steps_per_epoch < 1:
        raise ConfigError(f"{data.name} has too few images for one batch of {batch_size}")
    total_steps = cfg.total_steps(steps_per_epoch)

    def evaluate(epoch: int | float) -> dict[str, Any]:
        for net in (*nets.values(), eval_ab, eval_ba):
            net.eval()
        return evaluator(eval_ab, eval_ba, epoch)

    run.start(
        TrainerParts(
            modules={**nets, **averages[0].modules(), **averages[1].modules()},
            optimizers={"g_optimizer": g_optimizer, "d_optimizer": d_optimizer},
            save_samples=lambda step: _save_translations(eval_ab, eval_ba, fixed_a, run, step),
            evaluate=evaluate,
            state_tensors=objective.state_tensors,
            load_state=lambda tensors, state: objective.load_state_tensors(tensors, device),
        ),
        steps_per_epoch,
        total_steps,
        {"dataset": {"name": data.name, "size": [len(data.a), len(data.b)], "source": data.source}},
    )

    # unpaired batches: A and B each in their own per-epoch order (resumable)
    order_a = EpochOrder(cfg.seed, len(data.a), device, stream=0, streams=2)
    order_b = EpochOrder(cfg.seed, len(data.b), device, stream=1, streams=2)

    with run.running():
        while run.step < total_steps and not run.stopped:
            epoch, position = divmod(run.step, steps_per_epoch)
            factor = lr_factor(epoch, cfg.epochs, cfg.lr_decay_epochs)
            for optimizer, base in ((g_optimizer, cfg.lr_g), (d_optimizer, cfg.lr_d)):
                for group in optimizer.param_groups:
                    group["lr"] = base * factor
            for net in nets.values():
                net.train()
            real_a = data.a.batch(order_a.batch(epoch, position, batch_size))
            real_b = data.b.batch(order_b.batch(epoch, position, batch_size))

            # --- generators: adversarial + cycle + identity, one joint update ---
            for net in discriminators:
                net.requires_grad_(False)
            with autocast():
                g_loss, g_stats, (fake_a, fake_b) = objective.generator_loss(
                    g_ab, g_ba, d_a, d_b, real_a, real_b, run.step
                )
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_grad_norm = grad_norm(g_ab) + grad_norm(g_ba)
            g_optimizer.step()
            for average in averages:
                average.update()
            for net in discriminators:
                net.requires_grad_(True)

            # --- discriminators: real vs pooled fakes, one joint update ---
            with autocast():
                d_loss, d_stats = objective.discriminator_loss(
                    d_a, d_b, real_a, real_b, fake_a, fake_b, run.step
                )
            d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            d_grad_norm = sum(grad_norm(net) for net in discriminators)
            d_optimizer.step()

            # --- the run skeleton logs (these numbers, in this order), samples, evaluates, checkpoints ---
            run.after_step(
                {"d_loss": d_stats.pop("d_loss"), **g_stats, **d_stats,
                 "d_grad_norm": d_grad_norm, "g_grad_norm": g_grad_norm}
            )  # fmt: skip

    return run.finish(batch_size)  # images_per_second counts A/B pairs, the reference's batch unit


def _semantic(config: Config, data: TranslationData) -> SemanticConsistency | None:
    """CyCADA's semantic term with the shipped guide classifier (objective.semantic_weight)."""
    if not config.objective.semantic_weight:
        return None
    from modecollapse.models.classifier import load_classifier

    classifier = load_classifier("guide-mnist").model.to(data.a.data.device)
    return SemanticConsistency(classifier, data.a_layout, data.b_layout, data.sample_shape[-1])


@torch.no_grad()
def _save_translations(g_ab: nn.Module, g_ba: nn.Module, inputs: torch.Tensor, run: Run, step: int) -> None:
    """Rows of (input A, G_AB(A), G_BA(G_AB(A))): input left, translation right."""
    g_ab.eval()
    g_ba.eval()
    translated = g_ab(inputs).float()
    cycled = g_ba(translated).float()
    g_ab.train()
    g_ba.train()
    rows = torch.stack([inputs.float(), translated, cycled], dim=1).flatten(0, 1)
    save_grid(rows, run.folder.samples / f"step-{step:08d}.png", columns=6, pad_value=GREY)
    run.log.image("translations", make_grid(rows, 6, pad_value=GREY), step)
