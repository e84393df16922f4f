"""The CycleGAN training loop (Zhu et al. 2017), read top to bottom like training/loop.py.

Per step, as in the reference code: the generators G_AB and G_BA take one joint update
(adversarial + cycle_weight * L1 cycle + identity_weight * cycle_weight * L1 identity), then
D_A and D_B take one joint update on real images and fakes drawn through each one's history
pool (objective.history_buffer_size; 50 in the reference). Each D has its own `Objective`,
so every D switch of the foundation (flips, smoothing, instance noise, R1, GP, packing,
spectral norm, minibatch-stddev) applies to both. The learning rates stay constant, then
decay linearly to zero over the last `train.lr_decay_epochs` epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from modecollapse.config import Config
from modecollapse.data import load_dataset
from modecollapse.data.translation import TranslationData
from modecollapse.errors import ConfigError
from modecollapse.images import make_grid, save_grid
from modecollapse.metrics.detector import CollapseTracker, Rules
from modecollapse.metrics.evaluators import TranslationEvaluator, translation_evaluator
from modecollapse.models import build_cyclegan
from modecollapse.objectives import Objective
from modecollapse.training import bookkeeping as books
from modecollapse.training import checkpoint as ckpt
from modecollapse.training.logging import MetricsLog, RunFolder

STEP_FIELDS = (
    "d_loss",
    "g_loss",
    "g_adversarial",
    "cycle_loss",
    "identity_loss",
    "d_real",
    "d_fake",
    "d_grad_norm",
    "g_grad_norm",
)
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
    evaluator: TranslationEvaluator | None = None,
) -> dict[str, Any]:
    """Train a CycleGAN as `config` says, writing everything into `run_dir`; return the summary."""
    run = RunFolder(run_dir)
    checkpoint = books.checkpoint_to_resume(run, config, resume, allow_config_change)
    cfg, obj = config.train, config.objective
    speed = books.prepare_torch(config)
    device, autocast = speed.device, speed.autocast

    # --- data, models, optimizers, objectives ---
    data = load_dataset(config.data, device)
    assert isinstance(data, TranslationData)
    nets = dict(zip(MODULES, build_cyclegan(config.model, data.sample_shape), strict=True))
    nets = {name: speed.prepare(net) for name, net in nets.items()}
    g_ab, g_ba, d_a, d_b = (nets[name] for name in MODULES)
    betas = (cfg.beta1, cfg.beta2)
    g_optimizer = speed.adam([*g_ab.parameters(), *g_ba.parameters()], cfg.lr_g, betas)
    d_optimizer = speed.adam([*d_a.parameters(), *d_b.parameters()], cfg.lr_d, betas)
    objective_a, objective_b = Objective(obj), Objective(obj)
    # our lsgan generator loss is 0.5 * MSE; the reference's is MSE: scale to keep its balance
    adversarial_scale = 2.0 if obj.loss == "lsgan" else 1.0
    evaluator = evaluator or translation_evaluator(data, min(cfg.eval_samples, len(data.a), len(data.b)))
    tracker = CollapseTracker(Rules(**config.detector.model_dump()))
    batch_size = cfg.batch_size
    fixed = torch.randperm(len(data.a), generator=torch.Generator().manual_seed(cfg.seed + 1))
    fixed_a = data.a.batch(fixed[: min(cfg.num_sample_images, 32)].to(device))

    steps_per_epoch = min(len(data.a), len(data.b)) // batch_size
    if steps_per_epoch < 1:
        raise ConfigError(f"{data.name} has too few images for one batch of {batch_size}")
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)

    step = 0
    if checkpoint is not None:
        tensors, state = ckpt.load_checkpoint(checkpoint)
        for name in MODULES:
            ckpt.load_module(name, nets[name], tensors)
        ckpt.optimizer_from_flat("g_optimizer", g_optimizer, tensors, state["g_optimizer"])
        ckpt.optimizer_from_flat("d_optimizer", d_optimizer, tensors, state["d_optimizer"])
        for prefix, objective in (("pool_a.", objective_a), ("pool_b.", objective_b)):
            objective.load_state_tensors(_unprefixed(tensors, prefix), device)
        ckpt.restore_rng(tensors)
        step = state["step"]
    facts = {
        "device": str(device),
        "speed": speed.record(),
        "total_steps": total_steps,
        "steps_per_epoch": steps_per_epoch,
        "dataset": {"name": data.name, "size": [len(data.a), len(data.b)], "source": data.source},
    }
    log, summary = books.start_run(run, config, step, checkpoint is None, tracker, facts)

    # unpaired batches: A and B each in their own per-epoch order (resumable)
    order_a = books.EpochOrder(cfg.seed, len(data.a), device, stream=0, streams=2)
    order_b = books.EpochOrder(cfg.seed, len(data.b), device, stream=1, streams=2)

    pending: list[torch.Tensor] = []
    last_flushed: dict[str, float] = {}
    clock = books.RunClock(step, summary.get("time_s") if checkpoint is not None else None)
    bar = tqdm(total=total_steps, initial=step, disable=not cfg.progress, unit="step", dynamic_ncols=True)
    with books.running(run, summary, bar, log, clock):
        while step < total_steps:
            epoch, position = divmod(step, steps_per_epoch)
            factor = lr_factor(epoch, cfg.epochs, cfg.lr_decay_epochs)
            for optimizer, base in ((g_optimizer, cfg.lr_g), (d_optimizer, cfg.lr_d)):
                for group in optimizer.param_groups:
                    group["lr"] = base * factor
            for net in nets.values():
                net.train()
            real_a = data.a.batch(order_a.batch(epoch, position, batch_size))
            real_b = data.b.batch(order_b.batch(epoch, position, batch_size))

            # --- generators: adversarial + cycle + identity, one joint update ---
            for net in (d_a, d_b):
                net.requires_grad_(False)
            with autocast():
                fake_b, fake_a = g_ab(real_a), g_ba(real_b)
                adversarial = adversarial_scale * (
                    objective_b.generator_loss(d_b, real_a, fake_b, step)
                    + objective_a.generator_loss(d_a, real_b, fake_a, step)
                )
                cycle = F.l1_loss(g_ba(fake_b), real_a) + F.l1_loss(g_ab(fake_a), real_b)
                identity = torch.zeros((), device=device)
                if obj.identity_weight:
                    identity = F.l1_loss(g_ab(real_b), real_b) + F.l1_loss(g_ba(real_a), real_a)
                g_loss = (
                    adversarial.float()
                    + obj.cycle_weight * cycle.float()
                    + obj.cycle_weight * obj.identity_weight * identity.float()
                )
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_grad_norm = books.grad_norm(g_ab) + books.grad_norm(g_ba)
            g_optimizer.step()
            for net in (d_a, d_b):
                net.requires_grad_(True)

            # --- discriminators: real vs pooled fakes, one joint update ---
            with autocast():
                loss_a, stats_a = objective_a.discriminator_loss(d_a, real_a, fake_a, step)
                loss_b, stats_b = objective_b.discriminator_loss(d_b, real_b, fake_b, step)
                d_loss = loss_a + loss_b
            d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            d_grad_norm = books.grad_norm(d_a) + books.grad_norm(d_b)
            d_optimizer.step()
            step += 1
            clock.stepped(step)
            pending.append(
                torch.stack(
                    [
                        d_loss.detach().float(),
                        g_loss.detach().float(),
                        adversarial.detach().float(),
                        cycle.detach().float(),
                        identity.detach().float(),
                        (stats_a["d_real"] + stats_b["d_real"]).float() / 2,
                        (stats_a["d_fake"] + stats_b["d_fake"]).float() / 2,
                        d_grad_norm,
                        g_grad_norm,
                    ]
                )
            )

            # --- bookkeeping: logs (NaN check), samples, evaluation, checkpoints ---
            is_last = step == total_steps
            if step % cfg.log_every == 0 or is_last or step % cfg.checkpoint_every == 0:
                with clock.section("logging"):
                    last_flushed = books.flush(
                        pending, step, steps_per_epoch, log, bar, run, summary, STEP_FIELDS
                    )
            if step % cfg.sample_every == 0 or is_last:
                with clock.section("samples_checkpoints"):
                    _save_translations(g_ab, g_ba, fixed_a, run, log, step)
            if books.evaluates_at(cfg, step, steps_per_epoch, is_last):
                with clock.section("evaluation"):
                    for net in nets.values():
                        net.eval()
                    epoch = books.epoch_of(step, steps_per_epoch)
                    record = {"type": "eval", "step": step, "epoch": epoch, **evaluator(g_ab, g_ba, epoch)}
                    log.write([record])
                    books.record_evaluation(record, tracker, bar, summary)
            if step % cfg.checkpoint_every == 0 or is_last:
                with clock.section("samples_checkpoints"):
                    pools = {
                        **{f"pool_a.{k}": v for k, v in objective_a.state_tensors().items()},
                        **{f"pool_b.{k}": v for k, v in objective_b.state_tensors().items()},
                    }
                    books.save_run_checkpoint(
                        run,
                        config,
                        step,
                        steps_per_epoch,
                        nets,
                        {"g_optimizer": g_optimizer, "d_optimizer": d_optimizer},
                        summary,
                        clock,
                        tensors=pools,
                    )

    # images_per_second counts A/B pairs, the reference's unit of a batch
    return books.finish_run(run, summary, clock, step, steps_per_epoch, batch_size, last_flushed)


def _unprefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}


@torch.no_grad()
def _save_translations(g_ab, g_ba, inputs: torch.Tensor, run: RunFolder, log: MetricsLog, step: int) -> None:
    """Rows of (input A, G_AB(A), G_BA(G_AB(A))): input left, translation right."""
    g_ab.eval()
    g_ba.eval()
    translated = g_ab(inputs).float()
    cycled = g_ba(translated).float()
    g_ab.train()
    g_ba.train()
    rows = torch.stack([inputs.float(), translated, cycled], dim=1).flatten(0, 1)
    save_grid(rows, run.samples / f"step-{step:08d}.png", columns=6)
    log.image("translations", make_grid(rows, 6), step)
