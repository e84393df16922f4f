"""Replay a committed curves.csv through the current collapse detector and print each run's onsets.

    python results/replay_onsets.py results/<study>/curves.csv --sweep experiments/<study>.toml
    python results/replay_onsets.py results/<study>/curves.csv --records results/<study>/records.jsonl
    python results/replay_onsets.py results/<study>/curves.csv --classes K --samples N|none

Tables written before a detector fix carry the old rule's onsets; this recomputes them from the
per-evaluation metrics (runs.csv keeps the old ones, so the two can be set side by side).

The absolute rule needs each evaluation's class count (the modes a generator can reach, the modes
margin) and sample count (the sampling floors of modes and KL), and the run's detector rules. They
come from the run's own records, per run, in this order:
  1. curves.csv's `num_classes` / `num_samples` columns, where the file has them;
  2. `--classes` / `--samples`, as the study's README records them (refused where they
     contradict 1 or 3);
  3. the run's config: its own, from `--records` (a study's records.jsonl, found by run id), else
     `--sweep`, the sweep file that ran the runs (found by run id, else by setting): the class
     count of its dataset; the sample count its evaluations scored (images: `train.eval_samples`;
     2-D mixtures: none, their records carry no sample count, so the floors stay off as they were
     at training; translators: give `--samples`); its [detector] rules.
A run that none of these gives a class count, a sample count and its rules is refused, not
replayed with defaults (10 classes and no sample floor changed 5 of 15 grid25 onsets);
`--default-rules` replays a run without a config under the detector's default rules (no committed
study sets other rules). Where each run's settings came from is printed on stderr, so the table on
stdout is the same as before.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import Counter, defaultdict

from modecollapse.config import DetectorConfig
from modecollapse.metrics.detector import detect

NOT_METRICS = {"run", "setting", "seed", "step", "epoch", "detector_rules"}
UNSET = object()
"""A setting the command line does not give."""
TRANSLATOR = object()
"""A translator's sample count: the inputs it scored x digits per image (give --samples)."""


class Refused(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"replay_onsets.py: {message}")


def sweep_settings(path: str) -> dict[str, tuple[int, object, DetectorConfig]]:
    """{run id, and setting id: (classes, samples, rules)} for the runs of a sweep file."""
    from modecollapse.experiments.sweep import load_sweep

    found: dict[str, tuple[int, object, DetectorConfig]] = {}
    for run in load_sweep(path).runs:
        found[run.run_id] = _settings_of(run.config)
        found.setdefault(run.setting_id, found[run.run_id])
    return found


def records_settings(path: str) -> dict[str, tuple[int, object, DetectorConfig]]:
    """{run id: (classes, samples, rules)} from the configs a study's records.jsonl keeps."""
    from pathlib import Path

    from modecollapse.config import config_from_toml
    from modecollapse.experiments.records import read_study_records

    found = {}
    for record in read_study_records(Path(path)):
        if not record.get("config"):  # restored from CSV records: no config kept
            raise Refused(f"{path}: run {record['id']} keeps no config; use --sweep")
        found[record["id"]] = _settings_of(
            config_from_toml(record["config"], source=f"{path}: {record['id']}")
        )
    return found


def _settings_of(config) -> tuple[int, object, DetectorConfig]:
    from modecollapse.data.registry import spec

    data = spec(config.data.name)
    samples = {"image": config.train.eval_samples, "points": None, "translation": TRANSLATOR}
    return data.num_classes, samples[data.kind], config.detector


def settle(
    run: str, evaluations: list, key: str, given: object, from_sweep: object, sweep: str | None
) -> str:
    """Put `key` into every evaluation of `run` from the first source that has it; say which."""
    flag = "--" + key.removeprefix("num_")
    recorded = {scores.get(key) for _, scores in evaluations}
    if recorded != {None}:
        if None in recorded:
            raise Refused(f"run {run}: curves.csv has {key} for some evaluations only")
        if given is not UNSET and {None if given is None else float(given)} != recorded:
            raise Refused(f"run {run}: {flag} {given} contradicts curves.csv's {key}")
        return f"{key} from curves.csv"
    if given is not UNSET:
        if from_sweep not in (UNSET, TRANSLATOR) and given != from_sweep:
            raise Refused(f"run {run}: {flag} {given} contradicts {sweep} ({from_sweep})")
        value, source = given, flag
    elif from_sweep is TRANSLATOR:
        raise Refused(f"run {run} is a translator: give --samples (inputs scored x digits per image)")
    elif from_sweep is not UNSET:
        value, source = from_sweep, sweep
    else:
        raise Refused(
            f"run {run}: curves.csv records no {key}; give --records, --sweep or {flag} (no default)"
        )
    if value is not None:
        for _, scores in evaluations:
            scores[key] = value
    return f"{key} {'none' if value is None else value} ({source})"


def settle_rules(
    run: str, recorded: str | None, configured: DetectorConfig | None, origin: str | None, default_rules: bool
) -> tuple[DetectorConfig | None, str]:
    """The run's detector rules: curves.csv's `detector_rules` (the rules that differ from the
    defaults, as the run recorded them), else its config's, else the defaults if asked for."""
    if recorded is not None:
        rules = DetectorConfig(**json.loads(recorded))
        if configured is not None and configured != rules:
            raise Refused(f"run {run}: {origin}'s [detector] contradicts curves.csv's detector_rules")
        return rules, "rules from curves.csv"
    if configured is not None:
        return configured, f"rules: {origin}'s [detector] (defaults where unset)"
    if default_rules:
        return None, "rules: the defaults (--default-rules)"
    raise Refused(
        f"run {run}: curves.csv records no detector rules; give --records or --sweep, or --default-rules"
    )


def load_series(
    path: str,
    samples: object = UNSET,
    classes: object = UNSET,
    sweep: str | None = None,
    records: str | None = None,
    default_rules: bool = False,
) -> dict[str, tuple[list, DetectorConfig | None]]:
    """{run: (its (epoch, scores) evaluations in step order, its detector rules)}, each evaluation
    given its class and sample count (see the module's docstring); `samples` None: the evaluations
    recorded no sample count (2-D mixtures), so the sampling floors are off as they were at
    training."""
    configs = {key: (value, sweep) for key, value in (sweep_settings(sweep) if sweep else {}).items()}
    configs.update(
        {key: (value, records) for key, value in (records_settings(records) if records else {}).items()}
    )
    series: dict[str, list[tuple[float, dict[str, float]]]] = defaultdict(list)
    settings: dict[str, str] = {}
    recorded_rules: dict[str, str] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            scores = {k: float(v) for k, v in row.items() if k not in NOT_METRICS and v not in ("", None)}
            scores = {k: v for k, v in scores.items() if not math.isnan(v)}
            scores["step"] = int(float(row["step"]))
            series[row["run"]].append((float(row["epoch"]), scores))
            settings[row["run"]] = row.get("setting", "")
            if row.get("detector_rules"):
                recorded_rules[row["run"]] = row["detector_rules"]
    loaded, sources = {}, Counter()
    for run, evaluations in series.items():
        evaluations.sort(key=lambda item: item[1]["step"])
        config, origin = configs.get(run) or configs.get(settings[run]) or (None, None)
        if (sweep or records) and config is None:
            named = " or ".join(name for name in (records, sweep) if name)
            raise Refused(f"run {run} (setting {settings[run]}) is not in {named}")
        from_sweep = config or (UNSET, UNSET, None)
        rules, rules_from = settle_rules(run, recorded_rules.get(run), from_sweep[2], origin, default_rules)
        where = [
            settle(run, evaluations, "num_classes", classes, from_sweep[0], origin),
            settle(run, evaluations, "num_samples", samples, from_sweep[1], origin),
            rules_from,
        ]
        sources["; ".join(where)] += 1
        loaded[run] = (evaluations, rules)
    for text, count in sources.items():
        print(f"{count} run(s): {text}", file=sys.stderr)
    return loaded


def replay(
    path: str,
    samples: object = UNSET,
    classes: object = UNSET,
    sweep: str | None = None,
    records: str | None = None,
    default_rules: bool = False,
) -> list[dict[str, object]]:
    """Each run's onsets under the current detector (arguments as for `load_series`)."""
    rows = []
    for run, (evaluations, rules) in load_series(
        path, samples, classes, sweep, records, default_rules
    ).items():
        summary = detect(evaluations, rules)
        rows.append(
            {
                "run": run,
                "evaluations": len(evaluations),
                "absolute_onset_step": summary["collapse_onset_step"],
                "relative_onset_step": summary["relative_onset_step"],
                "relative_reasons": "; ".join(summary["relative_onset_reasons"]),
                "never_healthy": summary["never_healthy"],
                "verdict": summary["verdict"],
            }
        )
    return rows


def count_or_none(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("curves")
    parser.add_argument("--sweep", help="the sweep file that ran the runs (their configs)")
    parser.add_argument("--records", help="the study's records.jsonl (each run's own config)")
    parser.add_argument("--default-rules", action="store_true",
                        help="replay runs without a config under the detector's default rules")  # fmt: skip
    parser.add_argument("--samples", type=count_or_none, default=UNSET,
                        help="samples scored per evaluation, or 'none' (the records carry none)")  # fmt: skip
    parser.add_argument("--classes", type=int, default=UNSET)
    args = parser.parse_args()
    rows = replay(args.curves, args.samples, args.classes, args.sweep, args.records, args.default_rules)
    print("| run | evaluations | absolute onset step | relative onset step | relative rule's reasons |")
    print("|---|---|---|---|---|")
    for row in rows:
        absolute = row["absolute_onset_step"] or ("none (never healthy)" if row["never_healthy"] else "none")
        relative = row["relative_onset_step"] or "none"
        reasons = row["relative_reasons"]
        print(f"| {row['run']} | {row['evaluations']} | {absolute} | {relative} | {reasons} |")


if __name__ == "__main__":
    main()
