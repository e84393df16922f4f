"""An independent recomputation of a fix-atlas testbed's declared analysis, to check the numbers the
project's engine wrote (analysis.csv). It imports nothing from `modecollapse`: it reads the testbed
folder's runs.csv and curves.csv, applies the sweep file's [analysis] block (per run, each metric's
mean over its evaluations at steps first..last, both ends included, or its last evaluation for
at = "final"; each fix paired with the baseline by seed on one machine id; paired t-test and 95 %
t-interval; Holm over the testbed's fix x primary family; "established" needs Holm p < alpha and
at least 3 pairs), prints every fix x primary, then compares every row of analysis.csv (the
exploratory rows too) and exits 1 on a number off by more than 1e-9 relative (1e-12 absolute near
zero), a different seed list or verdict, or a row only one side has.

    .venv/bin/python results/fix-atlas/recompute.py results/fix-atlas/ring8 experiments/fix-atlas/ring8.toml
    .venv/bin/python results/fix-atlas/recompute.py results/fix-atlas/mnist-12k \
        experiments/fix-atlas/mnist_12k.toml --late-start 'fcd>2000'

--late-start METRIC>VALUE counts, per setting, the runs above VALUE at their first evaluation in the
window and at any evaluation in it (mnist_12k.toml's "late starts": reported, not tested).
Definitions follow src/modecollapse/experiments/analysis.py and stats.py where they are stated
there (completed runs only; non-finite and missing values left out of a window's mean; a declared
non_start leaves a setting's and the baseline's non-start seeds out of that setting's pairs; every
difference equal: the sign-flip p; Holm over the declared fixes x primaries, a comparison without
a p value counting as p = 1).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path

import tomllib  # Python 3.11+ (the project's .venv)
from scipy import stats

REL_TOL, ABS_TOL = 1e-9, 1e-12
MIN_PAIRS = 3
UNRECORDED = "not recorded"
NUMBERS = ("baseline_mean", "setting_mean", "change", "ci95", "p", "holm_p")
TEXTS = ("seeds", "primary", "better", "established", "verdict")


def read_block(toml_path: Path) -> tuple[str, dict, list[str]]:
    """The sweep file's name, its [analysis] block (alpha and at normalised) and its variants."""
    sweep = tomllib.loads(toml_path.read_text())
    block = dict(sweep.get("analysis") or {})
    if not block:
        sys.exit(f"{toml_path} declares no [analysis]")
    unknown = set(block) - {"baseline", "primary", "at", "alpha", "note", "non_start"}
    if unknown:
        sys.exit(f"{toml_path}: [analysis] keys this script does not know: {sorted(unknown)}")
    block.setdefault("alpha", 0.05)
    block["at"] = block.get("at", "final")
    if block["at"] != "final":
        first, last = block["at"]
        block["at"] = (int(first), int(last))
    for metric, better in block["primary"].items():
        if better not in ("higher", "lower"):
            sys.exit(f"{toml_path}: primary {metric} = {better!r}, not 'higher' or 'lower'")
        if metric.endswith("onset_step"):
            sys.exit(f"{toml_path}: onset primaries ({metric}) need the detector: not recomputed here")
    return sweep["name"], block, list(sweep.get("variants", {}))


def check_declaration(folder: Path, name: str, block: dict) -> tuple[bool, list[str]]:
    """Whether testbed.json records this block as declared before the runs; the differences (the
    baseline as resolved to a setting id)."""
    path = folder / "testbed.json"
    if not path.is_file():
        print(f"note: no {path}; the sweep file's block is taken as declared before the runs")
        return True, []
    testbed = json.loads(path.read_text())
    recorded = testbed.get("analysis") or {}
    sweep = testbed.get("sweep")
    problems = [] if sweep == name else [f"testbed.json is of {sweep}, not {name}"]
    at = recorded.get("at", "final")
    at = at if at == "final" else tuple(at)
    for key, mine, theirs in (("baseline", block["baseline"], recorded.get("baseline")),
                              ("primary", block["primary"], recorded.get("primary")), ("at", block["at"], at),
                              ("alpha", block["alpha"], recorded.get("alpha", 0.05)),
                              ("non_start", block.get("non_start"), recorded.get("non_start")),
                              ("note", block.get("note", ""), recorded.get("note", ""))):
        if mine != theirs:
            problems.append(f"[analysis].{key}: sweep file {mine!r}, recorded {theirs!r}")
    if not recorded.get("before_runs"):
        problems.append("the recorded [analysis] is not marked before_runs: the engine calls it exploratory")
    return bool(recorded.get("before_runs")), problems


def read_runs(folder: Path) -> tuple[list[dict], dict[str, list[dict]]]:
    """runs.csv's rows and curves.csv's rows per run id, in their order."""
    with open(folder / "runs.csv", newline="") as f:
        runs = [{**row, "seed": int(row["seed"])} for row in csv.DictReader(f)]
    curves: dict[str, list[dict]] = {}
    with open(folder / "curves.csv", newline="") as f:
        for row in csv.DictReader(f):
            curves.setdefault(row["run"], []).append(row)
    return runs, curves


def as_number(text: str | None) -> float | None:
    """A CSV cell as a finite float; None when empty, not a number, NaN or infinite."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def in_window(row: dict, first: int, last: int) -> bool:
    step = as_number(row.get("step"))
    return step is not None and first <= step <= last


def value_at(rows: list[dict], metric: str, at: str | tuple[int, int]) -> float | None:
    """A run's metric at the declared point: the last evaluation's (at = "final"), or the mean of
    its finite values over the evaluations with first <= step <= last; None when there is none."""
    if at == "final":
        return as_number(rows[-1].get(metric)) if rows else None
    first, last = at
    inside = [as_number(r.get(metric)) for r in rows if in_window(r, first, last)]
    inside = [v for v in inside if v is not None]
    return sum(inside) / len(inside) if inside else None


def setting_id(name: str, settings: set[str]) -> str:
    """The setting a [analysis].baseline names: a setting id, or a variant's name."""
    slug = re.sub(r"[^A-Za-z0-9_.=,+-]", "_", f"variant={name}")
    found = [s for s in settings if s in (name, slug)]
    if len(found) != 1:
        sys.exit(f"the baseline {name!r} names no single setting of {sorted(settings)}")
    return found[0]


def completed_runs(runs: list[dict], curves: dict[str, list[dict]]) -> dict[str, dict[int, dict]]:
    """setting -> seed -> run (with its evaluations) over the completed runs with evaluations."""
    by_setting: dict[str, dict[int, dict]] = {}
    for run in runs:
        if run["status"] != "completed" or not curves.get(run["run"]):
            continue
        seeds = by_setting.setdefault(run["setting"], {})
        if run["seed"] in seeds:
            sys.exit(f"two completed runs of {run['setting']} seed {run['seed']}")
        machine = run.get("machine_id") or UNRECORDED
        seeds[run["seed"]] = {**run, "machine": machine, "rows": curves[run["run"]]}
    return by_setting


def judge_starts(by_setting: dict, block: dict) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """With a declared non_start: per setting, the seeds that did not start (value <= at_most) and
    the seeds with no value to judge."""
    rule = block.get("non_start")
    if not rule:
        return {}, {}
    failed, unjudged = {}, {}
    for setting, runs in by_setting.items():
        values = {seed: value_at(run["rows"], rule["metric"], block["at"]) for seed, run in runs.items()}
        failed[setting] = {s for s, v in values.items() if v is not None and v <= rule["at_most"]}
        unjudged[setting] = {s for s, v in values.items() if v is None}
    return failed, unjudged


def paired_test(differences: list[float]) -> tuple[float, float, float]:
    """Mean difference, half-width of its 95 % t-interval and the two-sided p (a one-sample t-test
    against 0; when every difference is equal, the exact sign-flip p). NaN where undefined."""
    n = len(differences)
    mean = sum(differences) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    if max(differences) == min(differences):
        return mean, half, 1.0 if mean == 0 else min(1.0, 2 / 2**n)
    t = mean / (sd / math.sqrt(n))
    return mean, half, float(2 * stats.t.sf(abs(t), n - 1))


def holm(p_values: list[float], size: int) -> list[float]:
    """Holm's step-down adjusted p values over a family of max(size, the non-NaN p values); a
    declared comparison without a p value counts as p = 1 (NaN stays NaN)."""
    ranked = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    size = max(size, len(ranked))
    adjusted, floor = [math.nan] * len(p_values), 0.0
    for k, (p, i) in enumerate(ranked):
        floor = max(floor, min(1.0, (size - k) * p))
        adjusted[i] = floor
    return adjusted


def compare(base: dict, fix: dict, seeds: list[int], metric: str, at) -> dict | None:
    """One fix against the baseline on one metric over the given seeds (pairs lacking a value drop)."""
    pairs = [(s, value_at(base[s]["rows"], metric, at), value_at(fix[s]["rows"], metric, at)) for s in seeds]
    pairs = [(s, b, f) for s, b, f in pairs if b is not None and f is not None]
    if not pairs:
        return None
    change, half, p = paired_test([f - b for _, b, f in pairs])
    n = len(pairs)
    return {"metric": metric, "seeds": [s for s, _, _ in pairs], "n": n, "change": change, "ci95": half,
            "p": p, "baseline_mean": sum(b for _, b, _ in pairs) / n,
            "setting_mean": sum(f for _, _, f in pairs) / n}


def analyse(by_setting: dict, block: dict, declared: bool, exploratory: list[str]) -> tuple[list, list]:
    """Every fix x metric (primaries, then `exploratory`), Holm over the primaries; refused pairs."""
    baseline, at = block["baseline"], block["at"]
    failed, _ = judge_starts(by_setting, block)
    rows, refused = [], []
    for setting in sorted(by_setting):
        if setting == baseline:
            continue
        base, fix = by_setting[baseline], by_setting[setting]
        shared = sorted(set(base) & set(fix))
        refused += [(setting, s, base[s]["machine"], fix[s]["machine"]) for s in shared
                    if base[s]["machine"] != fix[s]["machine"]]
        out = failed.get(setting, set()) | failed.get(baseline, set())
        seeds = [s for s in shared if base[s]["machine"] == fix[s]["machine"] and s not in out]
        for metric in [*block["primary"], *exploratory]:
            row = compare(base, fix, seeds, metric, at)
            if row is not None:
                primary = declared and metric in block["primary"]
                rows.append({**row, "setting": setting, "primary": primary, "holm_p": math.nan,
                             "better": block["primary"].get(metric, ""), "established": False})
    family = [r for r in rows if r["primary"]]
    size = declared * (len(by_setting) - 1) * len(block["primary"])  # the declared fixes x primaries
    for row, adjusted in zip(family, holm([r["p"] for r in family], size), strict=True):
        row["holm_p"] = adjusted
        row["established"] = adjusted < block["alpha"] and row["n"] >= MIN_PAIRS
    for row in rows:
        row["verdict"] = verdict(row)
    return rows, refused


def verdict(row: dict) -> str:
    if not row["primary"]:
        return "exploratory"
    if not row["established"]:
        return "not established"
    improved = (row["change"] > 0) == (row["better"] == "higher")
    return "better (established)" if improved else "worse (established)"


def print_rows(rows: list[dict], block: dict) -> None:
    print(f"\nEach fix minus {block['baseline']}, at {block['at']}, paired by seed on one machine:\n")
    print(f"{'setting':<32} {'metric':<14} {'n':>2}  {'mean diff':>11}  {'95% interval':<25} "
          f"{'p':>9} {'Holm p':>9}  verdict")
    for r in rows:
        if r["metric"] not in block["primary"]:
            continue
        low, high = r["change"] - r["ci95"], r["change"] + r["ci95"]
        interval = f"[{low:+.4g}, {high:+.4g}]"
        print(f"{r['setting']:<32} {r['metric']:<14} {r['n']:>2}  {r['change']:>+11.4g}  {interval:<25} "
              f"{r['p']:>9.3g} {r['holm_p']:>9.3g}  {r['verdict']}")


def print_context(by_setting: dict, runs: list[dict], block: dict, rows: list, refused: list) -> None:
    """What the numbers rest on: unfinished runs, machines, refused pairs, the family, non-starts."""
    statuses: dict[str, int] = {}
    for run in runs:
        statuses[run["status"]] = statuses.get(run["status"], 0) + 1
    print(f"runs by status: {statuses}")
    if statuses.get("diverged"):
        print("  NOTE: diverged runs are left out of every pair (and are not counted as unfinished)")
    machines = {run["machine"] for seeds in by_setting.values() for run in seeds.values()}
    print(f"machine ids among completed runs: {len(machines)}")
    if UNRECORDED in machines:
        print(f"  NOTE: runs without a machine id pair with each other as '{UNRECORDED}'")
    for setting, seed, theirs, mine in refused:
        print(f"  refused pair: {setting} seed {seed}: baseline on {theirs}, fix on {mine}")
    family = [r for r in rows if r["primary"] and not math.isnan(r["p"])]
    fixes = len(by_setting) - 1
    print(f"Holm family: settings with runs x primaries = {fixes} x {len(block['primary'])} = "
          f"{fixes * len(block['primary'])} ({len(family)} with a p value; any without one counts as p = 1)")
    thin = [f"{r['setting']}/{r['metric']} ({r['n']})" for r in family if r["n"] < MIN_PAIRS]
    if thin:
        print(f"  in the family with fewer than {MIN_PAIRS} pairs (never established): {', '.join(thin)}")
    no_p = [f"{r['setting']}/{r['metric']} ({r['n']})" for r in rows if r["primary"] and math.isnan(r["p"])]
    if no_p:
        print(f"  no p value (in the family as p = 1): {', '.join(no_p)}")
    print_non_starts(by_setting, block)


def print_non_starts(by_setting: dict, block: dict) -> None:
    failed, unjudged = judge_starts(by_setting, block)
    if not block.get("non_start"):
        return
    rule = block["non_start"]
    print(f"non-starts ({rule['metric']} <= {rule['at_most']} at {block['at']}; left out of the pairs):")
    for setting in sorted(by_setting):
        k, n = len(failed[setting]), len(by_setting[setting]) - len(unjudged[setting])
        low = stats.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
        high = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        seeds = " ".join(map(str, sorted(failed[setting]))) or "none"
        extra = f"; not judged (no value): {sorted(unjudged[setting])}" if unjudged[setting] else ""
        print(f"  {setting}: {k} of {n} (exact 95% {low:.2f}-{high:.2f}; seeds {seeds}){extra}")


def print_late_starts(by_setting: dict, block: dict, spec: str) -> None:
    """Per setting, the runs above the threshold at their first evaluation in the window, and at
    any evaluation in it (descriptive: the declared rule reports them beside the means)."""
    metric, _, threshold = spec.partition(">")
    if not threshold or block["at"] == "final":
        sys.exit("--late-start takes METRIC>VALUE and needs a window")
    first, last = block["at"]
    print(f"late starts ({metric} > {threshold} at the window's first evaluation; at any in it):")
    for setting in sorted(by_setting):
        at_first = anywhere = 0
        for run in by_setting[setting].values():
            values = [as_number(r.get(metric)) for r in run["rows"] if in_window(r, first, last)]
            at_first += bool(values) and values[0] is not None and values[0] > float(threshold)
            anywhere += any(v is not None and v > float(threshold) for v in values)
        print(f"  {setting}: {at_first} / {anywhere} of {len(by_setting[setting])}")


def differs(mine: float, theirs: float) -> float:
    """The absolute difference (0 when both are NaN; inf when only one is)."""
    if math.isnan(mine) or math.isnan(theirs):
        return 0.0 if math.isnan(mine) and math.isnan(theirs) else math.inf
    return abs(mine - theirs)


def as_text(row: dict, column: str) -> str:
    value = row[column]
    return " ".join(map(str, value)) if column == "seeds" else str(value)


def check(rows: list[dict], path: Path) -> bool:
    """Compare with the engine's analysis.csv; print the largest discrepancies; True when it matches."""
    with open(path, newline="") as f:
        engine = {(r["setting"], r["metric"]): r for r in csv.DictReader(f)}
    mine = {(r["setting"], r["metric"]): r for r in rows}
    ok, worst = True, {c: (0.0, 0.0, None) for c in NUMBERS}
    for key in sorted(set(engine) ^ set(mine)):
        side = "analysis.csv" if key in engine else "this script"
        print(f"MISMATCH: {key[0]} / {key[1]} only in {side}")
        ok = False
    for key in sorted(set(engine) & set(mine)):
        for column in NUMBERS:
            gap = differs(mine[key][column], float(engine[key][column]))
            scale = max(abs(mine[key][column]), abs(float(engine[key][column])))
            if gap > REL_TOL * scale + ABS_TOL:
                print(f"MISMATCH: {key[0]} / {key[1]} {column}: {mine[key][column]!r} "
                      f"vs {engine[key][column]}")
                ok = False
            if gap > worst[column][0]:
                worst[column] = (gap, gap / scale if scale else math.inf, key)
        columns = TEXTS if mine[key]["primary"] else ("seeds", "primary", "established", "verdict")
        for column in columns:
            if as_text(mine[key], column) != engine[key][column]:
                print(f"MISMATCH: {key[0]} / {key[1]} {column}: {as_text(mine[key], column)!r} "
                      f"vs {engine[key][column]!r}")
                ok = False
    print(f"\nagainst {path} ({len(engine)} rows; {len(set(engine) & set(mine))} recomputed):")
    for column, (gap, relative, key) in worst.items():
        where = f"  at {key[0]} / {key[1]}" if key else ""
        print(f"  {column:<14} largest |difference| {gap:.3g} (relative {relative:.3g}){where}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a testbed folder: runs.csv, curves.csv, analysis.csv")
    parser.add_argument("sweep", type=Path, help="its sweep file (experiments/fix-atlas/*.toml)")
    parser.add_argument("--late-start", metavar="METRIC>VALUE", help="count late starts, e.g. 'fcd>2000'")
    args = parser.parse_args(argv)
    name, block, variants = read_block(args.sweep)
    runs, curves = read_runs(args.folder)
    by_setting = completed_runs(runs, curves)
    block["baseline"] = setting_id(block["baseline"], set(by_setting))
    declared, problems = check_declaration(args.folder, name, block)
    for problem in problems:
        print(f"DECLARATION: {problem}")
    unplanned = sorted(s for s in by_setting if s.removeprefix("variant=") not in variants)
    if unplanned:
        print(f"settings with runs the sweep file no longer lists (kept, as the engine does): {unplanned}")
    analysis_csv = args.folder / "analysis.csv"
    exploratory = []
    if analysis_csv.is_file():
        with open(analysis_csv, newline="") as f:
            listed = dict.fromkeys(r["metric"] for r in csv.DictReader(f))
        exploratory = [m for m in listed if m not in block["primary"]]
    rows, refused = analyse(by_setting, block, declared, exploratory)
    print_context(by_setting, runs, block, rows, refused)
    if args.late_start:
        print_late_starts(by_setting, block, args.late_start)
    print_rows(rows, block)
    if not analysis_csv.is_file():
        print(f"\nno {analysis_csv} to compare with")
        return 1
    ok = check(rows, analysis_csv) and not problems
    print("MATCH" if ok else "MISMATCH (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
