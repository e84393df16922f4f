"""Errors a user can cause and fix; the CLI prints their message without a traceback."""

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice nearest `word` (spelling, case aside), or None when none is near."""
    folded = {str(choice).lower(): str(choice) for choice in choices}
    near = difflib.get_close_matches(str(word).lower(), list(folded), n=1, cutoff=cutoff)
    return folded[near[0]] if near else None


class ModeCollapseError(Exception):
    """Base class: a mistake in input, config or environment that the user can fix."""


class ConfigError(ModeCollapseError):
    """The config has an unknown key, a bad value, or contradicting settings."""


class DataFileError(ModeCollapseError):
    """A data file is corrupt, truncated or not what its name says."""


class DatasetUnavailable(ModeCollapseError):
    """A dataset is neither on disk nor downloadable right now."""


class DamagedCache(DatasetUnavailable):
    """A dataset's cached files fail their MD5 check, and downloads are off."""


class CheckpointError(ModeCollapseError):
    """A checkpoint or run folder cannot be used (missing, foreign format, changed config)."""


class TrainingDiverged(ModeCollapseError):
    """A loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


class LockedError(ModeCollapseError):
    """Another live process is writing the same run folder."""
