"""`modecollapse report DIR`: a table (mean +- standard error over seeds), plots, grids, HTML.

Works on a sweep folder (every setting x seed) or on a single run folder. Writes into
DIR/report/: table.md, table.csv, metric-*.png (each metric vs epoch per setting, the
seed spread shaded), class-histograms.png, samples-*.png and report.html, a single
self-contained page (images inlined) that shows all of it.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modecollapse.config import load_config
from modecollapse.experiments.executors import run_status
from modecollapse.experiments.sweep import INDEX, read_index
from modecollapse.files import atomic_write_text
from modecollapse.metrics.detector import detect
from modecollapse.training.logging import read_records

SKIP = {"type", "step", "epoch", "num_samples", "num_classes", "classifier_sha256", "class_counts",
        "per_class_diversity"}  # fmt: skip
PLOTTED = ("modes", "high_quality", "reverse_kl", "kl_uniform", "fcd", "precision", "recall",
           "coverage", "diversity_ratio", "near_duplicate_rate",
           "identity_kept", "spatial_accuracy", "position_error_px", "cycle_error_a")  # fmt: skip


@dataclass
class RunResult:
    run_id: str
    setting_id: str
    seed: int
    folder: Path
    status: dict[str, Any]
    evals: list[dict[str, Any]]

    @property
    def final(self) -> dict[str, Any]:
        return self.evals[-1] if self.evals else {}

    @property
    def detector(self) -> dict[str, Any]:
        """The detector re-run over the logged evaluations with the run's own [detector] rules,
        so a report applies today's rule to every run alike."""
        rules = None
        if (self.folder / "config.toml").is_file():
            rules = load_config(self.folder / "config.toml").detector
        return detect([(record["epoch"], record) for record in self.evals], rules)


def collect(folder: Path) -> list[RunResult]:
    folder = Path(folder)
    if (folder / INDEX).is_file():
        runs = read_index(folder)["runs"]
        entries = [(r["id"], r["setting_id"], r["seed"], folder / r["dir"]) for r in runs]
    elif (folder / "config.toml").is_file():
        entries = [(folder.name, folder.name, 0, folder)]
    else:
        from modecollapse.errors import ModeCollapseError

        raise ModeCollapseError(
            f"{folder} is neither a sweep folder (index.json) nor a run folder (config.toml)"
        )
    return [
        RunResult(run_id, setting, seed, path, run_status(path), read_records(path / "metrics.jsonl", "eval"))
        for run_id, setting, seed, path in entries
    ]


def mean_and_stderr(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / sqrt(n); 0 for a single value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def aggregate(results: list[RunResult]) -> list[dict[str, Any]]:
    """One row per setting: seeds, final metrics as (mean, stderr), collapse onset."""
    rows = []
    for setting in dict.fromkeys(r.setting_id for r in results):
        group = [r for r in results if r.setting_id == setting]
        finished = [r for r in group if r.final]
        metrics = {}
        keys = [k for k, v in (finished[0].final.items() if finished else []) if k not in SKIP and _number(v)]
        for key in keys:
            values = [float(r.final[key]) for r in finished if _number(r.final.get(key))]
            if values and all(math.isfinite(v) for v in values):
                metrics[key] = mean_and_stderr(values)
        detectors = [r.detector for r in finished]
        onsets = [d["collapse_onset_epoch"] for d in detectors if d["collapse_onset_epoch"] is not None]
        rows.append({
            "setting": setting,
            "runs": len(group),
            "finished": len(finished),
            "failed": sum(r.status.get("status") == "failed" for r in group),
            "metrics": metrics,
            "collapsed": len(onsets),
            "never_healthy": sum(d["never_healthy"] for d in detectors),
            "onset": mean_and_stderr([float(o) for o in onsets]) if onsets else None,
            "epochs": max((r.final.get("epoch", 0) for r in finished), default=0),
        })  # fmt: skip
    return rows


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(stat: tuple[float, float] | None) -> str:
    if stat is None:
        return "-"
    mean, err = stat
    return f"{mean:.4g} ± {err:.2g}"


def _onset_cell(row: dict[str, Any]) -> str:
    """Onset over the seeds that collapsed after being healthy; the others are counted."""
    if not row["finished"]:
        return "-"
    never = f"; {row['never_healthy']} never healthy" if row["never_healthy"] else ""
    if row["onset"] is None:
        return f"none in {row['epochs']} epochs (0/{row['finished']} collapsed{never})"
    return f"{_cell(row['onset'])} ({row['collapsed']}/{row['finished']} collapsed{never})"


def table_columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row["metrics"]))


def write_tables(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    columns = table_columns(rows)
    header = ["setting", "seeds", *columns, "collapse onset epoch"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["setting"], f"{row['finished']}/{row['runs']}"]
        cells += [_cell(row["metrics"].get(c)) for c in columns] + [_onset_cell(row)]
        lines.append("| " + " | ".join(cells) + " |")
    atomic_write_text(out / "table.md", "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    stats = [f"{column}_{part}" for column in columns for part in ("mean", "stderr")]
    writer.writerow(
        [
            "setting",
            "seeds_finished",
            "seeds",
            *stats,
            "collapsed_seeds",
            "onset_mean",
            "onset_stderr",
            "never_healthy",
        ]
    )
    for row in rows:
        values = [v for c in columns for v in (row["metrics"].get(c) or ("", ""))]
        onset = row["onset"] or ("", "")
        extra = [row["collapsed"], *onset, row["never_healthy"]]
        writer.writerow([row["setting"], row["finished"], row["runs"], *values, *extra])
    atomic_write_text(out / "table.csv", buffer.getvalue())
    return out / "table.md", out / "table.csv"


def plot_metrics(results: list[RunResult], out: Path) -> list[Path]:
    """Each metric vs epoch, one line per setting (mean over seeds), +-1 std shaded."""
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
                    if _number(record.get(metric)) and math.isfinite(record[metric]):
                        series.setdefault(record["epoch"], []).append(float(record[metric]))
            if not series:
                continue
            epochs = sorted(series)
            mean = np.array([np.mean(series[e]) for e in epochs])
            std = np.array([np.std(series[e]) for e in epochs])
            ax.plot(epochs, mean, marker="o", markersize=3, label=setting)
            ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("epoch")
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
    from modecollapse.metrics.evaluators import reference_features
    from modecollapse.metrics.features import classifier_for, prepare_images
    from modecollapse.metrics.scores import extract
    from modecollapse.models import build_models
    from modecollapse.models.classifier import load_classifier
    from modecollapse.models.guided import LatentSampler
    from modecollapse.training import checkpoint as ckpt

    latest = ckpt.latest_checkpoint(run.folder)
    if latest is None or not (run.folder / "config.toml").is_file():
        return None
    config = load_config(run.folder / "config.toml")
    if (
        config.model.family != "dcgan"
        or spec(config.data.name).classifier is None
        or spec(config.data.name).num_classes != 10
    ):
        return None
    dataset = load_dataset(config.data)
    tensors, _ = ckpt.load_checkpoint(latest)
    generator, _ = build_models(config.model, dataset.sample_shape, dataset.num_classes)
    ckpt.load_module("generator", generator, tensors)
    sampler = LatentSampler(config.model, dataset.num_classes)
    latent, intended = sampler.fixed(count, 11, "cpu")
    classifier = load_classifier(classifier_for(config.data.name))
    fake = extract(classifier, prepare_images(generator.eval()(latent).float(), "-1-1")[0])
    real = reference_features(dataset, classifier.dataset, count)
    real_labels = dataset.labels[
        seeded_subset(torch.arange(len(dataset)), count)
    ]  # reference_features' subset
    real_xy, fake_xy = pca_2d(real.features, fake.features)
    colours = intended if intended is not None else fake.predictions
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), dpi=100, sharex=True, sharey=True)
    for ax, xy, labels, title in (
        (axes[0], real_xy, real_labels, "real, by class"),
        (
            axes[1],
            fake_xy,
            colours,
            "generated, by sub-space / label" if intended is not None else "generated, by predicted class",
        ),
    ):
        points = ax.scatter(xy[:, 0], xy[:, 1], c=labels.cpu(), cmap="tab10", vmin=-0.5, vmax=9.5, s=4)
        ax.set_title(title, fontsize=10)
    fig.colorbar(points, ax=axes, ticks=range(10), label="class")
    fig.suptitle(f"{run.setting_id}: classifier features, PCA of the real data", fontsize=10)
    fig.savefig(path)
    plt.close(fig)
    return path


def build_report(folder: Path) -> Path:
    """Write every part of the report into folder/report/ and return the HTML page's path."""
    folder = Path(folder)
    results = collect(folder)
    out = folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    rows = aggregate(results)
    write_tables(rows, out)
    plots = plot_metrics(results, out)
    histogram = plot_histograms(results, out)
    grids = copy_sample_grids(results, out)
    for setting in dict.fromkeys(r.setting_id for r in results):
        first = next(r for r in results if r.setting_id == setting)
        mapped = plot_feature_map(first, out / f"feature-map-{setting}.png")
        if mapped:
            grids.append((f"{setting}: feature map (seed {first.seed})", mapped))
    page = render_html(folder.name, rows, results, plots, histogram, grids)
    atomic_write_text(out / "report.html", page)
    return out / "report.html"


def _inline(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _figure(path: Path, caption: str) -> str:
    text = html.escape(caption)
    return f'<figure><img src="{_inline(path)}" alt="{text}"><figcaption>{text}</figcaption></figure>\n'


def render_html(
    title: str,
    rows: list[dict[str, Any]],
    results: list[RunResult],
    plots: list[Path],
    histogram: Path | None,
    grids: list[tuple[str, Path]],
) -> str:
    esc = html.escape
    columns = table_columns(rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in ["setting", "seeds", *columns, "collapse onset epoch"])
    body = ""
    for row in rows:
        cells = [
            row["setting"],
            f"{row['finished']}/{row['runs']}",
            *[_cell(row["metrics"].get(c)) for c in columns],
            _onset_cell(row),
        ]
        body += "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>\n"
    runs = "".join(
        f"<tr><td>{esc(r.run_id)}</td><td>{esc(str(r.status.get('status')))}</td>"
        f"<td>{esc(str(r.status.get('error') or ''))}</td></tr>\n"
        for r in results
    )
    figures = "".join(_figure(p, p.stem) for p in plots)
    if histogram:
        figures += _figure(histogram, "final class histograms (mean over seeds)")
    samples = "".join(_figure(p, name) for name, p in grids)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}: modecollapse report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}
td:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 8px; vertical-align: top; }} img {{ max-width: 560px; }}
figcaption {{ font-size: 12px; color: #444; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>Final evaluation of each run; mean ± standard error over seeds. Collapse onset: the
detector's first epoch of a confirmed collapse, over the seeds that collapsed.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}</tbody></table>
<h2>Metrics over training</h2>
{figures}
<h2>Samples</h2>
{samples}
<h2>Runs</h2>
<table><thead><tr><th>run</th><th>status</th><th>error</th></tr></thead><tbody>
{runs}</tbody></table>
</body></html>
"""
