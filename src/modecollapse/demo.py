"""`modecollapse demo`: a collapse caught and a measured fix, on data that ships with the package
(~4 min on 2 cores).

1. The fix atlas's ring8 testbed (results/fix-atlas/ring8): 8 Gaussians on a ring under the
   unrolled-GAN paper's 2-D recipe, G learning 10x faster than D. The plain GAN collapses.
2. The detector's verdict and reasons, its onset and the last healthy weights the trainer kept
   (where the run had any), then what `modecollapse diagnose` cites for that kind of collapse:
   the atlas's measured fixes.
3. The same recipe and seed with one of those fixes (PacGAN2), trained and measured.
4. A short DCGAN on mnist-5k (5,000 real digits), to show the image path end to end.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from modecollapse.config import config_from_dict
from modecollapse.diagnosis.suggest import measured_fixes, suggest
from modecollapse.files import atomic_write_bytes, atomic_write_text
from modecollapse.runfolder import RunFolder
from modecollapse.training.loop import train

_RING = {
    "data": {"name": "ring8", "mixture_scale": 0.5},
    "model": {"family": "mlp", "latent_dim": 256, "g_width": 128, "d_width": 128, "mlp_hidden_layers": 2},
    "train": {
        "epochs": 1000,
        "max_steps": 6000,
        "batch_size": 512,
        "lr_g": 1e-3,
        "lr_d": 1e-4,
        "beta1": 0.5,
        "precision": "fp32",
        "eval_every_steps": 1000,
        "sample_every": 1000,
        "checkpoint_every": 3000,
        "log_every": 100,
        "tensorboard": False,
    },
}
"""The atlas's ring8 baseline (experiments/fix-atlas/ring8.toml), 6,000 of its 25,000 steps."""

FIX = "pacgan2"
"""The fix the demo trains: established on both ring8 primaries, the largest high-quality gain
there (+0.87), at about the baseline's cost per step."""

DEMO_RUNS: dict[str, dict[str, Any]] = {
    "ring8-gan": _RING,
    f"ring8-{FIX}": {
        **_RING,
        "model": {**_RING["model"], "pack": 2},
        "train": {**_RING["train"], "batch_size": 1024},
    },
    "mnist5k-dcgan": {
        "data": {"name": "mnist-5k"},
        "model": {"family": "dcgan", "latent_dim": 64, "g_width": 32, "d_width": 32},
        "train": {"epochs": 12, "batch_size": 64, "sample_every": 234, "checkpoint_every": 936},
    },
}


def run_demo(out: Path, runs: dict[str, dict[str, Any]] | None = None) -> dict[str, dict]:
    """Train the demo runs into `out/runs/`, draw the comparison into `out/`, print a summary.
    The first 2-D run is the collapsing GAN; the others are fixes of it."""
    runs = runs or DEMO_RUNS
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for name, raw in runs.items():
        run_dir = out / "runs" / name
        if run_dir.exists():
            shutil.rmtree(run_dir)  # the demo's own output from an earlier call
        print(f"[demo] training {name} ...", flush=True)
        config = config_from_dict({"name": name, **raw}, source=f"demo run {name}")
        summary = train(config, run_dir)
        results[name] = {"summary": summary, "evals": _evals(RunFolder(run_dir))}
        last_sample = sorted((run_dir / "samples").glob("*.png"))[-1]
        atomic_write_bytes(out / f"{name}-samples.png", last_sample.read_bytes())

    ring = {name: r for name, r in results.items() if r["evals"] and "high_quality" in r["evals"][-1]}
    parts = []
    if ring:
        _plot_modes(ring, out / "ring8-modes-per-step.png")
        _side_by_side([out / f"{name}-samples.png" for name in ring], out / "ring8-side-by-side.png")
        parts += [_ring_table(ring), _diagnosis(*next(iter(ring.items())))]
    for name, result in results.items():
        detector = result["summary"].get("detector")
        if name not in ring and detector and result["evals"]:
            last = result["evals"][-1]
            parts.append(
                f"{name}: detector says {detector['verdict']} after {last['epoch']} epochs "
                f"(modes {last['modes']:.0f}/10, FCD {last['fcd']:.1f}, "
                f"diversity {last['diversity_ratio']:.2f} of real)"
            )
    parts.append(_EXPLAIN)
    text = "\n\n".join(parts)
    atomic_write_text(out / "summary.md", f"# modecollapse demo\n\n{text}\n")
    print("\n" + text)
    print(f"\nDemo output (grids, plots, run folders): {out.resolve()}")
    return results


def _ring_table(ring: dict[str, dict]) -> str:
    lines = [
        "| run | steps | modes covered (of 8) | high-quality samples | detector | last healthy weights "
        "| wall time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in ring.items():
        last, summary = result["evals"][-1], result["summary"]
        detector = summary.get("detector") or {}
        verdict = detector.get("verdict") or "-"
        if detector.get("collapse_onset_step") is not None:
            verdict += f" since step {detector['collapse_onset_step']:,}"
        kept = summary.get("last_healthy")
        kept_text = f"step {kept['step']:,} ({kept['checkpoint']})" if kept else "none (never healthy)"
        lines.append(
            f"| {name} | {last['step']:,} | {last['modes']:.0f} | {100 * last['high_quality']:.1f}% "
            f"| {verdict} | {kept_text} | {summary['wall_time_s']} |"
        )
    return "\n".join(lines)


def _diagnosis(name: str, result: dict) -> str:
    """What diagnose says of the collapsing run: its reasons and the atlas's measured fixes."""
    detector = result["summary"].get("detector") or {}
    report = {"verdict": detector.get("verdict") or "healthy", "kinds": detector.get("reason_kinds", [])}
    lines = [f"{name}: {report['verdict']}"]
    lines += [f"  - {reason}" for reason in detector.get("reasons", [])]
    cited = suggest(report, "ring8")
    if cited:
        lines.append("What diagnose cites for it (the fix atlas, declared comparisons only):")
        lines += [f"  - {line}" for line in cited]
    trained = [fix for fix in measured_fixes() if fix["fix"] == FIX and fix["data"] == "ring8"]
    if trained:
        lines.append(
            f"The demo trains {FIX} ({trained[0]['switch']}) on the same seed for the same steps: "
            "compare its row above with the GAN's."
        )
    return "\n".join(lines)


_EXPLAIN = (
    "Modes covered and high-quality samples follow PacGAN's protocol (2,500 samples; a sample is\n"
    "high quality within 3 std of its nearest mode). The atlas measured its fixes over 25,000\n"
    "steps and 5 seeds (results/fix-atlas/ring8); the demo runs one seed for 6,000 steps, so its\n"
    "numbers illustrate the atlas's, they do not replace them. The detector may still call a fixed\n"
    "run partial: it also asks for well-formed modes (samples gathered at each centre, not smeared),\n"
    "which even the atlas's best fixes hold only at some evaluations of 25,000 steps. The last\n"
    "healthy weights are the checkpoint the trainer keeps at the last evaluation judged healthy\n"
    "(none when the run never was). The digits in mnist5k-dcgan-samples.png come from a 12-epoch\n"
    "CPU run."
)


def _evals(run: RunFolder) -> list[dict]:
    return run.records("eval")


def _side_by_side(paths: list[Path], out: Path) -> None:
    from PIL import Image

    images = [Image.open(path).convert("RGB") for path in paths]
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)), "white")
    left = 0
    for image in images:
        canvas.paste(image, (left, 0))
        left += image.width
    canvas.save(out)


def _plot_modes(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    for name, result in results.items():
        steps = [e["step"] for e in result["evals"]]
        ax.plot(steps, [e["modes"] for e in result["evals"]], marker="o", label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("modes covered (of 8)")
    ax.set_ylim(-0.3, 8.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
