"""``sandbox/Director-v0``: the director's own environment, and :class:`LearnedDirector`, its policy.

One meta-step is one inner episode: the agent (the director) sets a difficulty, a player sampled from
a population of varied skill (:func:`agents.meta.population.sample_player`) plays one episode at it,
and the outcome is appended to the history the director observes.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.meta.director import check_difficulty
from agents.meta.population import SyntheticPlayer, sample_player
from envs.checks import box_action, check_int, check_number, episode_over_message
from envs.protocols import Agent

#: The director's action as ``step`` takes it: one number in [-1, 1] (an array of shape (1,), or a sequence).
DirectorAction: TypeAlias = "np.ndarray | Sequence[float] | float"

HISTORY = 20  # episodes of history in the observation
MAX_STEP = 0.2  # largest difficulty change per episode (action 1.0)


def history_observation(outcomes: Iterable[bool], difficulties: Iterable[float], current: float,
                        history: int = HISTORY) -> np.ndarray:
    """The director's observation: the last ``history`` outcomes (+1 win, -1 loss, 0 not yet played,
    most recent last), the difficulties they were played at (0 when not yet played) and the current
    difficulty; float32 of shape ``(2 * history + 1,)``, every entry in [-1, 1]."""
    obs = np.zeros(2 * history + 1, dtype=np.float32)
    o = list(outcomes)[-history:]
    d = list(difficulties)[-history:]
    if o:
        obs[history - len(o) : history] = [1.0 if w else -1.0 for w in o]
        obs[2 * history - len(d) : 2 * history] = d
    obs[-1] = current
    return obs


class DirectorEnv(gym.Env[np.ndarray, DirectorAction]):
    """
    ## Description
    The meta environment of the director (the "meta AI"). Each meta-step is one episode of an inner
    game between a player and the game at the difficulty the director chose. The inner game is a
    simulated player whose win probability is ``sigmoid(slope * (skill - difficulty))``; each meta
    episode samples a new player from a population of varied skill and slope, some of whom improve
    over time or change skill suddenly. The director's job: keep the player's rolling win rate in
    the flow channel, near ``target``.

    ## Action Space
    ``Box(-1, 1, (1,), float32)``: the change of difficulty, ``max_step * action`` (default 0.2);
    the difficulty stays clipped to [0, 1]. An action outside [-1, 1] (or NaN) raises ``ValueError``:
    it is refused, not clipped (the contract of :mod:`envs.checks`).

    ## Observation Space
    ``Box(-1, 1, (2 * history + 1,), float32)``: the last ``history`` outcomes (+1 win, -1 loss, 0 for
    episodes not yet played; most recent last), the difficulties they were played at, and the
    current difficulty (see :func:`history_observation`).

    ## Rewards
    ``-|rolling win rate - target|`` after every meta-step, the rolling win rate taken over the last
    ``window`` outcomes (fewer at the start).

    ## Starting State
    A freshly sampled player, no history, difficulty ``start_difficulty`` (default 0.5).

    ## Episode End
    Truncated after ``horizon`` meta-steps (default 200); never terminated. Stepping after that raises
    ``RuntimeError`` until ``reset()``. The last step's info holds ``is_success`` (SB3's convention):
    the rolling win rate ends in the flow channel, ``|rate - target| <= band``.

    ## Arguments
    ``target`` (0.5), ``band`` (0.1, the flow channel's half-width, for ``is_success``),
    ``window`` (20), ``history`` (20), ``horizon`` (200), ``max_step`` (0.2),
    ``start_difficulty`` (0.5), ``render_mode`` (None or ``"ansi"``), ``player`` (a fixed
    :class:`SyntheticPlayer` or a dict of its fields; default None: sample one per episode from the
    population).

    ## Version History
    * v0: initial version.

    ## Examples
    A short meta-episode of 20 inner episodes, the difficulty left where it starts:

    >>> import gymnasium as gym
    >>> import numpy as np
    >>> import envs  # registers the sandbox/* ids
    >>> env = gym.make("sandbox/Director-v0", horizon=20)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.action_space.shape
    ((41,), (1,))
    >>> truncated = False
    >>> while not truncated:
    ...     obs, reward, terminated, truncated, info = env.step(np.zeros(1, dtype=np.float32))
    ...     assert -1.0 <= reward <= 0.0 and not terminated
    >>> info["difficulty"], "is_success" in info, 0.0 <= info["rolling_win_rate"] <= 1.0
    (0.5, True, True)
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, *, target: float = 0.5, band: float = 0.1, window: int = 20, history: int = HISTORY,
                 horizon: int = 200,
                 max_step: float = MAX_STEP, start_difficulty: float = 0.5,
                 player: SyntheticPlayer | dict[str, Any] | None = None, render_mode: str | None = None):
        target = check_number("target", target, 0.0, 1.0, lo_open=True)
        if target >= 1.0:
            raise ValueError(f"target must be in (0, 1); got {target!r}")
        window, history = check_int("window", window, 1), check_int("history", history, 1, 10_000)
        horizon = check_int("horizon", horizon, 1)
        max_step = check_number("max_step", max_step, 0.0, 1.0, lo_open=True)
        if render_mode not in (None, "ansi"):
            raise ValueError(f"Director-v0 render_mode must be None or 'ansi'; got {render_mode!r}")
        if not 0.0 <= float(band) <= 1.0:
            raise ValueError(f"band must be in [0, 1]; got {band!r}")
        self.target, self.window, self.history = float(target), int(window), int(history)
        self.band = float(band)
        self.horizon, self.max_step = int(horizon), float(max_step)
        self.start_difficulty = check_difficulty(start_difficulty, "start_difficulty")
        self.fixed_player = SyntheticPlayer(**player) if isinstance(player, dict) else player
        self.render_mode = render_mode
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2 * self.history + 1,), dtype=np.float32)
        self.player = SyntheticPlayer()
        self._reset_history()

    def _reset_history(self) -> None:
        self.outcomes: deque[bool] = deque(maxlen=max(self.window, self.history))
        self.played: deque[float] = deque(maxlen=self.history)
        self.difficulty = self.start_difficulty
        self.steps = 0
        self._over = False

    def set_difficulty(self, difficulty: float) -> None:
        """The difficulty of the next inner episode (the action changes it from there)."""
        self.difficulty = check_difficulty(difficulty)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._reset_history()
        if options and "difficulty" in options:
            self.set_difficulty(options["difficulty"])
        if self.fixed_player is not None:
            self.player = SyntheticPlayer(**self.fixed_player.to_dict())
        else:
            self.player = sample_player(self.np_random, horizon=self.horizon)
        return self._obs(), {"skill": self.player.skill}

    def step(self, action: DirectorAction) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._over:
            raise RuntimeError(episode_over_message("sandbox/Director-v0"))
        a = box_action(action, -1.0, 1.0, 1, "sandbox/Director-v0")
        delta = float(a[0]) * self.max_step
        self.difficulty = float(np.clip(self.difficulty + delta, 0.0, 1.0))
        won = self.player.play(self.difficulty, self.np_random)
        self.outcomes.append(won)
        self.played.append(self.difficulty)
        self.steps += 1
        rate = float(np.mean(list(self.outcomes)[-self.window:]))
        reward = -abs(rate - self.target)
        truncated = self.steps >= self.horizon
        self._over = truncated
        info: dict[str, Any] = {"won": won, "rolling_win_rate": rate, "skill": self.player.skill,
                                "difficulty": self.difficulty}
        if truncated:
            info["is_success"] = abs(rate - self.target) <= self.band + 1e-9  # ends in the flow channel
        return self._obs(), reward, False, truncated, info

    # gymnasium types render() with a type variable bound nowhere (RenderFrame): no override can match it
    def render(self) -> str | None:  # type: ignore[override]
        """``ansi``: the last outcomes (W win, L loss), the difficulty and the player's skill."""
        if self.render_mode != "ansi":
            gym.logger.warn("render() called without render_mode='ansi'")
            return None
        recent = "".join("W" if w else "L" for w in list(self.outcomes)[-self.history:])
        return f"step {self.steps:4d} difficulty {self.difficulty:.2f} skill {self.player.skill:.2f} {recent}"

    def _obs(self) -> np.ndarray:
        return history_observation(self.outcomes, self.played, self.difficulty, self.history)


class LearnedDirector:
    """A director whose policy was trained in ``sandbox/Director-v0``.

    ``policy`` is anything with SB3's ``predict(obs, deterministic=True)`` (e.g. an SB3 model);
    :meth:`load` builds one from an SB3 zip. It keeps the same history the meta env shows its agent
    and applies the policy's difficulty change after every episode. ``state_dict()`` holds the
    session (history and difficulty); the policy's weights live in its own SB3 zip.
    """

    def __init__(self, policy: Agent, *, history: int = HISTORY, max_step: float = MAX_STEP,
                 start_difficulty: float = 0.5):
        if not hasattr(policy, "predict"):
            raise TypeError("LearnedDirector needs a policy with predict(obs, deterministic=...)")
        self.policy, self.history, self.max_step = policy, int(history), float(max_step)
        self.start_difficulty = check_difficulty(start_difficulty, "start_difficulty")
        self.reset()

    @classmethod
    def load(cls, path: str | os.PathLike[str], **kwargs: Any) -> LearnedDirector:
        """A director from an SB3 PPO zip written by ``sandbox train director`` (``checkpoints/final.zip``)."""
        if not os.path.exists(path):
            raise FileNotFoundError(f"no director policy at {path}; train one with "
                                    "`sandbox train director`")
        from agents.sb3_agent import load_sb3  # never unpickles from the file (SB3's PPO.load would)

        return cls(load_sb3(path, device="cpu"), **kwargs)

    def reset(self) -> None:
        self.outcomes: deque[bool] = deque(maxlen=self.history)
        self.played: deque[float] = deque(maxlen=self.history)
        self._difficulty = self.start_difficulty
        self.episodes = 0

    @property
    def difficulty(self) -> float:
        return self._difficulty

    def observe(self, won: bool, **details: Any) -> None:
        self.outcomes.append(bool(won))
        self.played.append(self._difficulty)
        self.episodes += 1
        obs = history_observation(self.outcomes, self.played, self._difficulty, self.history)
        action, _ = self.policy.predict(obs, deterministic=True)
        delta = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0)) * self.max_step
        self._difficulty = float(np.clip(self._difficulty + delta, 0.0, 1.0))

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "learned", "outcomes": list(self.outcomes), "played": list(self.played),
                "difficulty": self._difficulty, "episodes": self.episodes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "learned":
            raise ValueError(f"not a LearnedDirector state (kind={state.get('kind')!r})")
        self.outcomes = deque((bool(x) for x in state["outcomes"]), maxlen=self.history)
        self.played = deque((float(x) for x in state["played"]), maxlen=self.history)
        self._difficulty = check_difficulty(state["difficulty"])
        self.episodes = int(state["episodes"])
