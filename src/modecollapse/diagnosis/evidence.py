"""The evidence a verdict comes with: sample grid, class histogram, samples by class, and
the text report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from modecollapse.images import GREY, save_grid, save_scatter
from modecollapse.metrics.classes import MIN_SPLIT_SAMPLES


def write_evidence(report: dict[str, Any], out: Path) -> list[Path]:
    """Sample grid, class histogram, and a grid of samples grouped by predicted class (the last
    two where the scores kept class counts: not for Stacked MNIST's 1,000 modes; the last for at
    most 10 classes)."""
    import matplotlib

    matplotlib.use("Agg")

    out.mkdir(parents=True, exist_ok=True)
    if report.get("_points") is None and report.get("_images") is None:  # NaN outputs: nothing to draw
        return []
    if "_points" in report:
        return [
            save_scatter(report["_points"], out / "samples.png", report["_means"], title=report["verdict"]),
            _histogram(report, out, "mode"),
        ]
    images, predictions = report["_images"], report["_predictions"]
    translator = "translation_score" in report.get("scores", {})
    # a translator's grid holds (input, output) pairs: grey padding keeps the pairs apart
    padding = GREY if translator else -1.0
    written = [save_grid(images[:100], out / "samples.png", columns=10, pad_value=padding)]
    counts = report["class_counts"]
    if counts:
        written.append(_histogram(report, out, "predicted class"))
    if predictions is not None and 0 < len(counts) <= 10:
        rows = []
        for label in range(len(counts)):
            members = images[predictions == label][:10]
            row = torch.full((10, *images.shape[1:]), -1.0)
            row[: len(members)] = members
            rows.append(row)
        written.append(save_grid(torch.cat(rows), out / "samples_by_class.png", columns=10))
    return written


def _histogram(report: dict[str, Any], out: Path, unit: str) -> Path:
    """Samples per class (or mixture mode) against a uniform share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = report["class_counts"]
    fig, ax = plt.subplots(figsize=(6 if len(counts) <= 10 else 10, 3), dpi=100)
    ax.bar(range(len(counts)), counts, color="tab:blue", width=1.0 if len(counts) > 10 else 0.8)
    ax.axhline(sum(counts) / len(counts), color="red", linestyle="--", label="uniform")
    ax.set_xlabel(unit)
    ax.set_ylabel("samples")
    ax.set_title(f"{report['verdict']}: {report['scores']['modes']:.0f} modes", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "class_histogram.png")
    plt.close(fig)
    return out / "class_histogram.png"


def format_report(report: dict[str, Any]) -> str:
    """The report as the CLI prints it: verdict and reasons, the numbers, fixes, provenance."""
    s = report["scores"]
    if "nonfinite_share" in s:
        return _format_nonfinite(report)
    if "modes_well_formed" in s:
        return _format_points(report)
    lines = [
        f"verdict: {report['verdict'].upper()}",
        *[f"  - {reason}" for reason in report["reasons"]],
        "",
        *_image_lines(report),
        *_translation_lines(s),
    ]
    if "latent" in report:
        lines.append(f"latent probe       {report['latent']['statement']}")
    lines += _suggestions(report)
    lines += [
        f"classifier         {report['classifier']['dataset']}, sha256 {report['classifier']['sha256']}",
        f"reference          {report['reference']}",
        *[f"input: {note}" for note in report["input_notes"]],
    ]
    return "\n".join(lines)


def _beyond_confusion(scores: dict[str, Any]) -> str:
    beyond = scores.get("modes_beyond_confusion")
    if beyond is None or beyond == scores["modes"]:
        return ""
    return f"   ({beyond:.0f} beyond the classifier's confusions on real data)"


def _image_lines(report: dict[str, Any]) -> list[str]:
    s = report["scores"]
    lines = [
        f"modes covered      {s['modes']:.0f} / {s['num_classes']:.0f}{_beyond_confusion(s)}",
        f"KL(gen || uniform) {s['kl_uniform']:.4f}    KL(gen || data) {s['kl_prior']:.4f}",
        f"largest class      {100 * s['largest_class_share']:.1f}% of samples",
    ]
    if "classifier_score" in s:
        n = s.get("num_samples", 0)
        spread = (
            f"+- {s['classifier_score_std']:.3f}"
            if n >= 2 * MIN_SPLIT_SAMPLES
            else f"(one split of {n:.0f} samples: no spread)"
        )
        lines.append(f"classifier score   {s['classifier_score']:.3f} {spread}")
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
    if "grader_class_accuracy" in s:
        lines.append(
            f"grader accuracy    {100 * s['grader_class_accuracy']:.1f}%  (the independent grader: "
            "LeNet trained on MNIST digits disjoint from mnist-5k)"
        )
    return lines


def _translation_lines(s: dict[str, Any]) -> list[str]:
    lines = []
    if "translation_score" in s:
        lines.append(
            f"translation score  {s['translation_score']:.2f}  ({100 * s['translation_accuracy']:.1f}% "
            f"right: input's digit, B's place and size; {100 * s['translation_chance']:.1f}% by chance)"
        )
    if "colour_diversity_ratio" in s:
        lines.append(
            f"colour variety     {s['colour_diversity_ratio']:.2f} of real B's "
            f"(palette distance {s['colour_distance']:.3f})"
        )
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
    if "cycle_identity_kept" in s:
        lines.append(
            f"cycle's digit      {100 * s['cycle_identity_kept']:.1f}% of inputs' digits come back through "
            f"G_BA; {100 * s['cycle_identity_kept_noisy']:.1f}% after noise of 2.6 grey levels on the "
            f"translation; G_BA reads {100 * s['real_b_identity_kept']:.1f}% of real B digits"
        )
    if s.get("hidden_code"):
        lines.append(
            "hidden code        G_BA reads the input from a signal in the translation the eye does not "
            "see (Chu et al. 2017), so the low cycle error does not mean the translation shows the input "
            "(results/translation/steganography)"
        )
    return lines


def _format_nonfinite(report: dict[str, Any]) -> str:
    """Samples holding NaN or infinite values: the verdict and why; nothing else can be scored."""
    return "\n".join(
        [
            f"verdict: {report['verdict'].upper()}",
            *[f"  - {reason}" for reason in report["reasons"]],
            "",
            f"samples            {report['scores']['num_samples']:.0f}, of which "
            f"{100 * report['scores']['nonfinite_share']:.1f}% hold NaN or infinite values",
            *_suggestions(report),
            f"reference          {report['reference']}",
            *[f"input: {note}" for note in report["input_notes"]],
        ]
    )


def _format_points(report: dict[str, Any]) -> str:
    s = report["scores"]
    return "\n".join(
        [
            f"verdict: {report['verdict'].upper()}",
            *[f"  - {reason}" for reason in report["reasons"]],
            "",
            f"modes covered      {s['modes']:.0f} / {s['num_classes']:.0f}   (PacGAN: a sample within 3 std)",
            f"well formed        {s['modes_well_formed']:.0f}   (>= 20 samples, spread 0.6-1.3x real)",
            f"high quality       {100 * s['high_quality']:.1f}% within 3 std of a mode (real: 98.9%)",
            f"reverse KL         {s['reverse_kl']:.4f}",
            f"mode spread        {s['mode_spread']:.2f} x real (median over covered modes)",
            f"samples            {s['num_samples']:.0f}",
            *_suggestions(report),
            f"reference          {report['reference']}",
            *[f"input: {note}" for note in report["input_notes"]],
        ]
    )


def _suggestions(report: dict[str, Any]) -> list[str]:
    """The "what to try next" lines: measured fixes only (diagnosis/suggest.py)."""
    found = report.get("suggestions") or []
    return [f"{'try next' if i == 0 else '':<18} {line}" for i, line in enumerate(found)]
