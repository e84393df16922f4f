"""The GAN training loop: one function, read top to bottom, from config to optimizer.step().

Per step: the discriminator takes `d_steps` updates on real batches (in a fixed per-epoch
order) and fresh fakes, then the generator takes `g_steps` updates on the same z (against a
look-ahead copy of D when unrolling is on). Every `log_every` steps the per-step numbers go
to metrics.jsonl and TensorBoard, and are checked for NaN/Inf; samples and checkpoints follow
their own clocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from modecollapse.config import Config
from modecollapse.data import Dataset, load_dataset
from modecollapse.errors import ConfigError
from modecollapse.images import make_grid, save_grid, save_scatter
from modecollapse.metrics.detector import CollapseTracker, Rules
from modecollapse.metrics.evaluators import Evaluator, default_evaluator
from modecollapse.metrics.features import classifier_for, load_classifier
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES
from modecollapse.models import build_models
from modecollapse.models.guided import LatentSampler
from modecollapse.objectives import Objective, guided
from modecollapse.objectives.guided import GuideTerm
from modecollapse.speed import SpeedPlan
from modecollapse.training import bookkeeping as books
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.logging import MetricsLog, RunFolder

STEP_FIELDS = ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm")
GUIDE_FIELDS = ("guide_class_loss", "guide_stats_loss")
Callback = Callable[[int, dict[str, Any]], None]


def train(
    config: Config,
    run_dir: str | Path,
    resume: bool = False,
    allow_config_change: bool = False,
    evaluator: Evaluator | None = None,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train a GAN as `config` says, writing everything into `run_dir`; return the summary.

    CycleGAN configs (model.family = 'cyclegan') go to training/cyclegan.py.
    """
    if config.model.family == "cyclegan":
        from modecollapse.training.cyclegan import train_cyclegan

        if evaluator is not None or callbacks:
            raise ValueError("evaluator and callbacks are not supported for cyclegan runs")
        return train_cyclegan(config, run_dir, resume, allow_config_change)
    run = RunFolder(run_dir)
    checkpoint = books.checkpoint_to_resume(run, config, resume, allow_config_change)
    cfg = config.train
    speed = books.prepare_torch(config)
    device, autocast = speed.device, speed.autocast

    # --- data, models, optimizers, objective ---
    dataset = load_dataset(config.data, device)
    sampler = LatentSampler(config.model, dataset.num_classes)
    generator, discriminator = (
        speed.prepare(m) for m in build_models(config.model, dataset.sample_shape, dataset.num_classes)
    )
    betas = (cfg.beta1, cfg.beta2)
    g_optimizer = speed.adam(generator.parameters(), cfg.lr_g, betas)
    d_optimizer = speed.adam(discriminator.parameters(), cfg.lr_d, betas)
    guide = _guide_term(config, dataset, generator, speed) if config.model.conditioning == "guided" else None
    objective = Objective(config.objective, guide)
    fields = STEP_FIELDS + (GUIDE_FIELDS if guide else ())
    evaluator = evaluator or default_evaluator(dataset, device, cfg.eval_samples, sampler)
    tracker = CollapseTracker(Rules(**config.detector.model_dump()))
    batch_size = cfg.batch_size
    num_fixed = cfg.num_sample_images if dataset.kind == "image" else PROTOCOL_SAMPLES
    if sampler.conditional:  # one grid row per class
        num_fixed = max(num_fixed // sampler.num_classes, 1) * sampler.num_classes
    fixed_latent, _ = sampler.fixed(num_fixed, cfg.seed + 1, device, rows=True)

    batches_per_epoch = len(dataset) // batch_size
    steps_per_epoch = batches_per_epoch // cfg.d_steps
    if steps_per_epoch < 1:
        raise ConfigError(
            f"{dataset.name} has {len(dataset)} samples: too few for one step of "
            f"{cfg.d_steps} x batch {batch_size}; lower train.batch_size or train.d_steps"
        )
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)

    step, real_batches_used = 0, 0
    if checkpoint is not None:
        tensors, state = ckpt.load_checkpoint(checkpoint)
        ckpt.load_module("generator", generator, tensors)
        ckpt.load_module("discriminator", discriminator, tensors)
        ckpt.optimizer_from_flat("g_optimizer", g_optimizer, tensors, state["g_optimizer"])
        ckpt.optimizer_from_flat("d_optimizer", d_optimizer, tensors, state["d_optimizer"])
        objective.load_state_tensors(tensors, device)
        ckpt.restore_rng(tensors)
        step, real_batches_used = state["step"], state["real_batches_used"]
    facts = {
        "device": str(device),
        "speed": speed.record(),
        "total_steps": total_steps,
        "steps_per_epoch": steps_per_epoch,
        "dataset": {"name": dataset.name, "size": len(dataset), "source": dataset.source},
    }
    log, summary = books.start_run(run, config, step, checkpoint is None, tracker, facts)

    orders = books.EpochOrder(cfg.seed, len(dataset), device)

    def next_real_batch() -> tuple[torch.Tensor, torch.Tensor]:
        """(images, labels) in a per-epoch order that depends only on (seed, epoch): resumable."""
        nonlocal real_batches_used
        epoch, position = divmod(real_batches_used, batches_per_epoch)
        real_batches_used += 1
        index = orders.batch(epoch, position, batch_size)
        return dataset.batch(index), dataset.labels[index]

    def random_real_batch() -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(len(dataset), (batch_size,), device=device)
        return dataset.batch(index), dataset.labels[index]

    def discriminator_step(
        real: tuple[torch.Tensor, torch.Tensor],
        fake: torch.Tensor | None = None,
        fake_labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        if fake is None:
            z, fake_labels = sampler.sample(batch_size, device)
            with torch.no_grad(), autocast():
                fake = generator(z)
        with autocast():
            d_loss, stats = objective.discriminator_loss(
                discriminator, real[0], fake, step, real[1], fake_labels
            )
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        stats["d_grad_norm"] = books.grad_norm(discriminator)
        d_optimizer.step()
        return {"d_loss": d_loss.detach(), **stats}

    pending: list[torch.Tensor] = []
    last_flushed: dict[str, float] = {}
    clock = books.RunClock(step, summary.get("time_s") if checkpoint is not None else None)
    bar = tqdm(total=total_steps, initial=step, disable=not cfg.progress, unit="step", dynamic_ncols=True)
    with books.running(run, summary, bar, log, clock):
        while step < total_steps:
            generator.train()
            discriminator.train()
            # --- discriminator (its last step sees the fakes that the G step reuses) ---
            for _ in range(cfg.d_steps - 1):
                discriminator_step(next_real_batch())
            z, labels = sampler.sample(batch_size, device)
            with autocast():
                fake = generator(z)
            real = next_real_batch()
            d_stats = discriminator_step(real, fake, labels)

            # --- generator: g_steps updates on the same z (against a look-ahead D when unrolling) ---
            for g_step in range(cfg.g_steps):
                if g_step:
                    with autocast():
                        fake = generator(z)
                with objective.unrolled(
                    discriminator, d_optimizer, lambda: discriminator_step(random_real_batch())
                ):
                    with autocast():
                        g_loss = objective.generator_loss(discriminator, z, fake, step, labels, real[0])
                    g_optimizer.zero_grad(set_to_none=True)
                    g_loss.backward()
                    g_grad_norm = books.grad_norm(generator)
                    g_optimizer.step()
            step += 1
            clock.stepped(step)  # throughput leaves out the warm-up step
            pending.append(
                torch.stack(
                    [
                        d_stats["d_loss"],
                        g_loss.detach().float(),
                        d_stats["d_real"],
                        d_stats["d_fake"],
                        d_stats["d_grad_norm"],
                        g_grad_norm,
                        *(objective.guide_stats[name].float() for name in GUIDE_FIELDS if guide),
                    ]
                ).float()
            )

            # --- bookkeeping: logs (NaN check), samples, evaluation, checkpoints ---
            is_last = step == total_steps
            if step % cfg.log_every == 0 or is_last or step % cfg.checkpoint_every == 0:
                with clock.section("logging"):
                    last_flushed = books.flush(pending, step, steps_per_epoch, log, bar, run, summary, fields)
            if step % cfg.sample_every == 0 or is_last:
                with clock.section("samples_checkpoints"):
                    _save_samples(
                        generator,
                        fixed_latent,
                        dataset,
                        run,
                        log,
                        step,
                        sampler.num_classes if sampler.conditional else None,
                    )
            if evaluator is not None and books.evaluates_at(cfg, step, steps_per_epoch, is_last):
                with clock.section("evaluation"):
                    record = _evaluate(evaluator, generator, step, steps_per_epoch, log)
                    books.record_evaluation(record, tracker, bar, summary)
            if step % cfg.checkpoint_every == 0 or is_last:
                with clock.section("samples_checkpoints"):
                    books.save_run_checkpoint(
                        run,
                        config,
                        step,
                        steps_per_epoch,
                        {"generator": generator, "discriminator": discriminator},
                        {"g_optimizer": g_optimizer, "d_optimizer": d_optimizer},
                        summary,
                        clock,
                        tensors=objective.state_tensors(),
                        state={"real_batches_used": real_batches_used},
                    )
            for callback in callbacks:
                callback(step, {"generator": generator, "discriminator": discriminator})

    return books.finish_run(
        run, summary, clock, step, steps_per_epoch, batch_size * cfg.d_steps, last_flushed
    )


@torch.no_grad()
def _save_samples(
    generator: nn.Module,
    latent: torch.Tensor,
    dataset: Dataset,
    run: RunFolder,
    log: MetricsLog,
    step: int,
    rows: int | None = None,
) -> None:
    """A sample grid (one row per class when `rows` classes are given) or a scatter of points."""
    generator.eval()
    samples = generator(latent).float()
    generator.train()
    path = run.samples / f"step-{step:08d}.png"
    columns = len(samples) // rows if rows else None
    if dataset.kind == "points":
        save_scatter(samples, path, dataset.mode_means, title=f"step {step}")
    else:
        save_grid(samples, path, columns)
        log.image("samples", make_grid(samples, columns), step)


def _guide_term(config: Config, dataset: Dataset, generator: nn.Module, speed: SpeedPlan) -> GuideTerm:
    """The guide classifier (frozen) and real per-class statistics of its features."""
    obj = config.objective
    device = speed.device
    if obj.guide_classifier == classifier_for(dataset.name):
        raise ConfigError(
            f"objective.guide_classifier = '{obj.guide_classifier}' is the evaluation classifier; "
            "a GAN must not be graded by the network it trained against (use 'guide-mnist')"
        )
    guide = guided.frozen(load_classifier(obj.guide_classifier), device)
    speed.prepare(guide.model)
    if guide.card.get("dataset") != classifier_for(dataset.name):
        raise ConfigError(
            f"the guide '{obj.guide_classifier}' was trained on {guide.card.get('dataset')}, but the data "
            f"is {dataset.name}; train a guide for it (see training/classifier.py RECIPES)"
        )
    batches = (dataset.batch(i) for i in torch.arange(len(dataset), device=device).split(1000))
    means, variances = guided.real_class_statistics(guide, batches, dataset.labels, dataset.num_classes)
    return GuideTerm(
        guide,
        means,
        variances,
        obj.guide_class_weight,
        obj.guide_variance_weight,
        obj.guide_match_means,
        as_published=config.model.guided_variant == "as_published",
        warmup_steps=obj.guide_warmup_steps,
        start_step=obj.guide_start_step,
        balance_on=guided.last_weight(generator) if obj.guide_balance else None,
    )


def _evaluate(
    evaluator: Evaluator, generator: nn.Module, step: int, steps_per_epoch: int, log: MetricsLog
) -> dict[str, Any]:
    generator.eval()
    epoch = books.epoch_of(step, steps_per_epoch)
    record = {"type": "eval", "step": step, "epoch": epoch, **evaluator(generator, epoch)}
    generator.train()
    log.write([record])
    return record
