"""How a message names an option of diagnose: as the caller gave it. On the command line it
says `--weights-key G_ema`; from Python, `modecollapse.diagnose(...)`, `weights_key='G_ema'`.
A leaf module (like errors.py), so the data and metrics code diagnose reaches can use it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_COMMAND_LINE = ContextVar("modecollapse_diagnose_command_line", default=False)
_NO_VALUE = object()


class Metavar(str):
    """A value to fill in (N, FILE.pt): shown as written, in either spelling."""

    def __repr__(self) -> str:
        return str(self)


def on_command_line() -> bool:
    """Whether messages are being spelled for the command line (inside command_line())."""
    return _COMMAND_LINE.get()


def option(name: str, value: object = _NO_VALUE) -> str:
    """`name`, a keyword of modecollapse.diagnose ("weights_key"), as the caller spells it, with
    `value` when given: `--weights-key G_ema` or `weights_key='G_ema'`."""
    if not _COMMAND_LINE.get():
        return name if value is _NO_VALUE else f"{name}={value!r}"
    flag = "--" + name.replace("_", "-")
    if value is _NO_VALUE:
        return flag
    return f"{flag} '{json.dumps(value)}'" if isinstance(value, dict) else f"{flag} {value}"


def invocation(source: str, **options: object) -> str:
    """A whole diagnose call, as the caller would write it."""
    if _COMMAND_LINE.get():
        return " ".join(["modecollapse diagnose", source, *(option(k, v) for k, v in options.items())])
    return f"modecollapse.diagnose({', '.join([repr(source), *(option(k, v) for k, v in options.items())])})"


@contextmanager
def command_line() -> Iterator[None]:
    """Messages raised inside name options as the command line spells them."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)
