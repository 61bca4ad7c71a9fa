"""The one rollout and evaluation harness: run an agent in an env, episode by episode.

Every loop that plays whole episodes to measure or record an agent goes through :func:`run_episode`
(one episode) or :func:`evaluate` (seeded episodes, one record each): training's periodic evaluation,
the comparisons, demo recording, Q-learning's greedy-policy evaluation, and ``sandbox eval``.

* **Agent.** The agent protocol: ``predict(observation, state, episode_start, deterministic) ->
  (action, state)`` and an optional ``reset()``. The harness calls ``reset()`` after ``env.reset``,
  passes the recurrent ``state`` back in, and ``episode_start`` (a (1,) bool array) is True at the
  first step only, so SB3's recurrent policies and our ghosts start a new episode there.
* **Success** is defined once per env, in the env: ``info["is_success"]`` of the last step (SB3's
  convention, which SB3's ``Monitor`` and ``evaluate_policy`` also read). An env that does not report
  it gives ``success=None`` and a NaN success rate.
* **Seeds.** Episode ``i`` of :func:`evaluate` is reset with ``seed + i`` (or ``seeds[i]``), so an
  evaluation is a pure function of the agent, the env and the seed.
* **Hooks.** ``on_step(step)`` receives every :class:`Step` (observation acted on, action, reward,
  flags, info) as it happens, e.g. to record a demo or draw a frame; ``on_episode(episode)`` each
  finished :class:`Episode`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from envs.protocols import Agent

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = ["Episode", "Evaluation", "Step", "evaluate", "run_episode", "success_of"]


@dataclass
class Step:
    """One env step, as ``on_step`` sees it: the observation the agent acted on and what followed."""

    t: int  # step number in the episode, from 0
    observation: Any  # the observation ``action`` was chosen from
    action: Any
    reward: float
    terminated: bool
    truncated: bool
    info: dict
    next_observation: Any


@dataclass
class Episode:
    """One finished episode (the per-episode record of an evaluation)."""

    seed: int | None  # what env.reset was called with
    ret: float  # undiscounted return
    length: int  # env steps
    success: bool | None  # info["is_success"] at the end, None if the env does not report it
    terminated: bool  # ended by the MDP (else truncated by a time limit)
    info: dict = field(default_factory=dict)  # the last step's info

    def as_dict(self) -> dict:
        """JSON-friendly record (the final info left out)."""
        return {"seed": self.seed, "return": self.ret, "length": self.length, "success": self.success,
                "terminated": self.terminated}


@dataclass
class Evaluation:
    """The records of :func:`evaluate` and their arrays and means."""

    episodes: list[Episode]

    @property
    def returns(self) -> np.ndarray:
        return np.array([e.ret for e in self.episodes], dtype=np.float64)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([e.length for e in self.episodes], dtype=np.int64)

    @property
    def successes(self) -> np.ndarray:
        """1.0 / 0.0 per episode, NaN where the env did not report success."""
        return np.array([math.nan if e.success is None else float(e.success) for e in self.episodes])

    @property
    def mean_return(self) -> float:
        return float(self.returns.mean()) if self.episodes else math.nan

    @property
    def success_rate(self) -> float:
        """Mean success over the episodes that report it; NaN if none does."""
        s = self.successes
        s = s[~np.isnan(s)]
        return float(s.mean()) if s.size else math.nan

    @property
    def mean_length(self) -> float:
        return float(self.lengths.mean()) if self.episodes else math.nan


def success_of(info: dict) -> bool | None:
    """``info["is_success"]`` of an episode's last step, or None when the env does not report it."""
    return bool(info["is_success"]) if "is_success" in info else None


def run_episode(agent: Agent, env: gym.Env, *, seed: int | None = None, options: dict | None = None,
                deterministic: bool = True, on_step: Callable[[Step], Any] | None = None,
                max_steps: int | None = None) -> Episode:
    """Play one episode of ``agent`` in ``env`` from ``env.reset(seed=seed, options=options)``.

    Stops when the env terminates or truncates (or after ``max_steps`` steps, then counted as
    truncated). Returns its :class:`Episode`; ``on_step`` sees every step."""
    obs, info = env.reset(seed=seed, options=options)
    if hasattr(agent, "reset"):
        agent.reset()
    state, start = None, np.ones(1, dtype=bool)
    total, t = 0.0, 0
    terminated = truncated = False
    while not (terminated or truncated):
        action, state = agent.predict(obs, state=state, episode_start=start, deterministic=deterministic)
        start = np.zeros(1, dtype=bool)
        next_obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        if on_step is not None:
            on_step(Step(t, obs, action, float(reward), bool(terminated), bool(truncated), info, next_obs))
        obs = next_obs
        t += 1
        if max_steps is not None and t >= max_steps and not terminated:
            truncated = True
    return Episode(seed, total, t, success_of(info), bool(terminated), info)


def evaluate(agent: Agent, env: gym.Env | list[gym.Env] | tuple[gym.Env, ...], n_episodes: int, *,
             seed: int | None = 0, seeds: Sequence[int | None] | None = None,
             deterministic: bool = True, options: dict | None = None,
             on_step: Callable[[Step], Any] | None = None,
             on_episode: Callable[[Episode], Any] | None = None) -> Evaluation:
    """``n_episodes`` episodes of ``agent`` in ``env``, episode ``i`` reset with ``seeds[i]`` or else
    ``seed + i`` (``seed=None``, or a None in ``seeds``: unseeded, the env's generator runs on). ``env``
    may be a sequence of envs, used in turn (episode ``i`` in ``env[i % len(env)]``). Returns the
    per-episode records."""
    envs = list(env) if isinstance(env, list | tuple) else [env]
    if seeds is not None and len(seeds) < n_episodes:
        raise ValueError(f"{len(seeds)} seeds for {n_episodes} episodes")
    episodes = []
    for i in range(n_episodes):
        if seeds is not None:
            given = seeds[i]
            s = None if given is None else int(given)
        else:
            s = None if seed is None else seed + i
        ep = run_episode(agent, envs[i % len(envs)], seed=s, options=options, deterministic=deterministic,
                         on_step=on_step)
        episodes.append(ep)
        if on_episode is not None:
            on_episode(ep)
    return Evaluation(episodes)
