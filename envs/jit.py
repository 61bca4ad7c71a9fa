"""Numba's on-disk cache, kept honest for kernels that read other modules.

``numba.njit(cache=True)`` keys a cached kernel by the source of the one file the kernel is defined in.
A kernel that reads constants from another module (the duel's layout, a character table's column
names) or calls a jitted function defined in another file keeps its cached machine code when only that
other file changes: it would run stale rules, silently. :func:`refresh_cache` closes the gap: a module
of kernels calls it at import with the files it depends on, and when their sources changed since the
cache was written, the module's cache files are removed, so numba compiles afresh.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path


def _cache_dirs(module_file: Path) -> list[Path]:
    """Where numba may keep ``module_file``'s cache: ``NUMBA_CACHE_DIR`` (numba's subpath: the folder's name
    and the SHA-1 of its absolute path) and the ``__pycache__`` beside the file."""
    dirs = [module_file.parent / "__pycache__"]
    root = os.environ.get("NUMBA_CACHE_DIR")
    if root:
        folder = str(module_file.parent.resolve())
        sub = f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"
        dirs.insert(0, Path(root) / sub)
    return dirs


def refresh_cache(module_file: str | os.PathLike, depends_on: Iterable[str | os.PathLike]) -> None:
    """Remove ``module_file``'s numba cache files where the sources of ``depends_on`` changed since they
    were written (the digest of those sources is kept beside the cache as ``<module>.deps``)."""
    module = Path(module_file)
    digest = hashlib.sha256()
    for dep in sorted(str(Path(d).resolve()) for d in depends_on):
        digest.update(dep.encode())
        digest.update(Path(dep).read_bytes())
    stamp_text = digest.hexdigest()
    for folder in _cache_dirs(module):
        stamp = folder / f"{module.stem}.deps"
        try:
            if stamp.read_text() == stamp_text:
                continue
        except OSError:
            pass
        if not folder.is_dir():
            continue
        for cached in list(folder.glob(f"{module.stem}.*.nbi")) + list(folder.glob(f"{module.stem}.*.nbc")):
            cached.unlink(missing_ok=True)
        try:
            stamp.write_text(stamp_text)
        except OSError:  # a read-only install: numba then caches elsewhere or not at all
            pass
