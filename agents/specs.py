"""Agent spec strings (``random``, ``scripted:hard``, ``sb3:PATH``, ...), parsed in exactly one place:
:func:`make_agent`, for CLI flags and env keyword arguments alike. Each spec prefix names its factory as
``"module:function"`` in :data:`AGENT_SPECS`; factories are imported when a spec needs them, so that
``import agents`` stays light. :class:`RandomAgent` is the ``random`` agent.

Imports: ``agents.protocol`` (and, through the spec table, the module of the spec asked for).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.protocol import Agent
from envs.protocols import RecurrentState

if TYPE_CHECKING:
    from gymnasium import spaces

__all__ = ["AGENT_SPECS", "RandomAgent", "make_agent", "make_random", "valid_specs"]


class RandomAgent:
    """Samples uniformly from an action space, drawing from the generator it is given.

    Pass the env's ``np_random`` as ``rng`` so that seeded rollouts stay deterministic.
    """

    def __init__(self, action_space: spaces.Space, rng: np.random.Generator | None = None) -> None:
        self.action_space = action_space
        self.rng = rng if rng is not None else np.random.default_rng()

    def predict(self, observation: np.ndarray, state: RecurrentState = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray | int, RecurrentState]:
        """A uniform draw from the action space (``int`` for ``Discrete``, an array for ``MultiDiscrete``)."""
        space: Any = self.action_space  # duck-typed: anything with n (Discrete) or nvec (MultiDiscrete), and start
        if hasattr(space, "nvec"):
            action = (space.start + self.rng.integers(space.nvec)).astype(space.dtype)
        elif hasattr(space, "n"):
            action = int(space.start + self.rng.integers(space.n))
        else:
            raise TypeError(f"RandomAgent cannot sample from {space!r}")
        return action, state


def make_random(arg: str | None, **kwargs: Any) -> RandomAgent:
    """Factory for the agent spec ``random`` (it needs the env's ``action_space``)."""
    if "action_space" not in kwargs:
        raise ValueError("agent spec 'random' needs the env's action_space")
    return RandomAgent(kwargs["action_space"], kwargs.get("rng"))


# spec prefix -> (factory "module:function", what follows the colon, one-line help).
# A factory is called as factory(arg, **kwargs), where arg is the text after "prefix:" (or None).
# Factories are imported lazily so that `import agents` stays light.
AGENT_SPECS: dict[str, tuple[str, str, str]] = {
    "random": ("agents.specs:make_random", "", "uniform random actions"),
    "scripted": ("agents.character:make_scripted", "easy|normal|hard|rushdown|zoner|turtle",
                 "scripted duel fighter (also STYLE-LEVEL, e.g. zoner-hard, or a difficulty in [0,1])"),
    "ghost": ("agents.ghost:make_ghost", "PATH[@T|@greedy]",
              "a behaviour-cloned ghost (run folder or ghost.pt); @T sampling temperature (default 1), @greedy"),
    "sb3": ("agents.sb3_agent:make_sb3", "PATH",
            "a stable-baselines3 model: a `sandbox train --algo ppo|a2c|dqn` run folder or its .zip"),
    "human": ("envs.duel.controls:make_human", "", "the keyboard (needs a pygame window)"),
    "planner": ("agents.navigation.planner:make_planner", "", "stealth: follow the shortest never-seen path"),
    "optimal": ("agents.navigation.planner:make_optimal", "[GAMMA]",
                "stealth: value-iteration policy of the level's exact MDP (gamma default 0.99)"),
    "pg": ("agents.pg_agent:make_pg", "PATH",
           "our policy-gradient learner: a `sandbox train --algo reinforce|a2c-pg|ppo-pg` run folder or its .pt"),
    "bundled": ("agents.bundled:make_bundled", "NAME", "a checkpoint shipped in agents/bundled (e.g. duel-ppo)"),
    "rllib": ("agents.rllib_agent:make_rllib", "PATH",
              "an RLlib policy: a `sandbox train --backend rllib` run folder or checkpoint (the ray extra)"),
}


GAMES = {"sandbox/Stealth-v0": "stealth", "sandbox/Duel-v0": "duel", "sandbox/Director-v0": "director"}
BUNDLED_GAMES = {"director": "director"}  # bundled agents without a sidecar


def trained_for(spec: str) -> str | None:
    """The game a spec's agent acts in (``stealth``, ``duel``, ``director``), read from what it ships with
    (its kind, its sidecar), without loading any weights; None when nothing says."""
    prefix, _, arg = spec.partition(":")
    if prefix in ("scripted", "human", "ghost"):
        return "duel"
    if prefix in ("planner", "optimal"):
        return "stealth"
    info: dict = {}
    if prefix == "bundled":
        from agents.bundled import bundled_info, bundled_names

        if arg not in bundled_names():
            return None
        info = bundled_info(arg) or {"env": BUNDLED_GAMES.get(arg)}
    elif prefix in ("pg", "sb3") and arg:
        from agents.pg_agent import checkpoint_in, read_sidecar

        try:
            info = read_sidecar(checkpoint_in(arg, ".pt" if prefix == "pg" else ".zip", prefix))
        except (OSError, ValueError):
            return None  # the loader says what is wrong, in its own words
    env = info.get("env_id") or info.get("env")
    return GAMES.get(env, env) if isinstance(env, str) else None


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
