"""`modecollapse table`: a study's tables from runs.csv and curves.csv."""

import csv
import json

import pytest

from modecollapse.cli import main
from modecollapse.errors import ConfigError
from modecollapse.experiments import run_tables
from modecollapse.experiments import table as tables

RUN_FIELDS = ["run", "setting", "seed", "status", "step", "modes", "collapse_onset_step",
              "relative_onset_step", "verdict"]  # fmt: skip
CURVE_FIELDS = ["run", "setting", "seed", "step", "modes"]


def write_study(folder, gain=2.0, prefix="", spread=0.1):
    """Two settings x 3 seeds, 4 evaluations each: 'fix' has `gain` (+ `spread` x seed, when there
    is a gain) more modes than 'base' from step 3,000 on, seed by seed; one base run also fails
    `modes>=5` at step 4,000."""
    folder.mkdir(parents=True, exist_ok=True)
    runs, curves = [], []
    for setting in ("base", "fix"):
        for seed in range(3):
            run = f"variant={setting}__seed{seed}"
            gain_here = gain + spread * seed if gain else 0.0
            values = [1.0 + seed, 5.0 + seed, 6.0 + seed + (gain_here if setting == "fix" else 0), 4.0 + seed]
            if setting == "fix":
                values[3] += gain_here
            for step, value in zip((1000, 2000, 3000, 4000), values, strict=True):
                curves.append(
                    {"run": run, "setting": f"variant={setting}", "seed": seed, "step": step, "modes": value}
                )
            runs.append({"run": run, "setting": f"variant={setting}", "seed": seed, "status": "completed",
                         "step": 4000, "modes": values[-1], "collapse_onset_step": 4000 if seed == 0 else "",
                         "relative_onset_step": "", "verdict": "healthy"})  # fmt: skip
    runs.append({**runs[0], "run": "variant=fix__seed9", "status": "failed"})
    for name, rows, fields in (
        (f"{prefix}runs.csv", runs, RUN_FIELDS),
        (f"{prefix}curves.csv", curves, CURVE_FIELDS),
    ):
        with (folder / name).open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return folder


def test_a_paired_gain_is_established_and_a_window_averages_the_steps_inside_it(tmp_path):
    study = tables.read_study(write_study(tmp_path / "s"))
    assert len(study.runs) == 6  # the failed run is left out
    text = tables.summary_table(study, [("modes", "{:.1f}")])
    assert "| base | 3 (0, 1, 2) | 4000 | 5.0 ± 2.5 | healthy |" in text
    assert "| fix - base, paired | 3 | | **+2.1 ± 0.2** | |" in text  # t-test p 0.0008, Holm over 1
    windowed = tables.summary_table(study, [("modes", "{:.2f}")], tables.parse_window("2000-3000"))
    assert (
        "from step 2,000 to 3,000" in windowed and "| base | 3 (0, 1, 2) | 4000 | 6.50 ± 2.48 |" in windowed
    )
    assert "**+1.05 ± 0.12**" in windowed


def test_a_constant_gain_on_three_seeds_is_not_established(tmp_path):
    study = tables.read_study(write_study(tmp_path / "s", spread=0.0))
    text = tables.summary_table(study, [("modes", "{:.1f}")])
    assert "+2.0 ± 0.0 (not established)" in text  # the sign-flip test's p is 0.25 with 3 seeds


def test_no_gain_is_not_established(tmp_path):
    study = tables.read_study(write_study(tmp_path / "s", gain=0.0))
    assert "+0.0 ± 0.0 (not established)" in tables.summary_table(study, [("modes", "{:.1f}")])


def test_per_run_rows_give_onsets_extremes_and_when_a_condition_holds(tmp_path):
    study = tables.read_study(write_study(tmp_path / "s"))
    text = run_tables.per_run_table(
        study, [("modes", "{:.0f}")], extremes=["modes:min:.0f"], when="modes>=5", steps_per_epoch=1000
    )
    assert "| base | 0 | 4000 | 2,000 | 4,000 | 4,000 (4.0 ep) | none | 4 | 4 | healthy |" in text
    assert "| fix | 2 | 4000 | 2,000 | none | none | none | 8 | 7 | healthy |" in text  # min from 2,000 on
    assert text.startswith("One row per run; modes: at its final evaluation (not a --window mean).")
    per_step = run_tables.per_step_table(study, [("modes", "{:.1f}")])
    assert "| base | modes | 2.0 | 6.0 | 7.0 | 5.0 |" in per_step


def test_settings_sort_and_label_by_a_key(tmp_path):
    study = tables.Study(
        [{"setting": "v=a,f=0.2"}, {"setting": "v=a,f=0.05"}, {"setting": "v=a,f=0.1"}], {}, label_by="f"
    )
    assert [study.label(s) for s in study.settings(sort_by="f")] == ["f=0.05", "f=0.1", "f=0.2"]
    with pytest.raises(ConfigError, match="has no key 'g'"):
        study.settings(sort_by="g")


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no file matches 'runs.csv'"):
        tables.read_study(tmp_path)
    study = tables.read_study(write_study(tmp_path / "s"))
    with pytest.raises(ConfigError, match="no column 'fcd'") as error:
        tables.summary_table(study, [("fcd", "{:.1f}")])
    assert "did you mean" not in str(error.value)  # nothing close to suggest
    with pytest.raises(ConfigError, match="no column 'modez' in .*; did you mean 'modes'\\? columns: "):
        tables.summary_table(study, [("modez", "{:.1f}")])
    with pytest.raises(ConfigError, match="--window takes steps"):
        tables.parse_window("late")
    with pytest.raises(ConfigError, match="no evaluation between steps 9,000"):
        tables.summary_table(study, [("modes", "{:.1f}")], (9000, 10000))
    with pytest.raises(ConfigError, match="--when takes conditions"):
        run_tables.per_run_table(study, [], when="modes is high")
    with pytest.raises(ConfigError, match="--baseline 'nope' names no setting"):
        tables.summary_table(study, [("modes", "{:.1f}")], baseline="nope")
    for bad in ("modes:.zf", "modes:x", "modes:.q"):
        with pytest.raises(ConfigError, match=f"column '{bad}': .* is not a number format; write METRIC"):
            tables.parse_column(bad)
    assert tables.parse_column("modes:.1f") == ("modes", "{:.1f}")
    assert tables.parse_column("fcd") == ("fcd", "{:.3g}")


def test_the_command_reads_several_runs_files_by_glob_and_counts_each_run_once(tmp_path, capsys):
    write_study(tmp_path / "s")
    other = write_study(tmp_path / "other")
    for name in ("runs.csv", "curves.csv"):  # the same study's seeds 3-5 in a second pair of files
        text = (
            (other / name)
            .read_text()
            .replace("seed0", "seed3")
            .replace("seed1", "seed4")
            .replace("seed2", "seed5")
        )
        text = text.replace(",0,", ",3,").replace(",1,", ",4,").replace(",2,", ",5,")
        (tmp_path / "s" / f"extra-{name}").write_text(text)
    assert main(["table", str(tmp_path / "s"), "--runs", "*runs.csv", "--columns", "modes:.1f"]) == 0
    assert "| base | 6 (0, 1, 2, 3, 4, 5) |" in capsys.readouterr().out
    write_study(tmp_path / "s", prefix="copy-")
    with pytest.raises(ConfigError, match="both hold"):
        tables.read_study(tmp_path / "s", "*runs.csv")


def test_missing_values_are_left_out_of_windows_extremes_and_conditions(tmp_path):
    folder = write_study(tmp_path / "s")
    curves = (folder / "curves.csv").read_text().splitlines()
    blank = [line if ",3000," not in line else line.rsplit(",", 1)[0] + "," for line in curves]
    (folder / "curves.csv").write_text("\n".join(blank) + "\n")
    study = tables.read_study(folder)
    text = tables.summary_table(study, [("modes", "{:.2f}")], tables.parse_window("2000-4000"))
    assert "| base | 3 (0, 1, 2) | 4000 | 5.50 ± 2.48 |" in text  # the mean of steps 2,000 and 4,000
    per_run = run_tables.per_run_table(study, [], extremes=["modes:max:.0f"], when="modes>=5")
    assert "| base | 0 | 4000 | 2,000 | 4,000 | 4,000 | none | 5 | healthy |" in per_run


def test_seeds_from_another_machine_are_not_paired_unless_asked(tmp_path):
    study = tables.read_study(write_study(tmp_path / "s"))
    for run in study.runs:
        run["machine_id"] = "cpu A" if run["setting"] == "variant=base" or run["seed"] == "0" else "cpu B"
    text = tables.summary_table(study, [("modes", "{:.1f}")])
    assert "| fix - base, paired | 1 | | fewer than 2 seeds paired (2 seeds ran on another machine" in text
    assert "| 3 | | **+2.1 ± 0.2** |" in tables.summary_table(
        study, [("modes", "{:.1f}")], allow_cross_machine=True
    )


def test_a_study_without_a_completed_run_is_named(tmp_path):
    folder = write_study(tmp_path / "s")
    text = (folder / "runs.csv").read_text().replace(",completed,", ",running,")
    (folder / "runs.csv").write_text(text)
    with pytest.raises(ConfigError, match="no completed run in runs.csv"):
        tables.read_study(folder)


def test_a_sweeps_report_folder_reads_the_declaration_above_it_and_no_other_folder_does(tmp_path):
    rule = {"metric": "modes", "at_most": 1}
    declared = {"analysis": {"baseline": "base", "at": "final", "non_start": rule}}
    for name in ("sweep", "other"):
        (tmp_path / name / "report").mkdir(parents=True)
        (tmp_path / name / "index.json").write_text(json.dumps(declared))
    (tmp_path / "sweep" / "sweep.toml").write_text("")  # a sweep folder; "other" is not
    assert tables.read_declaration(tmp_path / "sweep" / "report")["non_start"]["at_most"] == 1
    assert tables.read_declaration(tmp_path / "other" / "report") is None


def test_a_runs_csv_of_another_format_is_named_not_a_traceback(tmp_path, capsys):
    (tmp_path / "runs.csv").write_text("study,train_precision,seed,fcd\nring8-vanilla,fp32,0,12.5\n")
    with pytest.raises(ConfigError, match="has no run, setting, status column: it is not a runs.csv"):
        tables.read_study(tmp_path)
    assert main(["table", str(tmp_path)]) == 2 and "not a runs.csv" in capsys.readouterr().err
