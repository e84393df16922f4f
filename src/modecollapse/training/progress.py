"""The step bar of a run, and where a sweep's pool worker draws it."""

from __future__ import annotations

from tqdm import tqdm

bar_line: int | None = None
"""The terminal line of this process's progress bars, set in a sweep's pool worker (one line
per worker, so that two workers' bars do not overwrite each other); None: tqdm's own."""


def progress_bar(total: int, initial: int, enabled: bool, name: str) -> tqdm:
    """A run's step bar; on a worker's own line (`bar_line`) it is named and cleared when done."""
    on_line = bar_line is not None
    return tqdm(
        total=total,
        initial=initial,
        disable=not enabled,
        unit="step",
        dynamic_ncols=True,
        position=bar_line,
        desc=name if on_line else None,
        leave=not on_line,
    )
