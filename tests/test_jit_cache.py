"""A cached numba kernel that reads another module's constant is recompiled when that module changes
(``envs.jit.refresh_cache``); without it numba would run the stale machine code from its cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(pkg: Path) -> str:
    env = {**os.environ, "PYTHONPATH": f"{pkg.parent}{os.pathsep}{ROOT}"}
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", f"import {pkg.name}.kern as k; print(k.value())"], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip()


def _write_constant(pkg: Path, value: int) -> None:
    (pkg / "const.py").write_text(f"LIMIT = {value}\n# {'x' * value}\n")  # the size changes too


def test_a_changed_dependency_recompiles_the_cached_kernel(tmp_path):
    pkg = tmp_path / "jitpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    _write_constant(pkg, 3)
    (pkg / "kern.py").write_text(textwrap.dedent("""
        import numba
        from jitpkg import const
        from envs.jit import refresh_cache

        refresh_cache(__file__, [const.__file__])
        LIMIT = const.LIMIT

        @numba.njit(cache=True)
        def _value():
            return LIMIT

        def value():
            return _value()
    """))
    assert _run(pkg) == "3"
    assert list((pkg / "__pycache__").glob("kern.*.nbi"))  # cached on disk
    assert _run(pkg) == "3"
    _write_constant(pkg, 7)
    assert _run(pkg) == "7"  # numba alone would print 3: kern.py did not change
