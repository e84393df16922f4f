"""The code's shape: imports follow the layer order docs/architecture.md gives (its first code
block lists one layer a row, top first; a module imports only from rows below its own, TYPE_CHECKING
imports included, and every module sits in some row); no module over 400 lines; no function over 60
unless its docstring says why."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "modecollapse"
UNIT = re.compile(r"^[\w]+(\.py|/)$")
DESCRIPTION_COLUMN = 36
"""Each row names its units before this column; its description starts there."""


def documented_layers() -> list[list[str]]:
    """The doc's rows, top first: each a list of units ('cli', 'monitor', '__init__', ...)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("```\n", 2)[1]
    layers = []
    for line in block.splitlines():
        if not line or line[0].isspace():
            continue  # a description's continuation
        tokens = line[:DESCRIPTION_COLUMN].split()
        assert all(UNIT.match(t) for t in tokens), f"not a row of units: {line!r}"
        layers.append([t.removesuffix("/").removesuffix(".py") for t in tokens])
    return layers


def unit_of(path: Path) -> str:
    """The top-level unit a source file belongs to: 'metrics' for metrics/scores.py, 'monitor' for
    monitor.py, '__init__' for the package's own __init__.py."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imports_of(path: Path) -> set[str]:
    """The units a source file imports: `modecollapse.X...` is unit X; `from modecollapse import
    name` is unit `name` where one is so called, else the package's own __init__ (as is `import
    modecollapse`). A relative import fails the test: it would hide its unit from this check."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import"
            if node.module == "modecollapse":
                found.update(f"modecollapse.{_unit_named(alias.name)}" for alias in node.names)
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    found = {"modecollapse.__init__" if name == "modecollapse" else name for name in found}
    return {name.split(".")[1] for name in found if name.startswith("modecollapse.")}


def _unit_named(name: str) -> str:
    return name if (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file() else "__init__"


def test_the_doc_lists_every_module_once():
    listed = [unit for layer in documented_layers() for unit in layer]
    present = {unit_of(p) for p in PACKAGE.rglob("*.py")}
    assert sorted(listed) == sorted(set(listed)), "a unit appears in two rows"
    assert set(listed) == present, {"undocumented": present - set(listed), "gone": set(listed) - present}


def test_every_import_points_to_a_lower_row_of_the_doc():
    rank = {unit: row for row, layer in enumerate(documented_layers()) for unit in layer}
    upward = []
    for path in PACKAGE.rglob("*.py"):
        me = unit_of(path)
        for other in imports_of(path) - {me}:
            if rank[other] <= rank[me]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {other} (row {rank[other]}, not below)")
    assert not upward, upward


def test_the_check_itself_catches_an_upward_import(tmp_path):
    """The rule above is not vacuous: data (near the bottom) importing training is flagged."""
    rank = {unit: row for row, layer in enumerate(documented_layers()) for unit in layer}
    assert rank["training"] < rank["data"] and rank["cli"] < rank["training"]
    source = tmp_path / "x.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from modecollapse.training import loop\n"
    )
    assert imports_of(source) == {"training"}
    source.write_text("import modecollapse\nfrom modecollapse import training, diagnose\n")
    assert imports_of(source) == {"training", "__init__"}  # a unit by name; else the package's API
    source.write_text("from . import training\n")
    with pytest.raises(AssertionError, match="a relative import"):
        imports_of(source)


def test_no_two_modules_import_each_other():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = {n for n in _full_imports(path) if n.startswith("modecollapse")}
    cycles = [(a, b) for a, deps in modules.items() for b in deps if a in modules.get(b, ()) and a < b]
    assert not cycles, cycles


def _full_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_source_module_is_over_400_lines():
    limit = 400
    long = {
        p.relative_to(PACKAGE).as_posix(): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > limit
    }
    assert not long, long


def test_no_function_is_over_60_lines_unless_its_docstring_says_why():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                why = " ".join((ast.get_docstring(node) or "").lower().split())
                if length > 60 and "over 60 lines" not in why:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, long
