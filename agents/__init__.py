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

Imports: ``agents``, ``nets`` and ``envs``; never ``experiments``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # annotations only
    from gymnasium import spaces


@runtime_checkable
class Agent(Protocol):
    """The agent protocol (SB3's ``PolicyPredictor``); ``reset()`` is optional (callers test for it).

    ``predict`` returns ``(action, state)``: the action an int (``Discrete``) or an integer array
    (``MultiDiscrete``, or one row per observation of a batch), and the recurrent state to hand back on the
    next call (a tuple of arrays; None for agents without memory). It is the same protocol as
    :class:`envs.protocols.Agent`, the name the envs (the floor below) know it by.
    """

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray | int, tuple[np.ndarray, ...] | None]: ...


class RandomAgent:
    """Samples uniformly from an action space, drawing from the generator it is given.

    Pass the env's ``np_random`` as ``rng`` so that seeded rollouts stay deterministic.
    """

    def __init__(self, action_space: spaces.Space, rng: np.random.Generator | None = None):
        self.action_space = action_space
        self.rng = rng if rng is not None else np.random.default_rng()

    def predict(self, observation: np.ndarray, state: tuple[np.ndarray, ...] | None = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray | int, tuple[np.ndarray, ...] | None]:
        space = self.action_space
        action: np.ndarray | int
        if hasattr(space, "nvec"):  # MultiDiscrete, or any space shaped like it
            multi = cast("spaces.MultiDiscrete", space)
            action = (multi.start + self.rng.integers(multi.nvec)).astype(multi.dtype)
        elif hasattr(space, "n"):  # Discrete, or any space shaped like it
            one = cast("spaces.Discrete", space)
            action = int(one.start) + int(self.rng.integers(int(one.n)))  # (gymnasium types n and start loosely)
        else:
            raise TypeError(f"RandomAgent cannot sample from {space!r}")
        return action, state


def _make_random(arg: str | None, **kwargs: Any) -> RandomAgent:
    if "action_space" not in kwargs:
        raise ValueError("agent spec 'random' needs the env's action_space")
    return RandomAgent(kwargs["action_space"], kwargs.get("rng"))


# spec prefix -> (factory "module:function", what follows the colon, one-line help).
# A factory is called as factory(arg, **kwargs), where arg is the text after "prefix:" (or None).
# Factories are imported lazily so that `import agents` stays light.
AGENT_SPECS: dict[str, tuple[str, str, str]] = {
    "random": ("agents:_make_random", "", "uniform random actions"),
    "scripted": ("agents.character:make_scripted", "easy|normal|hard|rushdown|zoner|turtle",
                 "scripted duel fighter (also STYLE-LEVEL, e.g. zoner-hard, or a difficulty in [0,1])"),
    "ghost": ("agents.ghost:make_ghost", "PATH[@T|@greedy]",
              "a behaviour-cloned ghost (run folder or ghost.pt); @T sampling temperature (default 1), @greedy"),
    "sb3": ("agents.sb3_agent:make_sb3", "PATH", "a stable-baselines3 model zip (PPO/A2C/DQN/...)"),
    "human": ("envs.duel.controls:make_human", "", "the keyboard (needs a pygame window)"),
    "planner": ("agents.navigation.planner:make_planner", "", "stealth: follow the shortest never-seen path"),
    "optimal": ("agents.navigation.planner:make_optimal", "[GAMMA]",
                "stealth: value-iteration policy of the level's exact MDP (gamma default 0.99)"),
    "pg": ("agents.pg_agent:make_pg", "PATH",
           "our policy-gradient learner's checkpoint (sandbox train --algo reinforce|a2c-pg|ppo-pg), a .pt"),
    "bundled": ("agents.bundled:make_bundled", "NAME", "a checkpoint shipped in agents/bundled (e.g. duel-ppo)"),
    "rllib": ("agents.rllib_agent:make_rllib", "PATH",
              "an RLlib policy: a `sandbox train --backend rllib` run folder or checkpoint (the ray extra)"),
}


def valid_specs() -> str:
    """The valid spec forms, for error messages and CLI help."""
    forms = [p + (":" + a if a else "") for p, (_, a, _) in AGENT_SPECS.items()]
    return ", ".join(forms)


def make_agent(spec: str | Agent, **kwargs: Any) -> Agent:
    """Build an agent from a spec string such as ``"scripted:hard"``; agent objects pass through.

    ``kwargs`` carry the context a factory may need (``action_space``, ``observation_space``,
    ``rng``, ``env``...). An unknown spec raises a ``ValueError`` listing the valid ones.
    """
    if not isinstance(spec, str):
        if hasattr(spec, "predict"):
            return spec
        raise TypeError(f"an agent must be a spec string or have predict(); got {type(spec).__name__}")
    prefix, _, arg = spec.partition(":")
    if prefix not in AGENT_SPECS:
        raise ValueError(f"unknown agent spec {spec!r}; valid: {valid_specs()}")
    target, _, _ = AGENT_SPECS[prefix]
    module_name, _, func_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), func_name)
    return factory(arg or None, **kwargs)


from agents.batched import BatchedAgent as BatchedAgent  # noqa: E402  (the batched protocol: numpy only)
from agents.batched import make_batched_agent as make_batched_agent  # noqa: E402
