"""'What to try next': built only from declared primary comparisons, cited by kind of collapse."""

import json
from pathlib import Path

import numpy as np
import pytest
import tomllib
from torch import nn

from modecollapse import Monitor
from modecollapse.config import DataConfig, DetectorConfig
from modecollapse.data import load_dataset
from modecollapse.diagnosis import diagnose
from modecollapse.diagnosis import suggest as suggest_module
from modecollapse.diagnosis.suggest import collapse_kinds, suggest
from modecollapse.errors import ModeCollapseError
from modecollapse.experiments.suggestions import HOW, build

HEADER = ("setting,metric,kind,better,primary,seeds,baseline_mean,setting_mean,change,ci95,p,holm_p,"
          "established,verdict")  # fmt: skip


def row(setting, metric, kind, better, primary, before, after, change, half, holm_p, verdict):
    established = verdict.endswith("(established)")
    fields = [f"variant={setting}", metric, kind, better, primary, "0 1 2 3 4", before, after, change, half,
              0.001, holm_p, established, verdict]  # fmt: skip
    return ",".join(map(str, fields))


def write_testbed(root, name, data, rows):
    folder = root / "fix-atlas" / name
    folder.mkdir(parents=True)
    settings = {"variant=baseline": "(the baseline)", "variant=r1": "objective.r1_gamma = 10.0",
                "variant=pacgan4": "model.pack = 4, train.batch_size = 2048"}  # fmt: skip
    (folder / "testbed.json").write_text(json.dumps(
        {"testbed": name, "data": data, "description": f"a {name} recipe", "settings": settings}
    ))  # fmt: skip
    (folder / "analysis.csv").write_text("\n".join([HEADER, *rows]) + "\n")


BETTER = "better (established)"
RING_ROWS = [
    # an established improvement of a primary speaking to dropped modes
    row("pacgan4", "modes", "dropped modes", "higher", True, 0.6, 6.2, 5.6, 1.1, 0.003, BETTER),
    # established, but worse: never cited
    row("pacgan4", "high_quality", "low quality", "higher", True, 0.1, 0.02, -0.08, 0.03, 0.004,
        "worse (established)"),
    # a large exploratory effect: never cited
    row("r1", "reverse_kl", "dropped modes", "lower", False, 2.0, 0.1, -1.9, 0.2, "", "exploratory"),
    row("r1", "modes", "dropped modes", "higher", True, 0.6, 1.0, 0.4, 0.5, 0.4, "not established"),
]  # fmt: skip
KEPT_DIGIT = row(
    "r1", "translation_score", "lost identity", "higher", True, 0.0, 0.6, 0.6, 0.1, 0.001, BETTER
)
"""A translation testbed's established row: the fix raised the translation score."""


def test_every_measured_fix_enters_the_table_with_its_declared_primaries_only(tmp_path):
    write_testbed(tmp_path, "ring8", "ring8", RING_ROWS)
    entry, r1 = build(tmp_path)
    # r1: measured (so diagnose knows it), but its primary's interval straddles 0 and its big effect
    # is exploratory: neither improved nor worse
    assert set(r1["metrics"]) == {"modes"}
    assert not r1["metrics"]["modes"]["improved"] and not r1["metrics"]["modes"]["worse"]
    assert entry["fix"] == "pacgan4" and entry["switch"].startswith("model.pack = 4")
    assert entry["how"].startswith("pack 4: D judges groups of 4 samples")
    assert entry["evidence"] == "results/fix-atlas/ring8" and entry["setting"] == "a ring8 recipe"
    assert set(entry["metrics"]) == {"modes", "high_quality"}  # declared primaries only
    assert entry["metrics"]["modes"]["improved"] and not entry["metrics"]["high_quality"]["improved"]
    assert entry["metrics"]["high_quality"]["worse"] and entry["metrics"]["high_quality"]["established"]


def test_runs_that_never_started_are_said_beside_the_fix_and_as_a_warning(tmp_path):
    # a Stacked-MNIST-like testbed that declared non_start: pacgan4 failed to start on 2 of 5 seeds
    # (left out of its pairs), r1 on all 5 (so it has no comparison at all), hinge on 1 of 5 when
    # the baseline failed on 1 of 5 too (no worse than the baseline: no warning)
    rows = [row("pacgan4", "modes", "dropped modes", "higher", True, 150, 800, 650, 60, 0.001, BETTER)]
    write_testbed(tmp_path, "stacked", "stacked-mnist", rows)
    testbed = tmp_path / "fix-atlas" / "stacked" / "testbed.json"
    failed = {"variant=pacgan4": {"seeds": [0, 3], "runs": 5},
              "variant=r1": {"seeds": [0, 1, 2, 3, 4], "runs": 5},
              "variant=hinge": {"seeds": [2], "runs": 5},
              "variant=baseline": {"seeds": [4], "runs": 5}}  # fmt: skip
    declared = {"baseline": "variant=baseline", "non_starts": failed, "analysis": {"before_runs": True}}
    testbed.write_text(json.dumps({**json.loads(testbed.read_text()), **declared}))
    table = tuple(build(tmp_path))
    base = {"seeds": [4], "runs": 5}
    assert {e["fix"]: e.get("non_starts") for e in table} == {
        "pacgan4": {"seeds": [0, 3], "runs": 5, "baseline": base},
        "r1": {"seeds": [0, 1, 2, 3, 4], "runs": 5, "baseline": base},
        "hinge": {"seeds": [2], "runs": 5, "baseline": base},
    }  # fmt: skip
    dropped = {"verdict": "collapsed", "kinds": ["dropped modes"], "scores": {}}
    cited, warning = suggest(dropped, "stacked-mnist", table)
    assert (
        "on the stacked testbed (G did not start in 2 of 5 runs, left out of these numbers; the "
        "baseline's in 1 of 5)" in cited
    )
    assert warning.startswith("warning: r1 (R1: ") and warning.endswith(
        "on the stacked testbed: G did not start in 5 of 5 runs; the baseline's in 1 of 5; evidence "
        "results/fix-atlas/stacked"
    )
    exploratory = {**declared, "analysis": {"before_runs": False}}  # as the matrix: declared only
    testbed.write_text(json.dumps({**json.loads(testbed.read_text()), **exploratory}))
    assert [e["fix"] for e in build(tmp_path)] == ["pacgan4"] and "non_starts" not in build(tmp_path)[0]


def test_a_fix_is_cited_only_for_the_kind_its_established_primary_speaks_to(tmp_path):
    write_testbed(tmp_path, "ring8", "ring8", RING_ROWS)
    table = tuple(build(tmp_path))
    dropped = {"verdict": "collapsed", "kinds": ["dropped modes"], "scores": {}}
    (line,) = suggest(dropped, "ring8", table)
    how = "pack 4: D judges groups of 4 samples concatenated along channels"
    switch = "model.pack = 4, train.batch_size = 2048 (pacgan4): modes 0.6 -> 6.2 (+5.6 +- 1.1"
    assert line.startswith(f"{how}; in this trainer: {switch}")
    assert "(but established worse: high_quality 0.1 -> 0.02)" in line
    assert "Holm p 0.003" in line and "evidence results/fix-atlas/ring8" in line and "measured on" not in line
    blurry = {"verdict": "partial collapse", "kinds": ["low quality"], "scores": {}}
    no_fix, warning = suggest(blurry, "ring8", table)
    assert no_fix.startswith(
        "no fix for low quality has an established effect in this project's declared studies"
    )
    assert "2 fixes measured on data like yours (ring8 testbed), none established for it" in no_fix
    assert warning.startswith(f"warning: pacgan4 ({how}; in this trainer: model.pack = 4")  # own loop first
    assert "high_quality 0.1 -> 0.02" in warning


def test_the_testbed_closest_to_the_users_data_comes_first_and_others_say_so(tmp_path):
    write_testbed(tmp_path, "ring8", "ring8", RING_ROWS)
    kl = row("pacgan4", "kl_uniform", "dropped modes", "lower", True, 0.3, 0.1, -0.2, 0.05, 0.01, BETTER)
    write_testbed(tmp_path, "mnist", "mnist", [kl])
    table = tuple(build(tmp_path))
    dropped = {"verdict": "collapsed", "kinds": ["dropped modes"], "scores": {}}
    image_lines = suggest(dropped, "mnist-5k", table)
    assert len(image_lines) == 1  # one line a fix: its image row, not its 2-D one too
    assert "mnist testbed" in image_lines[0] and "measured on" not in image_lines[0]
    point_lines = suggest(dropped, "ring8", table)
    assert "ring8 testbed" in point_lines[0]
    r1 = row("r1", "modes", "dropped modes", "higher", True, 3, 20, 17, 1, 0.001, BETTER)
    write_testbed(tmp_path / "other", "grid25", "grid25", [r1])
    r1_only_in_2d = tuple(build(tmp_path / "other"))
    (line,) = suggest(dropped, "mnist", r1_only_in_2d)
    assert "grid25 testbed" in line and "[measured on grid25 only, with that testbed's settings" in line


def test_a_fix_measured_on_images_is_never_cited_from_2d_and_its_worse_image_row_warns(tmp_path):
    write_testbed(tmp_path / "points", "ring8", "ring8", RING_ROWS)  # pacgan4 established better on the ring
    flat = row("pacgan4", "fcd", "low quality", "lower", True, 90, 4000, 3910, 2900, 0.3, "not established")
    nothing = row(
        "r1", "kl_uniform", "dropped modes", "lower", True, 0.5, 0.4, -0.1, 0.9, 1.0, "not established"
    )
    write_testbed(tmp_path / "images", "mnist", "mnist", [flat, nothing])
    table = (*build(tmp_path / "points"), *build(tmp_path / "images"))
    dropped = {"verdict": "partial collapse", "kinds": ["dropped modes"], "scores": {}}
    no_fix, warning = suggest(dropped, "mnist", table)
    assert "2 fixes measured on data like yours (mnist testbed), none established for it" in no_fix
    assert (
        warning.startswith("warning: pacgan4") and "fcd 90 -> 4e+03" in warning and "exploratory" in warning
    )
    assert "pack 4" in suggest(dropped, "ring8", table)[0]  # the ring user still gets the ring's row


def test_unrecognizable_samples_get_quality_fixes_only_and_counts_count_fixes(tmp_path):
    rows = [row(f, "modes", "dropped modes", "higher", True, 1, 8, 7, 1, 0.001, BETTER)
            for f in ("pacgan4", "r1", "a", "b", "c", "d", "e")]  # fmt: skip
    rows.append(row("r1", "high_quality", "low quality", "higher", True, 0.1, 0.8, 0.7, 0.1, 0.001, BETTER))
    write_testbed(tmp_path, "ring8", "ring8", rows)
    write_testbed(tmp_path / "more", "grid25", "grid25", rows)  # the same 7 fixes on a second testbed
    table = (*build(tmp_path), *build(tmp_path / "more"))
    dropped = {"verdict": "collapsed", "kinds": ["dropped modes"], "scores": {}}
    assert suggest(dropped, "ring8", table)[-1].startswith("2 more measured fixes")  # 7 fixes, not 14 rows
    garbage = {"verdict": "collapsed", "kinds": ["dropped modes", "low quality"],
               "scores": {"recognizable_share": 0.01, "precision": 0.0005}}  # fmt: skip
    first, *fixes = suggest(garbage, "mnist", table)
    assert first.startswith("these samples do not look like mnist")
    assert len(fixes) == 1 and "(r1)" in fixes[0] and "high_quality" in fixes[0] and "modes" not in fixes[0]


def test_healthy_gets_no_suggestion(tmp_path):
    assert suggest({"verdict": "healthy", "kinds": ["healthy"], "scores": {}}, "mnist", ()) == []


def test_the_shipped_table_is_what_the_results_give():
    from pathlib import Path

    from modecollapse.diagnosis.suggest import TABLE

    results = Path(__file__).resolve().parents[2] / "results"
    assert json.loads(TABLE.read_text()) == json.loads(json.dumps(build(results)))


def one_mode_ring(path):
    ring = load_dataset(DataConfig(name="ring8", num_samples=2500))
    points = ring.mode_means[0].numpy() + 0.01 * np.random.default_rng(0).standard_normal((2500, 2))
    np.save(path, points.astype(np.float32))
    return path


def test_a_diagnosed_ring_reports_its_kinds_from_the_detector(tmp_path):
    report = diagnose(one_mode_ring(tmp_path / "one.npy"), "ring8")
    assert report["verdict"] == "collapsed"
    # one mode covered (dropped modes), drawn at half the real spread (not well formed: low quality)
    assert collapse_kinds(report.data) == report["kinds"] == ["dropped modes", "low quality"]
    assert "try next" in str(report)


def test_a_generator_that_ignores_z_shows_one_output_for_every_z():
    report = {"verdict": "collapsed", "kinds": ["low quality"], "latent": {"ignores_latent": True}}
    assert collapse_kinds(report) == ["low quality", "one output for every z"]


def test_a_translator_gets_the_translation_testbeds_rows_and_image_users_do_not(tmp_path):
    write_testbed(tmp_path / "points", "ring8", "ring8", RING_ROWS)
    write_testbed(tmp_path / "translation", "spatial-one", "spatial-one", [KEPT_DIGIT])
    table = (*build(tmp_path / "points"), *build(tmp_path / "translation"))
    lost = {"verdict": "collapsed", "kinds": ["lost identity"], "scores": {}}
    (line,) = suggest(lost, "spatial-one", table)
    assert (
        "(r1): translation_score 0 -> 0.6" in line
        and "spatial-one testbed" in line
        and "measured on" not in line
    )
    dropped = {"verdict": "partial collapse", "kinds": ["dropped modes"], "scores": {}}
    assert all("spatial-one" not in line for line in suggest(dropped, "mnist", table))


def test_a_testbed_with_planned_runs_still_to_finish_is_left_out(tmp_path):
    write_testbed(tmp_path, "ring8", "ring8", RING_ROWS)
    testbed = tmp_path / "fix-atlas" / "ring8" / "testbed.json"
    recorded = json.loads(testbed.read_text())
    testbed.write_text(json.dumps({**recorded, "runs": 14, "runs_completed": 14, "runs_planned": 168}))
    assert build(tmp_path) == []  # seed 1 of 12 finished: nothing cited, not even as measured
    testbed.write_text(json.dumps({**recorded, "runs": 168, "runs_completed": 168, "runs_planned": 168}))
    assert [entry["fix"] for entry in build(tmp_path)] == ["pacgan4", "r1"]


def test_a_cut_settings_finished_runs_do_not_make_a_study_look_complete(tmp_path, monkeypatch, capsys):
    from modecollapse.experiments.suggestions import main

    write_testbed(tmp_path, "ring8", "ring8", RING_ROWS)
    testbed = tmp_path / "fix-atlas" / "ring8" / "testbed.json"
    recorded = json.loads(testbed.read_text())  # 120 planned; 111 of them and 9 of cut settings done
    amended = {"runs": 129, "runs_completed": 120, "runs_planned": 120, "runs_to_finish": 9}
    testbed.write_text(json.dumps({**recorded, **amended}))
    assert build(tmp_path) == []
    argv = ["suggestions", "--results", str(tmp_path), "--out", str(tmp_path / "t.json")]
    monkeypatch.setattr("sys.argv", argv)
    main()
    assert "left out: ring8 is provisional (9 of 120 runs to finish)" in capsys.readouterr().out
    empty = ["suggestions", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "u")]
    monkeypatch.setattr("sys.argv", empty)
    with pytest.raises(SystemExit):  # an empty results folder would have emptied diagnose's table
        main()
    assert "holds no testbed.json" in capsys.readouterr().err and not (tmp_path / "u").exists()


def test_the_monitors_alarm_on_a_translator_cites_the_translation_rows(tmp_path, monkeypatch, capsys):
    elsewhere = row("pacgan4", "modes", "lost identity", "higher", True, 0.6, 6.2, 5.6, 1.1, 0.003, BETTER)
    write_testbed(tmp_path / "points", "ring8", "ring8", [*RING_ROWS, elsewhere])
    write_testbed(tmp_path / "translation", "spatial-one", "spatial-one", [KEPT_DIGIT])
    table = (*build(tmp_path / "points"), *build(tmp_path / "translation"))
    monkeypatch.setattr(suggest_module, "measured_fixes", lambda: table)
    monitor = Monitor(dataset="spatial-one", every=1, num_samples=200)
    for step in range(4):  # copies A, never at B's place and size: it ignores what B asks
        status = monitor.update(step, nn.Identity())
    (line,) = status.suggestions  # not ring8's pacgan4, though its row speaks to lost identity
    assert "(r1): translation_score 0 -> 0.6" in line and "spatial-one testbed" in line
    assert "measured on" not in line  # the Monitor passed its dataset: the row is of the user's kind
    alarm = capsys.readouterr().out
    assert "collapsed from the start" in alarm and f"try next: {line}" in alarm


def test_every_fix_of_a_declared_study_is_said_as_a_change_to_ones_own_loop():
    studies = sorted((Path(__file__).parents[2] / "experiments" / "fix-atlas").glob("*.toml"))
    declared = [tomllib.loads(path.read_text()) for path in studies]
    fixes = {
        name
        for study in declared
        if "analysis" in study
        for name in study["variants"]
        if name != study["analysis"]["baseline"]
    }
    assert len(fixes) >= 16 and not fixes - set(HOW)


def test_a_translator_is_never_offered_fixes_measured_on_other_kinds_of_data(tmp_path):
    write_testbed(tmp_path / "points", "ring8", "ring8", RING_ROWS)
    table = build(tmp_path / "points")
    kinds = ["dropped modes", "one output for every z", "lost identity"]
    ignores_input = {"verdict": "collapsed", "kinds": kinds, "scores": {}}
    (line,) = suggest(ignores_input, "spatial-one", table)
    assert line.startswith(
        "no fix for dropped modes, one output for every input, lost identity has an established effect"
    )
    assert "not carried over" in line and "semantic consistency" in line and "pacgan4" not in line
    assert any("pacgan4" in text for text in suggest(ignores_input, "mnist", table))  # images: labelled 2-D


def test_a_translators_low_precision_on_b_crops_does_not_hide_its_translation_fixes(tmp_path):
    write_testbed(tmp_path, "spatial-one", "spatial-one", [KEPT_DIGIT])
    # a real spatial-one run's first evaluation: every translated digit recognizable, precision 0.024
    scores = {"precision": 0.024, "recognizable_share": 1.0, "translation_score": 0.0}
    report = {"verdict": "collapsed", "kinds": ["lost identity"], "scores": scores}
    (line,) = suggest(report, "spatial-one", build(tmp_path))
    assert "(r1): translation_score 0 -> 0.6" in line
    # (an image report: any translation_score exempts a report from the precision gate, as the detector)
    image = {
        "verdict": "collapsed",
        "kinds": ["low quality"],
        "scores": {"precision": 0.024, "recognizable_share": 1.0},
    }
    assert "do not look like" in suggest(image, "mnist", build(tmp_path))[0]  # images: quality first


def test_a_conditional_generator_is_told_the_fixes_were_measured_unconditional(tmp_path):
    write_testbed(tmp_path, "ring8", "ring8", RING_ROWS)
    table = tuple(build(tmp_path))
    dropped = {"verdict": "collapsed", "kinds": ["dropped modes"], "scores": {}}
    assert not any("class-conditional" in line for line in suggest(dropped, "mnist", table))
    conditional = {**dropped, "scores": {"class_conditional_accuracy": 0.9}}
    lines = suggest(conditional, "mnist", table)
    assert "pack 4" in lines[0] and lines[-1].startswith("these fixes were measured on unconditional GANs")


def test_a_stack_of_1000_classes_keeps_its_dropped_mode_fixes_as_the_detector_does(tmp_path):
    write_testbed(tmp_path, "ring8", "ring8", RING_ROWS)
    table = tuple(build(tmp_path))
    # a collapsed Stacked MNIST run: 178 of 1,000 modes, precision 0.008 (its concatenated features
    # put even 998 modes at 0.035), 13 % recognizable; the detector named dropped modes
    stacked = {
        "verdict": "collapsed",
        "kinds": ["dropped modes"],
        "scores": {"precision": 0.008, "density": 0.004, "recognizable_share": 0.128, "num_classes": 1000.0},
    }
    lines = suggest(stacked, "stacked-mnist", table)
    assert not lines[0].startswith("these samples do not look like") and "(pacgan4): modes" in lines[0]
    digits = {**stacked, "kinds": ["low quality"], "scores": {**stacked["scores"], "num_classes": 10.0}}
    assert suggest(digits, "mnist", table)[0].startswith("these samples do not look like mnist")


def test_the_quality_gate_reads_the_detectors_limits():
    report = {"verdict": "partial collapse", "kinds": ["low quality"],
              "scores": {"recognizable_share": 0.15, "precision": 0.6, "density": 0.7}}  # fmt: skip
    assert suggest_module.unrecognizable(report) is None
    strict = DetectorConfig(collapsed_recognizable_share=0.2)
    assert suggest_module.unrecognizable(report, strict) == "recognizable share under 20%"
    assert "(recognizable share under 20%): their class" in suggest(report, "mnist", (), rules=strict)[0]


def test_the_quality_gate_follows_the_detector_on_precision():
    # off the data by precision and density: the detector sets the mode checks aside (a report
    # alone), so it names no dropped modes; in a run, while the breach is not sure, it keeps them
    scores = {"recognizable_share": 0.5, "precision": 0.045, "density": 0.03, "num_samples": 500}
    set_aside = {"verdict": "collapsed", "kinds": ["low quality"], "scores": scores}
    assert suggest_module.unrecognizable(set_aside) == "precision and density under 5%"
    kept = {**set_aside, "kinds": ["dropped modes", "low quality"]}
    assert suggest_module.unrecognizable(kept) is None


def test_a_warning_labels_its_established_and_exploratory_metrics_each(tmp_path):
    worse = [
        row("pacgan4", "fcd", "low quality", "lower", True, 1, 4, 3, 1, 0.01, "worse (established)"),
        row("pacgan4", "kl_uniform", "dropped modes", "lower", True, 1, 3, 2, 1.5, 0.3, "not established"),
    ]
    write_testbed(tmp_path, "mnist", "mnist", worse)
    (_, warning) = suggest(
        {"verdict": "collapsed", "kinds": ["dropped modes"], "scores": {}}, "mnist", tuple(build(tmp_path))
    )
    established, exploratory = warning.split("Holm p 0.01)")[0], warning.split("Holm p 0.01)")[1]
    assert "fcd 1 -> 4" in established and "exploratory" not in established
    assert exploratory.startswith(" (established after Holm); kl_uniform 1 -> 3")
    assert "(exploratory: the paired interval is on the worse side" in exploratory


def test_a_fix_worse_on_two_testbeds_of_one_kind_gets_one_warning_established_first(tmp_path):
    exploratory = row("pacgan4", "fcd", "low quality", "lower", True, 1, 4, 3, 2.5, 0.3, "not established")
    established = row("pacgan4", "fcd", "low quality", "lower", True, 1, 5, 4, 1, 0.01, "worse (established)")
    write_testbed(tmp_path, "mnist", "mnist", [exploratory])
    write_testbed(tmp_path, "mnist-12k", "mnist", [established])
    report = {"verdict": "collapsed", "kinds": ["dropped modes"], "scores": {}}
    (warning,) = [line for line in suggest(report, "mnist", tuple(build(tmp_path))) if "warning:" in line]
    first, second = "the mnist-12k testbed: fcd 1 -> 5", "; and the mnist testbed: fcd 1 -> 4"
    assert warning.index(first) < warning.index(second)
    assert warning.count("pacgan4") == 1


def test_a_fix_that_did_not_start_on_one_testbed_and_was_worse_on_another_reads_worse_first(tmp_path):
    unstarted = row("r1", "modes", "dropped modes", "higher", True, 150, 160, 10, 60, 1.0, "not established")
    write_testbed(tmp_path, "stacked", "stacked-mnist", [unstarted])
    testbed = tmp_path / "fix-atlas" / "stacked" / "testbed.json"
    failed = {"variant=r1": {"seeds": [0, 1, 2], "runs": 5}, "variant=baseline": {"seeds": [], "runs": 5}}
    declared = {"baseline": "variant=baseline", "non_starts": failed, "analysis": {"before_runs": True}}
    testbed.write_text(json.dumps({**json.loads(testbed.read_text()), **declared}))
    worse = row("r1", "modes", "dropped modes", "higher", True, 150, 100, -50, 20, 0.2, "not established")
    write_testbed(tmp_path, "stacked-b", "stacked-mnist", [worse])
    report = {"verdict": "collapsed", "kinds": ["dropped modes"], "scores": {}}
    lines = suggest(report, "stacked-mnist", tuple(build(tmp_path)))
    (warning,) = [line for line in lines if "warning:" in line]
    assert ") was worse on the stacked-b testbed: modes 150 -> 100" in warning
    assert "; and on the stacked testbed: G did not start in 3 of 5 runs" in warning


def test_a_2d_user_with_no_fix_hears_of_other_data_not_of_their_own(tmp_path):
    write_testbed(tmp_path, "ring8", "ring8", RING_ROWS)
    one_output = {"verdict": "collapsed", "kinds": ["one output for every z"], "scores": {}}
    no_fix = suggest(one_output, "ring8", tuple(build(tmp_path)))[0]
    assert "results on other kinds of data are not carried over" in no_fix and "2-D mixtures" not in no_fix
    write_testbed(tmp_path / "one", "mnist", "mnist", [RING_ROWS[-1]])
    image = suggest(one_output, "mnist", tuple(build(tmp_path / "one")))[0]
    assert "1 fix measured on data like yours (mnist testbed)" in image and "2-D mixtures are not" in image


def test_an_analysis_with_an_unreadable_flag_is_refused_not_read_as_false(tmp_path):
    write_testbed(tmp_path, "ring8", "ring8", [RING_ROWS[0].replace(",True,", ",yes,", 1)])
    with pytest.raises(ModeCollapseError, match=r"column primary holds 'yes', not True or False"):
        build(tmp_path)


def test_an_established_change_takes_its_direction_from_its_sign_at_any_declared_alpha(tmp_path):
    # declared alpha 0.1: Holm p 0.08 is established though the 95 % interval (+-1.2) holds 0
    at_alpha = row("r1", "modes", "dropped modes", "higher", True, 1, 2, 1, 1.2, 0.08, BETTER)
    write_testbed(tmp_path, "ring8", "ring8", [at_alpha])
    (entry,) = build(tmp_path)
    assert entry["metrics"]["modes"]["improved"] and not entry["metrics"]["modes"]["worse"]


def test_a_row_measured_on_other_data_of_the_users_kind_says_which(tmp_path):
    kl = row("r1", "kl_uniform", "dropped modes", "lower", True, 0.3, 0.1, -0.2, 0.05, 0.01, BETTER)
    write_testbed(tmp_path, "mnist-12k", "mnist", [kl])
    table = tuple(build(tmp_path))
    dropped = {"verdict": "partial collapse", "kinds": ["dropped modes"], "scores": {}}
    (fashion,) = suggest(dropped, "fashion-mnist", table)
    assert fashion.endswith("[measured on mnist, not on fashion-mnist: data of your kind, other content]")
    (stacked,) = suggest(dropped, "stacked-mnist", table)
    assert "[measured on mnist, not on stacked-mnist" in stacked  # 1,000 modes are other content
    for same in ("mnist", "mnist-5k"):  # the 5,000-digit subset is MNIST's content
        (line,) = suggest(dropped, same, table)
        assert "measured on" not in line
