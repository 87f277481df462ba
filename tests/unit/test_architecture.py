"""The floors of ARCHITECTURE.md, enforced: read the import graph of ``cross_compiler/``
with ``ast`` and fail on any upward import between floors or any import cycle.

Every import counts, wherever it stands (module level, inside a function, under
``TYPE_CHECKING``): a type-only import still ties the two modules together. ``from x import
y`` where ``y`` is a module counts as importing ``x.y``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "cross_compiler"
SOURCE = Path(__file__).resolve().parents[2] / PACKAGE

# The floors, lowest first: each names the top-level modules and subpackages standing on it
# ("" is the package's own __init__). A module may import its own floor and those below,
# never one above; a new top-level module or subpackage is given its floor here.
FLOORS: tuple[tuple[str, frozenset[str]], ...] = (
    ("helpers", frozenset({"", "config", "datafile", "display", "distnames", "errors",
                           "hostlink", "manylinuxpolicy", "options", "proc", "redact",
                           "resources", "workspace", "wslock"})),
    ("toolchain", frozenset({"toolchain"})),
    ("wheel", frozenset({"wheel"})),
    ("bazel", frozenset({"bazel"})),
    ("docker", frozenset({"docker"})),
    ("release", frozenset({"release"})),
    ("api", frozenset({"api", "builderchoice", "imagecommands", "packagerender",
                       "rootcommands", "wheelcommands"})),
    ("cli", frozenset({"cli", "cliprogram", "clirows", "clitask"})),
)


def module_names(root: Path = SOURCE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    names: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``name`` (at ``path``) imports, wherever the import stands."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + is_package]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules and m != name}


def import_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    names = module_names(root)
    return {name: imports_of(name, path, set(names)) for name, path in names.items()}


def room(module: str) -> str:
    """The top-level module or subpackage ``module`` belongs to ("" for the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def floor(module: str) -> int:
    """The index of the floor ``module`` stands on, -1 when no floor names it."""
    return next((i for i, (_, rooms) in enumerate(FLOORS) if room(module) in rooms), -1)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a lower floor into a higher one, as ``low (floor) -> high (floor)``."""
    return sorted(f"{module} ({FLOORS[floor(module)][0]}) -> {imported} "
                  f"({FLOORS[floor(imported)][0]})"
                  for module, targets in graph.items()
                  for imported in targets if floor(imported) > floor(module))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_every_module_stands_on_a_floor() -> None:
    assert sorted(m for m in import_graph() if floor(m) < 0) == []


def test_no_upward_imports() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_scan_sees_upward_and_function_level_and_from_module_imports(
        tmp_path: Path) -> None:
    root = tmp_path / PACKAGE
    _write(root, {
        "__init__.py": "",
        "errors.py": "",
        "toolchain/__init__.py": "",
        "toolchain/route.py": "def f():\n    from cross_compiler.wheel import policy\n",
        "wheel/__init__.py": "",
        "wheel/policy.py": "from ..toolchain import route\nfrom cross_compiler import errors\n",
    })
    graph = import_graph(root)
    assert graph["cross_compiler.toolchain.route"] == {"cross_compiler.wheel",
                                                       "cross_compiler.wheel.policy"}
    assert graph["cross_compiler.wheel.policy"] == {
        "cross_compiler", "cross_compiler.toolchain", "cross_compiler.toolchain.route",
        "cross_compiler.errors"}
    assert upward_imports(graph) == [
        "cross_compiler.toolchain.route (toolchain) -> cross_compiler.wheel (wheel)",
        "cross_compiler.toolchain.route (toolchain) -> cross_compiler.wheel.policy (wheel)"]
    assert cycles(graph) == [["cross_compiler.toolchain.route", "cross_compiler.wheel.policy"]]


def test_a_type_checking_import_within_a_floor_still_makes_a_cycle(tmp_path: Path) -> None:
    root = tmp_path / PACKAGE
    _write(root, {
        "__init__.py": "",
        "docker/__init__.py": "",
        "docker/image.py": "from cross_compiler.docker.plan import Plan\n",
        "docker/plan.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                           "    from cross_compiler.docker import image\n"),
    })
    graph = import_graph(root)
    assert upward_imports(graph) == []
    assert cycles(graph) == [["cross_compiler.docker.image", "cross_compiler.docker.plan"]]
