"""The report's figures: metric curves per setting, class histograms, sample grids and PCA
feature maps of generated against real data."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import torch

from modecollapse.config import load_config
from modecollapse.errors import ConfigError, ModeCollapseError
from modecollapse.experiments.results import PLOTTED, RunResult, number
from modecollapse.runfolder import RunFolder


def plot_metrics(results: list[RunResult], out: Path) -> list[Path]:
    """Each metric vs training step, one line per setting (mean over seeds), +-1 std shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths = []
    settings = list(dict.fromkeys(r.setting_id for r in results))
    for metric in PLOTTED:
        if not any(metric in e for r in results for e in r.evals):
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
        for setting in settings:
            series: dict[int, list[float]] = {}
            for run in (r for r in results if r.setting_id == setting):
                for record in run.evals:
                    if number(record.get(metric)) and math.isfinite(record[metric]):
                        series.setdefault(record["step"], []).append(float(record[metric]))
            if not series:
                continue
            epochs = sorted(series)
            mean = np.array([np.mean(series[e]) for e in epochs])
            std = np.array([np.std(series[e]) for e in epochs])
            ax.plot(epochs, mean, marker="o", markersize=3, label=setting)
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"metric-{metric}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_histograms(results: list[RunResult], out: Path) -> Path | None:
    """Final class (or mixture-mode) histogram per setting, averaged over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    settings = [s for s in dict.fromkeys(r.setting_id for r in results)
                if any("class_counts" in r.final for r in results if r.setting_id == s)]  # fmt: skip
    if not settings:
        return None
    fig, axes = plt.subplots(len(settings), 1, figsize=(6, 1.6 * len(settings)), dpi=100, squeeze=False)
    for ax, setting in zip(axes[:, 0], settings, strict=True):
        counts = [
            np.array(r.final["class_counts"], float)
            for r in results
            if r.setting_id == setting and "class_counts" in r.final
        ]
        filled = [c / c.sum() for c in counts if c.sum() > 0]
        shares = np.mean(filled, axis=0) if filled else np.zeros(len(counts[0]))
        ax.bar(range(len(shares)), shares)
        ax.axhline(1 / len(shares), color="red", linestyle="--", linewidth=1)
        ax.set_ylabel("share", fontsize=7)
        ax.set_title(setting, fontsize=8)
    axes[-1, 0].set_xlabel("class / mode")
    fig.tight_layout()
    path = out / "class-histograms.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def copy_sample_grids(results: list[RunResult], out: Path) -> list[tuple[str, Path]]:
    """The newest sample grid of each setting's first finished seed."""
    grids = []
    for setting in dict.fromkeys(r.setting_id for r in results):
        for run in (r for r in results if r.setting_id == setting):
            samples = sorted((run.folder / "samples").glob("*.png"))
            if samples:
                target = out / f"samples-{setting}.png"
                shutil.copyfile(samples[-1], target)
                grids.append((f"{setting} (seed {run.seed}, {samples[-1].stem})", target))
                break
    return grids


@torch.no_grad()
def plot_feature_map(run: RunResult, path: Path, count: int = 1000) -> Path | None:
    """PCA map of the evaluation classifier's features: real digits by class, and generated
    samples coloured by the class they were drawn for (or, unconditionally, the predicted one)."""
    import matplotlib.pyplot as plt

    from modecollapse.data import load_dataset, spec
    from modecollapse.metrics.conditional import pca_2d
    from modecollapse.metrics.diversity import seeded_subset
    from modecollapse.metrics.features import classifier_for, prepare_images
    from modecollapse.metrics.samples import real_features
    from modecollapse.metrics.scores import extract
    from modecollapse.models.classifier import load_classifier
    from modecollapse.trained import load_run
    from modecollapse.training import checkpoint as ckpt

    folder = RunFolder(run.folder)
    if ckpt.latest_checkpoint(run.folder) is None or not folder.config.is_file():
        return None
    config = load_config(folder.config)
    data_spec = spec(config.data.name)
    if config.model.family != "dcgan" or data_spec.classifier is None or data_spec.num_classes > 10:
        return None
    trained = load_run(run.folder)
    images, intended = trained.sample(count, 11)
    classifier = load_classifier(classifier_for(config.data.name))
    fake = extract(classifier, prepare_images(images, "-1-1")[0])
    dataset = load_dataset(config.data)
    real = real_features(dataset, classifier, count)
    real_labels = dataset.labels[seeded_subset(torch.arange(len(dataset)), count)]  # as real_features
    real_xy, fake_xy = pca_2d(real.features, fake.features)
    colours = intended if intended is not None else fake.predictions
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), dpi=100, sharex=True, sharey=True)
    generated = "generated, by sub-space / label" if intended is not None else "generated, by predicted class"
    for ax, xy, labels, title in (
        (axes[0], real_xy, real_labels, "real, by class"),
        (axes[1], fake_xy, colours, generated),
    ):
        top = data_spec.num_classes - 0.5
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels.cpu(), cmap="tab10", vmin=-0.5, vmax=top, s=4)
        ax.set_title(title, fontsize=10)
    fig.colorbar(points, ax=axes, ticks=range(data_spec.num_classes), label="class")
    fig.suptitle(f"{run.setting_id}: classifier features, PCA of the real data", fontsize=10)
    fig.savefig(path)
    plt.close(fig)
    return path


@torch.no_grad()
def plot_translations(results: list[RunResult], path: Path, count: int = 8) -> Path | None:
    """A translator sweep's settings side by side: one row per setting, `count` held-out A inputs
    each followed by its translation, from each setting's newest checkpoint on one seed (the
    lowest seed every setting finished, else each setting's lowest). Settings on the same data
    get the same inputs; a run that cannot be loaded is named under the figure instead of a row.
    None (and no file) when no finished translator run has a checkpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from modecollapse.data import load_dataset
    from modecollapse.images import GREY, make_grid
    from modecollapse.models import generate
    from modecollapse.trained import load_translator
    from modecollapse.training import checkpoint as ckpt

    path.unlink(missing_ok=True)  # never leave an earlier build's figure for the atlas to copy
    chosen = _one_run_per_setting(
        [
            r
            for r in results
            if r.state == "completed" and ckpt.latest_checkpoint(r.folder) is not None and _is_translator(r)
        ]
    )
    inputs: dict[str, torch.Tensor] = {}
    rows, left_out = [], []
    for run in chosen:
        try:
            translator = load_translator(run.folder)
            data = translator.config.data
            key = json.dumps(data.model_dump(mode="json", exclude={"data_dir", "download"}), sort_keys=True)
            if key not in inputs:
                held_out = load_dataset(data).held_out.a
                inputs[key] = held_out.batch(torch.arange(min(count, len(held_out))))
            translated = generate(translator.g_ab, inputs[key])
        except (ModeCollapseError, OSError, RuntimeError, ValueError) as error:
            left_out.append(f"{run.setting_id}: {str(error)[:80]}")
            continue
        pairs = torch.stack([inputs[key], translated], dim=1).flatten(0, 1)
        title = f"{run.setting_id} (seed {run.seed}, step {translator.step}, {data.name})"
        rows.append((title, make_grid(pairs, 2 * len(inputs[key]), pad_value=GREY)))
    if not rows:
        return None
    height = max(grid.shape[0] for _, grid in rows) / 100  # inches at 100 dpi
    width = max(grid.shape[1] for _, grid in rows) / 100
    size = (max(width, 4), 0.4 + len(rows) * (height + 0.3) + 0.15 * len(left_out))
    fig, axes = plt.subplots(len(rows), 1, figsize=size, dpi=100, squeeze=False)
    for ax, (title, grid) in zip(axes[:, 0], rows, strict=True):
        ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(title, fontsize=8, loc="left")
        ax.axis("off")
    same = " (same inputs in every row)" if len(inputs) == 1 else " (the same inputs for the same data)"
    fig.suptitle(f"held-out input, then its translation{same}", fontsize=8)
    if left_out:
        fig.text(0.01, 0.005, "left out: " + "; ".join(left_out), fontsize=6, va="bottom")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _is_translator(run: RunResult) -> bool:
    config = RunFolder(run.folder).config
    if not config.is_file():
        return False
    try:
        return load_config(config).model.family == "cyclegan"
    except ConfigError:  # written by another version: not drawn, the rest of the report stands
        return False


def _one_run_per_setting(runs: list[RunResult]) -> list[RunResult]:
    """One run of each setting, in the settings' order: all on the lowest seed every setting has,
    else each setting's lowest seed."""
    settings = list(dict.fromkeys(r.setting_id for r in runs))
    seeds = [{r.seed for r in runs if r.setting_id == s} for s in settings]
    shared = sorted(set.intersection(*seeds)) if seeds else []
    chosen = []
    for setting in settings:
        mine = sorted((r for r in runs if r.setting_id == setting), key=lambda r: r.seed)
        chosen.append(next((r for r in mine if shared and r.seed == shared[0]), mine[0]))
    return chosen
