"""Typed, validated run configuration: TOML in, `Config` out, every mistake named.

A config has five sections: [data], [model], [objective] (losses and the training-time
anti-collapse switches), [train] and [detector] (collapse-detector thresholds).
Architectural switches (spectral norm, packing, minibatch-stddev, minibatch discrimination)
live in [model] because they are applied when the networks are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from modecollapse.config.explain import explain_all
from modecollapse.config.sections import (
    DataConfig,
    DetectorConfig,
    ModelConfig,
    ObjectiveConfig,
    TrainConfig,
    _Section,
)
from modecollapse.data import DATASETS, dataset_kind, names_of, spec
from modecollapse.errors import ConfigError, ModeCollapseError, did_you_mean
from modecollapse.files import parse_toml, read_toml, tomllib

__all__ = [
    "Config", "DataConfig", "DetectorConfig", "ModelConfig", "ObjectiveConfig", "TrainConfig",
    "BOOKKEEPING", "apply_override", "config_changes", "config_from_dict", "config_from_toml",
    "config_to_toml", "lengthens", "load_config",
]  # fmt: skip


CYCLEGAN_OBJECTIVE = {"loss": "lsgan", "history_buffer_size": 50}
"""A CycleGAN's objective defaults, as Zhu et al.'s reference trains it: least squares and a
50-image pool (keys a config sets itself win)."""


class Config(_Section):
    name: str = "run"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)

    @field_validator("name")
    @classmethod
    def _a_folder_name(cls, name: str) -> str:
        """The name becomes a run folder's (runs/<name>-<time>): one plain folder name."""
        if not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise ValueError(f"name = {name!r}: it names the run's folder, so give one plain folder name")
        return name

    @model_validator(mode="before")
    @classmethod
    def _family_defaults(cls, raw: Any) -> Any:
        """A family whose recipe differs from the section defaults starts from its recipe."""
        if not isinstance(raw, dict):
            return raw
        model = raw.get("model")
        family = model.get("family") if isinstance(model, dict) else getattr(model, "family", None)
        if family != "cyclegan":
            return raw
        objective = raw.get("objective", {})
        if isinstance(objective, BaseModel):  # a section built in code: the keys it was given win
            objective = objective.model_dump(include=objective.model_fields_set)
        if not isinstance(objective, dict):
            return raw  # validation names the problem
        return {**raw, "objective": {**CYCLEGAN_OBJECTIVE, **objective}}

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        """Combinations that cannot work are refused before any work starts, each in a sentence."""
        self._check_family()
        self._check_cyclegan()
        self._check_conditioning()
        self._check_keys_read()
        self._check_batches()
        self._check_objective()
        return self

    def _check_family(self) -> None:
        """Known datasets, and a model family that fits the dataset's kind."""
        for key, name in (("data.name", self.data.name), ("data.base", self.data.base)):
            if name not in DATASETS:
                raise ValueError(_unknown_choice(key, name, sorted(DATASETS)))
        kind = dataset_kind(self.data.name)
        if self.model.family == "mlp" and kind != "points":
            raise ValueError(
                f"model.family = 'mlp' needs a 2-D point dataset ({', '.join(names_of('points'))}), "
                f"not '{self.data.name}'; use model.family = 'dcgan' for images"
            )
        if (self.model.family == "cyclegan") != (kind == "translation"):
            raise ValueError(
                f"model.family = '{self.model.family}' does not fit dataset '{self.data.name}': "
                f"translation pairs ({', '.join(names_of('translation'))}) need "
                "model.family = 'cyclegan', and cyclegan needs one of them"
            )
        if self.model.family == "dcgan" and kind != "image":
            raise ValueError(
                f"model.family = 'dcgan' needs an image dataset, not '{self.data.name}'; "
                "use model.family = 'mlp' for 2-D points"
            )

    def _check_cyclegan(self) -> None:
        if self.model.family == "cyclegan":
            if self.model.minibatch_discrimination:
                raise ValueError(
                    "model.minibatch_discrimination does not apply to the PatchGAN (one score per "
                    "patch); use model.minibatch_stddev or model.pack with cyclegan"
                )
            if self.objective.unrolled_steps:
                raise ValueError(
                    "objective.unrolled_steps is not supported with model.family = 'cyclegan' (unrolling "
                    "its two discriminators is not implemented)"
                )
            if self.objective.nce_weight and self.model.cyclegan_generator != "resnet":
                raise ValueError(
                    "objective.nce_weight needs model.cyclegan_generator = 'resnet' (CUT's layers)"
                )
            if self.objective.semantic_weight and not self.data.name.startswith("spatial-"):
                raise ValueError(
                    "objective.semantic_weight needs a spatial-* dataset (single-channel digits in known "
                    f"slots, which the fixed classifier reads), not '{self.data.name}'"
                )
            if self.train.lr_decay_epochs > self.train.epochs:
                raise ValueError(
                    f"train.lr_decay_epochs ({self.train.lr_decay_epochs}) exceeds train.epochs "
                    f"({self.train.epochs})"
                )

    def _check_conditioning(self) -> None:
        if self.model.conditioning != "none":
            if self.model.family != "dcgan":
                raise ValueError("model.conditioning needs model.family = 'dcgan'")
            if not spec(self.data.name).conditional:
                fits = ", ".join(name for name, s in DATASETS.items() if s.conditional)
                raise ValueError(
                    f"model.conditioning needs a class-labelled image dataset ({fits}), "
                    f"not '{self.data.name}'"
                )
            if self.model.conditioning in ("embedding", "acgan") and (
                self.model.pack > 1 or self.objective.history_buffer_size or self.objective.unrolled_steps
            ):
                raise ValueError(
                    "model.pack, objective.history_buffer_size and objective.unrolled_steps do not "
                    "combine with model.conditioning 'embedding' or 'acgan' (D needs each input's class)"
                )

    def _check_keys_read(self) -> None:
        """Keys set away from their defaults where the code never reads them are refused."""
        for family, keys in ONLY_FOR_FAMILY.items():
            changed = _changed(self, keys)
            if changed and self.model.family != family:
                raise ValueError(
                    f"{', '.join(changed)} only appl{'ies' if len(changed) == 1 else 'y'} to "
                    f"model.family = '{family}' (it is '{self.model.family}')"
                )
        changed = _changed(self, tuple(NOT_FOR_CYCLEGAN))
        if changed and self.model.family == "cyclegan":
            said = ", ".join(f"{key} ({NOT_FOR_CYCLEGAN[key]})" for key in changed)
            verb = "does" if len(changed) == 1 else "do"
            raise ValueError(f"{said} {verb} not apply to model.family = 'cyclegan'")
        if self.model.conditioning != "guided":
            changed = _changed_from_default(self.model, "guided_") + _changed_from_default(
                self.objective, "guide_"
            )
            if changed:
                raise ValueError(
                    f"{', '.join(changed)} only appl{'ies' if len(changed) == 1 else 'y'} to "
                    "model.conditioning = 'guided' "
                    f"(it is '{self.model.conditioning}')"
                )

    def _check_batches(self) -> None:
        if self.train.eval_every_steps and self.train.eval_every_epochs != 1:
            raise ValueError(
                "train.eval_every_steps and train.eval_every_epochs are both set; keep one "
                "(the step clock replaces the epoch clock)"
            )
        if self.train.full_eval_steps and not self.train.full_eval_samples:
            raise ValueError("train.full_eval_steps needs train.full_eval_samples (how many to score there)")
        every = self.train.eval_every_steps
        missed = [s for s in self.train.full_eval_steps if not every or s % every]
        if missed and self.train.full_eval_samples:
            raise ValueError(
                f"train.full_eval_steps {missed} are not evaluation steps: each must be a multiple of "
                "train.eval_every_steps"
            )
        if self.model.family != "cyclegan" and self.train.batch_size < 2:
            raise ValueError(f"train.batch_size must be at least 2 for model.family = '{self.model.family}'")
        if self.train.batch_size % self.model.pack:
            raise ValueError(
                f"train.batch_size ({self.train.batch_size}) must be a multiple of "
                f"model.pack ({self.model.pack})"
            )
        if self.objective.mode_seeking_weight and self.train.batch_size < 4:
            raise ValueError("objective.mode_seeking_weight needs train.batch_size >= 4")

    def _check_objective(self) -> None:
        if self.objective.loss == "rpgan":
            if self.objective.label_flip_fraction:
                raise ValueError(
                    "objective.label_flip_fraction does not apply to objective.loss = 'rpgan' "
                    "(it pairs each fake with a real input; there are no labels to flip)"
                )
            if self.model.family == "cyclegan" or self.model.conditioning in ("embedding", "acgan"):
                raise ValueError(
                    "objective.loss = 'rpgan' is not supported with model.family = 'cyclegan' or "
                    "model.conditioning 'embedding'/'acgan'"
                )
        if self.objective.label_smoothing and self.objective.loss not in ("bce", "lsgan"):
            raise ValueError(
                "objective.label_smoothing needs objective.loss = 'bce' or 'lsgan' "
                f"(targets mean nothing to '{self.objective.loss}')"
            )


# keys a family's code never reads: set away from their defaults on another family, refused
ONLY_FOR_FAMILY = {
    "cyclegan": (
        "model.resnet_blocks", "model.patch_layers", "train.lr_decay_epochs",
        "objective.cycle_weight", "objective.identity_weight", "model.cyclegan_generator",
        "model.g_downsamplings", "model.cyclegan_discriminator", "model.coord_channels",
        "objective.semantic_weight", "objective.geometry_weight", "objective.nce_weight",
    ),
    "dcgan": ("model.g_activation", "model.d_norm", "model.dcgan_layout"),
    "mlp": ("model.mlp_hidden_layers", "model.mlp_d_hidden_layers", "model.mlp_g_batch_norm",
            "model.mlp_d_maxout_pieces"),
}  # fmt: skip
NO_LATENT = "it has no latent: G takes an image"
ONE_STEP_EACH = "its trainer takes one D step and one G step per batch, as the reference trains"
NOT_FOR_CYCLEGAN = {
    "model.latent_dim": NO_LATENT, "model.latent_distribution": NO_LATENT,
    "train.d_steps": ONE_STEP_EACH, "train.g_steps": ONE_STEP_EACH,
    "objective.mode_seeking_weight": "mode seeking needs z, and there is none: G takes an image",
}  # fmt: skip


def _changed(config: Config, keys: tuple[str, ...]) -> list[str]:
    """Those of the dotted `keys` whose value in `config` is not the default."""
    changed = []
    for key in keys:
        section, name = key.split(".")
        part = getattr(config, section)
        if getattr(part, name) != type(part).model_fields[name].default:
            changed.append(key)
    return changed


def config_changes(old: Config, new: Config, ignore: tuple[str, ...] = ()) -> list[str]:
    """Every key whose value differs, as "section.key: old -> new" (dotted keys in `ignore` are
    left out)."""
    return [f"{key}: {a!r} -> {b!r}" for key, (a, b) in config_differences(old, new, ignore).items()]


def config_differences(old: Config, new: Config, ignore: tuple[str, ...] = ()) -> dict[str, tuple[Any, Any]]:
    """Every dotted key whose value differs, in key order: (old value, new value)."""
    return _differences(old.model_dump(mode="json"), new.model_dump(mode="json"), "", set(ignore))


def _differences(old: dict, new: dict, prefix: str, ignore: set[str]) -> dict[str, tuple[Any, Any]]:
    differences: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(old) | set(new)):
        a, b, dotted = old.get(key), new.get(key), f"{prefix}{key}"
        if dotted in ignore:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            differences.update(_differences(a, b, f"{dotted}.", ignore))
        elif a != b:
            differences[dotted] = (a, b)
    return differences


BOOKKEEPING = ("name", "data.data_dir", "data.download", "train.progress", "train.tensorboard")
"""Config keys that do not change what a run trains (a run's label, where its data is found,
what it prints): a resumed run or a sweep's finished run may differ in them."""


def _without_bookkeeping(config: Config) -> dict[str, Any]:
    exclude: dict[str, Any] = {}
    for dotted in BOOKKEEPING:
        section, _, key = dotted.rpartition(".")
        if section:
            exclude.setdefault(section, set()).add(key)
        else:
            exclude[key] = True
    return config.model_dump(exclude=exclude)


def lengthens(old: Config, new: Config) -> bool:
    """Whether `new` only lets a run of `old` train for longer: train.max_steps and/or
    train.epochs raised, nothing else changed but bookkeeping (the run's name, a label: a longer
    sweep names its runs after itself; where the data is found), and epochs kept when the
    learning rate decays (CycleGAN's schedule follows train.epochs). Such a run can go on from
    its last checkpoint."""
    before, after = _without_bookkeeping(old), _without_bookkeeping(new)
    length = [key for key in ("max_steps", "epochs") if before["train"][key] != after["train"][key]]
    if not length or (before["train"]["lr_decay_epochs"] and "epochs" in length):
        return False
    for key in length:
        was, now = before["train"].pop(key), after["train"].pop(key)
        if was is None or now is None or now < was:
            return False
    return before == after


# --- loading, overrides, saving ---------------------------------------------------------


def _changed_from_default(section: BaseModel, prefix: str) -> list[str]:
    """`section.key` for each field starting with `prefix` whose value is not its default."""
    name = type(section).__name__.removesuffix("Config").lower()
    return [
        f"{name}.{key}"
        for key, field in type(section).model_fields.items()
        if key.startswith(prefix) and getattr(section, key) != field.default
    ]


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a TOML config (or the defaults), apply `key=value` overrides, validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = read_toml(path, "config file")
    for override in overrides or []:
        apply_override(raw, override)
    return config_from_dict(raw, source=str(path) if path else "config")


def config_from_toml(text: str, source: str = "config") -> Config:
    """Validate a config's TOML text (a run folder's config.toml, a records.jsonl entry)."""
    return config_from_dict(parse_toml(text, source), source=source)


def config_from_dict(raw: dict[str, Any], source: str = "config") -> Config:
    """Validate a plain dict into a Config, turning pydantic's errors into sentences."""
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: " + explain_all(error.errors(), Config)) from None


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Apply `section.key=value`; the value is parsed as TOML, else taken as a string."""
    if "=" not in override:
        raise ConfigError(f"--set needs key=value, got '{override}'")
    dotted, text = (part.strip() for part in override.split("=", 1))
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{part}' is a value, not a section")
    node[leaf] = value


def config_to_toml(config: Config) -> str:
    """The resolved config as TOML (None values are left out: they mean 'default')."""
    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))


def _unknown_choice(key: str, value: str, valid: list[str]) -> str:
    close = did_you_mean(value, valid, cutoff=0.5)
    hint = f"did you mean '{close}'? " if close else ""
    return f"{key} = '{value}' is not known: {hint}choose one of {', '.join(valid)}"


def detector_rules(rules: Any) -> DetectorConfig | None:
    """`rules` as the detector's thresholds: a DetectorConfig, None, or a dict of its keys (checked,
    with the nearest key for a misspelt one), as diagnose and Monitor take them."""
    if rules is None or isinstance(rules, DetectorConfig):
        return rules
    if not isinstance(rules, dict):
        given = type(rules).__name__
        raise ModeCollapseError(f"rules takes a DetectorConfig or a dict of its thresholds, not {given}")
    try:
        return DetectorConfig.model_validate(rules)
    except ValidationError as error:
        raise ModeCollapseError(f"rules: {explain_all(error.errors(), DetectorConfig)}") from None
