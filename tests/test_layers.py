"""The layers import downwards only (docs/architecture.md): checked on the source, TYPE_CHECKING
imports included."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "modecollapse"


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("modecollapse")}


def test_data_imports_nothing_above_it():
    for path in (PACKAGE / "data").glob("*.py"):
        above = {m for m in imports_of(path) if not m.startswith(("modecollapse.data", "modecollapse.errors",
                                                                  "modecollapse.files"))}  # fmt: skip
        assert not above, f"{path.name} imports {sorted(above)}"


def test_no_two_modules_import_each_other():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = imports_of(path)
    cycles = [(a, b) for a, deps in modules.items() for b in deps if a in modules.get(b, ()) and a < b]
    assert not cycles, cycles


def test_no_source_module_is_over_400_lines():
    long = {
        p.relative_to(PACKAGE).as_posix(): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, long
