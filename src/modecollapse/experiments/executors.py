"""Run a sweep's runs: a local process pool (default) or Ray tasks; finished runs are skipped.

A run that raises is recorded in its folder as failure.json and does not stop the others;
running the same sweep again retries failed runs, resumes interrupted ones from their last
checkpoint, and leaves completed ones alone unless the sweep now lengthens them (a higher
train.max_steps or train.epochs: they train on from their last checkpoint).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from modecollapse.config import BOOKKEEPING, config_changes, lengthens, load_config
from modecollapse.errors import ConfigError, TrainingDiverged
from modecollapse.experiments.sweep import RunSpec, Sweep, write_index
from modecollapse.files import atomic_write_json
from modecollapse.runfolder import FINISHED, RunFolder
from modecollapse.speed import default_workers
from modecollapse.sweepfolder import SweepFolder


def run_one(run_id: str, config: dict[str, Any], run_dir: str, threads: int) -> dict[str, Any]:
    """Train one run (resuming if it has a checkpoint); never raises: failures are recorded."""
    import torch

    from modecollapse.config import config_from_dict
    from modecollapse.training.loop import train

    global _in_run
    if _stopping:
        return {"id": run_id, "status": "not started", "seconds": 0.0}
    torch.set_num_threads(threads)
    folder = Path(run_dir)
    RunFolder(folder).failure.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        resume = RunFolder(folder).config.is_file()
        _in_run = True
        summary = train(config_from_dict(config), folder, resume=resume)
        return {"id": run_id, "status": summary["status"], "seconds": round(time.perf_counter() - start, 1)}
    except TrainingDiverged as error:  # its outcome: final, in no pair (summary.json says "diverged")
        return {"id": run_id, "status": "diverged", "error": str(error),
                "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    except Exception as error:  # noqa: BLE001 - a failed run must not stop the sweep
        failure = {
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        atomic_write_json(RunFolder(folder).failure, failure)
        return {
            "id": run_id,
            "status": "failed",
            "error": failure["error"],
            "seconds": round(time.perf_counter() - start, 1),
        }
    finally:
        _in_run = False


def _die_with_parent(parent: int) -> None:
    """In a pool worker (see _pool_worker_setup): exit when the sweep process that started us is
    gone (killed with SIGKILL, say), instead of training on as an orphan; the run resumes from
    its last checkpoint when the sweep is started again."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _pool_worker_setup(parent: int, started: Any, workers: int) -> None:
    """Pool worker initializer. The sweep process alone takes SIGINT (a terminal's Ctrl-C reaches
    the whole process group) and passes it on as one SIGTERM per worker, which interrupts the
    run as Ctrl-C interrupts `modecollapse train`: it is marked interrupted and resumes from its
    last checkpoint. Each worker draws its runs' progress bars on its own terminal line
    (`started`: a shared count of the workers started so far)."""
    from modecollapse.training import progress

    _die_with_parent(parent)
    with started.get_lock():
        progress.bar_line = started.value % workers
        started.value += 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)


_stopping = False
"""Set in a pool worker told to stop: it starts none of the runs already queued to it."""
_in_run = False
"""Set in a pool worker while it trains a run: only then does a stop interrupt anything."""


def _stop_worker(signum: int, frame: Any) -> None:
    """A pool worker's SIGTERM: interrupt the run in training, once; an idle worker (waiting
    for work, between runs) only remembers to start no more."""
    global _stopping
    first = not _stopping
    _stopping = True
    if first and _in_run:
        raise KeyboardInterrupt


def _interrupt_workers(before: set[int]) -> None:
    """Interrupt the pool workers (see _pool_worker_setup): this process's children that
    were not already running (`before`: their pids) when the pool started."""
    for child in multiprocessing.active_children():
        if child.pid in before:
            continue
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def pending_runs(sweep: Sweep, sweep_dir: Path) -> list[RunSpec]:
    """Unfinished runs, seed by seed: a sweep stopped early holds whole seeds of every setting.
    A completed run is unfinished again when the sweep now asks for a longer run of it
    (config.lengthens: e.g. train.max_steps raised); it trains on from its last checkpoint."""
    seeds = {seed: rank for rank, seed in enumerate(dict.fromkeys(r.seed for r in sweep.runs))}
    folder = SweepFolder(sweep_dir)
    closed = sweep.closed_runs()  # the sweep file's [closed]: never started
    todo = [r for r in sweep.runs if r.run_id not in closed and not _finished(r, folder.run(r.run_id))]
    return sorted(todo, key=lambda r: seeds[r.seed])


def drifted_runs(sweep: Sweep, sweep_dir: Path) -> list[tuple[str, list[str]]]:
    """Finished runs (completed or diverged) whose saved config differs from what the sweep file
    now gives them, other than by lengthening or in bookkeeping: (run id, the changed keys)."""
    folder = SweepFolder(sweep_dir)
    drifted = []
    for run in sweep.runs:
        run_folder = folder.run(run.run_id)
        if run_folder.status()["status"] not in FINISHED:
            continue
        try:
            saved = load_config(run_folder.config)
        except ConfigError:  # written by another version: left alone (see _finished)
            continue
        if lengthens(saved, run.config):
            continue
        changes = config_changes(saved, run.config, ignore=BOOKKEEPING)
        if changes:
            drifted.append((run.run_id, changes))
    return drifted


def _finished(run: RunSpec, folder: RunFolder) -> bool:
    """Diverged (a NaN loss is its outcome), or completed and not asked to train further: the
    sweep's config does not lengthen it past the steps it trained (or it stopped at a collapse,
    as a longer run would have)."""
    summary = folder.status()
    if summary["status"] == "diverged":  # trained again, it diverges again: its outcome stands
        return True
    if summary["status"] != "completed":
        return False
    if summary.get("stopped_at_collapse"):
        return True
    try:
        saved = load_config(folder.config)
    except ConfigError:  # written by another version: leave it alone, as before lengthening existed
        return True
    if not lengthens(saved, run.config):
        return True
    per_epoch = summary.get("steps_per_epoch")
    return bool(per_epoch) and run.config.train.total_steps(per_epoch) <= summary.get("step", 0)


def execute(
    sweep: Sweep,
    sweep_dir: Path,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    report: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run every unfinished run of `sweep` into `sweep_dir`; return one result per run started."""
    write_index(sweep, sweep_dir)
    todo = pending_runs(sweep, sweep_dir)
    folder = SweepFolder(sweep_dir)
    closed = sweep.closed_runs()
    shut = [r for r in sweep.runs if r.run_id in closed and not _finished(r, folder.run(r.run_id))]
    runs = len(sweep.runs) - len(shut)
    report(f"sweep {sweep.name}: {runs} runs, {runs - len(todo)} already completed, {len(todo)} to run")
    if shut:
        report(f"closed by the sweep file's [closed], not run: {len(shut)} planned runs")
    drift = drifted_runs(sweep, sweep_dir)
    if drift:
        examples = "; ".join(f"{run_id}: {', '.join(changes[:3])}" for run_id, changes in drift[:3])
        report(
            f"warning: {len(drift)} finished run(s) were trained with settings this sweep file no longer "
            f"gives ({examples}{'; ...' if len(drift) > 3 else ''}). They are kept as they are, so their "
            "settings now mix two configs: put the old values back in the file, or train the new ones "
            "into a new --out (a diverged run trains again once its folder is deleted)"
        )
    if not todo:
        return []
    folder = SweepFolder(sweep_dir)
    jobs = [(r.run_id, r.config.model_dump(mode="json"), str(folder.run(r.run_id).path)) for r in todo]
    if executor == "ray":
        return _run_ray(jobs, sweep, address, report)
    workers = workers or sweep.resources.workers or default_workers(sweep.resources.threads_per_worker)
    warning = busy_machine_warning(min(workers, len(jobs)) * _threads_per_worker(sweep, workers))
    if warning:
        report(warning)
    return _run_local(jobs, sweep, workers, report)


def _threads_per_worker(sweep: Sweep, workers: int) -> int:
    """The sweep's threads per run; left unset with several workers, the cores shared out."""
    threads = sweep.resources.threads_per_worker
    if workers > 1 and threads == 1 and "threads_per_worker" not in sweep.source.get("resources", {}):
        threads = max(1, (os.cpu_count() or 1) // workers)
    return threads


def busy_machine_warning(threads: int) -> str | None:
    """A warning when the load already on this machine and the sweep's threads exceed its cores
    (another sweep still running, say): every run then trains slower and records a longer wall time."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None
    if load < 1.0 or load + threads <= cores + 0.5:
        return None
    return (
        f"warning: this machine is busy (load {load:.1f} over the last minute, {cores} cores) and this "
        f"sweep adds {threads} thread{'s' * (threads > 1)}: runs will train slower and record longer "
        "wall times (their CPU time, summary.json's cpu_s, much less so); see what else runs with `top`"
    )


def _run_local(jobs: list[tuple], sweep: Sweep, workers: int, report: Callable[[str], None]) -> list[dict]:
    threads = _threads_per_worker(sweep, workers)
    results = []
    if workers == 1:
        for job in jobs:
            results.append(run_one(*job, threads))
            report(_line(results[-1], len(results), len(jobs)))
        return results
    before = {child.pid for child in multiprocessing.active_children()}
    context = get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_pool_worker_setup,
        initargs=(os.getpid(), context.Value("i", 0), workers),
    )
    interrupted = False
    try:
        futures = [pool.submit(run_one, *job, threads) for job in jobs]
        for future in as_completed(futures):
            results.append(future.result())
            report(_line(results[-1], len(results), len(jobs)))
    except KeyboardInterrupt:  # SIGINT to the sweep process: the runs in flight stop and save
        interrupted = True
        _interrupt_workers(before)
        raise
    finally:
        pool.shutdown(cancel_futures=interrupted)
    return results


def _run_ray(
    jobs: list[tuple], sweep: Sweep, address: str | None, report: Callable[[str], None]
) -> list[dict]:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'ray>=2.9'") from None
    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    resources = sweep.resources
    remote = ray.remote(num_cpus=resources.num_cpus, num_gpus=resources.num_gpus)(run_one)
    threads = max(1, int(resources.num_cpus))
    pending = [remote.remote(*job, threads) for job in jobs]
    results = []
    while pending:
        finished, pending = ray.wait(pending, num_returns=1)
        results.append(ray.get(finished[0]))
        report(_line(results[-1], len(results), len(jobs)))
    return results


def _line(result: dict[str, Any], count: int, total: int) -> str:
    extra = f": {result['error']}" if result.get("error") else ""
    return f"[{count}/{total}] {result['id']}: {result['status']} ({result['seconds']} s){extra}"
