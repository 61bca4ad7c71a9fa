"""Atomic file writes: every file the sandbox writes goes through here.

A file is written to a temporary name in its destination folder, then renamed over the target, so
an interrupted run never leaves a half-written file and an old file stays intact until the new one
is complete. Files get the usual 0o644 permissions (``mkstemp`` alone would make them private).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def atomic_save(path: str | os.PathLike, write: Callable[[str], object], suffix: str | None = None) -> Path:
    """Call ``write(tmp_path)`` (for APIs that write to a path: savefig, model.save, image.save), then
    rename the result to ``path``. ``suffix`` gives the temporary file an extension the writer needs
    (by default the target's, so that format sniffing by extension works)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_save(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_save(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


@contextmanager
def atomic_target(path: str | os.PathLike, suffix: str | None = None) -> Iterator[str]:
    """For writers that stream over time (a video encoder): yield a temporary path beside ``path``;
    when the block ends normally the file is renamed to ``path``, when it raises the file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
