"""The GAN training loop: one function, read top to bottom, from config to optimizer.step().

Per step: the discriminator takes `d_steps` updates on real batches (in a fixed per-epoch
order) and fresh fakes, then the generator takes `g_steps` updates on the same z, each against
the objective's view of D. The objective (objectives/) owns every switch; the run skeleton
(training/run.py) owns logs, samples, evaluation, checkpoints and resume.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modecollapse.config import Config
from modecollapse.data import Dataset, load_dataset
from modecollapse.errors import ConfigError
from modecollapse.files import exclusive_lock
from modecollapse.images import make_grid, save_grid, save_scatter
from modecollapse.metrics.evaluators import Evaluator, default_evaluator
from modecollapse.metrics.mixtures import PROTOCOL_SAMPLES
from modecollapse.models import build_models
from modecollapse.models.average import GeneratorAverage
from modecollapse.models.latent import LatentSampler
from modecollapse.objectives import build_objective
from modecollapse.runfolder import RunFolder
from modecollapse.speed import grading_pinned
from modecollapse.training.batches import RealBatches
from modecollapse.training.run import Callback, Run, TrainerParts, grad_norm


def train(
    config: Config,
    run_dir: str | Path,
    resume: bool = False,
    allow_config_change: bool = False,
    evaluator: Evaluator | None = None,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train a GAN as `config` says, writing everything into `run_dir`; return the summary.

    CycleGAN configs (model.family = 'cyclegan') go to training/cyclegan.py. One process at a
    time: a second one on the same folder is refused while the first is alive (run.lock). The
    run grades as train.grading_precision says, and the process as before once it returns.
    """
    pinned = config.train.grading_precision
    if evaluator is not None and pinned != "auto":
        raise ConfigError(
            f"train.grading_precision = '{pinned}' applies to the evaluators this trainer builds, not to "
            "one passed in (it scored its real data when it was built); leave it 'auto', and build the "
            f"evaluator and call train() inside `with modecollapse.speed.grading_pinned('{pinned}'):`"
        )
    folder = RunFolder(run_dir)
    fresh = not folder.path.exists()
    try:
        with exclusive_lock(folder.lock, f"run folder {run_dir}"), grading_pinned(pinned):
            return _train(config, run_dir, resume, allow_config_change, evaluator, callbacks)
    except Exception:
        if fresh and [p.name for p in folder.path.iterdir()] == [folder.lock.name]:
            shutil.rmtree(folder.path, ignore_errors=True)  # refused before it began: leave no folder
        raise


def _train(
    config: Config,
    run_dir: str | Path,
    resume: bool,
    allow_config_change: bool,
    evaluator: Evaluator | None,
    callbacks: Sequence[Callback],
) -> dict[str, Any]:
    """The GAN trainer, set-up then steps. One function on purpose (over 60 lines): a reader follows
    one step from the data to `optimizer.step()` top to bottom, as in nanoGPT, without jumping."""
    if config.model.family == "cyclegan":
        from modecollapse.training.cyclegan import train_cyclegan

        if evaluator is not None:
            raise ValueError("an evaluator is not supported for cyclegan runs")
        return train_cyclegan(config, run_dir, resume, allow_config_change, callbacks)
    run = Run(config, run_dir, resume, allow_config_change, callbacks)
    cfg, speed = config.train, run.speed
    device, autocast = speed.device, speed.autocast

    # --- data, models, optimizers, objective ---
    dataset = load_dataset(config.data, device)
    sampler = LatentSampler(config.model, dataset.num_classes)
    generator, discriminator = (
        speed.prepare(m) for m in build_models(config.model, dataset.sample_shape, dataset.num_classes)
    )
    average = GeneratorAverage(generator, config.model.g_ema_decay if config.model.g_ema else None)
    betas = (cfg.beta1, cfg.beta2)
    g_optimizer = speed.adam(generator.parameters(), cfg.lr_g, betas)
    d_optimizer = speed.adam(discriminator.parameters(), cfg.lr_d, betas)
    objective = build_objective(config, dataset, generator, speed)
    full_evaluator = None
    if evaluator is None and cfg.full_eval_samples and cfg.full_eval_steps:
        full_evaluator = default_evaluator(
            dataset, device, cfg.full_eval_samples, sampler, config.data.data_dir
        )
    evaluator = evaluator or default_evaluator(
        dataset, device, cfg.eval_samples, sampler, config.data.data_dir
    )
    batch_size = cfg.batch_size
    real_batches = RealBatches(dataset, cfg.seed, batch_size, device)
    steps_per_epoch = real_batches.per_epoch // cfg.d_steps
    if steps_per_epoch < 1:
        raise ConfigError(
            f"{dataset.name} has {len(dataset)} samples: too few for one step of "
            f"{cfg.d_steps} x batch {batch_size}; lower train.batch_size or train.d_steps"
        )
    total_steps = cfg.total_steps(steps_per_epoch)

    num_fixed = cfg.num_sample_images if dataset.kind == "image" else PROTOCOL_SAMPLES
    if sampler.conditional:  # one grid row per class
        num_fixed = max(num_fixed // sampler.num_classes, 1) * sampler.num_classes
    fixed_latent, _ = sampler.fixed(num_fixed, cfg.seed + 1, device, rows=True)

    def evaluate(epoch: int | float) -> dict[str, Any]:
        evaluated = average.evaluated  # G, or its moving average (model.g_ema)
        training = evaluated.training
        evaluated.eval()
        full = full_evaluator is not None and run.step in cfg.full_eval_steps
        scores = (full_evaluator if full else evaluator)(evaluated, epoch)
        evaluated.train(training)
        return scores

    def load_state(tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        objective.load_state_tensors(tensors, device)
        real_batches.used = state["real_batches_used"]

    run.start(
        TrainerParts(
            modules={"generator": generator, "discriminator": discriminator, **average.modules()},
            optimizers={"g_optimizer": g_optimizer, "d_optimizer": d_optimizer},
            save_samples=lambda step: _save_samples(
                average.evaluated, fixed_latent, dataset, run, step, sampler
            ),
            evaluate=evaluate if evaluator is not None else None,
            state_tensors=objective.state_tensors,
            state=lambda: {"real_batches_used": real_batches.used},
            load_state=load_state,
        ),
        steps_per_epoch,
        total_steps,
        {"dataset": {"name": dataset.name, "size": len(dataset), "source": dataset.source}},
    )

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
                discriminator, real[0], fake, run.step, real[1], fake_labels
            )
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        stats["d_grad_norm"] = grad_norm(discriminator)
        d_optimizer.step()
        return stats

    with run.running():
        while run.step < total_steps and not run.stopped:
            generator.train()
            discriminator.train()
            # --- discriminator (its last step sees the fakes that the G step reuses) ---
            for _ in range(cfg.d_steps - 1):
                discriminator_step(real_batches.next())
            z, labels = sampler.sample(batch_size, device)
            with autocast():
                fake = generator(z)
            real = real_batches.next()
            d_stats = discriminator_step(real, fake, labels)

            # --- generator: g_steps updates on the same z, each against the objective's view of D ---
            for g_step in range(cfg.g_steps):
                if g_step:
                    with autocast():
                        fake = generator(z)
                with objective.generator_view(
                    discriminator, d_optimizer, lambda: discriminator_step(real_batches.random())
                ):
                    with autocast():
                        g_loss, g_stats = objective.generator_loss(
                            discriminator, z, fake, run.step, labels, real[0]
                        )
                    g_optimizer.zero_grad(set_to_none=True)
                    g_loss.backward()
                    g_grad_norm = grad_norm(generator)
                    g_optimizer.step()
                    average.update()

            # --- the run skeleton logs (these numbers, in this order), samples, evaluates, checkpoints ---
            first = {"d_loss": d_stats["d_loss"], "g_loss": g_stats["g_loss"]}
            run.after_step({**first, **d_stats, "g_grad_norm": g_grad_norm, **g_stats})

    return run.finish(batch_size * cfg.d_steps)


@torch.no_grad()
def _save_samples(
    generator: nn.Module,
    latent: torch.Tensor,
    dataset: Dataset,
    run: Run,
    step: int,
    sampler: LatentSampler,
) -> None:
    """A sample grid (one row per class for conditional generators) or a scatter of points."""
    training = generator.training
    generator.eval()
    samples = generator(latent).float()
    generator.train(training)
    path = run.folder.samples / f"step-{step:08d}.png"
    columns = len(samples) // sampler.num_classes if sampler.conditional else None
    if dataset.kind == "points":
        save_scatter(samples, path, dataset.mode_means, title=f"step {step}")
    else:
        save_grid(samples, path, columns)
        run.log.image("samples", make_grid(samples, columns), step)
