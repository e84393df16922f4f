"""results/label-flip-steps/65k/verdicts.py: the declared verdict rules, row by row."""

import csv
import importlib.util
from pathlib import Path

from modecollapse.experiments.analysis import AnalysisResult, Comparison
from modecollapse.experiments.analysis_page import render_csv

STUDY = Path(__file__).resolve().parents[2] / "results" / "label-flip-steps" / "65k"
spec = importlib.util.spec_from_file_location("verdicts", STUDY / "verdicts.py")
verdicts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(verdicts)

SETTING = "variant=as_published,label_flip_fraction={}"
RUN_COLUMNS = ["run", "setting", "seed", "status", "relative_onset_step", "never_healthy"]


def write(folder: Path, onsets: dict, delays: dict, seeds=(0, 1, 2), primary=True, raw_p=0.01) -> Path:
    """runs.csv with RUN_COLUMNS; analysis.csv by the analysis's own writer, the whole declared
    family (3 levels x 3 metrics) with the onset rows from `delays` {share: (change, established)}."""
    rows = [",".join(RUN_COLUMNS)]
    for share, values in onsets.items():
        for seed, value in enumerate(values):
            never = "True" if value == "never" else "False"
            onset = "" if value == "never" else value
            rows.append(f'r{share}{seed},"{SETTING.format(share)}",{seed},completed,{onset},{never}')
    rows.append(f'x,"{SETTING.format(0.2)}",9,running,,False')
    (folder / "runs.csv").write_text("\n".join(rows) + "\n")
    family = []
    for share, (change, established) in delays.items():
        for metric in verdicts.PRIMARY:
            onset = metric == "relative_onset_step"
            moved = change if onset else 0.0
            family.append(
                Comparison(SETTING.format(share), metric, "higher", list(seeds), 0.0, moved, moved,
                           100.0, raw_p, primary, 0.01, established and onset and primary)
            )  # fmt: skip
    result = AnalysisResult({"alpha": 0.05}, primary, "", {}, [], family)
    (folder / "analysis.csv").write_text(render_csv(result))
    return folder


def rows(folder: Path) -> dict[str, str]:
    lines = verdicts.table(folder).splitlines()[2:]
    return {cells[1].strip() + cells[2].strip(): cells[-2].strip() for cells in (x.split("|") for x in lines)}


ALL = {0.1: (20000.0, True), 0.15: (5000.0, False), 0.2: (-3000.0, True)}


def test_rows_follow_the_declared_rules(tmp_path):
    onsets = {
        0.0: ["11244", "12181", "13118"],  # 12, 13, 14 epochs: 13 inside
        0.1: ["", "", "never"],  # no onset (one run never healthy, still censored): 70+ holds
        0.15: ["", "30000", ""],  # one of three
        0.2: ["4000", "5000", "6000"],  # every run: 70+ does not hold
    }
    got = rows(write(tmp_path, onsets, ALL))
    assert got["0%13 epochs"] == "holds"
    assert got["10%70+ epochs"] == "holds"
    assert "1 of them never healthy" in verdicts.table(tmp_path)
    assert got["15%70+ epochs"] == "holds in 2 of 3 seeds"
    assert got["20%70+ epochs"] == "does not hold"  # the running 4th run is not counted
    assert got["1%15 epochs"] == "not answered"
    assert got["10% vs 0 %flipping delays collapse"] == "holds"
    assert got["15% vs 0 %flipping delays collapse"] == "not established"
    assert got["20% vs 0 %flipping delays collapse"] == "does not hold"


def test_the_baseline_row_fails_or_stays_open_when_it_should(tmp_path):
    late = {0.0: ["50000", "52000", "54000"]}  # ~55 epochs: 13 is outside the interval
    assert rows(write(tmp_path, late, {}))["0%13 epochs"] == "does not hold"
    open_ = {0.0: ["6000", "", "7000"]}  # a run without an onset: the rule cannot place it
    assert rows(write(tmp_path, open_, {}))["0%13 epochs"] == "not answered"
    short = {0.0: ["6000", "7000"], 0.1: [""]}
    got = rows(write(tmp_path, short, {}))
    assert got["0%13 epochs"].startswith("not answered") and got["10%70+ epochs"].startswith("not answered")
    assert got["10% vs 0 %flipping delays collapse"].startswith("not answered")


def test_no_delay_verdict_before_the_whole_holm_family_is_paired(tmp_path):
    got = rows(write(tmp_path, {}, ALL, seeds=(0, 1)))  # every level on 2 of 3 seeds
    assert got["10% vs 0 %flipping delays collapse"] == "not answered"
    got = rows(write(tmp_path, {}, {0.1: ALL[0.1], 0.2: ALL[0.2]}))  # 15 % not in the family yet
    assert got["20% vs 0 %flipping delays collapse"] == "not answered"
    got = rows(write(tmp_path, {}, {0.2: ALL[0.2]}, raw_p=0.13))  # its own seeds in, raw p too high
    assert got["20% vs 0 %flipping delays collapse"] == "not established"
    got = rows(write(tmp_path, {}, ALL, primary=False))  # declared after the runs started
    assert got["10% vs 0 %flipping delays collapse"] == "exploratory"


def test_the_study_files_carry_the_columns_the_script_reads():
    with (STUDY / "runs.csv").open(newline="") as handle:
        assert set(RUN_COLUMNS) <= set(csv.DictReader(handle).fieldnames)
    table = verdicts.table(STUDY)
    assert len(table.splitlines()) == 2 + 6 + 3  # the committed files read without error
