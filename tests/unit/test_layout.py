"""The shape of the house: no import cycles, packages used through their faces.

Read with the stdlib ``ast`` from the source, so every import counts: at module
level, inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "pgwarden"
#: packages whose private modules other packages may not import
FACED = (
    "pgwarden.advise",
    "pgwarden.plan",
    "pgwarden.ops",
    "pgwarden.reports",
    "pgwarden.sqltext",
)
MAX_TOP_LEVEL = {"pgwarden.advise": 12, "pgwarden.ops": 12}


@dataclass(frozen=True)
class Import:
    importer: str
    module: str  # the module or package imported from
    name: str | None  # the name taken from it (``from module import name``)
    line: int


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> Iterator[Import]:
    path = MODULES[name]
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, None, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                yield Import(name, base, alias.name, node.lineno)


def _target(imp: Import) -> str | None:
    """The module an import loads: ``from pkg import submodule`` loads the submodule."""
    if imp.name is not None and f"{imp.module}.{imp.name}" in MODULES:
        return f"{imp.module}.{imp.name}"
    name = imp.module
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _graph() -> dict[str, set[str]]:
    """Module -> the modules importing it runs, packages' ``__init__`` included."""
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        own = set(_ancestors(name))
        for imp in _imports(name):
            target = _target(imp)
            if target is None or target == name:
                continue
            edges[name].add(target)
            # importing a.b.c runs a/__init__ and a/b/__init__ first
            edges[name].update(p for p in _ancestors(target) if p not in own)
        edges[name].discard(name)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def _face(package: str) -> set[str]:
    tree = ast.parse(MODULES[package].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return {ast.literal_eval(e) for e in node.value.elts}  # type: ignore[attr-defined]
    return set()


def _faced(package: str) -> bool:
    return any(package == f or package.startswith(f + ".") for f in FACED)


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _reaches_in(imp: Import) -> str | None:
    """Why ``imp`` goes past a package's face, or None when it does not."""
    target = _target(imp)
    if target is None or not target.startswith("pgwarden."):
        return None
    where = f"{imp.importer}:{imp.line}"
    if _is_package(target):
        if not _faced(target) or _inside(imp.importer, target) or imp.name is None:
            return None
        if imp.module == target and imp.name not in _face(target):
            return f"{where} takes {imp.name}, not in {target}.__all__"
        return None
    for package in reversed(_ancestors(target)):  # the innermost first
        if not _faced(package):
            continue
        if _inside(imp.importer, package):
            return None
        if imp.module == package and imp.name in _face(package):
            return None
        return f"{where} imports {target}, past the face of {package}"
    return None


def test_other_packages_use_only_a_packages_face() -> None:
    found = (_reaches_in(imp) for name in MODULES for imp in _imports(name))
    assert [r for r in found if r] == []


@pytest.mark.parametrize("package", FACED)
def test_every_faced_package_has_a_face_that_resolves(package: str) -> None:
    subpackages = [n for n in MODULES if n.startswith(package) and _is_package(n)]
    for name in subpackages:
        assert ast.get_docstring(ast.parse(MODULES[name].read_text())), name
        module = __import__(name, fromlist=["__all__"])
        for exported in _face(name):
            assert hasattr(module, exported), f"{name}.__all__ names {exported}"


@pytest.mark.parametrize(("package", "limit"), MAX_TOP_LEVEL.items())
def test_crowded_rooms_stay_small(package: str, limit: int) -> None:
    top = [n for n in MODULES if n.rpartition(".")[0] == package]
    assert len(top) <= limit, sorted(top)


def test_no_module_name_repeats_its_package() -> None:
    repeats = [
        name
        for name in MODULES
        if name.count(".") >= 2
        and name.rpartition(".")[0].rpartition(".")[2] in name.rpartition(".")[2]
    ]
    assert repeats == []


def test_the_architecture_record_names_every_top_level_package() -> None:
    record = (ROOT.parent / "docs" / "ARCHITECTURE.md").read_text()
    packages = [p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()]
    assert packages
    assert [p for p in packages if f"{p}/" not in record] == []
