"""Sweep files: a base config, a grid over any config keys, and seeds -> one run per cell.

    name = "label-flip-cpu"
    seeds = [0, 1, 2]
    base_config = "dcgan28_mnist5k.toml"     # relative to the sweep file; or a [base] table
    [grid]
    "objective.label_flip_fraction" = [0.0, 0.05, 0.1]
    [variants.as_published]                  # optional: override sets crossed with the grid
    "objective.label_flip_rounding" = "floor"
    [resources]                              # optional
    workers = 2                              # local processes at once
    threads_per_worker = 1
    num_cpus = 1                             # per run, for Ray
    num_gpus = 0
    [closed]                                 # optional: planned runs the study ends without
    reason = "the machine was lost; finishing these runs would split their seeds across machines"
    runs = { r1 = [210], g_ema = [210, 211] } # setting (variant name or id) -> seeds

The sweep folder it runs into is sweepfolder.py's.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modecollapse.config import Config, apply_override, config_from_dict
from modecollapse.config.explain import explain_all
from modecollapse.errors import ConfigError
from modecollapse.files import read_toml
from modecollapse.metrics.kinds import METRIC_KINDS
from modecollapse.sweepfolder import SweepFolder


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workers: int | None = Field(default=None, ge=1)
    """Local runs at once; None: one single-threaded run per CPU core (speed.default_workers)."""
    threads_per_worker: int = Field(default=1, ge=1)
    num_cpus: float = Field(default=1, gt=0)
    num_gpus: float = Field(default=0, ge=0)


class NonStart(BaseModel):
    """A run whose `metric` at the declared point is <= `at_most` did not start."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    at_most: float

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str) -> str:
        if metric not in METRIC_KINDS:
            known = ", ".join(sorted(METRIC_KINDS))
            raise ValueError(f"non_start metric '{metric}' is not a recorded metric; one of {known}")
        return metric


class Analysis(BaseModel):
    """A study's comparisons, declared in the sweep file before its runs (`[analysis]`): each
    setting against `baseline`, paired by seed, on the `primary` metrics at `at`, with Holm's
    correction across the (setting x primary) family; `modecollapse report` writes analysis.md."""

    model_config = ConfigDict(extra="forbid")
    baseline: str
    """The setting the others are compared with: a variant's name or a setting id."""
    primary: dict[str, Literal["higher", "lower"]] = Field(min_length=1)
    """Metric -> its better direction (each metric's kind of collapse: metrics/kinds.py)."""
    at: Literal["final"] | tuple[int, int] = "final"
    """"final" (each run's last evaluation) or [first, last]: the mean over evaluations in
    that window of steps."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Family-wise error rate of the Holm-corrected comparisons."""
    note: str = ""
    """Why these metrics and this point (free text, kept with the declaration)."""
    non_start: NonStart | None = None
    """A run that never starts (e.g. one mode of Stacked MNIST's 1,000) is its own outcome: counted
    per setting with its rate, and its seed left out of that setting's pairs."""

    @field_validator("primary")
    @classmethod
    def _known_direction(cls, primary: dict[str, str]) -> dict[str, str]:
        for metric, better in primary.items():
            if metric not in METRIC_KINDS:
                known = ", ".join(sorted(METRIC_KINDS))
                raise ValueError(f"primary metric '{metric}' speaks to no kind of collapse; one of {known}")
            right = METRIC_KINDS[metric][1]
            if right != better:
                raise ValueError(f"primary metric '{metric}' is better {right}, not {better}")
        return primary

    @field_validator("at")
    @classmethod
    def _window(cls, at: str | tuple[int, int]) -> str | tuple[int, int]:
        if not isinstance(at, str) and not 0 <= at[0] <= at[1]:
            raise ValueError(f"the window [{at[0]}, {at[1]}] must run from a first step to a later one")
        return at


class Closed(BaseModel):
    """Planned runs a study ends without (`[closed]`): never started, and no longer awaited, so
    the declared analysis is no longer provisional for their want; the reason goes into analysis.md."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1)
    runs: dict[str, list[int]] = Field(min_length=1)
    """A setting (variant name or setting id) -> the seeds of it closed."""


class SweepFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    """One line on what the study runs (reports and the fix atlas show it)."""
    seeds: list[int] = Field(default=[0], min_length=1)
    base_config: str | None = None

    @field_validator("seeds")
    @classmethod
    def _whole_seeds(cls, seeds: list[int]) -> list[int]:
        """Seeds name runs (run ids end in __seed<N>, picked with --seeds N or A-B): 0 and up, once each."""
        if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be different whole numbers from 0 up, got {seeds}")
        return seeds

    base: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Named sets of overrides that change together (e.g. as_published vs corrected),
    crossed with the grid."""

    @field_validator("variants")
    @classmethod
    def _names_that_stay_names(cls, variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """A variant's name is part of its setting ids (variant=NAME,key=value): no ',' or '='."""
        bad = [name for name in variants if "," in name or "=" in name]
        if bad:
            raise ValueError(f"variant names may not hold ',' or '=' (they join setting ids): {bad}")
        return variants
    resources: Resources = Field(default_factory=Resources)
    analysis: Analysis | None = None
    closed: Closed | None = None


@dataclass(frozen=True)
class RunSpec:
    """One cell of the sweep: a setting (grid values), a seed, and its resolved config."""

    run_id: str
    setting: dict[str, Any]
    seed: int
    config: Config = field(compare=False)

    @property
    def setting_id(self) -> str:
        return setting_slug(self.setting)


@dataclass
class Sweep:
    name: str
    runs: list[RunSpec]
    resources: Resources
    source: dict[str, Any]
    analysis: dict[str, Any] | None = None
    """The declared [analysis], its baseline resolved to a setting id."""
    planned: list[str] = field(default_factory=list)
    """Every run id of the whole sweep file (a selection keeps its file's): what the declared
    study is complete at, however many selections run it."""
    closed: dict[str, Any] | None = None
    """[closed] resolved: {"reason": ..., "runs": [run ids]}: runs of `runs` (so their configs are
    checked and listed) that the executor never starts."""

    def closed_runs(self) -> set[str]:
        """The run ids [closed] names (as SweepFolder.closed_runs reads them back)."""
        return set((self.closed or {}).get("runs", []))


def load_sweep(path: str | Path) -> Sweep:
    """Read and expand a sweep file; every run's config is validated before any work starts."""
    path = Path(path)
    raw = read_toml(path, "sweep file")
    try:
        sweep = SweepFile.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{path}: " + explain_all(error.errors(), SweepFile)) from None
    base = dict(sweep.base)
    if sweep.base_config:
        base_path = (path.parent / sweep.base_config).resolve()
        if not base_path.is_file():
            raise ConfigError(f"{path}: base_config {sweep.base_config} not found at {base_path}")
        base = deep_merge(read_toml(base_path), base)
    return expand(sweep, base, str(path))


def expand(sweep: SweepFile, base: dict[str, Any], source: str = "sweep") -> Sweep:
    keys = list(sweep.grid)
    variants = sweep.variants or {"": {}}
    runs = []
    for variant, values in itertools.product(variants, itertools.product(*(sweep.grid[k] for k in keys))):
        setting = ({"variant": variant} if variant else {}) | dict(zip(keys, values, strict=True))
        for seed in sweep.seeds:
            raw = json.loads(json.dumps(base))  # deep copy of plain data
            overrides = {**variants[variant], **{k: v for k, v in setting.items() if k != "variant"}}
            for key, value in overrides.items():
                apply_override(raw, f"{key}={json.dumps(value)}")
            apply_override(raw, f"train.seed={seed}")
            slug = setting_slug(setting)
            raw["name"] = f"{sweep.name}-{slug}-seed{seed}"
            config = config_from_dict(raw, source=f"{source} [{slug}, seed {seed}]")
            runs.append(RunSpec(run_id(slug, seed), setting, seed, config))
    analysis = None
    if sweep.analysis is not None:
        terms = sweep.analysis.model_dump(mode="json", exclude_none=True)  # as declared before non_start
        analysis = {**terms, "baseline": _baseline(sweep, runs, source)}
    closed = _closed(sweep, runs, source)
    planned = [r.run_id for r in runs]
    return Sweep(sweep.name, runs, sweep.resources, sweep.model_dump(), analysis, planned, closed)


def _closed(sweep: SweepFile, runs: list[RunSpec], source: str) -> dict[str, Any] | None:
    """[closed] as run ids; a setting or seed the file does not hold is refused by name."""
    if sweep.closed is None:
        return None
    settings = list(dict.fromkeys(run.setting_id for run in runs))
    ids = []
    for name, seeds in sweep.closed.runs.items():
        matches = _matching(name, settings)
        if len(matches) != 1:
            which = f"{len(matches)} settings" if matches else "no setting"
            raise ConfigError(
                f"{source}: [closed] names '{name}', which matches {which}; settings: {', '.join(settings)}"
            )
        unknown = sorted(set(seeds) - set(sweep.seeds))
        if unknown:
            raise ConfigError(
                f"{source}: [closed] {name} names seeds {unknown} the file does not run ({sweep.seeds})"
            )
        ids += [run_id(matches[0], seed) for seed in dict.fromkeys(seeds)]
    return {"reason": sweep.closed.reason, "runs": list(dict.fromkeys(ids))}


def _matching(name: str, settings: list[str]) -> list[str]:
    """The settings a name picks: a setting id, or a variant's name (each of its grid cells when
    the sweep also has a [grid])."""
    variant = setting_slug({"variant": name})
    return [s for s in settings if s == name or s == variant or s.startswith(variant + ",")]


def parse_seeds(text: str) -> list[int]:
    """'0-4' or '0,2,5' (or both: '0-2,7') -> seeds."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            seeds += list(range(int(first), int(last or first) + 1))
    except ValueError:
        raise ConfigError(f"--seeds takes seeds like 0-4 or 0,2,5, not {text!r}") from None
    return seeds


def select(
    sweep: Sweep, only: list[str] | None = None, seeds: list[int] | None = None, overrides: list[str] = ()
) -> Sweep:
    """The runs of `sweep` of the settings `only` names (variant names or setting ids) and the
    given `seeds`, each config with `overrides` (KEY=VALUE, as --set) applied and validated.
    A selection replaces one-row and lengthened copies of a sweep file."""
    settings = list(dict.fromkeys(r.setting_id for r in sweep.runs))
    wanted = None
    if only:
        wanted = set()
        for name in only:
            match = _matching(name, settings)
            if not match:
                raise ConfigError(
                    f"--only {name!r} names no setting of {sweep.name}; settings: {', '.join(settings)}"
                )
            wanted.update(match)
    runs = []
    for run in sweep.runs:
        if (wanted is not None and run.setting_id not in wanted) or (
            seeds is not None and run.seed not in seeds
        ):
            continue
        config = run.config
        if overrides:
            raw = config.model_dump(mode="json")
            for override in overrides:
                apply_override(raw, override)
            config = config_from_dict(
                raw, source=f"{sweep.name} [{run.setting_id}, seed {run.seed}] with --set"
            )
        runs.append(RunSpec(run.run_id, run.setting, run.seed, config))
    if not runs:
        raise ConfigError(
            f"the selection leaves no run of {sweep.name} (seeds {sorted({r.seed for r in sweep.runs})})"
        )
    selection = {"only": only, "seeds": seeds, "set": list(overrides)}
    source = {**sweep.source, "selection": selection}
    return Sweep(sweep.name, runs, sweep.resources, source, sweep.analysis, sweep.planned, sweep.closed)


def _baseline(sweep: SweepFile, runs: list[RunSpec], source: str) -> str:
    """The setting id [analysis].baseline names (a variant's name or a setting id)."""
    assert sweep.analysis is not None
    wanted = sweep.analysis.baseline
    settings = list(dict.fromkeys(run.setting_id for run in runs))
    matches = _matching(wanted, settings)
    if len(matches) != 1:
        raise ConfigError(
            f"{source}: [analysis] baseline '{wanted}' names no single setting; "
            f"settings: {', '.join(settings)}"
        )
    return matches[0]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, table by table: [base.train] changes keys, not the table."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def setting_slug(setting: dict[str, Any]) -> str:
    """A folder-safe name for a grid cell, e.g. 'label_flip_fraction=0.05,pack=2'."""
    if not setting:
        return "base"
    parts = [f"{key.split('.')[-1]}={value}" for key, value in setting.items()]
    return re.sub(r"[^A-Za-z0-9_.=,+-]", "_", ",".join(parts))


def run_id(setting: str, seed: int) -> str:
    """A run's id: its setting id and seed."""
    return f"{setting}__seed{seed}"


def setting_of(run: str) -> str:
    """The setting id of a run id (run_id's inverse)."""
    return run.rsplit("__seed", 1)[0]


def write_index(sweep: Sweep, sweep_dir: Path) -> None:
    """The sweep's index in its folder (SweepFolder.write_index): its runs and its [analysis]."""
    runs = [
        {"id": r.run_id, "setting": r.setting, "setting_id": r.setting_id, "seed": r.seed} for r in sweep.runs
    ]
    SweepFolder(sweep_dir).write_index(
        sweep.name, runs, sweep.source, sweep.analysis, sweep.planned, sweep.closed
    )
