"""Ghost checkpoints: a torch ``state_dict`` (``ghost.pt``) plus its JSON config (``ghost.json``).

The JSON holds ``kind: "ghost"``, ``format``, the policy config (``model``, for
:func:`nets.imitation.make_policy`), the env id and version, the duel's observation layout hash and the
``frame_skip`` the ghost acts at. Both files are written atomically, the JSON first, so a checkpoint
never exists without its config; the weights load with ``torch.load(weights_only=True)``. A checkpoint
made for another observation layout is refused with a message saying to retrain. Checkpoints written
by ``nets.imitation.save_ghost`` before the move (issue 13) are the same files and load unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from agents.ghost.demos import ENV_ID, env_version
from envs.duel.env import obs_layout_hash
from envs.fileio import atomic_save, atomic_write_text
from nets.imitation import GhostModel, make_policy

GHOST_FORMAT = 1

__all__ = ["GHOST_FORMAT", "find_checkpoint", "load_ghost", "save_ghost"]


def save_ghost(model: GhostModel, path: str | os.PathLike, *, frame_skip: int, **extra: Any) -> Path:
    """Write ``path`` (a torch ``state_dict``) and ``path.json`` (the model config, env id and version,
    the observation layout hash, the ``frame_skip`` it acts at and ``extra``), each atomically, the
    JSON first so that a checkpoint file never exists without its config."""
    import torch

    path = Path(path)
    meta = {"kind": "ghost", "format": GHOST_FORMAT, "model": model.config, "env_id": ENV_ID,
            "env_version": env_version(), "obs_layout_hash": obs_layout_hash(), "frame_skip": int(frame_skip),
            **extra}
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1, default=_json_default) + "\n")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save(path, lambda tmp: torch.save(state, tmp))
    return path


def _json_default(o):
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


MAX_GHOST_BYTES = 256 * 2**20  # a ghost checkpoint file (the shipped sizes are ~100 KB)
MAX_GHOST_SIDECAR_BYTES = 2**20  # its JSON config


def find_checkpoint(path: str | os.PathLike) -> Path:
    """The ghost checkpoint named by ``path``: the file itself, or in a run folder
    ``checkpoints/ghost.pt`` (else ``ghost.pt``). FileNotFoundError naming what was looked for."""
    p = Path(path)
    if p.is_dir():
        for cand in (p / "checkpoints" / "ghost.pt", p / "ghost.pt"):
            if cand.is_file():
                return cand
        raise FileNotFoundError(f"{p}: no ghost checkpoint in this folder (looked for checkpoints/ghost.pt and "
                                "ghost.pt); train one with `sandbox train ghost --demos DIR --out RUN`")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such ghost checkpoint (give a run folder or its checkpoints/ghost.pt)")
    return p


def load_ghost(path: str | os.PathLike, device: str = "cpu") -> tuple[GhostModel, dict[str, Any]]:
    """``(GhostPolicy in eval mode, its JSON config)`` from a checkpoint file or run folder.

    Loaded with ``torch.load(weights_only=True)``; a missing file or sidecar raises FileNotFoundError,
    a corrupt one or one made for another observation layout a ValueError; each names the file."""
    import torch

    from nets.device import resolve_device

    p = find_checkpoint(path)
    side = p.with_suffix(".json")
    if not side.is_file():
        raise FileNotFoundError(f"{p}: missing its config sidecar {side.name}")
    if side.stat().st_size > MAX_GHOST_SIDECAR_BYTES:  # untrusted: size first
        raise ValueError(f"{side}: {side.stat().st_size} bytes, more than the {MAX_GHOST_SIDECAR_BYTES} a ghost "
                         "config may have")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("kind") != "ghost" or not isinstance(meta.get("model"), dict):
            raise ValueError('expected a JSON object with "kind": "ghost" and a "model" config')
    except (OSError, ValueError, RecursionError) as exc:
        raise ValueError(f"{side}: not a ghost config ({exc})") from None
    if meta.get("obs_layout_hash") != obs_layout_hash():
        raise ValueError(f"{p}: trained on observation layout {meta.get('obs_layout_hash')!r}, the duel now has "
                         f"{obs_layout_hash()!r}; retrain it on new demos")
    dev = resolve_device(device)
    from nets.torchfile import load_tensors

    try:
        state = load_tensors(p, max_bytes=MAX_GHOST_BYTES, map_location=dev)  # weights_only, sizes checked
    except ValueError as exc:  # truncated zip, not a torch file, pickled objects refused...
        raise ValueError(f"{p}: corrupt or unreadable ghost checkpoint ({exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{p}: not a state dict of tensors")
    try:
        with torch.device("meta"):  # the config's shapes, checked against the file's before any allocation
            shapes = {k: tuple(v.shape) for k, v in make_policy(**meta["model"]).state_dict().items()}
        if shapes != {k: tuple(v.shape) for k, v in state.items()}:
            raise ValueError("its tensors' names or shapes differ from the model its config describes")
        model = make_policy(**meta["model"]).to(dev)
        model.load_state_dict(state)
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{p}: checkpoint does not match its config ({first})") from None
    model.eval()
    return model, meta
