"""The floors hold: envs < nets < agents < experiments.

Every module under ``envs``, ``nets``, ``agents`` and ``experiments`` is parsed with :mod:`ast` and every
``import`` / ``from ... import`` in it is checked, those inside functions and ``if TYPE_CHECKING:`` blocks
included (a lazy import is still a dependency). The rules (docs/architecture.md):

* ``envs`` imports nothing from ``nets``, ``agents`` or ``experiments``;
* ``nets`` imports no particular env (``envs.duel``, ``envs.stealth``, nor ``envs`` itself, whose import
  registers the games) and nothing from ``agents`` or ``experiments``. The one module of the ground floor
  it may use is ``envs.fileio`` (atomic writes, game-free): the top level is fixed, so there is no floor
  below ``envs`` to move it to, and a second copy in ``nets`` would be the duplication this test is against;
* ``agents`` imports nothing from ``experiments``.

Gymnasium entry points given as strings (``"agents.duel:make_duel_env"``) are not imports: they are
resolved by Gymnasium at ``make`` time, which is how ``envs`` registers an env whose spec strings
``agents`` resolves.
"""

from __future__ import annotations

import ast
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.is_relative_to(ROOT) else ""
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
    return found


def floor_breaks() -> list[str]:
    breaks = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for line, mod in imported_modules(path):
                top = mod.partition(".")[0]
                if top in FORBIDDEN[pkg] and (pkg, mod) not in ALLOWED:
                    breaks.append(f"{path.relative_to(ROOT)}:{line}: {pkg} imports {mod}")
    return breaks


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
