"""The floors hold: envs < nets < agents < experiments; no import circles; no private names across modules.

Every module under ``envs``, ``nets``, ``agents`` and ``experiments`` is parsed with :mod:`ast` and every
``import`` / ``from ... import`` in it is checked, those inside functions and ``if TYPE_CHECKING:`` blocks
included (a lazy import is still a dependency). The rules (docs/architecture.md):

* ``envs`` imports nothing from ``nets``, ``agents`` or ``experiments``;
* ``nets`` imports no particular env (``envs.duel``, ``envs.stealth``, nor ``envs`` itself, whose import
  registers the games) and nothing from ``agents`` or ``experiments``. The one module of the ground floor
  it may use is ``envs.fileio`` (atomic writes, game-free): the top level is fixed, so there is no floor
  below ``envs`` to move it to, and a second copy in ``nets`` would be the duplication this test is against;
* ``agents`` imports nothing from ``experiments``;
* no two modules import each other, directly or round a longer circle (a package's ``__init__`` is a module
  too: a submodule importing a name from its own package, which imports the submodule, is a circle);
* no module imports a private name (``_x``, not a dunder) from another module of the project: what modules
  share is public and documented;
* ``experiments.cli`` is a leaf: nothing outside ``experiments/cli/`` imports it (the console script
  ``experiments.cli:main`` in pyproject.toml is not an import).

Gymnasium entry points given as strings (``"agents.duel:make_duel_env"``) are not imports: they are
resolved by Gymnasium at ``make`` time, which is how ``envs`` registers an env whose spec strings
``agents`` resolves.

An import names a module of the project: ``import a.b.c`` and ``from a.b.c import x`` depend on the
deepest of ``a.b.c``, ``a.b``, ``a`` that is a module, and ``from a.b import c`` on the module ``a.b.c`` when
there is one (else on ``a.b``, and ``c`` is a name defined there).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "nets", "agents", "experiments")
# package -> the top-level project packages it must not import
FORBIDDEN = {
    "envs": {"nets", "agents", "experiments"},
    "nets": {"envs", "agents", "experiments"},
    "agents": {"experiments"},
    "experiments": set(),
}
# exceptions to FORBIDDEN: (package, module) pairs allowed although their top level is forbidden
ALLOWED = {("nets", "envs.fileio")}
LEAF = "experiments.cli"  # the `sandbox` command: nothing else imports it


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@dataclass(frozen=True)
class Import:
    """One ``import`` statement's target: the module path it names (absolute) and, for ``from M import
    a, b``, the names imported."""

    line: int
    module: str
    names: tuple[str, ...] = ()


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import in the file, at any depth, relative ones resolved against the file's package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path, root) if path.is_relative_to(root) else ""
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append(Import(node.lineno, mod, tuple(alias.name for alias in node.names)))
    return found


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in the file, at any depth."""
    return [(imp.line, imp.module) for imp in imports_of(path)]


def floor_breaks() -> list[str]:
    breaks = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for line, mod in imported_modules(path):
                top = mod.partition(".")[0]
                if top in FORBIDDEN[pkg] and (pkg, mod) not in ALLOWED:
                    breaks.append(f"{path.relative_to(ROOT)}:{line}: {pkg} imports {mod}")
    return breaks


# ==================================================================================================
# The module graph
# ==================================================================================================
@dataclass(frozen=True)
class Edge:
    """Module ``source`` imports module ``target`` (``name``: a name defined there, when one is imported)."""

    source: str
    target: str
    where: str  # file:line
    name: str | None = None


def project_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Module name -> file, for every module of the packages (a package's ``__init__`` is the package)."""
    return {_module_name(path, root): path for pkg in packages for path in sorted((root / pkg).rglob("*.py"))}


def _deepest(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_edges(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[Edge]:
    """Every import of one project module by another, as edges of the module graph."""
    modules = project_modules(root, packages)
    edges = []
    for source, path in modules.items():
        for imp in imports_of(path, root):
            where = f"{path.relative_to(root)}:{imp.line}"
            if not imp.names:  # import a.b.c
                target = _deepest(imp.module, modules)
                if target and target != source:
                    edges.append(Edge(source, target, where))
                continue
            for name in imp.names:  # from a.b import c: the module a.b.c, or the name c of a.b
                if f"{imp.module}.{name}" in modules:
                    target, defined = f"{imp.module}.{name}", None
                else:
                    target, defined = _deepest(imp.module, modules), name
                if target and target != source:
                    edges.append(Edge(source, target, where, defined))
    return edges


def import_circles(edges: list[Edge]) -> list[list[str]]:
    """The circles of the module graph: its strongly connected components of two modules or more (Tarjan),
    each sorted, sorted by their first module."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(circles)


def describe_circle(circle: list[str], edges: list[Edge]) -> str:
    """The circle's modules, then the imports that close it."""
    inside = set(circle)
    closing = sorted({e for e in edges if e.source in inside and e.target in inside}, key=_by_place)
    lines = dict.fromkeys(f"{e.where}: {e.source} imports {e.target}" for e in closing)
    return "circle of " + ", ".join(circle) + ":\n    " + "\n    ".join(lines)


def _by_place(e: Edge) -> tuple[str, int]:
    path, _, line = e.where.rpartition(":")
    return path, int(line)


def private_imports(edges: list[Edge]) -> list[str]:
    """Imports of a private name (``_x``, not a dunder) defined in another module of the project."""
    return [f"{e.where}: {e.source} imports {e.name} from {e.target}" for e in edges
            if e.name and e.name.startswith("_") and not e.name.startswith("__")]


def importers_of(leaf: str, edges: list[Edge]) -> list[str]:
    """Imports of ``leaf`` (or a module under it) by modules outside it."""
    found = [f"{e.where}: {e.source} imports {e.target}" for e in edges
             if _in(leaf, e.target) and not _in(leaf, e.source)]
    return list(dict.fromkeys(found))  # `from m import a, b` is one import of m


def _in(pkg: str, module: str) -> bool:
    return module == pkg or module.startswith(pkg + ".")


@functools.cache
def project_edges() -> tuple[Edge, ...]:
    """The import edges of this project (parsed once per test session)."""
    return tuple(import_edges())


# ==================================================================================================
# The tests
# ==================================================================================================
def test_every_package_is_walked():
    for pkg in PACKAGES:
        assert len(list((ROOT / pkg).rglob("*.py"))) >= 3, pkg


def test_the_walker_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    if True:\n        from nets.bellman import TabularMDP\n    import agents.ghost\n")
    assert sorted(m for _, m in imported_modules(src)) == ["agents.ghost", "nets.bellman"]


@pytest.mark.parametrize("pkg", PACKAGES)
def test_the_floors_hold(pkg):
    breaks = [b for b in floor_breaks() if b.split("/")[0] == pkg]
    assert not breaks, "imports against the floors (envs < nets < agents < experiments):\n" + "\n".join(breaks)


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# A package of five modules: two circles (a submodule importing from its own package, which imports it;
# two modules importing each other, one lazily and one for type checking only, relatively), and modules
# that import without closing a circle.
TINY = {
    "pkg/__init__.py": "from pkg.c import helper\nVERSION = 1\n",
    "pkg/c.py": "def helper():\n    from pkg import VERSION\n    return VERSION\n",
    "pkg/a.py": "def f():\n    from pkg.b import g\n    return g\n",
    "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\ndef g():\n    pass\n",
    "pkg/d.py": "import pkg.a\nfrom pkg import b, c\nfrom . import _private as p\nimport numpy\n",
    "pkg/_private.py": "",
}


def test_the_circle_detector_finds_every_circle_and_only_circles(tmp_path):
    write_package(tmp_path, TINY)
    edges = import_edges(tmp_path, ("pkg",))
    got = {(e.source, e.target) for e in edges}
    assert got == {("pkg", "pkg.c"), ("pkg.c", "pkg"), ("pkg.a", "pkg.b"), ("pkg.b", "pkg.a"), ("pkg.d", "pkg.a"),
                   ("pkg.d", "pkg.b"), ("pkg.d", "pkg.c"), ("pkg.d", "pkg._private")}
    circles = import_circles(edges)
    assert circles == [["pkg", "pkg.c"], ["pkg.a", "pkg.b"]]
    message = describe_circle(circles[1], edges)
    assert "pkg.a, pkg.b" in message and "pkg/b.py:3: pkg.b imports pkg.a" in message
    # one import fewer and the circle is gone
    write_package(tmp_path, {"pkg/b.py": "def g():\n    pass\n"})
    assert import_circles(import_edges(tmp_path, ("pkg",))) == [["pkg", "pkg.c"]]


@pytest.mark.parametrize("pkg", PACKAGES)
def test_no_import_circles(pkg):
    edges = list(project_edges())
    circles = [c for c in import_circles(edges) if any(_in(pkg, m) for m in c)]
    assert not circles, "import circles:\n" + "\n".join(describe_circle(c, edges) for c in circles)


def test_the_private_name_detector(tmp_path):
    write_package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "_helper = 1\n__version__ = '1'\npublic = 2\nfrom pkg.a import _helper as again\n",
        "pkg/_mod.py": "",
        "pkg/b.py": ("from pkg.a import _helper, __version__, public\nfrom pkg import _mod\n"
                     "from numpy import _globals\n\ndef f():\n    from .a import _other\n"),
    })
    assert private_imports(import_edges(tmp_path, ("pkg",))) == [
        "pkg/b.py:1: pkg.b imports _helper from pkg.a", "pkg/b.py:6: pkg.b imports _other from pkg.a"]


@pytest.mark.parametrize("pkg", PACKAGES)
def test_no_private_names_imported_from_other_modules(pkg):
    found = [p for p in private_imports(list(project_edges())) if p.startswith(pkg + "/")]
    assert not found, "private names imported from another module (make them public, or move them):\n" + \
        "\n".join(found)


def test_the_leaf_detector(tmp_path):
    write_package(tmp_path, {
        "app/__init__.py": "", "app/cli/__init__.py": "from app.cli import verbs\nERROR = 2\n",
        "app/cli/verbs.py": "from app.cli import ERROR\nimport app.core\n",
        "app/core.py": "def main():\n    from app.cli.verbs import run\n", "app/clinic.py": "import app.core\n",
        "app/util.py": "import app.corex\nfrom app.cli import ERROR, verbs\n"})
    assert importers_of("app.cli", import_edges(tmp_path, ("app",))) == [
        "app/core.py:2: app.core imports app.cli.verbs", "app/util.py:2: app.util imports app.cli",
        "app/util.py:2: app.util imports app.cli.verbs"]


@pytest.mark.parametrize("pkg", PACKAGES)
def test_experiments_cli_is_a_leaf(pkg):
    found = [i for i in importers_of(LEAF, list(project_edges())) if i.startswith(pkg + "/")]
    assert not found, f"{LEAF} is the `sandbox` command; nothing else may import it:\n" + "\n".join(found)
