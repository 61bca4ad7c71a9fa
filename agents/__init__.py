"""Third floor: everything that acts, and the harness that runs agents in envs. Scripted fighters
(``agents.character``), the navigation AI and its planner (``agents.navigation``), the director
(``agents.meta``), the ghost with its demo format and checkpoints (``agents.ghost``), SB3 and bundled
checkpoints, all speaking one protocol, SB3's ``predict(observation, state=None, episode_start=None,
deterministic=False) -> (action, state)``, plus an optional ``reset()``. Agent spec strings (``random``,
``scripted:hard``, ``sb3:PATH``, ...) are parsed in exactly one place, :func:`make_agent`, for CLI
flags and env keyword arguments alike; :func:`make_batched_agent` (``agents.batched``) turns any of them
into a batched agent acting for N envs at once; ``agents.opponents`` holds the env entry points that resolve
the duel's opponent spec. ``agents.rollout`` runs single envs episode by episode; ``agents.harness`` runs
seeded rounds and episodes of batched agents, many at once.

The names below are defined in submodules and re-exported here: :class:`Agent` and :class:`BatchedAgent`
(``agents.protocol``), :func:`make_agent`, :data:`AGENT_SPECS`, :func:`valid_specs` and :class:`RandomAgent`
(``agents.specs``), :func:`make_batched_agent` (``agents.batched``). Modules of this package import them
from there, never from the package itself.

Imports: ``agents``, ``nets`` and ``envs``; never ``experiments``."""

from __future__ import annotations

from agents.batched import make_batched_agent
from agents.protocol import Agent, BatchedAgent
from agents.specs import AGENT_SPECS, RandomAgent, make_agent, valid_specs

__all__ = ["AGENT_SPECS", "Agent", "BatchedAgent", "RandomAgent", "make_agent", "make_batched_agent", "valid_specs"]
