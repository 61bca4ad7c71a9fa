"""The agent spec ``pg:PATH``: a checkpoint of our policy-gradient learners (``sandbox train --algo
reinforce|a2c-pg|ppo-pg``, a ``.pt`` with its JSON sidecar), loaded without unpickling anything
(``nets.policy_gradient.load_learner``: ``torch.load(weights_only=True)``, sizes checked first).

Imports: ``nets``, ``agents``; never ``experiments``."""

from __future__ import annotations

import json
from pathlib import Path

MAX_SIDECAR_BYTES = 1 << 20  # a JSON sidecar beside a checkpoint


def read_sidecar(path: str | Path) -> dict:
    """The JSON sidecar beside checkpoint ``path`` (``NAME.json``; ``path`` may be the sidecar), or ``{}``
    when there is none; a ValueError naming the file when it is too large, not JSON or not an object."""
    side = Path(path).with_suffix(".json")
    if not side.is_file():
        return {}
    if side.stat().st_size > MAX_SIDECAR_BYTES:
        raise ValueError(f"{side}: {side.stat().st_size} bytes, more than the {MAX_SIDECAR_BYTES} a sidecar may have")
    try:
        info = json.loads(side.read_text(encoding="utf-8"))  # plain data: nothing in it is ever unpickled
    except (OSError, ValueError, RecursionError) as exc:
        raise ValueError(f"{side}: cannot read the sidecar ({exc})") from None
    if not isinstance(info, dict):
        raise ValueError(f"{side}: the sidecar must be a JSON object, got {type(info).__name__}")
    return info


def load_pg(path: str | Path, device: str = "auto"):
    """Our learner saved at ``path`` (``.pt``), its sidecar as ``agent.info``; one-line ValueErrors
    naming the file for anything that is not such a checkpoint."""
    from nets.policy_gradient import load_learner

    path = Path(path)
    try:
        agent = load_learner(path, device=device)
    except (FileNotFoundError, ValueError):
        raise
    except Exception as exc:  # a corrupt file fails in torch / json in many ways
        raise ValueError(f"{path}: cannot load the checkpoint ({type(exc).__name__}: {exc})") from None
    agent.info = read_sidecar(path)
    return agent


def make_pg(arg: str | None, **kwargs):
    """Factory for the agent spec ``pg:PATH``."""
    if not arg:
        raise ValueError("agent spec 'pg' needs a path: pg:runs/NAME/checkpoints/final.pt")
    return load_pg(arg, kwargs.get("device", "auto"))
