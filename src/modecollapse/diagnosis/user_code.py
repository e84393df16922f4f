"""A user's own network class, named on the command line ("models.py:Generator" or
"package.module:Generator") and built with JSON arguments. Importing runs that file's code, as
`python models.py` would: name only your own code, in a file that defines models without
training on import."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from modecollapse.errors import ModeCollapseError, did_you_mean
from modecollapse.options import option

_IMPORTED: dict[tuple[str, float], ModuleType] = {}  # (file, mtime): each file imported once


def build_arch(arch: str, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """`arch`'s class or factory called with `kwargs`; its prints go to stderr (not --json's stdout)."""
    with contextlib.redirect_stdout(sys.stderr):
        return _build(arch, kwargs or {})


def _build(arch: str, kwargs: dict[str, Any]) -> nn.Module:
    where, _, name = arch.rpartition(":")
    if not where or not name:
        raise ModeCollapseError(f"{option('arch')} takes FILE.py:CLASS or MODULE:CLASS, got {arch!r}")
    module = _import_file(Path(where)) if where.endswith(".py") else _import_module(where, arch)
    built = getattr(module, name, None)
    if built is None:
        classes = [
            n for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == module.__name__
        ]  # fmt: skip
        near = did_you_mean(name, classes)
        hint = f" (did you mean {near!r}?)" if near else f"; its modules: {', '.join(classes) or 'none'}"
        raise ModeCollapseError(f"{option('arch', arch)}: {where} has no {name}{hint}")
    if not callable(built):
        raise ModeCollapseError(f"{option('arch', arch)}: {name} is a {type(built).__name__}, not a class")
    try:
        network = built(**kwargs)
    except TypeError as error:
        example = option("arch_kwargs", {"nz": 100})
        hint = f"; give its arguments with {example}" if "argument" in str(error) else ""
        called = f"{name}(**{json.dumps(kwargs)})"
        raise ModeCollapseError(f"{option('arch', arch)}: {called} failed ({error}){hint}") from None
    except Exception as error:  # the user's constructor failed: say so, keep the cause
        raise ModeCollapseError(
            f"{option('arch', arch)}: {name}(**{json.dumps(kwargs)}) failed: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(network, nn.Module):
        what = type(network).__name__
        raise ModeCollapseError(f"{option('arch', arch)}: {name}(...) returned a {what}, not a torch module")
    return network


def _import_module(where: str, arch: str) -> ModuleType:
    return _running(lambda: importlib.import_module(where), where)


def _import_file(path: Path) -> ModuleType:
    """The module in `path`, executed once per version of the file, registered in sys.modules
    (dataclasses and typing need that) under a name of its own."""
    if not path.is_file():
        raise ModeCollapseError(f"{option('arch')}: no such file {path}")
    key = (str(path.resolve()), path.stat().st_mtime)
    if key in _IMPORTED:
        return _IMPORTED[key]
    name = f"_modecollapse_user_{re.sub(r'[^0-9a-zA-Z_]', '_', key[0])}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModeCollapseError(f"{option('arch')}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.modules[name] = module
    sys.path.insert(0, folder)  # so it can import its neighbours
    try:
        _running(lambda: spec.loader.exec_module(module), path)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        with contextlib.suppress(ValueError):  # the user's code may have removed it itself
            sys.path.remove(folder)
    _IMPORTED[key] = module
    return module


def _running(step: Any, where: str | Path) -> Any:
    """Run the user's import, turning its failures (and a command line's exit) into one sentence."""
    try:
        return step()
    except SystemExit as error:
        raise ModeCollapseError(
            f"{option('arch')}: importing {where} exited (SystemExit {error.code}): it runs a command line "
            "when imported. Put the generator class in a file that only defines models (e.g. "
            "models.py), or guard the script with if __name__ == '__main__':"
        ) from None
    except Exception as error:  # the user's own code failed to import: say where, keep the cause
        raise ModeCollapseError(
            f"{option('arch')}: importing {where} failed: {type(error).__name__}: {error}"
        ) from error
