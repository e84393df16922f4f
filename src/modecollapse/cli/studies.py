"""The study commands: sweep, report, table and atlas (settings x seeds, and what is read
from them)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modecollapse.experiments.sweep import Sweep


def add_commands(commands: argparse._SubParsersAction) -> None:
    """sweep, report, table and atlas."""
    _add_sweep(commands)
    _add_report(commands)
    _add_table(commands)
    _add_atlas(commands)


def _positive(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number of at least 1, got {text!r}")
    return int(text)


def _add_sweep(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser("sweep", help="run a sweep file: settings x seeds, in parallel")
    sweep.add_argument("file", nargs="?", help="sweep TOML (experiments/*.toml)")
    sweep.add_argument("--out", help="sweep folder (default sweeps/<name>)")
    sweep.add_argument("--workers", type=_positive, help="runs at once in the local pool")
    sweep.add_argument("--executor", choices=["local", "ray"], default="local")
    sweep.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    sweep.add_argument("--status", metavar="DIR", help="show the progress of a sweep folder and exit")
    sweep.add_argument(
        "--only",
        action="append",
        metavar="SETTING",
        help="run only this setting (a variant's name or a setting id; repeatable)",
    )
    sweep.add_argument("--seeds", help="run only these seeds, e.g. 0-4 or 0,2,5")
    sweep.add_argument(
        "--restore",
        metavar="RESULTS",
        help="first write the finished runs a study's results folder records (its records.jsonl, "
        "from another machine or session) into the sweep folder; they are not run again",
    )
    sweep.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a config value in every selected run, e.g. --set train.max_steps=20000 "
        "(a finished run trains on to the new length)",
    )  # fmt: skip
    sweep.set_defaults(handler=_sweep, resume_hint="run the same sweep command again to resume")


def _add_report(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="table, plots and an HTML page for a run or sweep folder")
    report.add_argument("folder")
    report.add_argument(
        "--allow-cross-machine",
        action="store_true",
        help="pair a setting's run with the baseline's of the same seed even when they ran on different "
        "machines (refused by default: fixed seeds are bit-exact on one CPU kind only)",
    )
    report.set_defaults(handler=_report)


def _add_table(commands: argparse._SubParsersAction) -> None:
    table = commands.add_parser(
        "table", help="a study's Markdown tables from its runs.csv and curves.csv (mean ± 95%% t, paired)"
    )
    table.add_argument("folder", help="a results folder (or a sweep's report folder)")
    table.add_argument("--runs", default="runs.csv", help="glob of runs files (default: %(default)s)")
    table.add_argument(
        "--columns",
        nargs="+",
        default=["modes:.2f"],
        metavar="METRIC[:FORMAT]",
        help="metrics and their format, e.g. modes:.1f kl_uniform:.3f",
    )
    table.add_argument("--window", help="average each run over steps FROM[-TO], not its final evaluation")
    table.add_argument("--baseline", help="the setting others are paired with (default: the first)")
    table.add_argument("--sort-by", metavar="KEY", help="order settings by this key's value (a number)")
    table.add_argument("--label-by", metavar="KEY", help="name settings by this key alone")
    table.add_argument("--per-run", action="store_true", help="also one row per run")
    table.add_argument(
        "--allow-cross-machine",
        action="store_true",
        help="pair seeds that ran on different machines (as report)",
    )
    table.add_argument(
        "--extremes",
        nargs="+",
        default=[],
        metavar="METRIC:min|max[:FORMAT]",
        help="per run: the extreme over the evaluations from --extremes-from (or from the step --when "
        "first holds) on",
    )
    table.add_argument(
        "--extremes-from",
        type=int,
        default=0,
        metavar="STEP",
        help="per run: the extremes over the evaluations from this step on",
    )
    table.add_argument(
        "--when",
        metavar="CONDITIONS",
        help="per run: the first step these hold and later steps they do not, e.g. 'modes>=5'",
    )
    table.add_argument("--steps-per-epoch", type=float, help="per run: onsets also in epochs of this length")
    table.add_argument(
        "--per-step",
        nargs="+",
        default=[],
        metavar="METRIC[:FORMAT]",
        help="also the mean over seeds of these metrics at every evaluation",
    )
    table.add_argument("--plots", action="store_true", help="also redraw FOLDER/figures/metric-*.png")
    table.add_argument("--by-run", action="store_true", help="--per-step: each run's values, not the mean")
    table.set_defaults(handler=_table)


def _add_atlas(commands: argparse._SubParsersAction) -> None:
    atlas = commands.add_parser(
        "atlas", help="gather declared fix-vs-baseline sweeps (one per testbed) into results and a matrix"
    )
    atlas.add_argument("sweeps", nargs="+", help="sweep folders, each with an [analysis] declared")
    atlas.add_argument("--out", default="results/fix-atlas", help="results folder (default: %(default)s)")
    atlas.add_argument("--allow-cross-machine", action="store_true", help="as for report")
    atlas.set_defaults(handler=_atlas)


def _status(folder: Path) -> int:
    """`sweep --status DIR`: each run's state, the counts, and the work left."""
    from modecollapse.speed import machine
    from modecollapse.sweepfolder import SweepFolder, speed_ratio, work_left_s

    sweep = SweepFolder(folder)
    rows = sweep.status_rows()
    for row in rows:
        progress = f"{row['step']}/{row['total_steps']}" if row["total_steps"] else "-"
        verdict = f" {row['verdict']}" + (
            f" since step {row['onset_step']}" if row["onset_step"] is not None else ""
        )
        if row["relative_onset_step"] is not None:
            verdict += f" (fell from its best at step {row['relative_onset_step']})"
        error = f"  {row['error']}" if row["error"] else ""
        if row["restored_from"]:
            error += f"  (restored from {row['restored_from']})"
        print(
            f"{row['status']:<11} {progress:>11}  {row['id']}{verdict if row['verdict'] else ''}{error}"
        )
    counts = {s: sum(r["status"] == s for r in rows) for s in dict.fromkeys(r["status"] for r in rows)}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    planned = sweep.read_index().get("planned")
    if planned:
        done = sum(r["status"] == "completed" and r["id"] in planned for r in rows)
        closed = sum(r["status"] == "closed" and r["id"] in planned for r in rows)
        shut = f", {closed} closed ([closed])" if closed else ""
        to_go = len(planned) - done - closed
        print(f"the sweep file plans {len(planned)} runs: {done} completed{shut}, {to_go} to go")
    here = machine()["id"]
    left = work_left_s(rows, here)
    if left:
        at_once = counts.get("running") or os.cpu_count() or 1
        hours = left / 3600
        finished = [r for r in rows if r["status"] == "completed" and r.get("seconds")]
        ratio = speed_ratio(finished, here)
        if not any(r.get("machine") == here for r in finished):
            basis = "on other machines: none has finished on this one"
        elif ratio != 1.0:
            basis = f"here; a setting run only elsewhere x {ratio:.2f}, how much longer runs take here"
        else:
            basis = "on this machine, else elsewhere"
        print(
            f"work left: ~{hours:.1f} run-hours, ~{hours / at_once:.1f} h at {at_once} "
            f"run{'s' * (at_once != 1)} at a time (each setting's completed runs' median {basis})"
        )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from modecollapse.errors import ConfigError
    from modecollapse.experiments.records import restore
    from modecollapse.experiments.sweep import load_sweep, parse_seeds, select
    if args.status:
        return _status(Path(args.status))
    if not args.file:
        raise ConfigError("give a sweep FILE, or --status DIR")
    sweep = whole = load_sweep(args.file)
    if args.only or args.seeds or args.set:
        sweep = select(sweep, args.only, parse_seeds(args.seeds) if args.seeds else None, args.set)
    folder = Path(args.out) if args.out else Path("sweeps") / sweep.name
    if args.restore:
        restored = restore(
            select(whole, overrides=args.set) if args.set else whole, folder, Path(args.restore)
        )
        print(f"restored {len(restored)} finished runs from {args.restore}")
    results = _execute_stopped_by_kill(sweep, folder, args)
    failed = [r for r in results if r["status"] == "failed"]
    runs = f"{len(failed)} run{'s' * (len(failed) > 1)}"
    print(f"sweep folder: {folder}" + (f"; {runs} failed (see --status)" if failed else ""))
    print(f"next: modecollapse report {folder}")
    return 1 if failed else 0


def _execute_stopped_by_kill(sweep: Sweep, folder: Path, args: argparse.Namespace) -> list[dict]:
    """Run the sweep; with the local executor `kill` (SIGTERM) stops its runs as Ctrl-C does
    (Ray installs its own handler)."""
    from modecollapse.experiments.executors import execute

    with sigterm_as_interrupt(args.executor == "local"):
        return execute(sweep, folder, args.executor, args.workers, args.address)


@contextlib.contextmanager
def sigterm_as_interrupt(active: bool = True) -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt inside the block (when `active`, in the main thread), so
    that `kill` stops a run or sweep as Ctrl-C does: recorded as interrupted, resumable."""
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report(args: argparse.Namespace) -> int:
    from modecollapse.experiments.report import build_report

    page = build_report(Path(args.folder), args.allow_cross_machine).page
    beside = sorted(p.name for p in page.parent.iterdir() if p.suffix in (".md", ".csv") and p != page)
    print(f"report: {page} (beside it: {', '.join(beside)}, and the plots)")
    return 0


def _table(args: argparse.Namespace) -> int:
    from modecollapse.experiments import run_tables
    from modecollapse.experiments import table as tables

    study = tables.read_study(Path(args.folder), args.runs)
    study.label_by = args.label_by
    columns = [tables.parse_column(c) for c in args.columns]
    window = tables.parse_window(args.window) if args.window else None
    parts = [
        tables.summary_table(study, columns, window, args.baseline, args.sort_by, args.allow_cross_machine)
    ]
    if args.per_run or args.extremes or args.when:
        parts.append(
            run_tables.per_run_table(
                study,
                columns,
                args.extremes,
                args.when,
                args.sort_by,
                args.steps_per_epoch,
                args.extremes_from,
            )
        )
    if args.per_step:
        metrics = [tables.parse_column(m) for m in args.per_step]
        parts.append(run_tables.per_step_table(study, metrics, args.sort_by, args.by_run))
    print("\n".join(parts), end="")
    if args.plots:
        print("\nwrote", ", ".join(p.name for p in tables.redraw_plots(study, Path(args.folder))))
    return 0


def _atlas(args: argparse.Namespace) -> int:
    from modecollapse.experiments.atlas import build_atlas

    for path in build_atlas([Path(p) for p in args.sweeps], Path(args.out), args.allow_cross_machine):
        print(f"wrote {path}")
    rebuild = f"python -m modecollapse.experiments.suggestions --results {args.out}"
    print(f"next, in this project's checkout: {rebuild}  (rewrites the 'try next' table diagnose ships)")
    return 0
