"""The `modecollapse` command: parse arguments, call the library, print. Nothing else.

Exit codes: 0 success (diagnose: healthy); 1 unexpected error; 2 usage, config, data or
checkpoint error; 3 training diverged (NaN/Inf); 4 diagnose: partial collapse; 5 diagnose:
collapsed; 130 interrupted (the run can be resumed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from modecollapse.cli import studies
from modecollapse.errors import ModeCollapseError, TrainingDiverged
from modecollapse.options import command_line


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with command_line():  # messages name options as --data-dir, not data_dir= (options.py)
            code = args.handler(args) or 0
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # `modecollapse ... | head`: the reader has gone; end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except ModeCollapseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = getattr(args, "resume_hint", "continue with --resume RUN_DIR")
        print(f"\ninterrupted; {hint}", file=sys.stderr)
        return 130
    except OSError as error:  # e.g. an --out that cannot be made: a file in the way, a read-only place
        where = f" {error.filename}" if error.filename else ""
        print(f"error: cannot use{where}: {error.strerror or error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modecollapse",
        description="Train, measure, diagnose and compare mode collapse in GANs.",
    )
    commands = parser.add_subparsers(title="commands")
    _add_train(commands)
    _add_data(commands)
    _add_diagnose(commands)
    _add_classifier(commands)
    studies.add_commands(commands)
    demo = commands.add_parser("demo", help="a collapse caught and a measured fix, on embedded data (~4 min)")
    demo.add_argument("--out", default="demo-output", help="folder for the demo's runs and plots")
    demo.set_defaults(handler=_demo)
    return parser


def _add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a GAN from a TOML config")
    train.add_argument("config", nargs="?", help="TOML config (optional with --resume)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.epochs=3 (repeatable)",
    )
    train.add_argument("--out", help="run folder (default runs/<name>-<time>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run")
    train.add_argument(
        "--allow-config-change",
        action="store_true",
        help="resume even if the config differs from the checkpoint's",
    )
    train.add_argument(
        "--device", choices=["auto", "cpu", "cuda", "mps"], help="shorthand for --set train.device=..."
    )
    train.add_argument("--data-dir", help="shorthand for --set data.data_dir=...")
    train.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    train.set_defaults(handler=_train)


def _add_data(commands: argparse._SubParsersAction) -> None:
    from modecollapse.data import DATASETS

    data = commands.add_parser("data", help="list or fetch datasets")
    data_commands = data.add_subparsers(title="data commands")
    listing = data_commands.add_parser("list", help="each dataset, where it comes from, whether it is here")
    listing.add_argument("--data-dir")
    listing.set_defaults(handler=_data_list)
    fetch = data_commands.add_parser("fetch", help="download a dataset into the cache")
    fetch.add_argument("name", choices=sorted(_fetchable(DATASETS)))
    fetch.add_argument("--data-dir")
    fetch.set_defaults(handler=_data_fetch)


def _add_diagnose(commands: argparse._SubParsersAction) -> None:
    from modecollapse.data import DATASETS

    diagnose = commands.add_parser(
        "diagnose",
        help="healthy / partial collapse / collapsed, with evidence",
        description="Judge a generator or a sample set. Exit codes: 0 healthy, 4 partial collapse, "
        "5 collapsed, 2 bad input.",
    )
    diagnose.add_argument(
        "input",
        help="run folder, checkpoint folder, a generator's weights (.pt/.pth state_dict or "
        ".safetensors; read weights-only), TorchScript file, .npy/.npz, a folder of PNGs, or one "
        "posted grid image (.png/.jpg)",
    )
    diagnose.add_argument(
        "--dataset",
        choices=[n for n, s in DATASETS.items() if s.kind in ("points", "translation") or s.classifier],
        help="what the samples imitate (default: the run's dataset, else mnist); ring8 and grid25 "
        "judge N x 2 point arrays; a translation dataset (spatial-one, ...) makes a generator "
        "file INPUT a translator G_AB, fed its held-out A inputs",
    )
    diagnose.add_argument("--num-samples", type=int, default=10_000, help="samples to draw from a generator")
    diagnose.add_argument(
        "--mixture-scale", type=float, default=1.0,
        help="scale of a 2-D mixture's means and std for point arrays (PacGAN's ring: ring8 at 0.5)",
    )  # fmt: skip
    diagnose.add_argument(
        "--latent-dim", type=int,
        help="latent size of a generator file (a DCGAN's weights say it themselves; with --arch it "
        "is read from the class's first layer when that is a Linear or ConvTranspose2d)",
    )  # fmt: skip
    diagnose.add_argument("--latent-shape", help="latent shape of a generator file, e.g. 100,1,1")
    diagnose.add_argument(
        "--num-classes", type=int,
        help="a class-conditional generator G(z, label) of this many classes (the dataset's): sampled "
        "class-balanced (labels as class indices, or one-hot where G refuses those), judged class by class",
    )  # fmt: skip
    _add_weights_options(diagnose)
    diagnose.add_argument(
        "--g-ba",
        help="a translator's G_BA (INPUT is its G_AB and --dataset its translation dataset, "
        "e.g. spatial-one): the cycle and its hidden code are judged too",
    )
    diagnose.add_argument(
        "--latent-dist", default="normal", choices=["normal", "uniform"],
        help="how a generator file's z is drawn: N(0, I) or U(-r, r) (default normal)",
    )  # fmt: skip
    diagnose.add_argument(
        "--latent-range", type=float, default=1.0, help="r of --latent-dist uniform (default 1)"
    )
    diagnose.add_argument(
        "--tile-size", type=int, choices=[28, 32, 64], help="a grid image's tile size in px"
    )
    diagnose.add_argument("--padding", type=int, help="a grid image's padding between tiles in px")
    diagnose.add_argument("--value-range", default="auto", help="auto, 0-255, 0-1, -1-1, or MEAN,STD")
    diagnose.add_argument("--data-dir", help="folder with the real test set used as reference")
    diagnose.add_argument("--json", action="store_true", help="print the report as JSON")
    diagnose.add_argument("--out", help="write samples.png, class_histogram.png, samples_by_class.png here")
    diagnose.set_defaults(handler=_diagnose)


def _add_weights_options(diagnose: argparse.ArgumentParser) -> None:
    diagnose.add_argument(
        "--arch",
        help="your generator's class for a weights file: FILE.py:CLASS or MODULE:CLASS (imports "
        "that code, as python would), or dcgan-example for PyTorch's DCGAN example generator",
    )
    diagnose.add_argument(
        "--arch-kwargs", help='JSON arguments for --arch\'s class, e.g. \'{"nz": 100, "ngf": 64}\''
    )
    diagnose.add_argument(
        "--weights-key",
        help="the generator's entry in a checkpoint holding several (e.g. netG, state_dict.generator)",
    )
    diagnose.add_argument(
        "--g-ba-weights-key",
        help="G_BA's entry when its file holds several networks (default: --weights-key), e.g. "
        "--weights-key G_AB --g-ba-weights-key G_BA for one checkpoint holding both",
    )


def _add_classifier(commands: argparse._SubParsersAction) -> None:
    from modecollapse.models.classifier import shipped_classifiers

    classifier = commands.add_parser("classifier", help="the shipped evaluation classifiers")
    classifier_commands = classifier.add_subparsers(title="classifier commands")
    classifier_train = classifier_commands.add_parser(
        "train", help="train one deterministically, with its card"
    )
    classifier_train.add_argument(
        "--dataset",
        required=True,
        choices=shipped_classifiers(),
        help="guide-mnist: the guided-latent GAN's guide (not an evaluation classifier); "
        "grader-mnist: the independent grader of conditional runs (needs MNIST's 60k training split)",
    )
    classifier_train.add_argument(
        "--out",
        default="classifiers",
        help="folder for the weights and card (default: ./classifiers; the shipped ones, which every "
        "score's sha256 names, are replaced only if you pass the package's assets folder)",
    )
    classifier_train.add_argument("--data-dir")
    classifier_train.add_argument("--epochs", type=int)
    classifier_train.set_defaults(handler=_classifier_train)


def _train(args: argparse.Namespace) -> int:
    from datetime import datetime

    from modecollapse.config import config_to_toml, load_config
    from modecollapse.errors import ConfigError
    from modecollapse.training.loop import train

    overrides = list(args.set)
    if args.device:
        overrides.append(f'train.device="{args.device}"')
    if args.data_dir:
        overrides.append(f'data.data_dir="{args.data_dir}"')
    from modecollapse.runfolder import RunFolder

    config_path = args.config
    if args.resume:
        run_dir = Path(args.resume)
        if config_path is None:
            config_path = RunFolder(run_dir).config
    elif config_path is None:
        raise ConfigError("give a CONFIG.toml to train, or --resume RUN_DIR")
    config = load_config(config_path, overrides)
    if args.dry_run:
        print(config_to_toml(config), end="")
        return 0
    if not args.resume:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]  # to the ms: two runs a second apart
        run_dir = Path(args.out) if args.out else Path("runs") / f"{config.name}-{stamp}"
    args.resume_hint = f"continue with --resume {run_dir} (from its last checkpoint)"
    with studies.sigterm_as_interrupt():  # `kill` then marks the run interrupted, as Ctrl-C does
        summary = train(config, run_dir, bool(args.resume), allow_config_change=args.allow_config_change)
    final = summary.get("final", {})
    print(
        f"done: {summary['step']} steps ({summary['epochs']:.2f} epochs) in {run_duration(summary)}; "
        f"d_loss {final.get('d_loss', float('nan')):.3f}, g_loss {final.get('g_loss', float('nan')):.3f}\n"
        f"run folder: {run_dir}"
    )
    last_eval = summary.get("last_eval")
    if last_eval:
        numbers = {k: v for k, v in last_eval.items() if isinstance(v, (int, float)) and k != "step"}
        scores = ", ".join(f"{k} {v:.3g}" for k, v in numbers.items())
        print(f"last evaluation: {scores}")
    if line := verdict_line(summary.get("detector") or {}):
        print(line)
    return 0


def verdict_line(detector: dict) -> str | None:
    """The run's verdict at its last evaluation, when collapse began and why, in one line."""
    verdict = detector.get("verdict")
    if not verdict:
        return None
    if detector.get("collapse_onset_step") is not None:
        when = f"; collapse began at step {detector['collapse_onset_step']:,}"
    elif detector.get("collapsed_from_start_step") is not None:
        when = f"; collapsed from the start (confirmed at step {detector['collapsed_from_start_step']:,})"
    else:
        when = "; never healthy" if detector.get("never_healthy") and verdict != "healthy" else ""
    reasons = detector.get("reasons") or [] if verdict != "healthy" else []
    why = f": {reasons[0]}" if reasons else ""
    more = f" (and {len(reasons) - 1} more in summary.json)" if len(reasons) > 1 else ""
    return f"verdict: {verdict.upper()}{when}{why}{more}"


def _data_list(args: argparse.Namespace) -> int:
    from modecollapse.config import DataConfig
    from modecollapse.data import DATASETS

    for name, spec in DATASETS.items():
        available, where = spec.availability(DataConfig(name=name, data_dir=args.data_dir))
        mark = "available" if available else "MISSING"
        print(f"{name:<14} {spec.kind:<6} {mark:<9} {spec.description}")
        for line in where.splitlines():
            print(f"{'':>15}{line}")
    return 0


def _fetchable(datasets: dict) -> dict:
    """Downloadable file sets by dataset name and by file-set name (e.g. mnist-svhn and svhn)."""
    named = {name: s.files for name, s in datasets.items() if s.files}
    return {**named, **{files.key: files for files in named.values()}}


def _data_fetch(args: argparse.Namespace) -> int:
    from modecollapse.data import DATASETS
    from modecollapse.data.sources import fetch

    print(f"{args.name}: {fetch(_fetchable(DATASETS)[args.name], args.data_dir)}")
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from modecollapse import diagnose
    from modecollapse.diagnosis import EXIT_CODES
    from modecollapse.diagnosis.public import report_json

    try:
        shape = tuple(int(part) for part in args.latent_shape.split(",")) if args.latent_shape else None
    except ValueError:
        raise ModeCollapseError(
            f"--latent-shape takes sizes separated by commas, e.g. 100,1,1; got {args.latent_shape!r}"
        ) from None
    report = diagnose(
        args.input, args.dataset, latent_dim=args.latent_dim, num_samples=args.num_samples,
        latent_shape=shape, value_range=args.value_range, data_dir=args.data_dir,
        latent_dist=args.latent_dist, latent_range=args.latent_range, tile_size=args.tile_size,
        padding=args.padding, mixture_scale=args.mixture_scale, g_ba=args.g_ba, arch=args.arch,
        arch_kwargs=_json_object(args.arch_kwargs, "--arch-kwargs"), weights_key=args.weights_key,
        g_ba_weights_key=args.g_ba_weights_key, num_classes=args.num_classes,
    )  # fmt: skip
    written = report.save(args.out) if args.out else []
    if args.json:
        print(report_json(report, written))
    else:
        print(report)
        if written:
            print(f"evidence: {', '.join(str(p) for p in written)}")
    return EXIT_CODES[report.verdict]


def _json_object(text: str | None, option: str) -> dict | None:
    """A JSON object given on the command line, or a sentence saying what is wrong with it."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModeCollapseError(f"{option} takes a JSON object, e.g. '{{\"nz\": 100}}'; {error}") from None
    if not isinstance(value, dict):
        raise ModeCollapseError(f"{option} takes a JSON object, e.g. '{{\"nz\": 100}}', got {text!r}")
    return value


def _classifier_train(args: argparse.Namespace) -> int:
    from modecollapse.models.classifier import ASSETS
    from modecollapse.training.classifier import train_classifier

    card = train_classifier(args.dataset, Path(args.out), args.data_dir, args.epochs)
    print(f"{args.dataset}: test accuracy {card['test_accuracy']:.4f}, sha256 {card['sha256']}")
    shipped = ASSETS / f"classifier-{args.dataset}.json"
    if shipped.is_file() and Path(args.out).resolve() != ASSETS.resolve():
        expected = json.loads(shipped.read_text())["sha256"]
        print(
            "the same weights as the shipped classifier: rebuilt exactly"
            if card["sha256"] == expected
            else f"not the shipped classifier's weights (sha256 {expected}): training is bit-exact on one "
            "CPU kind and with the same epochs only; scores keep using the shipped weights"
        )
    print(f"weights and card: {args.out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from modecollapse.demo import run_demo

    run_demo(Path(args.out))
    return 0


def run_duration(summary: dict) -> str:
    """ "12.3 s", or for a run trained over several sessions "12.3 s in its last session, 410.5 s
    in all"."""
    session = summary["wall_time_s"]
    total = round(sum(summary.get("time_s", {}).values()), 1)
    if total > session + 0.1:  # earlier sessions add to the total
        return f"{session} s in its last session, {total} s in all"
    return f"{session} s"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
