import json
import re
import subprocess
import sys

import pytest

from modecollapse.cli import main
from modecollapse.demo import run_demo


def test_data_list_shows_every_dataset(capsys, mnist_dir):
    assert main(["data", "list", "--data-dir", str(mnist_dir.parent)]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "mnist-5k", "fashion-mnist", "stacked-mnist", "ring8", "grid25"):
        assert f"\n{name} " in "\n" + out
    assert "test split: --data-dir" in out and "train split: missing" in out
    assert "Ways to get it" in out


def test_dry_run_prints_resolved_config(capsys):
    assert (
        main(["train", "experiments/configs/dcgan64_mnist.toml", "--set", "train.epochs=3", "--dry-run"]) == 0
    )
    out = capsys.readouterr().out
    assert "epochs = 3" in out and "image_size = 64" in out


def test_unknown_key_exits_2_with_suggestion(capsys):
    code = main(
        ["train", "experiments/configs/dcgan28_mnist5k.toml", "--set", "train.batchsize=32", "--dry-run"]
    )
    assert code == 2
    assert "did you mean 'train.batch_size'" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["-1", "0", "two"])
def test_a_worker_count_under_one_is_refused_before_anything_is_written(tmp_path, capsys, workers):
    with pytest.raises(SystemExit) as exit_code:
        main(["sweep", "experiments/fix-atlas/ring8.toml", "--out", f"{tmp_path}/s", "--workers", workers])
    assert exit_code.value.code == 2 and not (tmp_path / "s").exists()
    assert f"--workers: takes a whole number of at least 1, got '{workers}'" in capsys.readouterr().err


def ring_config(folder, train_keys):
    """A tiny ring8 MLP config file, with these lines added to its [train] section."""
    config = folder / "ring.toml"
    config.write_text(
        'name = "cli"\n[data]\nname = "ring8"\nnum_samples = 256\n'
        '[model]\nfamily = "mlp"\nlatent_dim = 2\ng_width = 8\nd_width = 8\n'
        f"[train]\nbatch_size = 32\ntensorboard = false\n{train_keys}"
    )
    return config


@pytest.mark.slow
def test_train_and_resume_from_the_command_line(tmp_path):
    config = ring_config(tmp_path, "epochs = 1\n")
    run = tmp_path / "run"
    command = [sys.executable, "-m", "modecollapse", "train", str(config), "--out", str(run)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "run folder:" in done.stdout
    assert "last evaluation: epoch 1, modes " in done.stdout
    detector = json.loads((run / "summary.json").read_text())["detector"]
    assert f"verdict: {detector['verdict'].upper()}" in done.stdout  # the run's verdict is said
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = subprocess.run(
        [sys.executable, "-m", "modecollapse", "train", "--resume", str(run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    # a completed run is not trained again: no new session, so one duration
    assert re.search(r"done: 8 steps \(1.00 epochs\) in [0-9.]+ s; ", resumed.stdout), resumed.stdout


@pytest.mark.slow
def test_a_killed_train_is_recorded_interrupted_and_names_its_folder(tmp_path):
    import signal
    import time

    config = ring_config(tmp_path, "max_steps = 1000000\nprogress = false\n")
    run = tmp_path / "run"
    command = [sys.executable, "-m", "modecollapse", "train", str(config), "--out", str(run)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (run / "metrics.jsonl").is_file() or not (run / "metrics.jsonl").stat().st_size:
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"--resume {run}" in err
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"

def test_the_verdict_line_says_when_and_why():
    from modecollapse.cli import verdict_line

    reasons = ["only 1 of 8 modes covered", "reverse_kl high"]
    assert verdict_line({"verdict": "collapsed", "collapse_onset_step": 1500, "reasons": reasons}) == (
        "verdict: COLLAPSED; collapse began at step 1,500: only 1 of 8 modes covered "
        "(and 1 more in summary.json)"
    )
    from_start = {
        "verdict": "collapsed",
        "collapsed_from_start_step": 1500,
        "never_healthy": True,
        "reasons": reasons[:1],
    }
    assert verdict_line(from_start).startswith(
        "verdict: COLLAPSED; collapsed from the start (confirmed at step 1,500)"
    )
    assert verdict_line({"verdict": "healthy", "never_healthy": False, "reasons": []}) == "verdict: HEALTHY"
    assert verdict_line({}) is None


def test_run_duration_counts_every_session_of_a_resumed_run():
    from modecollapse.cli import run_duration

    fresh = {"wall_time_s": 12.3, "time_s": {"training": 11.0, "evaluation": 1.3}}
    resumed = {"wall_time_s": 262.4, "time_s": {"training": 1200.0, "evaluation": 131.6}}
    assert run_duration(fresh) == "12.3 s"
    assert run_duration(resumed) == "262.4 s in its last session, 1331.6 s in all"
    assert run_duration({"wall_time_s": 5.0}) == "5.0 s"  # older summaries keep no totals


@pytest.mark.slow
def test_demo_pipeline_on_tiny_runs(tmp_path, capsys):
    tiny_ring = {
        "data": {"name": "ring8", "num_samples": 512},
        "model": {"family": "mlp", "latent_dim": 4, "g_width": 8, "d_width": 8},
        "train": {"epochs": 2, "batch_size": 64, "tensorboard": False, "progress": False},
    }
    runs = {
        "ring8-gan": tiny_ring,
        "ring8-pacgan2": {**tiny_ring, "model": {**tiny_ring["model"], "pack": 2}},
        "mnist5k-dcgan": {
            "data": {"name": "mnist-5k", "num_samples": 64},
            "model": {"family": "dcgan", "latent_dim": 8, "g_width": 4, "d_width": 4},
            "train": {"epochs": 1, "batch_size": 16, "tensorboard": False, "progress": False},
        },
    }
    results = run_demo(tmp_path, runs)
    assert set(results) == set(runs)
    for name in runs:
        assert (tmp_path / f"{name}-samples.png").is_file()
    assert (tmp_path / "ring8-modes-per-step.png").is_file()
    assert (tmp_path / "ring8-side-by-side.png").is_file()
    summary = (tmp_path / "summary.md").read_text()
    assert "| ring8-gan |" in summary and "| ring8-pacgan2 |" in summary
    gan = results["ring8-gan"]["summary"]["detector"]
    assert f"ring8-gan: {gan['verdict']}" in summary  # the first 2-D run is the one diagnosed
    run_demo(tmp_path, runs)  # a second demo into the same folder replaces the first


def test_the_demo_cites_the_atlas_for_a_collapse_and_names_the_fix_it_trains():
    from modecollapse.demo import _diagnosis

    detector = {
        "verdict": "collapsed",
        "reasons": ["only 1 of 8 modes covered"],
        "reason_kinds": ["dropped modes"],
    }
    text = _diagnosis("ring8-gan", {"summary": {"detector": detector}})
    assert text.startswith("ring8-gan: collapsed\n  - only 1 of 8 modes covered")
    assert "(pacgan2): " in text and "Holm p" in text and "evidence results/fix-atlas/ring8" in text
    assert "The demo trains pacgan2 (model.pack = 2, train.batch_size = 1024)" in text
    healthy = _diagnosis("ring8-gan", {"summary": {"detector": {"verdict": "healthy", "reasons": []}}})
    assert "What diagnose cites" not in healthy
