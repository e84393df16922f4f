"""`modecollapse diagnose`: samples or a generator in, a verdict with its evidence out.

Inputs: a run folder or checkpoint folder written by this tool, a TorchScript generator, a
.npy/.npz array of samples, or a folder of PNG images. Pickle files are refused: loading
one can run arbitrary code.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from modecollapse.config import Config, DataConfig, DetectorConfig, config_from_dict
from modecollapse.data import dataset_kind, load_dataset, sample_shape, spec
from modecollapse.errors import DatasetUnavailable, ModeCollapseError
from modecollapse.images import save_grid
from modecollapse.metrics.conditional import conditional_scores
from modecollapse.metrics.detector import judge
from modecollapse.metrics.evaluators import reference_features
from modecollapse.metrics.features import classifier_for, prepare_images
from modecollapse.metrics.scores import FeatureSet, extract, score
from modecollapse.models import build_models
from modecollapse.models.classifier import load_classifier
from modecollapse.models.guided import LatentSampler
from modecollapse.training import checkpoint as ckpt

PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar")
EXIT_CODES = {"healthy": 0, "partial collapse": 4, "collapsed": 5}
PROBE_SEED = 7


@dataclass
class Samples:
    images: torch.Tensor  # [-1, 1], N x C x 28 x 28
    notes: list[str] = field(default_factory=list)
    generator: nn.Module | None = None
    latent_shape: tuple[int, ...] | None = None
    dataset: str | None = None  # what the generator was trained on, when known
    intended: torch.Tensor | None = None  # conditional generators: the class each sample was drawn for


def diagnose(
    source: str | Path,
    dataset: str | None = None,
    num_samples: int = 10_000,
    reference: FeatureSet | None = None,
    latent_dim: int | None = None,
    latent_shape: tuple[int, ...] | None = None,
    value_range: str = "auto",
    rules: DetectorConfig | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Score `source` against real data of `dataset`; return verdict, reasons and numbers.

    A CycleGAN run folder is judged as a translator (see `diagnose_translator`).
    """
    translator = _cyclegan_checkpoint(Path(source))
    if translator is not None:
        return diagnose_translator(*translator, num_samples=min(num_samples, 2000), rules=rules)
    samples = load_samples(Path(source), num_samples, latent_dim, latent_shape, value_range)
    dataset = dataset or samples.dataset or "mnist"
    dataset = spec(dataset).reference or dataset  # e.g. mnist-5k is judged against MNIST's test set
    classifier = load_classifier(classifier_for(dataset))
    if reference is None:
        reference, reference_name = real_reference(dataset, data_dir)
    else:
        reference_name = "given reference features"
    real = reference
    fake = extract(classifier, samples.images)
    scores = score(fake, real)
    per_class: list[float] | None = None
    if samples.intended is not None:  # real classes as the classifier reads them (99.3% right)
        conditional = conditional_scores(
            fake.features,
            fake.predictions,
            samples.intended,
            real.features,
            real.predictions,
            fake.num_classes,
        )
        per_class = conditional.pop("per_class_diversity")
        scores.update(conditional)
    verdict, reasons = judge(scores, rules)
    report: dict[str, Any] = {
        "source": str(source),
        "verdict": verdict,
        "reasons": reasons,
        "scores": scores,
        "classifier": {"dataset": classifier.dataset, "sha256": classifier.sha256},
        "reference": reference_name,
        "input_notes": samples.notes,
        "class_counts": torch.bincount(fake.predictions, minlength=fake.num_classes).tolist(),
    }
    if per_class is not None:
        report["per_class_diversity"] = per_class
    if samples.generator is not None and samples.intended is None:
        report["latent"] = probe_latent(samples.generator, samples.latent_shape, real)
    report["_images"] = samples.images
    report["_predictions"] = samples.intended if samples.intended is not None else fake.predictions
    return report


def real_reference(dataset: str, data_dir: str | None = None, size: int = 10_000) -> tuple[FeatureSet, str]:
    """Features of real images (the test split; mnist-5k when MNIST is not on disk) and a label."""

    try:
        data = load_dataset(DataConfig(name=dataset, split="test", data_dir=data_dir, download=False))
    except DatasetUnavailable:
        if dataset != "mnist":
            raise
        data = load_dataset(DataConfig(name="mnist-5k"))
    reference = reference_features(data, classifier_for(dataset), size)
    split = " test split" if data.name in ("mnist", "fashion-mnist") else ""
    return reference, f"{data.name}{split}, {min(size, len(data))} real images"


# --- translators (CycleGAN run folders) ---------------------------------------------------


def _checkpoint_folder(path: Path) -> Path | None:
    """`path` itself when it is a checkpoint folder, else its run's newest checkpoint."""
    return path if (path / "state.json").is_file() else ckpt.latest_checkpoint(path)


def _cyclegan_checkpoint(path: Path) -> tuple[Path, Config] | None:
    """(checkpoint folder, config) when `path` is a CycleGAN run or checkpoint folder."""
    if not path.is_dir() or not ((path / "config.toml").is_file() or (path / "state.json").is_file()):
        return None
    folder = _checkpoint_folder(path)
    if folder is None:
        return None
    _, state = ckpt.load_checkpoint(folder)
    config = config_from_dict(state["config"], source=str(folder))
    return (folder, config) if config.model.family == "cyclegan" else None


@torch.no_grad()
def diagnose_translator(
    folder: Path, config: Config, num_samples: int = 2000, rules: DetectorConfig | None = None
) -> dict[str, Any]:
    """Translate held inputs A -> B and judge identity, spatial rule, coverage and diversity."""
    from modecollapse.metrics.evaluators import translation_evaluator
    from modecollapse.models import build_cyclegan

    tensors, _ = ckpt.load_checkpoint(folder)
    data = load_dataset(config.data)
    g_ab, g_ba, _, _ = build_cyclegan(config.model, data.sample_shape)
    ckpt.load_module("g_ab", g_ab, tensors)
    ckpt.load_module("g_ba", g_ba, tensors)
    g_ab.eval()
    g_ba.eval()
    count = min(num_samples, len(data.a), len(data.b))
    record = translation_evaluator(data, count)(g_ab, g_ba, 0)
    verdict, reasons = judge(record, rules)
    if record["identity_kept"] < 0.5:
        reasons.append(f"only {100 * record['identity_kept']:.0f}% of translations keep the input's digit")
    inputs = data.a.batch(torch.arange(min(50, len(data.a))))
    pairs = torch.stack([inputs, g_ab(inputs).float()], dim=1).flatten(0, 1)
    scores = {k: v for k, v in record.items() if k not in ("class_counts", "classifier_sha256")}
    return {
        "source": str(folder),
        "verdict": verdict,
        "reasons": reasons,
        "scores": scores,
        "classifier": {"dataset": "mnist", "sha256": record["classifier_sha256"]},
        "reference": f"{count} real {data.b.name} digits, cropped and normalised like the translations",
        "input_notes": [f"CycleGAN G_AB from {folder}, {count} inputs of {data.a.name} (its training set)"],
        "class_counts": record["class_counts"],
        "_images": pairs,
        "_predictions": None,
    }


# --- inputs -----------------------------------------------------------------------------


def load_samples(
    path: Path,
    num_samples: int,
    latent_dim: int | None = None,
    latent_shape: tuple[int, ...] | None = None,
    value_range: str = "auto",
) -> Samples:
    if not path.exists():
        raise ModeCollapseError(f"{path}: no such file or folder")
    if path.is_dir() and ((path / "config.toml").is_file() or (path / "state.json").is_file()):
        generator, config = _generator_from_run(path)
        sampler = LatentSampler(config.model, 10)
        if sampler.conditional:
            samples = _sample_conditional(generator, sampler, num_samples, [f"generator from {path}"])
        else:
            samples = _sample(generator, (config.model.latent_dim,), num_samples, [f"generator from {path}"])
        samples.dataset = config.data.name
        return samples
    if path.is_dir():
        return _png_folder(path, value_range)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return _array_file(path, value_range)
    if _is_torchscript(path):
        if latent_dim is None and latent_shape is None:
            raise ModeCollapseError("a TorchScript generator needs --latent-dim N (or --latent-shape)")
        shape = latent_shape or (latent_dim,)
        generator = torch.jit.load(str(path), map_location="cpu").eval()
        return _sample(generator, shape, num_samples, [f"TorchScript generator, latent {shape}"])
    if suffix in PICKLE_SUFFIXES or _looks_pickled(path):
        raise ModeCollapseError(
            f"{path} is a pickle (torch.save of a model or state_dict); loading it could run "
            "arbitrary code, so diagnose refuses it. Export instead either TorchScript: "
            "torch.jit.script(G).save('G.ts') (or torch.jit.trace(G, z).save(...)) and pass "
            "--latent-dim; or samples: np.save('samples.npy', G(z).detach().cpu().numpy())"
        )
    raise ModeCollapseError(
        f"{path}: unsupported input; give a run or checkpoint folder, a TorchScript file, "
        ".npy/.npz samples, or a folder of PNG images"
    )


def _array_file(path: Path, value_range: str) -> Samples:
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise ModeCollapseError(f"{path}: cannot read without unpickling ({error}); refused") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        names = loaded.files
        key = next(
            (k for k in ("samples", "images", "x", "arr_0") if k in names),
            names[0] if len(names) == 1 else None,
        )
        if key is None:
            raise ModeCollapseError(f"{path}: several arrays ({', '.join(names)}); name one 'samples'")
        array = loaded[key]
    else:
        array = loaded
    images, notes = prepare_images(array, value_range)
    return Samples(images, [f"{len(images)} samples from {path.name}", *notes])


def _png_folder(path: Path, value_range: str) -> Samples:
    from PIL import Image

    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png")
    if not files:
        raise ModeCollapseError(f"{path}: no .png files in this folder")
    arrays = []
    for file in files:
        with Image.open(file) as image:
            arrays.append(
                np.asarray(image.convert("L" if image.mode in ("L", "LA", "I", "P", "1") else "RGB"))
            )
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ModeCollapseError(f"{path}: images differ in size ({sorted(shapes)[:3]})")
    images, notes = prepare_images(np.stack(arrays), value_range)
    return Samples(images, [f"{len(files)} PNG images from {path}", *notes])


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("constants.pkl") for n in names) and any("/code/" in n for n in names)


def _looks_pickled(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(2)
    return head[:1] == b"\x80" or zipfile.is_zipfile(path)


def _generator_from_run(path: Path) -> tuple[nn.Module, Config]:
    """Rebuild G from a run folder's newest checkpoint (or a checkpoint folder) without pickle."""

    folder = _checkpoint_folder(path)
    if folder is None:
        raise ModeCollapseError(f"{path}: this run has no checkpoint yet")
    tensors, state = ckpt.load_checkpoint(folder)
    config = config_from_dict(state["config"], source=str(folder))
    if dataset_kind(config.data.name) != "image":
        raise ModeCollapseError(
            f"{path} trained on 2-D points ({config.data.name}); diagnose judges images. "
            "Its mode coverage is in the run's metrics.jsonl (type 'eval')"
        )
    generator, _ = build_models(config.model, sample_shape(config.data))
    ckpt.load_module("generator", generator, tensors)
    return generator.eval(), config


@torch.no_grad()
def _sample(generator: nn.Module, shape: tuple[int, ...], count: int, notes: list[str]) -> Samples:
    latent = torch.randn(count, *shape, generator=torch.Generator().manual_seed(PROBE_SEED))
    images = torch.cat([generator(chunk).float() for chunk in latent.split(500)])
    images, more = prepare_images(images, "-1-1")
    return Samples(images, [*notes, f"{count} samples drawn with seed {PROBE_SEED}", *more], generator, shape)


@torch.no_grad()
def _sample_conditional(
    generator: nn.Module, sampler: LatentSampler, count: int, notes: list[str]
) -> Samples:
    """Class-balanced samples of a conditional generator, with the class each was drawn for."""
    count = max(count // sampler.num_classes, 1) * sampler.num_classes
    latent, intended = sampler.fixed(count, PROBE_SEED, "cpu", rows=True)
    images = torch.cat([generator(chunk).float() for chunk in latent.split(500)])
    images, more = prepare_images(images, "-1-1")
    notes = [*notes, f"{sampler.kind} conditioning: {count // sampler.num_classes} samples per class", *more]
    return Samples(images, notes, generator, (sampler.input_dim,), intended=intended)


# --- latent probe -----------------------------------------------------------------------


@torch.no_grad()
def probe_latent(generator: nn.Module, shape: tuple[int, ...], real: FeatureSet, count: int = 256) -> dict:
    """How much the output moves with z: overall, per latent dimension, and for one-hot z.

    Distances are mean absolute pixel differences in [-1, 1] units. A generator whose outputs
    for independent z differ by far less than real images differ from each other ignores z.
    """
    rng = torch.Generator().manual_seed(PROBE_SEED + 1)
    z = torch.randn(count, *shape, generator=rng)
    out = generator(z).float()
    other = generator(torch.randn(count, *shape, generator=rng)).float()
    spread = float((out - other).abs().mean())
    step = 0.5
    flat = z.reshape(count, -1)
    per_dimension = []
    for d in range(flat.shape[1]):
        moved = flat.clone()
        moved[:, d] += step
        per_dimension.append(float((generator(moved.reshape(z.shape)).float() - out).abs().mean() / step))
    sensitivities = torch.tensor(per_dimension)
    dead = int((sensitivities < 0.01 * sensitivities.max().clamp_min(1e-12)).sum())
    dims = flat.shape[1]
    one_hot = torch.eye(dims)[: min(dims, 100)].reshape(-1, *shape) * 3.0
    one_hot_out = generator(one_hot).float()
    one_hot_spread = float(
        torch.cdist(one_hot_out.flatten(1), one_hot_out.flatten(1), p=1).mean() / one_hot_out[0].numel()
    )
    ignores = spread < 0.02
    return {
        "output_spread": spread,
        "mean_sensitivity": float(sensitivities.mean()),
        "max_sensitivity": float(sensitivities.max()),
        "dead_dimensions": dead,
        "latent_dimensions": dims,
        "one_hot_spread": one_hot_spread,
        "ignores_latent": bool(ignores),
        "statement": (
            "the generator ignores z: outputs for independent z are nearly identical"
            if ignores
            else f"outputs move with z (spread {spread:.3f}); {dead} of {dims} latent dims have no effect"
        ),
    }


# --- evidence ---------------------------------------------------------------------------


def write_evidence(report: dict[str, Any], out: Path) -> list[Path]:
    """Sample grid, class histogram, and a grid of samples grouped by predicted class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    images, predictions = report["_images"], report["_predictions"]
    written = [save_grid(images[:100], out / "samples.png", columns=10)]  # translators: input, output pairs
    counts = report["class_counts"]
    fig, ax = plt.subplots(figsize=(6 if len(counts) <= 10 else 10, 3), dpi=100)
    ax.bar(range(len(counts)), counts, color="tab:blue", width=1.0 if len(counts) > 10 else 0.8)
    ax.axhline(sum(counts) / len(counts), color="red", linestyle="--", label="uniform")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("samples")
    ax.set_title(f"{report['verdict']}: {report['scores']['modes']:.0f} modes", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "class_histogram.png")
    plt.close(fig)
    written.append(out / "class_histogram.png")
    if predictions is not None and len(counts) <= 10:
        rows = []
        for label in range(len(counts)):
            members = images[predictions == label][:10]
            row = torch.full((10, *images.shape[1:]), -1.0)
            row[: len(members)] = members
            rows.append(row)
        written.append(save_grid(torch.cat(rows), out / "samples_by_class.png", columns=10))
    return written


def format_report(report: dict[str, Any]) -> str:
    s = report["scores"]
    lines = [
        f"verdict: {report['verdict'].upper()}",
        *[f"  - {reason}" for reason in report["reasons"]],
        "",
        f"modes covered      {s['modes']:.0f} / {s['num_classes']:.0f}",
        f"KL(gen || uniform) {s['kl_uniform']:.4f}    KL(gen || data) {s['kl_prior']:.4f}",
        f"largest class      {100 * s['largest_class_share']:.1f}% of samples",
    ]
    if "classifier_score" in s:
        lines.append(f"classifier score   {s['classifier_score']:.3f} +- {s['classifier_score_std']:.3f}")
    lines += [
        f"FCD                {s['fcd']:.3f}",
        f"precision / recall {s['precision']:.3f} / {s['recall']:.3f}   (k=3)",
        f"density / coverage {s['density']:.3f} / {s['coverage']:.3f}   (k=5)",
        f"diversity vs real  {s['diversity_ratio']:.3f}",
        f"near-duplicates    {100 * s['near_duplicate_rate']:.1f}%",
        f"samples            {s['num_samples']:.0f}",
    ]
    if "class_conditional_accuracy" in s:
        per_class = ", ".join(f"{k}: {v:.2f}" for k, v in enumerate(report.get("per_class_diversity", [])))
        lines += [
            f"class accuracy     {100 * s['class_conditional_accuracy']:.1f}%  (drawn as class k, read as k)",
            f"per-class variety  {per_class}  (generated / real within-class variance)",
        ]
    if "identity_kept" in s:
        lines.append(
            f"identity kept      {100 * s['identity_kept']:.1f}% of translations show the input's digit(s)"
        )
    if "spatial_accuracy" in s:
        lines.append(
            f"spatial rule       {100 * s['spatial_accuracy']:.1f}% in place and size; centroid error "
            f"{s['position_error_px']:.1f} px, size error {100 * s['size_error']:.0f}%"
        )
    if "cycle_error_a" in s:
        lines.append(
            f"cycle error        A {s['cycle_error_a']:.4f}, B {s['cycle_error_b']:.4f} "
            "(mean |x - F(G(x))|, 0..1)"
        )
    if "latent" in report:
        lines.append(f"latent probe       {report['latent']['statement']}")
    lines += [
        f"classifier         {report['classifier']['dataset']}, sha256 {report['classifier']['sha256']}",
        f"reference          {report['reference']}",
        *[f"input: {note}" for note in report["input_notes"]],
    ]
    return "\n".join(lines)
