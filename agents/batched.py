"""One agent acting for N envs at once: :func:`make_batched_agent`, from any agent spec or object.

Every agent spec that :func:`agents.make_agent` accepts can be turned into a
:class:`~agents.protocol.BatchedAgent` (the protocol, ``bind``, ``reset_envs``, ``act``, and the generic
batched agents are in :mod:`agents.protocol`, re-exported here), so any agent can be the opponent of
``gym.make_vec("sandbox/Duel-v0", opponent=SPEC)`` or play in the batched harness (:mod:`agents.harness`). The
single-env protocol (``predict``) stays as it is; a single env is a batch of one.

**What each spec becomes.** ``scripted:*``: :class:`agents.character.fighter.BatchedScripted` (one numba
kernel, bit for bit the single fighter given its seed); ``random``: :class:`UniformAgent`; ``sb3:``,
``pg:``, ``bundled:``, ``rllib:``: the checkpoint that ``make_agent`` loads, behind :class:`PolicyRows` (one
forward pass over the active rows, per-row sampling); ``ghost:``: :class:`agents.ghost.agent.BatchedGhost`
(per-row recurrent state); ``planner`` and ``optimal``: their batched forms in
:mod:`agents.navigation.planner`, reading a batched stealth env (``env=``); ``human``: a batch of one.
A comma-separated list (``"random,scripted:hard"``) or a list plays env ``i`` with item ``i % len``
(:class:`RowsAgent`). Objects already speaking the protocol pass through; the agents ``make_agent`` returns
are recognised and batched as their specs are; any other object with ``predict`` plays a batch of one.

This module sits above the agents of each kind (it imports them to batch them); they import the building
blocks from :mod:`agents.protocol`, never from here.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agents.protocol import (
    ActionWriter,
    Agent,
    BatchedAgent,
    Mixture,
    PolicyRows,
    RowDraws,
    RowsAgent,
    SingleAgent,
    UniformAgent,
    inverse_cdf,
    is_batched,
    softmax,
)
from agents.specs import AGENT_SPECS, RandomAgent, make_agent, valid_specs
from envs.duel.config import DuelConfig

if TYPE_CHECKING:
    from gymnasium import spaces
    from gymnasium.vector import VectorEnv

# the building blocks live in agents.protocol; they are importable from here as they always were
__all__ = ["ActionWriter", "BatchedAgent", "Mixture", "PolicyRows", "RowDraws", "RowsAgent", "SingleAgent",
           "UniformAgent", "batched_from_object", "inverse_cdf", "is_batched", "make_batched_agent", "softmax"]


# ==================================================================================================
# From a spec or an object
# ==================================================================================================
def _instance(obj: object, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module`` (an object of a class defined there
    exists only once the module is imported)."""
    mod = sys.modules.get(module)
    return mod is not None and isinstance(obj, getattr(mod, name))


def batched_from_object(agent: object, *, deterministic: bool = False, target: spaces.Space | None = None,
                        frame_skip: int | None = None, spec: str | None = None) -> BatchedAgent:
    """The batched form of an agent object: protocol speakers pass through; the agents ``make_agent``
    builds (ghost, our learners, SB3 models and agents, RLlib policies) are batched as their specs are; any
    other object with ``predict`` is a batch of one (:class:`SingleAgent`)."""
    if is_batched(agent):
        return agent
    name = spec or getattr(agent, "spec", None) or type(agent).__name__
    # Below, the agent's class is told by module and name (_instance), without importing (or naming) it: mypy
    # cannot follow that, so the object is Any from here.
    agent_: Any = agent
    if _instance(agent, "agents.ghost.agent", "GhostAgent"):
        from agents.ghost.agent import BatchedGhost

        return BatchedGhost.from_agent(agent_, deterministic=deterministic, spec=name)
    if _instance(agent, "nets.on_policy", "OnPolicyLearner"):
        from agents.pg_agent import BatchedLearner

        return BatchedLearner(agent_, deterministic=deterministic, target=target, spec=name)
    if _instance(agent, "agents.sb3_agent", "SB3Agent") or _instance(agent, "stable_baselines3.common.base_class",
                                                                      "BaseAlgorithm"):
        from agents.sb3_agent import batched_sb3

        return batched_sb3(agent_, deterministic=deterministic, target=target, spec=name)
    if _instance(agent, "agents.rllib_agent", "RLlibAgent"):
        from agents.rllib_agent import BatchedRLlib

        return BatchedRLlib(agent_, deterministic=deterministic, target=target, spec=name)
    if isinstance(agent, RandomAgent):
        return UniformAgent(agent.action_space, target, spec=name)
    if _instance(agent, "agents.character.scripted", "ScriptedFighter"):
        from agents.character.fighter import BatchedScripted

        return BatchedScripted(agent_.base_params, spec=name, frame_skip=frame_skip or 4)
    if callable(getattr(agent, "predict", None)):
        return SingleAgent(agent_, deterministic=deterministic, target=target, spec=name)
    raise TypeError(f"an agent must be a spec string, a BatchedAgent (bind, reset_envs, act) or have predict(); "
                    f"got {type(agent).__name__}")


def make_batched_agent(spec: str | Sequence[str] | BatchedAgent | Agent, *,
                       action_space: spaces.Space | None = None, observation_space: spaces.Space | None = None,
                       frame_skip: int = DuelConfig.frame_skip, deterministic: bool = False,
                       env: VectorEnv | None = None,
                       device: str = "auto", **context: Any) -> BatchedAgent:
    """A :class:`BatchedAgent` for ``spec``: any spec :func:`agents.make_agent` accepts, a comma-separated
    list or a list of them (env ``i`` plays item ``i % len``), or an agent object (see the module
    docstring).

    The context is what ``make_agent`` gets: ``action_space`` (the space of the buffer ``act`` writes
    into; a duel opponent writes ``[stick, button]`` pairs) and ``observation_space``, ``frame_skip``,
    ``device``; ``deterministic`` (act on the arg-max instead of sampling; opponents sample, as the single
    env asks them to), and ``env``, the batched stealth env that ``planner`` and ``optimal`` read. A spec
    that cannot be batched raises a one-line ValueError saying why."""
    common: dict[str, Any] = {"action_space": action_space, "observation_space": observation_space,
                              "frame_skip": frame_skip, "deterministic": deterministic, "env": env, "device": device,
                              **context}
    if not isinstance(spec, str):
        if isinstance(spec, list | tuple):
            return RowsAgent([make_batched_agent(s, **common) for s in spec], spec=",".join(map(str, spec)))
        return batched_from_object(spec, deterministic=deterministic, target=action_space, frame_skip=frame_skip)
    if "," in spec:
        items = [s.strip() for s in spec.split(",") if s.strip()]
        return RowsAgent([make_batched_agent(s, **common) for s in items], spec=spec)
    prefix, _, arg = spec.partition(":")
    if prefix not in AGENT_SPECS:
        raise ValueError(f"unknown agent spec {spec!r}; valid: {valid_specs()}")
    if prefix == "scripted":
        from agents.character.scripted import make_batched_opponent

        opponent = make_batched_opponent(spec, int(frame_skip))
        assert opponent is not None  # (None only for the two-player form's "external")
        return opponent
    if prefix == "random":
        if arg:
            raise ValueError(f"agent spec 'random' takes no argument, got {spec!r}")
        if action_space is None:
            raise ValueError("agent spec 'random' needs the env's action_space")
        return UniformAgent(action_space, action_space)
    if prefix in ("planner", "optimal"):
        from agents.navigation.planner import make_batched_planner

        return make_batched_planner(spec, env=env)
    single = {k: v for k, v in common.items() if k not in ("deterministic", "env") and v is not None}
    agent = make_agent(spec, **single)
    if prefix == "human":
        return SingleAgent(agent, target=action_space, spec=spec,
                           why="agent 'human' is one person at one keyboard and plays one env")
    return batched_from_object(agent, deterministic=deterministic, target=action_space, frame_skip=frame_skip,
                               spec=spec)
