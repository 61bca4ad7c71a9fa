"""Bundled agents: trained checkpoints shipped inside the package, so ``make watch`` needs no download
and no training. Each agent is ``NAME.zip`` (stable-baselines3) or ``NAME.pt`` (our own
policy-gradient learner) with a ``NAME.json`` sidecar saying how it was trained
(``{"algo", "env", "env_id", "env_kwargs", "nav_features", "steps", "seed"}``). The agent spec
``bundled:NAME`` loads one through :func:`make_bundled`; :func:`bundled_names` lists what ships. Both kinds
load without unpickling anything (``nets.sb3.load_sb3_zip``, ``torch.load(weights_only=True)``).

Imports: ``agents``, ``nets``, ``envs``; never ``experiments``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envs.protocols import Agent

BUNDLED_DIR = Path(__file__).resolve().parent
SUFFIXES = (".zip", ".pt")


def bundled_names() -> list[str]:
    """Names of the shipped checkpoints (a ``.zip`` or ``.pt`` in this folder), sorted."""
    return sorted({p.stem for p in BUNDLED_DIR.iterdir() if p.suffix in SUFFIXES and not p.name.startswith(".")})


def bundled_path(name: str) -> Path:
    """The checkpoint file of bundled agent ``name``; a ValueError listing the shipped names if none."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"bundled agent name must be a plain name; got {name!r}; shipped: {_shipped()}")
    for suffix in SUFFIXES:
        path = BUNDLED_DIR / f"{name}{suffix}"
        if path.is_file():
            return path
    raise ValueError(f"no bundled agent {name!r}; shipped: {_shipped()}")


def _shipped() -> str:
    names = bundled_names()
    return ", ".join(names) if names else "none (agents/bundled/ holds no checkpoint)"


def bundled_info(name: str) -> dict:
    """The sidecar ``NAME.json`` of a bundled agent (empty dict when it has none)."""
    from agents.pg_agent import read_sidecar

    return read_sidecar(bundled_path(name))


def load_bundled(name: str, device: str = "auto") -> Agent:
    """The agent behind ``bundled:NAME``: an :class:`agents.sb3_agent.SB3Agent` for a ``.zip``, our
    learner (``nets.policy_gradient.load_learner``) for a ``.pt``. The sidecar is kept as
    ``agent.info`` so callers can build the env the agent was trained on."""
    path = bundled_path(name)
    info = bundled_info(name)
    agent: Agent
    if path.suffix == ".zip":
        from agents.sb3_agent import SB3Agent, load_sb3

        agent = SB3Agent(load_sb3(path, device))
    else:
        from agents.pg_agent import load_pg

        agent = load_pg(path, device)
    try:
        agent.info = info
    except AttributeError:  # an agent with __slots__: the sidecar is still readable via bundled_info
        pass
    return agent


def make_bundled(arg: str | None, **kwargs: Any) -> Agent:
    """Factory for the agent spec ``bundled:NAME``."""
    if not arg:
        raise ValueError(f"agent spec 'bundled' needs a name: bundled:NAME; shipped: {_shipped()}")
    return load_bundled(arg, kwargs.get("device", "auto"))
