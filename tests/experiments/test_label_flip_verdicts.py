"""results/label-flip-steps/65k/verdicts.py: the declared verdict rules, row by row."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "results" / "label-flip-steps" / "65k" / "verdicts.py"
spec = importlib.util.spec_from_file_location("verdicts", SCRIPT)
verdicts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(verdicts)

SETTING = "variant=as_published,label_flip_fraction={}"


def write(folder: Path, onsets: dict, delays: dict, seeds: str = "0 1 2") -> Path:
    rows = ["run,setting,seed,status,relative_onset_step"]
    for share, values in onsets.items():
        rows += [f'r{share}{s},"{SETTING.format(share)}",{s},completed,{v}' for s, v in enumerate(values)]
    rows.append(f'x,"{SETTING.format(0.2)}",9,running,')
    (folder / "runs.csv").write_text("\n".join(rows) + "\n")
    rows = ["setting,metric,seeds,change,ci95,holm_p,established"]
    rows += [
        f'"{SETTING.format(k)}",relative_onset_step,{seeds},{c},100,0.01,{e}' for k, (c, e) in delays.items()
    ]
    (folder / "analysis.csv").write_text("\n".join(rows) + "\n")
    return folder


def rows(folder: Path) -> dict[str, str]:
    lines = verdicts.table(folder).splitlines()[2:]
    return {cells[1].strip() + cells[2].strip(): cells[-2].strip() for cells in (x.split("|") for x in lines)}


def test_rows_follow_the_declared_rules(tmp_path):
    onsets = {
        0.0: ["11244", "12181", "13118"],  # 12, 13, 14 epochs: 13 inside
        0.1: ["", "", ""],  # no onset: 70+ holds
        0.15: ["", "30000", ""],  # one of three
        0.2: ["4000", "5000", "6000"],  # every run: 70+ does not hold
    }
    delays = {0.1: (20000.0, True), 0.15: (5000.0, False), 0.2: (-3000.0, True)}
    got = rows(write(tmp_path, onsets, delays))
    assert got["0%13 epochs"] == "holds"
    assert got["10%70+ epochs"] == "holds"
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
    got = rows(write(tmp_path, short, {0.1: (20000.0, False)}, seeds="0"))  # paired on one seed so far
    assert got["10% vs 0 %flipping delays collapse"].startswith("not answered")
