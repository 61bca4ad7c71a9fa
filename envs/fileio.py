"""Files: atomic writes (every file the sandbox writes goes through here), size checks of untrusted
arrays before they are loaded (:func:`check_npz_member_sizes`), and safe file names from untrusted text
(:func:`safe_filename`).

A file is written to a temporary name in its destination folder, then renamed over the target, so
an interrupted run never leaves a half-written file and an old file stays intact until the new one
is complete. Files get the usual 0o644 permissions (``mkstemp`` alone would make them private).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np


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


def check_npz_member_sizes(
    path: str | os.PathLike,
    limits: Mapping[str, int],
    *,
    default: int = 0,
    max_bytes: int = 1 << 28,
    max_members: int = 64,
    error: type[Exception] = ValueError,
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Check an ``.npz`` before loading it, from its zip directory and ``.npy`` headers alone.

    Every member must be a ``.npy`` array of plain data (no object dtype: that would need pickle),
    holding at most ``limits[name]`` elements (``default`` for a name not listed) and at most
    ``max_bytes`` bytes, and its header's claim (elements x item size) must fit in the member's stored
    size; at most ``max_members`` members. Else raises ``error`` naming the file, the member and the
    limit. Returns ``{name: (shape, dtype)}``. Nothing proportional to the claimed sizes is allocated.
    """
    path = Path(path)
    try:
        return _npz_member_sizes(path, limits, default, max_bytes, max_members)
    except _Refused as exc:
        raise error(f"{path}: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise error(f"{path}: corrupt or truncated npz ({type(exc).__name__}: {exc})") from None


class _Refused(Exception):
    pass


def _npz_member_sizes(path: Path, limits, default, max_bytes, max_members):
    from numpy.lib import format as npy

    found: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        if len(infos) > max_members:
            raise _Refused(f"{len(infos)} members; the limit is {max_members}")
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            with z.open(info) as f:
                version = npy.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = npy.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, dtype = npy.read_array_header_2_0(f)
                else:
                    raise _Refused(f"member {name!r}: unsupported .npy format version {version}")
                header = f.tell()
            if dtype.hasobject:
                raise _Refused(f"member {name!r} holds Python objects (refused: loading it needs pickle)")
            count = math.prod(shape)
            limit = limits.get(name, default)
            if count > limit:
                raise _Refused(f"member {name!r} claims shape {shape} ({count} elements); the limit is {limit} "
                               "elements")
            nbytes = count * dtype.itemsize
            stored = max(info.file_size - header, 0)
            if nbytes > max_bytes or nbytes > stored:
                raise _Refused(f"member {name!r} claims {nbytes} bytes ({shape} {dtype}) but stores {stored} "
                               f"(limit {max_bytes})")
            found[name] = (tuple(shape), dtype)
    return found


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: object, default: str = "unnamed", max_len: int = 80) -> str:
    """``name`` (text from a file: a level's name, an opponent spec) reduced to one safe file name:
    letters, digits, ``.``, ``_`` and ``-`` only (anything else, path separators included, becomes
    ``_``), no leading dot, at most ``max_len`` characters; ``default`` when nothing is left. So it
    never names a folder above or beside the one it is joined to."""
    text = _UNSAFE.sub("_", str(name)).lstrip("._")[:max_len].rstrip("._")
    return text or default


def read_text_limited(path: str | os.PathLike, max_bytes: int, error: Callable[..., Exception],
                      what: str = "file") -> str:
    """The UTF-8 text of an untrusted file of at most ``max_bytes`` bytes (no more is read). Anything
    else raises ``error(reason, file, line)``: a missing or unreadable file, a larger one, bytes that are
    not UTF-8 (with the line of the first bad byte)."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"cannot read the {what}: {exc.strerror or exc}", str(path), None) from None
    if len(data) > max_bytes:
        raise error(f"the file is larger than the limit of {max_bytes} bytes", str(path), None)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})", str(path), line) from None


def read_json_object(path: str | os.PathLike, max_bytes: int, what: str) -> dict:
    """The JSON object in an untrusted file of at most ``max_bytes`` bytes; anything else (unreadable, too
    large, not UTF-8, not JSON, not an object) is a one-line ValueError naming the file and ``what`` it
    should have been."""
    import json

    def error(reason: str, file: str, line: int | None) -> ValueError:
        return ValueError(f"{file}{f':{line}' if line else ''}: {reason}")

    text = read_text_limited(path, max_bytes, error, what)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); not a {what}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a {what} (a JSON object expected)")
    return data


def parse_toml_text(text: str, source: str, error: type[FileFormatError], max_chars: int, what: str = "text") -> dict:
    """The TOML of an untrusted text of at most ``max_chars`` characters, or ``error(reason, source, line)``
    (the line of a syntax error when TOML names one): a text too long, invalid, or nested too deeply."""
    import tomllib

    if len(text) > max_chars:
        raise error(f"the {what} is longer than the limit of {max_chars} characters", source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise error(f"not valid TOML: {exc}", source, int(match.group(1)) if match else None) from None
    except RecursionError:
        raise error("not valid TOML: nested too deeply", source) from None


def toml_line(text: str, table: str | None, key: str | None = None) -> int | None:
    """The line (from 1) of ``key = ...`` inside the TOML table ``[table]`` (the top level when ``table``
    is None), or of the table's header when ``key`` is None; None when not found. For error messages
    about files that ``tomllib`` parsed (it keeps no positions)."""
    lines = text.splitlines()
    start = 0
    if table is not None:
        header = re.compile(rf"\s*\[\s*{re.escape(table)}\s*\]\s*(#.*)?$")
        found = [i for i, s in enumerate(lines) if header.match(s)]
        if not found:
            return None
        start = found[0]
        if key is None:
            return start + 1
        start += 1
    pattern = re.compile(rf"\s*{re.escape(key or '')}\s*=")
    for i in range(start, len(lines)):
        if re.match(r"\s*\[", lines[i]):
            return None
        if pattern.match(lines[i]):
            return i + 1
    return None


class FileFormatError(ValueError):
    """An untrusted file that cannot be used, in one line: ``file:line: reason`` (the line when it is known).
    Subclasses name what the file was (a level, a character) by their ``WHAT``."""

    WHAT = "file"

    def __init__(self, reason: str, file: str | None = None, line: int | None = None):
        self.reason, self.file, self.line = reason, file, line
        where = file or f"<{self.WHAT}>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {reason}")
