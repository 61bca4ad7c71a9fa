"""Env entry points that resolve agent spec strings: the envs floor takes agent objects, agents turns
strings into them.

``envs/__init__.py`` registers ``sandbox/Duel-v0`` with the entry point ``"agents.opponents:make_duel_env"``
(a string, so ``envs`` imports nothing from ``agents``): ``gym.make("sandbox/Duel-v0",
opponent="scripted:hard")`` calls :func:`make_duel_env`, which builds the opponent with
:func:`agents.make_agent` and hands the object to :class:`envs.duel.env.DuelEnv`. The env instance holds
the agent, not a registry or a global, so it pickles and rebuilds from its keyword arguments alone.
"""

from __future__ import annotations

from typing import Any

from envs.duel.config import DuelConfig
from envs.duel.env import DuelEnv, duel_spaces

__all__ = ["duel_opponent", "make_duel_env"]

DEFAULT_OPPONENT = "scripted:normal"


def duel_opponent(spec: Any, *, flat_actions: bool = False, frame_skip: int = 4, render_mode: str | None = None,
                  player: int = 2):
    """The duel opponent named by ``spec`` (a spec string; an agent object passes through), built for
    a duel env with these settings (its action space, frame skip). The env gives it its generator at
    every reset, so it is built without one."""
    from agents import make_agent

    if isinstance(spec, str) and spec.partition(":")[0] == "human" and render_mode != "human":
        raise ValueError("opponent 'human' needs render_mode='human' (it reads the keyboard)")
    action_space, observation_space = duel_spaces(flat_actions)
    return make_agent(spec, action_space=action_space, observation_space=observation_space, rng=None,
                      frame_skip=int(frame_skip), player=player)


def make_duel_env(*, opponent: Any = DEFAULT_OPPONENT, config: DuelConfig | None = None, difficulty=None,
                  render_mode: str | None = None, **settings) -> DuelEnv:
    """``sandbox/Duel-v0``: a :class:`DuelEnv` whose opponent spec string (``random``, ``scripted:hard``,
    ``ghost:PATH``, ``sb3:PATH``, ``bundled:NAME``, ``human``...) is resolved here, built for the env's
    settings (:class:`envs.duel.config.DuelConfig`, checked once); other keyword arguments are
    :class:`DuelEnv`'s. An agent object passes through."""
    cfg = DuelConfig.build(config, **settings)
    agent = duel_opponent(opponent, flat_actions=cfg.flat_actions, frame_skip=cfg.frame_skip, render_mode=render_mode)
    env = DuelEnv(opponent=agent, config=cfg, difficulty=difficulty, render_mode=render_mode)
    if isinstance(opponent, str):
        env.opponent_spec = opponent
    return env
