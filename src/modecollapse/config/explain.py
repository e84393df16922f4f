"""Pydantic's validation errors as sentences: an unknown key with the section it belongs in or
the nearest valid key, each section's valid keys listed once."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from modecollapse.errors import did_you_mean


def explain_all(errors: list[Any], root: type[BaseModel]) -> str:
    """Each of a config's validation errors (`root`: its model) in a sentence; the valid keys of a
    section with unknown keys listed once."""
    said, sections = [], {}
    for error in errors:
        if error["type"] == "extra_forbidden":
            text, section, valid = _unknown_key(error["loc"], root)
            said.append(text)
            sections.setdefault(section, valid)
        else:
            said.append(_explain_error(error))
    said += [f"valid keys in {section}: {', '.join(valid)}" for section, valid in sections.items()]
    return "; ".join(said)


def _explain_error(error: dict[str, Any]) -> str:
    """A pydantic validation error (not an unknown key) as a sentence."""
    loc = ".".join(str(part) for part in error["loc"])
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    if error["type"] == "missing":
        return f"{loc} is required"
    return f"{loc} = {error.get('input')!r}: {error['msg']}"


def _section_model(root: type[BaseModel], parts: list[str]) -> type[BaseModel] | None:
    """The model at the dotted `parts` under `root` (an optional section's too), or None where a
    part names a value or nothing."""
    model: type[BaseModel] | None = root
    for part in parts:
        spec = model.model_fields.get(part) if model else None
        kinds = [spec.annotation, *typing.get_args(spec.annotation)] if spec else []
        model = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
    return model


def _unknown_key(loc: tuple, root: type[BaseModel]) -> tuple[str, str, list[str]]:
    """The sentence for an unknown key (the section it belongs in, if another has it; else the
    nearest key), its section's name and that section's valid keys."""
    *parents, leaf = (str(part) for part in loc)
    model = _section_model(root, parents)
    valid = sorted(model.model_fields) if model else []
    where = ".".join(parents)
    full = f"{where}.{leaf}" if where else leaf
    homes = [
        name for name in root.model_fields
        if name != where and leaf in getattr(_section_model(root, [name]), "model_fields", {})
    ]  # fmt: skip
    close = did_you_mean(leaf, valid, cutoff=0.5)
    if homes:
        hint = f": {leaf} belongs in [{homes[0]}] ({homes[0]}.{leaf})"
    else:
        hint = f": did you mean '{where + '.' if where else ''}{close}'?" if close else ""
    return f"unknown key '{full}'{hint}", f"[{where}]" if where else "the top level", valid
