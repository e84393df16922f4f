"""The `modecollapse` command: parse arguments, call the library, print. Nothing else.

Exit codes: 0 success; 1 unexpected error; 2 usage, config, data or checkpoint error;
3 training diverged (NaN/Inf); 130 interrupted (the run can be resumed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modecollapse.errors import ModeCollapseError, TrainingDiverged


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except ModeCollapseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; continue with --resume RUN_DIR", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modecollapse",
        description="Train, measure, diagnose and compare mode collapse in GANs.",
    )
    commands = parser.add_subparsers(title="commands")

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

    data = commands.add_parser("data", help="list or fetch datasets")
    data_commands = data.add_subparsers(title="data commands")
    listing = data_commands.add_parser("list", help="each dataset, where it comes from, whether it is here")
    listing.add_argument("--data-dir")
    listing.set_defaults(handler=_data_list)
    fetch = data_commands.add_parser("fetch", help="download a dataset into the cache")
    fetch.add_argument("name", choices=["mnist", "fashion-mnist"])
    fetch.add_argument("--data-dir")
    fetch.set_defaults(handler=_data_fetch)

    demo = commands.add_parser("demo", help="show mode collapse and a fix, on embedded data (~2 min)")
    demo.add_argument("--out", default="demo-output", help="folder for the demo's runs and plots")
    demo.set_defaults(handler=_demo)
    return parser


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
    config_path = args.config
    if args.resume:
        run_dir = Path(args.resume)
        if config_path is None:
            config_path = run_dir / "config.toml"
    elif config_path is None:
        raise ConfigError("give a CONFIG.toml to train, or --resume RUN_DIR")
    config = load_config(config_path, overrides)
    if args.dry_run:
        print(config_to_toml(config), end="")
        return 0
    if not args.resume:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = Path(args.out) if args.out else Path("runs") / f"{config.name}-{stamp}"
    summary = train(config, run_dir, resume=bool(args.resume), allow_config_change=args.allow_config_change)
    final = summary.get("final", {})
    print(
        f"done: {summary['step']} steps ({summary['epochs']:.2f} epochs) in {summary['wall_time_s']} s; "
        f"d_loss {final.get('d_loss', float('nan')):.3f}, g_loss {final.get('g_loss', float('nan')):.3f}\n"
        f"run folder: {run_dir}"
    )
    last_eval = summary.get("last_eval")
    if last_eval:
        scores = ", ".join(f"{k} {v:.3g}" for k, v in last_eval.items() if k not in ("type", "step"))
        print(f"last evaluation: {scores}")
    return 0


def _data_list(args: argparse.Namespace) -> int:
    from modecollapse.config import DataConfig
    from modecollapse.data.datasets import DATASETS

    for name, spec in DATASETS.items():
        available, where = spec.availability(DataConfig(name=name, data_dir=args.data_dir))
        mark = "available" if available else "MISSING"
        print(f"{name:<14} {spec.kind:<6} {mark:<9} {spec.description}")
        for line in where.splitlines():
            print(f"{'':>15}{line}")
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    from modecollapse.data.datasets import FASHION_FILES, MNIST_FILES
    from modecollapse.data.sources import fetch

    fileset = {"mnist": MNIST_FILES, "fashion-mnist": FASHION_FILES}[args.name]
    print(f"{args.name}: {fetch(fileset, args.data_dir)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from modecollapse.demo import run_demo

    run_demo(Path(args.out))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
