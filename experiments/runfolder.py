"""Run folders and output files: a command never replaces what it did not create.

Every writer (``train``, ``train ghost``, ``record``, ``compare``, ``solve --out``, ``watch --record``) claims
its output here before writing anything:

* :func:`claim_folder` for a folder. A folder a writer creates gets a marker, ``.sandbox.json``:
  ``{"writer": "train", "status": "incomplete"}``. The status moves to ``resumable`` once a checkpoint
  exists (:func:`set_status`) and to ``complete`` at the end. Then:

  - a missing or empty folder is created and marked;
  - a folder marked ``incomplete`` by the same writer (a run stopped before its first checkpoint: Ctrl-C,
    a bad ``--seed`` or ``--set``) is taken over by the next run, with or without ``--resume``;
  - a folder marked by the same writer is written again when the writer may re-run into its own folder
    (``rerun=True``: ``record`` appends rounds, ``compare`` reuses its runs) or when it is resumed;
  - anything else (another writer's folder, a folder with files and no marker, a finished run) is
    refused with one line naming the folder and what is in it, unless ``--force``.
  ``adopt`` lets a writer take over a folder without a marker whose every file is one of its own
  (demo folders recorded before markers existed).
* :func:`claim_file` for a single file (``solve --out``, ``watch --record``): an existing file is refused
  unless ``--force``, and so is a directory.

Refusals raise :class:`RunFolderError`, a ``ValueError``: ``sandbox`` prints it as one line, exit 2.
"""

from __future__ import annotations

import fnmatch
import json
import os
import signal
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from envs.fileio import atomic_write_text

MARKER = ".sandbox.json"
STATUSES = ("incomplete", "resumable", "complete")


class RunFolderError(ValueError):
    """A folder or file a command refuses to write into (one line: the path, the reason, what to do)."""


def read_marker(folder: str | os.PathLike) -> dict | None:
    """The folder's marker (``writer``, ``status``), or None when it has none."""
    path = Path(folder) / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path}: unreadable run-folder marker ({exc}); remove it or pass --force") from None
    if not isinstance(marker, dict) or not isinstance(marker.get("writer"), str) \
            or marker.get("status") not in STATUSES:
        raise RunFolderError(f"{path}: not a run-folder marker (expected writer and status); remove it or pass --force")
    return marker


def set_status(folder: str | os.PathLike, status: str, writer: str | None = None) -> None:
    """Record ``status`` (``incomplete``, ``resumable`` or ``complete``) in the folder's marker."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    marker = read_marker(folder) or {}
    marker.update({"writer": writer or marker.get("writer", "?"), "status": status})
    atomic_write_text(Path(folder) / MARKER, json.dumps(marker) + "\n")


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != MARKER)


def _describe(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def claim_folder(folder: str | os.PathLike, writer: str, *, resume: bool = False, force: bool = False,
                 rerun: bool = False, adopt: Iterable[str] = (), create: bool = True) -> dict:
    """Make ``folder`` the output folder of ``writer`` or raise :class:`RunFolderError` (rules in the module
    docstring). Returns ``{"takeover": bool, "marker": previous marker or None}``: ``takeover`` is True when
    an incomplete run of the same writer is being started again. ``resume`` accepts a folder of the same
    writer, or an unmarked one (written before markers existed): the caller then checks its files. With
    ``create=False`` the folder is only checked (the writer creates and marks it later, once its input is
    known to be good)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{folder} is a file, not a folder; choose another --out")
    names = _entries(folder) if folder.is_dir() else []
    try:
        marker = read_marker(folder) if folder.is_dir() else None
    except RunFolderError:
        if not force:
            raise
        marker = None
    takeover = False
    if force:
        pass
    elif marker is not None and marker["writer"] == writer:
        takeover = marker["status"] == "incomplete"
        if not (takeover or resume or rerun):
            raise RunFolderError(f"{folder} already holds a {marker['status']} {writer} run; pass --resume to continue "
                                 "it, --force to replace it, or choose another --out")
    elif marker is not None:
        raise RunFolderError(f"{folder} holds a {marker['writer']} run, not a {writer} one; choose another --out "
                             "(or pass --force to write into it anyway)")
    elif names and not resume:
        patterns = tuple(adopt)
        if not (patterns and all(any(fnmatch.fnmatch(n, p) for p in patterns) for n in names)):
            raise RunFolderError(f"{folder} is not empty ({_describe(names)}) and was not created by sandbox {writer}; "
                                 "choose another --out, or pass --force to write into it (files of the same "
                                 "name are replaced)")
    if not create:
        return {"takeover": takeover, "marker": marker}
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RunFolderError(f"{folder}: permission denied (the folder is not writable); choose another --out")
    if marker is None or marker["writer"] != writer or force or takeover:
        status = "resumable" if resume and marker is None and names else "incomplete"
        set_status(folder, status, writer)
    return {"takeover": takeover, "marker": marker}


def claim_file(path: str | os.PathLike, *, force: bool = False, option: str = "--out") -> Path:
    """Check that ``path`` may be written: not a directory, not an existing file (unless ``force``), in a
    folder that exists or can be created and is writable. Raises :class:`RunFolderError` (one line)."""
    path = Path(path)
    if path.is_dir():
        raise RunFolderError(f"{option} {path} is a directory; give a file name")
    if path.exists() and not force:
        raise RunFolderError(f"{option} {path} already exists; pass --force to replace it, or choose another name")
    parent = path.parent if str(path.parent) else Path(".")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise RunFolderError(f"{option} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunFolderError(f"{option} {path}: permission denied ({probe} is not writable)")
    return path


@contextmanager
def deferred_interrupt():
    """Hold Ctrl-C (SIGINT) back while the block writes files that must agree with each other (metrics,
    checkpoint, sidecar); a Ctrl-C that came meanwhile is raised as ``KeyboardInterrupt`` when the block
    ends. Outside the main thread (where signals cannot be handled) the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def ignore_interrupt_in_worker() -> None:
    """In a worker process (a subprocess vector env), ignore SIGINT: Ctrl-C reaches the whole process
    group, and the main process, not its workers, decides how to stop (it closes them cleanly)."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
