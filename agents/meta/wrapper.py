"""``DirectedEnv``: put a director in charge of an environment's difficulty.

At every reset (with or without options, so SB3 and Gymnasium vector envs, which auto-reset without
options, work) the wrapper calls ``env.unwrapped.set_difficulty(director.difficulty)``; at the end of
every episode it calls ``director.observe(won, **details)``. Several wrappers may share one director
(e.g. the two envs of a ``DummyVecEnv``): each episode's outcome then moves the difficulty of all.
In a ``SubprocVecEnv`` each worker holds its own pickled copy of the director, so each worker is
directed by the outcomes of its own episodes only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, SupportsFloat, cast

import gymnasium as gym
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from agents.meta.director import Director
    from envs.stealth.env import StealthEnv


def near_miss(env: StealthEnv) -> bool:
    """Stealth: the player ends a step beside a cell a guard watches now, without being caught."""
    world = env.world
    if env.caught:
        return False
    neighbours = world.move[env.cell, 1:]
    return bool(world.watched[env.phase, neighbours].any())


def episode_outcome(info: dict[str, Any], env: object) -> tuple[bool, dict[str, Any]]:
    """``(won, details)`` of a finished episode from its last ``info``: ``won`` is the env's own
    ``info["is_success"]`` (success is defined once, in the env: the duel's round won, a draw not; the
    stealth grid's goal reached). Details: the duel's ``health_diff`` (agent health - opponent health),
    the stealth grid's ``caught``."""
    if "is_success" not in info:
        raise ValueError(f"cannot tell whether {type(env).__name__}'s episode was won: its last info has no "
                         "is_success; pass DirectedEnv(outcome=fn)")
    details: dict[str, Any] = {}
    if "agent_health" in info and "opponent_health" in info:
        details["health_diff"] = float(info["agent_health"] - info["opponent_health"])
    if "caught" in info:
        details["caught"] = bool(info["caught"])
    return bool(info["is_success"]), details


class _Adjustable(Protocol):
    """An env whose difficulty a director sets."""

    def set_difficulty(self, difficulty: float) -> None: ...


class DirectedEnv(gym.Wrapper):
    """Applies ``director.difficulty`` at every reset and feeds it each episode's outcome.

    ``outcome(info, env) -> (won, details)`` decides who won (default :func:`episode_outcome`). On the
    stealth grid the wrapper also counts near-misses (:func:`near_miss`) and passes them as
    ``details["near_misses"]`` (what the RuleDirector's pacing mode reads), with ``steps``. An env made with
    ``drives=`` also gives ``details["drives"]``, each drive's mean level over the episode's steps by name
    (what :class:`agents.meta.director.DriveDirector` reads). The
    episode's final ``info`` gains ``"director": {"difficulty", "won", "next_difficulty"}``.
    ``reset(options={"difficulty": x})`` still overrides the director for that one episode.
    """

    def __init__(self, env: gym.Env, director: Director,
                 outcome: Callable[[dict[str, Any], Any], tuple[bool, dict[str, Any]]] | None = None):
        super().__init__(env)
        if not hasattr(director, "observe") or not hasattr(director, "difficulty"):
            raise TypeError("director must have observe(won, **details) and a difficulty property")
        if not hasattr(env.unwrapped, "set_difficulty"):
            raise TypeError(f"{type(env.unwrapped).__name__} has no set_difficulty(); a director cannot drive it")
        self.director = director
        self.outcome = outcome or episode_outcome
        self.episode_difficulty: float | None = None
        self.applied: list[float] = []  # difficulty of every episode started, in order
        self._near_misses = 0
        self._steps = 0
        self._drive_sum: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        difficulty = float(self.director.difficulty)
        cast(_Adjustable, self.env.unwrapped).set_difficulty(difficulty)  # (checked in __init__)
        if options and "difficulty" in options:
            difficulty = float(options["difficulty"])
        self.episode_difficulty = difficulty
        self.applied.append(difficulty)
        self._near_misses = 0
        self._steps = 0
        self._drive_sum = None
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        base = self.env.unwrapped
        if hasattr(base, "world") and hasattr(base, "cell"):
            self._near_misses += near_miss(cast("StealthEnv", base))  # (a stealth env: it has world and cell)
        if "drives" in info:
            levels = np.asarray(info["drives"], dtype=np.float64)
            self._drive_sum = levels.copy() if self._drive_sum is None else self._drive_sum + levels
        if terminated or truncated:
            won, details = self.outcome(info, base)
            details = {**details, "steps": self._steps}
            drives = getattr(base, "drives", None)
            if self._drive_sum is not None and drives is not None:
                means = (self._drive_sum / self._steps).tolist()
                details["drives"] = dict(zip(drives.state.table.names, means, strict=True))
            if hasattr(base, "world"):
                details["near_misses"] = self._near_misses
            self.director.observe(bool(won), **details)
            info = {**info, "director": {"difficulty": self.episode_difficulty, "won": bool(won),
                                         "next_difficulty": float(self.director.difficulty), **details}}
        return obs, reward, terminated, truncated, info


def rolling_mean(values: npt.ArrayLike, window: int) -> np.ndarray:
    """``out[i]`` = mean of ``values[max(0, i - window + 1) : i + 1]`` (the trailing window)."""
    x = np.asarray(values, dtype=np.float64)
    c = np.concatenate([[0.0], np.cumsum(x)])
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def in_band_fraction(outcomes: Iterable[bool], *, window: int = 20, warmup: int = 20, target: float = 0.5,
                     band: float = 0.1) -> float:
    """Fraction of the episodes after the first ``warmup`` whose trailing ``window``-episode win rate
    lies within ``target +- band`` (inclusive, up to float rounding). NaN if there are none."""
    rates = rolling_mean([1.0 if w else 0.0 for w in outcomes], window)[warmup:]
    if len(rates) == 0:
        return float("nan")
    return float(np.mean(np.abs(rates - target) <= band + 1e-9))
