import csv
import json
import statistics
from pathlib import Path

import pytest

from modecollapse.config import config_to_toml
from modecollapse.errors import ConfigError, TrainingDiverged
from modecollapse.experiments.executors import busy_machine_warning, execute
from modecollapse.experiments.report import aggregate, build_report, collect
from modecollapse.experiments.sweep import load_sweep
from modecollapse.runfolder import RunFolder
from modecollapse.sweepfolder import SweepFolder, run_seconds, speed_ratio, work_left_s
from tests.helpers import SWEEP, write


def test_grid_times_seeds_expands_into_validated_configs(tmp_path):
    sweep = load_sweep(write(tmp_path))
    assert [r.run_id for r in sweep.runs] == [
        "pack=1__seed0",
        "pack=1__seed1",
        "pack=2__seed0",
        "pack=2__seed1",
    ]
    assert [r.config.model.pack for r in sweep.runs] == [1, 1, 2, 2]
    assert [r.config.train.seed for r in sweep.runs] == [0, 1, 0, 1]


def test_bad_grid_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'model.pak'.*did you mean 'model.pack'"):
        load_sweep(write(tmp_path, SWEEP.replace('"model.pack"', '"model.pak"')))


def test_sweep_file_typos_get_the_nearest_key(tmp_path):
    typos = {
        SWEEP.replace("[grid]", "[grids]"): "unknown key 'grids': did you mean 'grid'?",
        SWEEP.replace("seeds = [0, 1]", "seed = [0, 1]"): "unknown key 'seed': did you mean 'seeds'?",
        SWEEP + "[resource]\nworkers = 2\n": "unknown key 'resource': did you mean 'resources'?",
        SWEEP + "[resources]\nworker = 2\n": "'resources.worker': did you mean 'resources.workers'?",
        SWEEP.replace('"model.pack"', '"pack"'): "unknown key 'pack': pack belongs in [model] (model.pack)",
        SWEEP.replace("seeds = [0, 1]", "seeds = [-1, 1]"): "seeds must be different whole numbers from 0 up",
        SWEEP.replace("seeds = [0, 1]", "seeds = [1, 1]"): "seeds must be different whole numbers from 0 up",
    }
    for text, message in typos.items():
        with pytest.raises(ConfigError) as error:
            load_sweep(write(tmp_path, text))
        assert message in str(error.value) and "Value error" not in str(error.value), str(error.value)


def test_base_config_file_is_relative_to_the_sweep(tmp_path):
    (tmp_path / "base.toml").write_text('[data]\nname = "ring8"\n[model]\nfamily = "mlp"\n')
    sweep = load_sweep(write(tmp_path, 'name = "b"\nbase_config = "base.toml"\nseeds = [3]\n'))
    assert sweep.runs[0].config.data.name == "ring8" and sweep.runs[0].config.train.seed == 3


def test_inline_base_tables_change_keys_not_whole_tables(tmp_path):
    (tmp_path / "base.toml").write_text(
        '[data]\nname = "ring8"\n[model]\nfamily = "mlp"\n'
        "[train]\nepochs = 8\nbatch_size = 256\nlr_g = 1e-3\n"
    )
    text = 'name = "b"\nbase_config = "base.toml"\n[base.train]\nprogress = false\n'
    config = load_sweep(write(tmp_path, text)).runs[0].config
    assert (config.train.epochs, config.train.batch_size, config.train.lr_g) == (8, 256, 1e-3)
    assert config.train.progress is False


@pytest.mark.slow
def test_local_pool_runs_skips_finished_and_records_failures(tmp_path):
    text = SWEEP.replace('"model.pack" = [1, 2]', '"data.num_samples" = [512, 8]')  # 8 < one batch: fails
    sweep = load_sweep(write(tmp_path, text))
    results = execute(sweep, tmp_path / "out", workers=2, report=lambda line: None)
    by_status = {r["id"]: r["status"] for r in results}
    assert by_status == {
        "num_samples=512__seed0": "completed", "num_samples=512__seed1": "completed",
        "num_samples=8__seed0": "failed", "num_samples=8__seed1": "failed",
    }  # fmt: skip
    rows = {row["id"]: row for row in SweepFolder(tmp_path / "out").status_rows()}
    assert "too few for one step" in rows["num_samples=8__seed0"]["error"]
    assert rows["num_samples=512__seed1"]["step"] == 32
    again = execute(sweep, tmp_path / "out", workers=1, report=lambda line: None)
    assert sorted(r["id"] for r in again) == ["num_samples=8__seed0", "num_samples=8__seed1"]  # only retries


def test_a_diverged_run_is_its_outcome_not_a_failure_to_retry(tmp_path, monkeypatch):
    from modecollapse.training import loop

    def diverges(config, folder, resume=False):
        Path(folder).mkdir(parents=True, exist_ok=True)
        RunFolder(folder).config.write_text(config_to_toml(config))  # as train does
        RunFolder(folder).write_summary({"status": "diverged", "diverged_at_step": 13})
        raise TrainingDiverged("the loss became nan at step 13")

    monkeypatch.setattr(loop, "train", diverges)
    sweep = load_sweep(write(tmp_path, SWEEP))
    results = execute(sweep, tmp_path / "out", workers=1, report=lambda line: None)
    assert {r["status"] for r in results} == {"diverged"} and "nan at step 13" in results[0]["error"]
    rows = SweepFolder(tmp_path / "out").status_rows()
    assert {row["status"] for row in rows} == {"diverged"}  # no failure.json turns it into "failed"
    assert execute(sweep, tmp_path / "out", workers=1, report=lambda line: None) == []  # nothing retried
    said = []
    changed = load_sweep(write(tmp_path, SWEEP.replace("epochs = 2\n", "epochs = 2\nlr_g = 1e-4\n")))
    assert execute(changed, tmp_path / "out", workers=1, report=said.append) == []
    assert any("finished run(s) were trained with settings" in line and "lr_g" in line for line in said)
    with pytest.raises(ConfigError, match="variant names may not hold ',' or '='"):
        load_sweep(write(tmp_path, SWEEP + '\n[variants."a,b"]\n"model.pack" = 1\n'))


@pytest.mark.slow
def test_interrupted_run_is_resumed(tmp_path):
    from modecollapse.training.loop import train

    sweep = load_sweep(write(tmp_path))
    first = sweep.runs[0]

    def crash(step, models):
        if step == 7:
            raise KeyboardInterrupt

    config = first.config.model_copy(
        update={"train": first.config.train.model_copy(update={"checkpoint_every": 5})}
    )
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "out" / "runs" / first.run_id, callbacks=[crash])
    from modecollapse.training.checkpoint import latest_checkpoint

    assert latest_checkpoint(tmp_path / "out" / "runs" / first.run_id).name == "step-00000005"
    runs = load_sweep(write(tmp_path, SWEEP.replace("[base.train]", "[base.train]\ncheckpoint_every = 5")))
    execute(runs, tmp_path / "out", workers=1, report=lambda line: None)
    summary = json.loads((tmp_path / "out" / "runs" / first.run_id / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["step"] == 32


@pytest.mark.slow
def test_a_sweep_file_changed_under_finished_runs_is_named_not_mixed_in_silently(tmp_path):
    short = SWEEP.replace("epochs = 2", "epochs = 2\nmax_steps = 8")
    execute(load_sweep(write(tmp_path, short)), tmp_path / "out", workers=1, report=lambda line: None)
    lines: list[str] = []
    same = load_sweep(write(tmp_path, short.replace("progress = false", "progress = true")))  # bookkeeping
    execute(same, tmp_path / "out", workers=1, report=lines.append)
    longer = load_sweep(write(tmp_path, short.replace("max_steps = 8", "max_steps = 12")))  # lengthening
    execute(longer, tmp_path / "out", workers=1, report=lines.append)
    drift = "finished run(s) were trained with settings this sweep file no longer gives"
    assert not any(drift in line for line in lines)
    changed = load_sweep(write(tmp_path, short.replace("max_steps = 8", "max_steps = 12\nlr_d = 1e-3")))
    execute(changed, tmp_path / "out", workers=1, report=lines.append)
    (warning,) = [line for line in lines if drift in line]
    assert warning.startswith(f"warning: 4 {drift}")
    assert "train.lr_d: 0.0002 -> 0.001" in warning and "new --out" in warning


@pytest.mark.slow
def test_a_longer_sweep_trains_its_finished_runs_on(tmp_path):
    short = load_sweep(write(tmp_path, SWEEP.replace("epochs = 2", "epochs = 2\nmax_steps = 16")))
    execute(short, tmp_path / "out", workers=1, report=lambda line: None)
    longer = load_sweep(write(tmp_path, SWEEP.replace("epochs = 2", "epochs = 2\nmax_steps = 32")))
    results = execute(longer, tmp_path / "out", workers=1, report=lambda line: None)
    assert sorted(r["id"] for r in results) == sorted(r.run_id for r in longer.runs)
    assert {row["step"] for row in SweepFolder(tmp_path / "out").status_rows()} == {32}
    assert execute(longer, tmp_path / "out", workers=1, report=lambda line: None) == []
    more_epochs = load_sweep(write(tmp_path, SWEEP.replace("epochs = 2", "epochs = 9\nmax_steps = 32")))
    assert (
        execute(more_epochs, tmp_path / "out", workers=1, report=lambda line: None) == []
    )  # max_steps binds
    old = tmp_path / "out" / "runs" / longer.runs[0].run_id / "config.toml"
    old.write_text(old.read_text() + "\n[legacy]\nremoved_key = 1\n")  # written by another version
    assert execute(longer, tmp_path / "out", workers=1, report=lambda line: None) == []


@pytest.mark.slow
def test_report_table_is_mean_and_t_interval_over_seeds(tmp_path):
    sweep = load_sweep(write(tmp_path))
    execute(sweep, tmp_path / "out", workers=1, report=lambda line: None)
    results = collect(tmp_path / "out")
    rows = {row["setting"]: row for row in aggregate(results)}
    for setting in ("pack=1", "pack=2"):
        finals = [r.final["high_quality"] for r in results if r.setting_id == setting]
        mean, half, n = rows[setting]["metrics"]["high_quality"]
        assert n == 2 and mean == pytest.approx(statistics.mean(finals))
        # 95% t-interval with 1 degree of freedom: t = 12.706
        assert half == pytest.approx(12.7062 * statistics.stdev(finals) / 2**0.5, rel=1e-4)
    page = build_report(tmp_path / "out").page
    report = page.parent
    for name in ("table.md", "table.csv", "metric-modes.png", "class-histograms.png", "samples-pack=1.png"):
        assert (report / name).is_file()
    runs = (report / "runs.csv").read_text().splitlines()
    assert runs[0].startswith("run,setting,seed,status,step,") and len(runs) == 5
    curves = list(csv.DictReader((report / "curves.csv").open()))
    assert len(curves) == sum(len(r.evals) for r in results) > len(results)  # every evaluation
    first = [c for c in curves if c["run"] == results[0].run_id]
    assert [float(c["high_quality"]) for c in first] == [e["high_quality"] for e in results[0].evals]
    assert "Baseline: pack=1" in (report / "comparisons.md").read_text()
    text = page.read_text()
    figures = len(list(report.glob("*.png")))
    assert text.count('src="data:image/png;base64,') == figures
    assert "| pack=2 | 2/2 |" in (report / "table.md").read_text()
    assert not (report / "translations.png").exists()  # GANs, not translators
    # a run still training is left out of the means (its length differs), not mixed in
    still = next(r for r in results if r.setting_id == "pack=2")
    summary_path = still.folder / "summary.json"
    summary_path.write_text(json.dumps({**json.loads(summary_path.read_text()), "status": "running"}))
    rows = {row["setting"]: row for row in aggregate(collect(tmp_path / "out"))}
    assert rows["pack=2"]["finished"] == 1 and rows["pack=2"]["metrics"]["high_quality"][2] == 1


@pytest.mark.slow
def test_report_on_a_single_run(tmp_path):
    from modecollapse.training.loop import train
    from tests.conftest import tiny_ring_config

    train(tiny_ring_config(), tmp_path / "run")
    page = build_report(tmp_path / "run").page
    assert "| run | 1/1 |" in (page.parent / "table.md").read_text()
    assert "<td>run</td><td>1/1</td>" in page.read_text()


def test_variants_cross_the_grid(tmp_path):
    text = (
        SWEEP + '\n[variants.as_published]\n"objective.label_flip_rounding" = "floor"\n"model.g_width" = 8\n'
    )
    text += '[variants.corrected]\n"objective.label_flip_rounding" = "bernoulli"\n'
    sweep = load_sweep(write(tmp_path, text.replace("seeds = [0, 1]", "seeds = [0]")))
    assert [r.run_id for r in sweep.runs] == [
        "variant=as_published,pack=1__seed0", "variant=as_published,pack=2__seed0",
        "variant=corrected,pack=1__seed0", "variant=corrected,pack=2__seed0",
    ]  # fmt: skip
    assert [r.config.objective.label_flip_rounding for r in sweep.runs] == ["floor"] * 2 + ["bernoulli"] * 2
    assert [r.config.model.g_width for r in sweep.runs] == [8, 8, 16, 16]
    from modecollapse.experiments.sweep import select

    picked = select(sweep, ["corrected"])  # a variant's name picks each of its grid cells
    assert [r.run_id for r in picked.runs] == [
        "variant=corrected,pack=1__seed0", "variant=corrected,pack=2__seed0",
    ]  # fmt: skip


def test_runs_are_started_seed_by_seed(tmp_path):
    from modecollapse.experiments.executors import pending_runs

    sweep = load_sweep(write(tmp_path))
    assert [r.run_id for r in pending_runs(sweep, tmp_path / "out")] == [
        "pack=1__seed0",
        "pack=2__seed0",
        "pack=1__seed1",
        "pack=2__seed1",
    ]


def test_the_shipped_study_files_are_valid():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "experiments").rglob("*.toml")):
        text = path.read_text()
        if "seeds" in text and ("[variants" in text or "[grid]" in text):
            assert load_sweep(path).runs, path


@pytest.mark.slow
def test_pool_workers_exit_when_the_sweep_process_is_killed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, time\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from multiprocessing import get_context\n"
        "from modecollapse.experiments.executors import _die_with_parent\n"
        "def work():\n"
        "    print(os.getpid(), flush=True)\n"
        "    time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    with ProcessPoolExecutor(1, mp_context=get_context('spawn'), initializer=_die_with_parent,\n"
        "                             initargs=(os.getpid(),)) as pool:\n"
        "        pool.submit(work).result()\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)  # as `kill -9` of the sweep would
    parent.wait()
    deadline = time.monotonic() + 15
    stat = Path(f"/proc/{worker}/stat")
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return  # the orphan exited by itself
        if stat.is_file() and stat.read_text().split(")")[-1].split()[0] == "Z":
            return  # exited, not yet reaped by init
        time.sleep(0.2)
    os.kill(worker, signal.SIGKILL)
    pytest.fail("the pool worker kept running after its sweep process was killed")


def test_only_seeds_and_set_select_and_change_runs_and_the_index_keeps_them_all(tmp_path):
    from modecollapse.experiments.sweep import parse_seeds, select

    assert parse_seeds("0-2,5") == [0, 1, 2, 5]
    with pytest.raises(ConfigError, match="--seeds takes seeds like 0-4"):
        parse_seeds("a-b")
    sweep = load_sweep(write(tmp_path))
    one = select(sweep, ["pack=2"], [1], ["train.epochs=3"])
    assert [r.run_id for r in one.runs] == ["pack=2__seed1"] and one.runs[0].config.train.epochs == 3
    with pytest.raises(ConfigError, match="names no setting of mini; settings: pack=1, pack=2"):
        select(sweep, ["pack=9"])
    folder = tmp_path / "sweep"
    execute(select(sweep, ["pack=1"], [0]), folder, workers=1)
    execute(select(sweep, ["pack=2"], [1]), folder, workers=1)
    assert [r["id"] for r in SweepFolder(folder).read_index()["runs"]] == ["pack=1__seed0", "pack=2__seed1"]
    status = {row["id"]: row["status"] for row in SweepFolder(folder).status_rows()}
    assert status == {"pack=1__seed0": "completed", "pack=2__seed1": "completed"}


@pytest.mark.slow
def test_status_tells_a_running_run_from_one_whose_process_is_gone(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    folder = tmp_path / "sweep"
    execute(load_sweep(write(tmp_path, SWEEP)), folder, workers=1)
    run = next((folder / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
    (run / "run.lock").write_text(f"pid {os.getpid()} on {socket.gethostname()}")
    status = {row["id"]: row["status"] for row in SweepFolder(folder).status_rows()}
    assert status[run.name] == "running"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (run / "run.lock").write_text(f"pid {gone.pid} on {socket.gethostname()}")
    status = {row["id"]: row["status"] for row in SweepFolder(folder).status_rows()}
    assert status[run.name] == "stopped" and "running" not in status.values()


@pytest.mark.parametrize(
    "load, threads, busy", [(0.2, 2, False), (1.0, 1, False), (2.0, 2, True), (1.2, 2, True), (1.9, 1, True)]
)
def test_a_sweep_warns_when_the_machine_is_already_busy(monkeypatch, load, threads, busy):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr("os.getloadavg", lambda: (load, load, load), raising=False)
    warning = busy_machine_warning(threads)
    assert (warning is not None) == busy
    if busy:
        assert f"load {load:.1f}" in warning and "2 cores" in warning and "cpu_s" in warning
        assert f"adds {threads} thread{'s' * (threads > 1)}:" in warning  # "1 thread", not "1 threads"


def test_no_load_figure_no_warning(monkeypatch):
    monkeypatch.delattr("os.getloadavg", raising=False)  # not on every platform
    assert busy_machine_warning(64) is None


@pytest.mark.slow
def test_the_busy_warning_reaches_the_sweeps_output(tmp_path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr("os.getloadavg", lambda: (2.0, 2.0, 2.0), raising=False)
    lines = []
    execute(load_sweep(write(tmp_path, SWEEP)), tmp_path / "sweep", workers=1, report=lines.append)
    assert sum(line.startswith("warning: this machine is busy") for line in lines) == 1


def test_the_work_left_comes_from_each_settings_completed_runs():
    def row(setting, status, seconds=None, step=0, total=10):
        return {"setting": setting, "status": status, "seconds": seconds, "step": step, "total_steps": total}

    rows = [row("a", "completed", 100, 10), row("a", "completed", 300, 10), row("b", "completed", 1000, 10)]
    assert work_left_s(rows) == 0
    rows += [row("a", "running", 50, step=5), row("c", "pending", total=None)]
    assert work_left_s(rows) == 200 * 0.5 + 300  # half of a's median, all of the overall median
    assert work_left_s([row("a", "pending")]) is None  # nothing to estimate from yet


def test_the_work_left_on_a_slower_machine_is_scaled_by_what_it_has_run():
    def row(setting, status, seconds=None, machine="old"):
        return {"setting": setting, "status": status, "seconds": seconds, "step": 0, "total_steps": 10,
                "machine": machine}  # fmt: skip

    rows = [row("a", "completed", 100), row("a", "completed", 200, "new"), row("b", "completed", 400)]
    rows += [row("a", "pending"), row("b", "pending")]
    assert speed_ratio(rows[:3], "new") == 2.0 and speed_ratio(rows[:3], None) == 1.0
    assert work_left_s(rows, "new") == 200 + 400 * 2.0  # a: its run here; b: its run elsewhere, scaled
    assert work_left_s([*rows, row("c", "pending")], "new") == 200 + 400 * 2.0 + 200 * 2.0  # c: all runs'
    assert work_left_s(rows) == 150 + 400  # no machine named: every completed run counts alike
    assert work_left_s(rows, "old") == 100 + 400  # 'a' ran on both: each machine's own median


def test_a_runs_time_is_its_cpu_time_per_thread_where_recorded():
    assert run_seconds({"cpu_s": 400.0, "machine": {"threads": 2}, "time_s": {"training": 900.0}}) == 200.0
    assert run_seconds({"cpu_s": None, "time_s": {"training": 900.0, "evaluation": 100.0}}) == 1000.0
    assert run_seconds({"wall_time_s": 50.0}) == 50.0


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_a_signal_to_the_sweep_process_alone_stops_its_runs_at_once(tmp_path, stop):
    import json
    import signal
    import subprocess
    import sys
    import time

    from modecollapse.runfolder import RunFolder

    out = tmp_path / "out"
    command = [sys.executable, "-m", "modecollapse", "sweep", str(write(tmp_path)), "--workers", "2"]
    command += ["--out", str(out), "--set", "train.epochs=100000"]  # far longer than the test waits

    def as_from_a_terminal():  # a shell's background job (as pytest may be) inherits SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    sweep = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal
    )
    runs = [out / "runs" / f"pack={p}__seed0" for p in (1, 2)]
    try:
        deadline = time.monotonic() + 120
        while not all(RunFolder(run).records("train") for run in runs):  # both are training
            assert sweep.poll() is None and time.monotonic() < deadline, "the runs never started"
            time.sleep(0.2)
        sweep.send_signal(getattr(signal, stop))  # to the sweep process only, as `kill PID` does
        try:
            _, err = sweep.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the sweep waited for its runs to finish after {stop}")
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.communicate()
    assert sweep.returncode == 130 and "run the same sweep command again" in err
    statuses = [json.loads((run / "summary.json").read_text())["status"] for run in runs]
    evidence = {  # a rare CI failure left one run "running": say what it left behind
        run.name: {
            "failure": (run / "failure.json").read_text() if (run / "failure.json").exists() else None,
            "last records": (run / "metrics.jsonl").read_text().splitlines()[-2:],
            "files": sorted(p.name for p in run.iterdir()),
        }
        for run in runs
    }
    assert statuses == ["interrupted", "interrupted"], (err[-2000:], evidence)
    assert not (out / "runs" / "pack=1__seed1").exists()  # queued to a worker, never started


def test_a_setting_cut_from_the_sweep_file_leaves_the_index_unless_it_finished(tmp_path):
    from modecollapse.experiments.sweep import write_index

    whole = load_sweep(write(tmp_path, SWEEP))
    folder = SweepFolder(tmp_path / "sweep")
    write_index(whole, folder.path)
    for run, status in (("pack=2__seed0", "completed"), ("pack=2__seed1", "interrupted")):
        (folder.path / "runs" / run).mkdir(parents=True)
        (folder.path / "runs" / run / "summary.json").write_text(json.dumps({"status": status}))
    cut = load_sweep(write(tmp_path, SWEEP.replace('"model.pack" = [1, 2]', '"model.pack" = [1]')))
    kept = ["pack=1__seed0", "pack=1__seed1", "pack=2__seed0"]
    assert [e["id"] for e in folder.entries()] == [r.run_id for r in whole.runs]  # the file still plans all
    write_index(cut, folder.path)
    assert sorted(e["id"] for e in folder.read_index()["runs"]) == kept
    # an index written before this rule (the cut, unfinished run still listed) reads the same
    index = folder.read_index()
    index["runs"].append({**index["runs"][0], "id": "pack=2__seed1", "dir": "runs/pack=2__seed1"})
    folder.index.write_text(json.dumps(index))
    assert sorted(e["id"] for e in folder.entries()) == kept
    assert sorted(row["id"] for row in folder.status_rows()) == kept


def _bar_line_after_a_pause(_: int) -> int | None:
    import time

    from modecollapse.training import progress

    time.sleep(1.0)  # holds this worker, so that the next task goes to the other one
    return progress.bar_line


def test_each_pool_worker_draws_its_progress_bars_on_its_own_line():
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from modecollapse.experiments.executors import _pool_worker_setup

    context = get_context("spawn")
    started = context.Value("i", 0)
    with ProcessPoolExecutor(2, context, _pool_worker_setup, (os.getpid(), started, 2)) as pool:
        lines = set(pool.map(_bar_line_after_a_pause, range(4)))
    assert lines == {0, 1}
