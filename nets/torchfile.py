"""Read a file that ``torch.save`` wrote as data: tensors and plain containers, nothing that runs.

Every checkpoint the sandbox loads goes through :func:`load_tensors`:

- the file is read only if it is at most ``max_bytes`` long;
- it must be torch's zip format (what ``torch.save`` has written since torch 1.6) whose records are stored
  uncompressed and add up to at most ``max_bytes``; so a small file cannot make torch allocate more than its
  own size (a compressed record would be inflated to whatever size its header claims), and the legacy
  format, which allocates each storage at the size its pickle claims, is refused;
- ``torch.load(..., weights_only=True)`` then unpickles only tensors, numbers, strings and containers; a
  pickle naming any other function or class (a payload) is refused before anything runs.

Failures are a ``ValueError`` whose message is one line saying what is wrong (the caller names the file).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from typing import Any

__all__ = ["load_tensors", "refusal_reason"]


def load_tensors(source: str | os.PathLike | bytes, *, max_bytes: int, map_location: Any = "cpu") -> Any:
    """The object ``torch.save`` wrote to ``source`` (a path or the file's bytes), loaded as data; see above."""
    import torch

    if isinstance(source, bytes | bytearray):
        blob = bytes(source)
    else:
        size = os.path.getsize(source)
        if size > max_bytes:
            raise ValueError(f"{size} bytes, more than the {max_bytes} allowed")
        with open(source, "rb") as f:
            blob = f.read(max_bytes + 1)
    if len(blob) > max_bytes:
        raise ValueError(f"more than the {max_bytes} bytes allowed")
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ValueError("not a torch.save file in zip format (the legacy format is refused)") from None
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise ValueError("a record of the torch file is compressed; torch.save stores them uncompressed")
    if sum(i.file_size for i in infos) > max_bytes:
        raise ValueError(f"its records claim more than the {max_bytes} bytes allowed")
    try:
        return torch.load(io.BytesIO(blob), map_location=map_location, weights_only=True)
    except Exception as exc:  # a payload, a truncated file, a corrupt record...
        raise ValueError(f"torch.load(weights_only=True) refused it: {refusal_reason(exc)}") from None


def refusal_reason(exc: BaseException) -> str:
    """One line of a ``torch.load`` error: for ``weights_only`` the line naming what was refused (torch's
    message spans many lines and suggests ``weights_only=False``, which the sandbox never does)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if line.startswith("WeightsUnpickler error:"):
            return line.split(". Please use")[0]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"
