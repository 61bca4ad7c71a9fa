"""Env entry points that resolve agent spec strings: the envs floor takes agent objects, agents turns
strings into them.

``envs/__init__.py`` registers ``sandbox/Duel-v0`` with the entry points ``"agents.opponents:make_duel_env"``
and ``"agents.opponents:make_duel_vector_env"`` (strings, so ``envs`` imports nothing from ``agents``):

- ``gym.make("sandbox/Duel-v0", opponent="scripted:hard")`` calls :func:`make_duel_env`, which builds the
  opponent from the spec as a batched agent of one round (:func:`batched_duel_opponent`: the single env is
  a batch of one, so it plays exactly as round i of the batched env) and hands it to
  :class:`envs.duel.env.DuelEnv`; an agent object passes through;
- ``gym.make_vec("sandbox/Duel-v0", num_envs=N, opponent=SPEC)`` calls :func:`make_duel_vector_env`, which
  builds it with :func:`agents.make_batched_agent` (every spec, a list of specs one per round, an agent
  object) and hands it to :class:`envs.duel.vector.DuelVectorEnv`.

The env instance holds the agent, not a registry or a global, so it pickles and rebuilds from its keyword
arguments alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from envs.duel.config import DuelConfig
from envs.duel.env import DuelEnv, duel_spaces
from envs.protocols import Agent, BatchedAgent

if TYPE_CHECKING:
    from envs.duel.vector import Difficulty, DuelVectorEnv

#: An opponent as the duel's entry points take it: a spec string, a list of them (one per round in turn, for
#: the batched duel), or an agent object.
OpponentSpec: TypeAlias = "str | Sequence[str] | BatchedAgent | Agent"

__all__ = ["batched_duel_opponent", "make_duel_env", "make_duel_vector_env"]

DEFAULT_OPPONENT = "scripted:normal"


def make_duel_env(*, opponent: str | BatchedAgent | Agent = DEFAULT_OPPONENT, config: DuelConfig | None = None,
                  difficulty: float | None = None, render_mode: str | None = None, **settings: Any) -> DuelEnv:
    """``sandbox/Duel-v0``: a :class:`DuelEnv` whose opponent spec string (``random``, ``scripted:hard``,
    ``ghost:PATH``, ``sb3:PATH``, ``bundled:NAME``, ``human``...) is resolved here, built for the env's
    settings (:class:`envs.duel.config.DuelConfig`, checked once); other keyword arguments are
    :class:`DuelEnv`'s. An agent object passes through."""
    cfg = DuelConfig.build(config, **settings)
    if isinstance(opponent, str) and opponent.partition(":")[0] == "human" and render_mode != "human":
        raise ValueError("opponent 'human' needs render_mode='human' (it reads the keyboard)")
    agent = batched_duel_opponent(opponent, frame_skip=cfg.frame_skip) if isinstance(opponent, str) else opponent
    env = DuelEnv(opponent=agent, config=cfg, difficulty=difficulty, render_mode=render_mode)
    if isinstance(opponent, str):
        env.opponent_spec = opponent
    return env


def batched_duel_opponent(spec: OpponentSpec | None, *, frame_skip: int = DuelConfig.frame_skip,
                          **context: Any) -> BatchedAgent | None:
    """The batched duel opponent named by ``spec`` (any agent spec, a comma-separated list or a list, one
    per round in turn; an agent object or a batched agent passes through :func:`agents.make_batched_agent`),
    built for the batched duel: it writes ``[stick, button]`` pairs and samples, as the single env's
    opponent does. ``None`` and ``"external"`` (the two-player form) give None."""
    from agents.batched import make_batched_agent
    from envs.duel.vector import TWO_PLAYER

    if spec is None or (isinstance(spec, str) and spec in TWO_PLAYER):
        return None
    action_space, observation_space = duel_spaces(False)
    return make_batched_agent(spec, action_space=action_space, observation_space=observation_space,
                              frame_skip=int(frame_skip), player=2, **context)


def make_duel_vector_env(num_envs: int = 1, opponent: OpponentSpec | None = DEFAULT_OPPONENT,
                         config: DuelConfig | None = None, difficulty: Difficulty = None,
                         render_mode: str | None = None, copy: bool = True, **settings: Any) -> DuelVectorEnv:
    """``vector_entry_point`` of ``sandbox/Duel-v0``: ``gym.make_vec("sandbox/Duel-v0", num_envs=N,
    opponent=...)`` lands here, checks the settings once (:class:`envs.duel.config.DuelConfig`), resolves the
    opponent for them (:func:`batched_duel_opponent`) and builds :class:`envs.duel.vector.DuelVectorEnv`."""
    from envs.duel.vector import DuelVectorEnv

    cfg = DuelConfig.build(config, **settings)
    agent = batched_duel_opponent(opponent, frame_skip=cfg.frame_skip)
    return DuelVectorEnv(num_envs=num_envs, opponent=agent, config=cfg, difficulty=difficulty,
                         render_mode=render_mode, copy=copy)
