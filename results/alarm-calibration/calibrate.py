"""False alarms and detection of the collapse alarm, measured on generators whose truth is known
(issue 39, item 4).

    MODECOLLAPSE_DATA=... python results/alarm-calibration/calibrate.py --out results/alarm-calibration

Every evaluation is scored by the one scorer's protocol (metrics/scores.py against the named
dataset's reference: MNIST's test split at 2,000 samples; 2-D mixtures at PacGAN's 2,500 points)
and fed in order to the detector's CollapseTracker, as the Monitor does.

- **False alarms**: healthy generators run for `--evaluations` evaluations each. Images: a
  sampler of real MNIST training digits (never the reference's), uniform over classes or with
  the class shares a good GAN shows (drawn once per run from 0.07-0.13); each evaluation a fresh,
  independent draw. 2-D: samplers of ring8 and grid25 themselves. A run's false alarm is the
  Monitor's alarm (an absolute onset, or collapsed from the start); the relative onset is
  counted beside it. Also verdict changes per evaluation.
- **Detection**: the same samplers turned, at a known evaluation, into a collapse: every sample
  from one class (mode), from half of them, from 10 training digits per class (within-class
  variety lost; 2-D: each mode's points pulled to a point), or of low quality (digits under pixel
  noise of sd 0.6; 2-D: modes smeared to 3x their std). Flagged means the alarm or the relative
  onset confirmed at the first or second evaluation after the switch.

Every run's evaluation records are kept (runs.jsonl.gz), so `--replay runs.jsonl.gz` judges
them again under another detector in seconds, without scoring anything.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from scipy.stats import beta

from modecollapse.config import DataConfig
from modecollapse.data import load_dataset
from modecollapse.metrics.detector import CollapseTracker
from modecollapse.metrics.features import prepare_images
from modecollapse.metrics.mixtures import mixture_scores
from modecollapse.metrics.samples import reference_for
from modecollapse.metrics.scores import FeatureSet, extract, score

N_IMAGES, N_POINTS = 2000, 2500
DETECTOR_METRICS = (
    "class_histogram_10pct", "recognizable_p99real", "precision_recall_k3_density_coverage_k5",
    "diversity_pairwise_near_duplicates_p99_copies_p99",
)  # fmt: skip
"""The metric families the detector reads (the FCD, classifier score and Vendi score it does not)."""
KINDS = ("one mode", "half the modes", "within-class variety", "low quality")


class ImageSampler:
    """Real MNIST training digits' classifier features, drawn as a generator's samples would be."""

    def __init__(self, seed: int) -> None:
        self.reference = reference_for("mnist")
        train = load_dataset(DataConfig(name="mnist", split="train"))
        pool = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:30_000]
        images = torch.cat([train.batch(chunk) for chunk in pool.split(1000)])
        self.labels = train.labels[pool]
        self.features = extract(self.reference.classifier, prepare_images(images, "-1-1")[0])
        noisy = images[:4000] + 0.6 * torch.randn(
            images[:4000].shape, generator=torch.Generator().manual_seed(seed)
        )
        self.noisy = extract(self.reference.classifier, prepare_images(noisy.clamp(-1, 1), "-1-1")[0])
        self.by_class = [torch.nonzero(self.labels == c).flatten() for c in range(10)]

    def draw(self, shares: torch.Tensor, generator: torch.Generator, kind: str | None = None) -> dict:
        """One evaluation's record: N_IMAGES samples with these class shares, or collapsed as `kind`."""
        if kind == "low quality":
            return self._score(
                self.noisy, torch.randperm(len(self.noisy.predictions), generator=generator)[:N_IMAGES]
            )
        if kind == "one mode":
            shares = torch.nn.functional.one_hot(torch.tensor(3), 10).float()
        elif kind == "half the modes":
            shares = torch.tensor([0.2] * 5 + [0.0] * 5)
        classes = torch.multinomial(shares, N_IMAGES, replacement=True, generator=generator)
        picks = []
        for c in range(10):
            count = int((classes == c).sum())
            if kind == "within-class variety":  # 10 prototypes, each drawn again and again
                picks.append(self.by_class[c][torch.randint(10, (count,), generator=generator)])
            else:
                members = self.by_class[c]
                picks.append(members[torch.randperm(len(members), generator=generator)[:count]])
        return self._score(self.features, torch.cat(picks))

    def _score(self, pool: FeatureSet, pick: torch.Tensor) -> dict:
        fake = FeatureSet(
            pool.probabilities[pick], pool.features[pick], pool.predictions[pick], pool.confidence
        )
        record = score(fake, self.reference.real, DETECTOR_METRICS)
        return {
            **record,
            "num_samples": float(len(pick)),
            "num_classes": 10.0,
            "protocol": "mnist-test10k/n2000",
        }


class PointSampler:
    """Points of ring8 or grid25, healthy or collapsed as a kind says."""

    def __init__(self, name: str) -> None:
        self.mixture = load_dataset(DataConfig(name=name, num_samples=1))
        self.means, self.std = self.mixture.mode_means, self.mixture.mode_std

    def draw(self, shares: torch.Tensor, generator: torch.Generator, kind: str | None = None) -> dict:
        modes = len(self.means)
        if kind == "one mode":
            shares = torch.nn.functional.one_hot(torch.tensor(0), modes).float()
        elif kind == "half the modes":
            shares = (torch.arange(modes) < modes // 2).float()
        owner = torch.multinomial(shares, N_POINTS, replacement=True, generator=generator)
        spread = {"within-class variety": 0.05, "low quality": 3.0}.get(kind or "", 1.0)
        points = self.means[owner] + spread * self.std * torch.randn(N_POINTS, 2, generator=generator)
        record = mixture_scores(points, self.means, self.std)
        record.pop("class_counts")
        return {**record, "num_samples": float(N_POINTS)}


def draw_run(
    draw: Callable, shares: torch.Tensor, evaluations: int, seed: int, kind=None, switch=None
) -> list:
    """One scripted run's evaluation records, in order (collapsed as `kind` from `switch` on)."""
    generator, records = torch.Generator().manual_seed(seed), []
    for step in range(evaluations):
        collapsed = kind is not None and step >= switch
        record = draw(shares, generator, kind if collapsed else None)
        records.append({k: v for k, v in {**record, "step": step}.items() if not isinstance(v, list)})
    return records


def judge_run(records: list[dict]) -> dict:
    """A run's records through the tracker, as the Monitor feeds them: its alarm, relative onset
    and verdict changes."""
    tracker, alarm = CollapseTracker(), None
    for record in records:
        tracker.observe(record["step"], record)
        if alarm is None and (tracker.onset is not None or tracker.start_alarm is not None):
            alarm = record["step"]  # the evaluation at which the Monitor raises it
    verdicts = [h["verdict"] for h in tracker.history]
    relative = tracker.relative_onset
    relative_at = None
    if relative is not None:  # confirmed at the onset itself (a second kind) or at the next evaluation
        relative_at = relative["step"] + (0 if len(relative["kinds"]) >= 2 else tracker.rules.patience - 1)
    return {
        "alarm_step": alarm,
        "relative_onset_step": None if relative is None else relative["step"],
        "relative_confirmed_step": relative_at,
        "verdict_changes": sum(a != b for a, b in zip(verdicts, verdicts[1:], strict=False)),
        "non_healthy": sum(v != "healthy" for v in verdicts),
        "evaluations": len(verdicts),
    }


def upper95(events: int, runs: int) -> float:
    """The exact (Clopper-Pearson) one-sided 95 % upper bound of a rate seen `events` times in `runs`."""
    return 1.0 if events >= runs else float(beta.ppf(0.95, events + 1, runs - events))


def shares_for(kind: str, modes: int, generator: torch.Generator) -> torch.Tensor:
    if kind == "uniform":
        return torch.ones(modes) / modes
    shares = 0.07 + 0.06 * torch.rand(modes, generator=generator)  # a good GAN's class shares
    return shares / shares.sum()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("results/alarm-calibration"))
    parser.add_argument("--image-runs", type=int, default=300)
    parser.add_argument("--point-runs", type=int, default=300)
    parser.add_argument("--evaluations", type=int, default=20)
    parser.add_argument("--detection-runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", nargs="+", default=["ring8", "grid25", "mnist"])
    parser.add_argument(
        "--replay", type=Path, help="judge the records of an earlier run (runs.jsonl.gz) again"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    runs = read_runs(args.replay) if args.replay else draw_runs(args)
    if not args.replay:
        write_runs(runs, args.out / "runs.jsonl.gz")
    rows = [{k: v for k, v in run.items() if k != "records"} | judge_run(run["records"]) for run in runs]
    with (args.out / "calibration.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows)
    summary["cpu_seconds"] = round(time.process_time() - start)
    (args.out / "calibration.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


def draw_runs(args: argparse.Namespace) -> list[dict]:
    """Every scripted run's records: healthy samplers (false alarms), then scripted collapses."""
    runs = []
    samplers = {
        name: ImageSampler(args.seed) if name == "mnist" else PointSampler(name) for name in args.data
    }
    for data, sampler in samplers.items():
        modes = 10 if data == "mnist" else len(sampler.means)
        count = args.image_runs if data == "mnist" else args.point_runs
        for balance in ("uniform", "uneven"):
            for r in range(count // 2):
                seed = args.seed + 1000 * r + (0 if balance == "uniform" else 500)
                shares = shares_for(balance, modes, torch.Generator().manual_seed(seed))
                records = draw_run(sampler.draw, shares, args.evaluations, seed)
                named = {"test": "false alarm", "data": data, "generator": f"real, {balance}", "seed": seed}
                runs.append({**named, "records": records})
        for kind in KINDS:
            for r in range(args.detection_runs):
                seed = args.seed + 7 * r + 1
                records = draw_run(sampler.draw, torch.ones(modes) / modes, 12, seed, kind, switch=8)
                runs.append(
                    {"test": "detection", "data": data, "generator": kind, "seed": seed, "records": records}
                )
        print(f"{data}: drawn", flush=True)
    return runs


def write_runs(runs: list[dict], path: Path) -> None:
    with gzip.open(path, "wt") as handle:
        for run in runs:
            handle.write(json.dumps(run) + "\n")


def read_runs(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


def summarise(rows: list[dict]) -> dict:
    """Per data set: false alarms per run (with the 95 % upper bound), relative onsets, verdict
    changes per evaluation; detection per kind at the first or second evaluation after."""
    out: dict = {}
    for data in sorted({row["data"] for row in rows}):
        healthy = [r for r in rows if r["data"] == data and r["test"] == "false alarm"]
        alarms = sum(r["alarm_step"] is not None for r in healthy)
        relative = sum(r["relative_onset_step"] is not None for r in healthy)
        changes = sum(r["verdict_changes"] for r in healthy)
        transitions = sum(r["evaluations"] - 1 for r in healthy)
        out[data] = {
            "healthy_runs": len(healthy),
            "false_alarms": alarms,
            "false_alarm_upper95": round(upper95(alarms, len(healthy)), 4),
            "relative_onsets": relative,
            "relative_onset_upper95": round(upper95(relative, len(healthy)), 4),
            "non_healthy_evaluations": sum(r["non_healthy"] for r in healthy),
            "verdict_changes_per_evaluation": round(changes / max(transitions, 1), 4),
            "detection": {},
        }
        for kind in KINDS:
            runs = [r for r in rows if r["data"] == data and r["generator"] == kind]
            flagged = sum(
                any(s is not None and 8 <= s <= 9 for s in (r["alarm_step"], r["relative_confirmed_step"]))
                for r in runs
            )
            out[data]["detection"][kind] = f"{flagged} of {len(runs)}"
    return out


if __name__ == "__main__":
    main()
