"""How a user's class-conditional G is given its class. The cGAN tutorials differ: forward(z,
labels), forward(labels, noise), one input with the one-hot label appended to z, or a keyword-only
label (forward(z, *, labels)); and the label as a class index (an nn.Embedding's input) or a
one-hot row. G's forward's parameter names say
which; where they do not, every call is tried and the note says the order was a guess.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from modecollapse.errors import ModeCollapseError
from modecollapse.generators import batch_outputs, error_line, output_note, unwrapped
from modecollapse.models.latent import Latent, latent_options, placement

LABEL_FORMS = {"indices": "class indices of shape (N,), int64", "one-hot": "one-hot rows of shape (N, K)"}
CALLS = {
    **{("z", form): f"G(z, label) with labels as {said}" for form, said in LABEL_FORMS.items()},
    **{("label", form): f"G(label, z) with labels as {said}" for form, said in LABEL_FORMS.items()},
    ("appended", "one-hot"): "G(z with one-hot rows of shape (N, K) appended)",
    **{("keyword", form): f"G(z, label=...) with labels as {said}" for form, said in LABEL_FORMS.items()},
}
"""Every way a conditional G is called, by (where the label goes, its form)."""
LABEL_WORDS = frozenset(
    "label labels class classes cls cond condition conditions target targets digit digits onehot hot "
    "category categories y c".split()
)
"""Words of a parameter name (split at _ and digits) that mark it as the label."""
Z_WORDS = frozenset("z noise latent latents".split())
CAUGHT = (RuntimeError, TypeError, IndexError, ValueError, AssertionError, torch.jit.Error)
"""What a G raises when called the wrong way (shapes, dtypes, arity, its own asserts; TorchScript's own)."""


class Calls(NamedTuple):
    """The calls of CALLS to try, in order, and why that order."""

    order: list[tuple[str, str]]
    why: str
    guessed: bool = False
    """forward's names did not say where the label goes: a G that accepts either order may have
    been called the wrong way."""
    keyword: str = ""
    """The keyword-only parameter that takes the label (forward(z, *, labels))."""


class Conditioned(NamedTuple):
    """A conditional G's outputs, the class each was drawn for, how G took them, and that call
    alone (to pass back as `calls`, so that later draws skip the refused ones)."""

    images: torch.Tensor
    labels: torch.Tensor
    note: str
    call: Calls


@torch.no_grad()
def sample_with_labels(
    generator: Any,
    latent: Latent,
    num_classes: int,
    count: int,
    seed: int,
    chunk: int = 500,
    calls: Calls | None = None,
) -> Conditioned:
    """A conditional G's outputs for count // K fixed draws per class (classes in turn, so any first
    N samples show them all), the labels asked for, and how G took them (the first of `calls`,
    `calls_to_try`'s by default, that G runs on; indices before one-hot rows, which come in G's
    dtype)."""
    device, dtype = placement(generator)
    labels = torch.arange(num_classes).repeat(max(count // num_classes, 1))  # 0, 1, ..., K-1, 0, ...
    z = latent.draw(len(labels), seed).to(device=device, dtype=dtype)
    calls, refused = calls or calls_to_try(generator, latent), []
    for where, form in calls.order:
        said = CALLS[where, form].replace("label=", f"{calls.keyword}=")
        parts, returned = [], None
        try:
            for zs, ys in zip(z.split(chunk), labels.split(chunk), strict=True):
                given = _labels_as(form, ys, num_classes, device, dtype)
                out = _call(generator, where, zs, given, calls.keyword)
                returned = returned or output_note(out)
                parts.append(batch_outputs(out, len(ys)))  # on the CPU chunk by chunk
        except (*CAUGHT, ModeCollapseError) as error:  # a call form that returns the wrong batch: next
            refused.append(f"{said}: {error_line(error)}")
            continue
        note = f"{said}, {len(labels) // num_classes} per class" + (f"; {returned}" if returned else "")
        if calls.guessed and where != "keyword":
            note += (
                f" ({calls.why}: the order is a guess; name forward's inputs z and labels, in G's "
                "order, or give a function of (z, labels) that calls G)"
            )
        return Conditioned(torch.cat(parts), labels, note, calls._replace(order=[(where, form)]))
    raise ModeCollapseError(
        f"G failed on every call tried ({latent.describe()}; {calls.why}): as "
        + "; as ".join(refused)
        + ". A conditional G is called G(z, labels), G(labels, z) when forward names the label first, "
        "G(z, labels=...) when the label is keyword-only, or with one-hot rows appended to a flat z "
        "when forward takes one input"
    )


def calls_to_try(generator: Any, latent: Latent) -> Calls:
    """The calls to try, read from the names of G's forward (through DataParallel, torch.compile, a
    partial, TorchScript): a required keyword-only label -> G(z, label=...) first; then one input
    -> z with one-hot rows appended (a flat z; else the two-input calls, which G will refuse); a
    name that is only the label first, or only z second (the other unnamed) -> G(label, z); the
    mirror -> G(z, label) then G(label, z); anything else (*args, no names, names of both kinds or
    neither) -> every call, the order a guess."""
    names, keyword = _names(unwrapped(generator))
    calls = _positional_calls(names, latent)
    if not keyword:
        return calls
    inputs = ["*args"] if names is None else [*names, "*"]
    said = f"forward({', '.join([*inputs, keyword])}) takes the label by keyword"
    first = [("keyword", form) for form in LABEL_FORMS]
    return Calls(first + calls.order, said, calls.guessed, keyword)


def _positional_calls(names: list[str] | None, latent: Latent) -> Calls:
    two = [(where, form) for where in ("z", "label") for form in LABEL_FORMS]
    appended = [("appended", "one-hot")] if len(latent.shape) == 1 else []
    if not names:
        unread = "forward takes *args or its inputs could not be read" if names is None else ""
        return Calls(two + appended, unread or "forward names no positional input", guessed=True)
    said = f"forward({', '.join(names)})"
    if len(names) == 1:
        return Calls(appended or two, f"{said} takes one input")
    first, second = (_kind(name) for name in names[:2])
    if (first, second) in (("label", "z"), ("label", None), (None, "z")):
        return Calls(two[2:], f"{said} takes the label first")
    if (first, second) in (("z", "label"), ("z", None), (None, "label")):
        return Calls(two, f"{said} takes z first")
    return Calls(two, f"{said} does not say which input is the label", guessed=True)


def _kind(name: str) -> str | None:
    """'label' or 'z' when a parameter name's words (split at _ and digits) are of one kind only."""
    words = set(re.split(r"[_\d]+", name.lower()))
    label, z = bool(words & LABEL_WORDS), bool(words & Z_WORDS)
    return "label" if label and not z else "z" if z and not label else "both" if label else None


def conditional_needs_latent(prefix: str = "") -> ModeCollapseError:
    """The refusal of a conditional G whose z's size is not given (it cannot be read from a first
    layer that also takes the label)."""
    return ModeCollapseError(
        f"{prefix}a class-conditional generator needs z's size without the label: {latent_options()}"
    )


def _names(generator: Any) -> tuple[list[str] | None, str]:
    """forward's positional parameter names (a scripted module's from its schema, a partial's
    after its bound arguments; None when unreadable or when it takes *args), and the first
    required keyword-only one that names the label ("" when none; TorchScript allows no defaults
    there)."""
    forward = getattr(generator, "forward", generator)
    if isinstance(generator, torch.jit.ScriptModule) and hasattr(forward, "schema"):
        arguments = forward.schema.arguments[1:]
        keywords = [a.name for a in arguments if a.kwarg_only]
        return [a.name for a in arguments if not a.kwarg_only], _label_keyword(keywords)
    if isinstance(generator, functools.partial):
        bound = getattr(generator.func, "forward", generator.func)
        forward = functools.partial(bound, *generator.args, **generator.keywords)
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        return None, ""
    required = [p.name for p in parameters if p.kind == p.KEYWORD_ONLY and p.default is p.empty]
    keyword = _label_keyword(required)
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return None, keyword
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)], keyword


def _label_keyword(names: list[str]) -> str:
    return next((name for name in names if _kind(name) == "label"), "")


def _call(generator: Any, where: str, z: torch.Tensor, labels: torch.Tensor, keyword: str) -> Any:
    if where == "keyword":
        return generator(z, **{keyword: labels})
    if where == "z":
        return generator(z, labels)
    if where == "label":
        return generator(labels, z)
    return generator(torch.cat([z, labels], 1))


def _labels_as(
    form: str, labels: torch.Tensor, num_classes: int, device: Any, dtype: torch.dtype
) -> torch.Tensor:
    if form == "indices":
        return labels.to(device)
    return F.one_hot(labels, num_classes).to(device=device, dtype=dtype)
