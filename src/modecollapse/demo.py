"""`modecollapse demo`: mode collapse and a fix, on data that ships with the package (~2 min).

1. A vanilla GAN on ring8 whose generator is faster than its discriminator (lr 1e-3 vs
   1e-4): the textbook setting where G hops from mode to mode as one blob.
2. The same run with PacGAN packing (D judges 4 samples at once): at this length it smears its
   samples around the ring (most or all modes touched, few samples near any mode), not a fix yet.
3. A short DCGAN on mnist-5k (5,000 real digits), to show the image path end to end.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from modecollapse.config import config_from_dict
from modecollapse.files import atomic_write_bytes, atomic_write_text
from modecollapse.runfolder import RunFolder, read_records
from modecollapse.training.loop import train

_RING = {
    "data": {"name": "ring8"},
    "model": {"family": "mlp", "latent_dim": 64, "g_width": 128, "d_width": 128, "mlp_hidden_layers": 2},
    "train": {
        "epochs": 8,
        "batch_size": 256,
        "lr_g": 1e-3,
        "lr_d": 1e-4,
        "sample_every": 780,
        "checkpoint_every": 3120,
        "log_every": 130,
    },
}

DEMO_RUNS: dict[str, dict[str, Any]] = {
    "ring8-vanilla": _RING,
    "ring8-pacgan4": {**_RING, "model": {**_RING["model"], "pack": 4}},
    "mnist5k-dcgan": {
        "data": {"name": "mnist-5k"},
        "model": {"family": "dcgan", "latent_dim": 64, "g_width": 32, "d_width": 32},
        "train": {"epochs": 12, "batch_size": 64, "sample_every": 234, "checkpoint_every": 936},
    },
}


def run_demo(out: Path, runs: dict[str, dict[str, Any]] | None = None) -> dict[str, dict]:
    """Train the demo runs into `out/runs/`, draw the comparison into `out/`, print a table."""
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
    if ring:
        _plot_modes(ring, out / "ring8-modes-per-epoch.png")
        _side_by_side([out / f"{name}-samples.png" for name in ring], out / "ring8-side-by-side.png")
    lines = ["| run | modes covered (of 8) | high-quality samples | wall time (s) |", "|---|---|---|---|"]
    for name, result in ring.items():
        last = result["evals"][-1]
        lines.append(
            f"| {name} | {last['modes']:.0f} | {100 * last['high_quality']:.1f}% "
            f"| {result['summary']['wall_time_s']} |"
        )
    for name, result in results.items():
        detector = result["summary"].get("detector")
        if name not in ring and detector and result["evals"]:
            last = result["evals"][-1]
            lines.append(
                f"\n{name}: detector says {detector['verdict']} after {last['epoch']} epochs "
                f"(modes {last['modes']:.0f}/10, FCD {last['fcd']:.1f}, "
                f"diversity {last['diversity_ratio']:.2f} of real)"
            )
    table = "\n".join(lines)
    atomic_write_text(out / "summary.md", f"# modecollapse demo\n\n{table}\n\n{_EXPLAIN}\n")
    print("\n" + table + "\n\n" + _EXPLAIN)
    print(f"\nDemo output (grids, plots, run folders): {out.resolve()}")
    return results


_EXPLAIN = (
    "Modes covered and high-quality samples follow PacGAN's protocol (2,500 samples; a sample is\n"
    "high quality within 3 std = 0.06 of its nearest mode). The vanilla GAN keeps its mass on one\n"
    "or two modes at a time and hops between them. Packing does not fix that yet: its samples\n"
    "smear around the ring, so PacGAN's count sees most or all modes touched while only a few\n"
    "percent of samples lie near a mode, and the detector finds no well-formed mode (see\n"
    "ring8-side-by-side.png). These runs are short (3,120 steps; PacGAN trains 400 epochs); at\n"
    "PacGAN's own settings and 20,000 steps packing does help (results/ring8-pacgan-20k). The\n"
    "digits in mnist5k-dcgan-samples.png come from a 12-epoch CPU run."
)


def _evals(run: RunFolder) -> list[dict]:
    return read_records(run.metrics, "eval")


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
        epochs = [e["epoch"] for e in result["evals"]]
        ax.plot(epochs, [e["modes"] for e in result["evals"]], marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("modes covered (of 8)")
    ax.set_ylim(-0.3, 8.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
