from modecollapse.training import progress


def test_a_run_on_a_sweep_workers_line_names_its_bar_and_clears_it(monkeypatch):
    monkeypatch.setattr(progress, "bar_line", 1)
    bar = progress.progress_bar(10, 2, True, "pack=2__seed0")
    assert abs(bar.pos) == 1 and bar.desc == "pack=2__seed0" and not bar.leave and bar.n == 2
    bar.close()
    monkeypatch.setattr(progress, "bar_line", None)  # `modecollapse train`: tqdm's own place, kept
    bar = progress.progress_bar(10, 0, True, "pack=2__seed0")
    assert bar.leave and bar.desc == ""
    bar.close()
