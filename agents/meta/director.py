"""Directors: choose the next episode's difficulty from how the player has been doing.

The protocol (:class:`Director`): ``observe(won, **details)`` after each episode; the ``difficulty``
property is the setting for the next one, always in [0, 1]; ``state_dict()`` / ``load_state_dict()``
save and resume a session (plain JSON-able dicts).

:class:`RuleDirector` keeps a Bayesian estimate of the player's skill under a logistic win model and
picks the difficulty whose predicted win probability steers the rolling win rate to the target; with
``pacing=True`` it adds a Left-4-Dead-style intensity cycle (build-up, peak, relax) for the stealth
grid. :class:`FixedDirector` is the no-director baseline.
"""

from __future__ import annotations

import math
from collections import deque
from enum import IntEnum
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np


@runtime_checkable
class Director(Protocol):
    """What every director speaks."""

    @property
    def difficulty(self) -> float: ...

    def observe(self, won: bool, **details: Any) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def check_difficulty(x: Any, name: str = "difficulty") -> float:
    """``x`` as a float in [0, 1], else a one-line ValueError saying what is valid."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1]; got {x!r}") from None
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValueError(f"{name} must be in [0, 1]; got {value}")
    return value


def _check_prob(x: Any, name: str, lo: float = 0.0, hi: float = 1.0) -> float:
    value = float(x)
    if not lo < value < hi:
        raise ValueError(f"{name} must be in ({lo}, {hi}); got {x!r}")
    return value


def sigmoid(x: float) -> float:
    """The logistic function ``1 / (1 + exp(-x))``, overflow-safe."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def logit(p: float) -> float:
    """Inverse of :func:`sigmoid`: ``log(p / (1 - p))``."""
    return math.log(p / (1.0 - p))


def win_probability(skill: float, difficulty: float, slope: float) -> float:
    """The director's player model: ``P(win | d) = sigmoid(slope * (skill - d))``.

    ``skill`` is on the difficulty scale: a player of skill s wins half the time at difficulty s.
    """
    return sigmoid(slope * (skill - difficulty))


def logistic_update(mean: float, var: float, won: bool, difficulty: float, slope: float) -> tuple[float, float]:
    """One Bayesian update of a Gaussian skill belief ``N(mean, var)`` after one outcome.

    The likelihood is ``p = sigmoid(slope * (skill - d))`` for a win and ``1 - p`` for a loss. The
    posterior is approximated by a Gaussian (Laplace approximation, one Newton step from the prior
    mean, as in Glicko / online Bayesian logistic regression), with ``p`` evaluated at the prior mean:

        precision' = 1 / var + slope^2 p (1 - p)
        mean'      = mean + slope (y - p) / precision'          (y = 1 for a win, 0 for a loss)

    Hand-worked: mean 0.5, var 0.1, slope 8, a win at d = 0.5 -> p = 0.5, precision' = 10 + 16 = 26,
    mean' = 0.5 + 8 * 0.5 / 26 = 0.653846..., var' = 1 / 26.
    """
    p = win_probability(mean, difficulty, slope)
    y = 1.0 if won else 0.0
    precision = 1.0 / var + slope * slope * p * (1.0 - p)
    return mean + slope * (y - p) / precision, 1.0 / precision


class FixedDirector:
    """The baseline: always the same difficulty, whatever happens."""

    def __init__(self, difficulty: float = 0.5):
        self._difficulty = check_difficulty(difficulty)
        self.episodes = 0

    @property
    def difficulty(self) -> float:
        return self._difficulty

    def observe(self, won: bool, **details: Any) -> None:
        self.episodes += 1

    def state_dict(self) -> dict:
        return {"kind": "fixed", "difficulty": self._difficulty, "episodes": self.episodes}

    def load_state_dict(self, state: dict) -> None:
        self._difficulty = check_difficulty(state["difficulty"])
        self.episodes = int(state["episodes"])


class DriveDirector:
    """A director that reads a player's drives instead of its wins (docs/drives.md): after each episode, when
    the episode's mean level of ``drive`` (``details["drives"][drive]``, which :class:`DirectedEnv` passes for
    an env with ``drives=``) is above ``high`` the difficulty moves by ``+step`` (``sign=+1``: boredom high,
    raise the challenge), below ``low`` by ``-step``; in between it holds. ``sign=-1`` turns it round (fear or
    pain high: ease off). The difficulty stays in [0, 1]."""

    def __init__(self, drive: str = "boredom", *, high: float = 0.5, low: float = 0.2, step: float = 0.1,
                 start: float = 0.5, sign: int = 1):
        if not low <= high:
            raise ValueError(f"low ({low}) must be at most high ({high})")
        if sign not in (1, -1):
            raise ValueError(f"sign must be 1 or -1; got {sign!r}")
        self.drive, self.high, self.low, self.sign = str(drive), float(high), float(low), int(sign)
        self.step = check_difficulty(step, "step")
        self._difficulty = check_difficulty(start, "start")
        self.episodes = 0

    @property
    def difficulty(self) -> float:
        return self._difficulty

    def observe(self, won: bool, **details: Any) -> None:
        drives = details.get("drives")
        if not isinstance(drives, dict) or self.drive not in drives:
            shown = sorted(drives) if isinstance(drives, dict) else "none"
            raise ValueError(f"DriveDirector reads the drive {self.drive!r}; the episode reported drives {shown} "
                             "(make the env with drives= and wrap it in DirectedEnv)")
        level = float(drives[self.drive])
        move = self.step if level > self.high else -self.step if level < self.low else 0.0
        self._difficulty = min(1.0, max(0.0, round(self._difficulty + self.sign * move, 12)))
        self.episodes += 1

    def state_dict(self) -> dict:
        return {"kind": "drive", "drive": self.drive, "high": self.high, "low": self.low, "step": self.step,
                "sign": self.sign, "difficulty": self._difficulty, "episodes": self.episodes}

    def load_state_dict(self, state: dict) -> None:
        if state.get("kind") != "drive":
            raise ValueError(f"not a DriveDirector state (kind {state.get('kind')!r})")
        self.drive, self.high, self.low = str(state["drive"]), float(state["high"]), float(state["low"])
        self.step, self.sign = check_difficulty(state["step"], "step"), int(state["sign"])
        self._difficulty = check_difficulty(state["difficulty"])
        self.episodes = int(state["episodes"])


class Phase(IntEnum):
    """Pacing phases, after Left 4 Dead's AI Director."""

    BUILD_UP = 0  # pressure grows episode by episode
    PEAK = 1  # the player is under heavy pressure: hold it briefly
    RELAX = 2  # ease off until the player's intensity has faded


class RuleDirector:
    """A rule-based director: Bayesian skill estimate + flow controller (+ optional pacing).

    **Skill model.** The player wins an episode at difficulty ``d`` with probability
    ``sigmoid(slope * (skill - d))`` (:func:`win_probability`); the director keeps a Gaussian belief
    ``N(skill_mean, skill_var)`` over ``skill``, updated after each episode by
    :func:`logistic_update`. Before each update the variance grows by ``drift`` (a random-walk skill
    prior, as Glicko inflates its rating deviation), so the estimate keeps tracking a player who
    improves. If the rolling win rate of the last ``window`` episodes leaves ``target +- band`` although
    the belief is confident, the variance is raised back to at least ``surprise_var``: the model is
    wrong (e.g. a sudden skill jump) and should relearn fast.

    **Choice.** With a perfect model a win probability of exactly ``target`` still leaves the rolling
    win rate of a 20-episode window outside ``0.5 +- 0.1`` about 26% of the time (binomial noise). The
    director therefore aims the next episode at ``p* = target + g * (target - rolling win rate)``,
    ``g = gain * n / window`` with ``n`` the outcomes in the window so far
    (clipped to ``target +- max_offset`` and to [0.02, 0.98]), a proportional controller on the channel, and plays the
    difficulty whose predicted win probability is ``p*``: ``d = skill_mean - logit(p*) / slope``,
    clipped to [0, 1]. With ``gain=0`` it simply plays the predicted ``target`` difficulty.

    **Pacing** (``pacing=True``, for the stealth grid): an intensity in [0, 1] rises with each
    episode's near-misses (``observe(won, near_misses=k)``; ``+ near_miss_weight * k``, plus
    ``loss_intensity`` for a loss) and decays by ``intensity_decay`` per episode. The phase cycles
    BUILD_UP (difficulty offset grows by ``build_step`` per episode) -> PEAK once intensity reaches
    ``peak_intensity`` (offset ``+peak_offset`` for ``peak_episodes``) -> RELAX (offset
    ``-relax_offset`` until intensity falls below ``relax_intensity``, at least ``relax_episodes``)
    -> BUILD_UP. The offset is added to the flow difficulty (``flow_difficulty``, the choice without
    pacing) and the sum clipped to [0, 1].
    """

    def __init__(
        self,
        target: float = 0.5,
        band: float = 0.1,
        *,
        slope: float = 8.0,
        prior_mean: float = 0.5,
        prior_var: float = 0.1,
        drift: float = 5e-4,
        surprise_var: float = 0.02,
        window: int = 20,
        gain: float = 2.0,
        max_offset: float = 0.35,
        pacing: bool = False,
        near_miss_weight: float = 0.1,
        loss_intensity: float = 0.3,
        intensity_decay: float = 0.7,
        peak_intensity: float = 0.8,
        relax_intensity: float = 0.3,
        build_step: float = 0.03,
        peak_offset: float = 0.15,
        relax_offset: float = 0.15,
        peak_episodes: int = 2,
        relax_episodes: int = 2,
    ):
        self.target = _check_prob(target, "target")
        if not 0.0 < float(band) < min(self.target, 1.0 - self.target) + 1e-12:
            raise ValueError(f"band must be in (0, min(target, 1 - target)]; got {band!r}")
        self.band = float(band)
        if not slope > 0:
            raise ValueError(f"slope must be > 0; got {slope!r}")
        if not prior_var > 0 or drift < 0 or not surprise_var > 0:
            raise ValueError("prior_var and surprise_var must be > 0 and drift >= 0")
        if int(window) < 1:
            raise ValueError(f"window must be >= 1; got {window!r}")
        if gain < 0 or max_offset < 0:
            raise ValueError(f"gain and max_offset must be >= 0; got {gain!r}, {max_offset!r}")
        self.slope, self.drift, self.surprise_var = float(slope), float(drift), float(surprise_var)
        self.window, self.gain, self.max_offset = int(window), float(gain), float(max_offset)
        self.prior_mean, self.prior_var = float(prior_mean), float(prior_var)
        self.pacing = bool(pacing)
        self.near_miss_weight, self.loss_intensity = float(near_miss_weight), float(loss_intensity)
        self.intensity_decay = float(intensity_decay)
        self.peak_intensity, self.relax_intensity = float(peak_intensity), float(relax_intensity)
        self.build_step, self.peak_offset, self.relax_offset = float(build_step), float(peak_offset), float(
            relax_offset)
        self.peak_episodes, self.relax_episodes = int(peak_episodes), int(relax_episodes)
        self.reset()

    def reset(self) -> None:
        """Forget the player: back to the prior."""
        self.skill_mean, self.skill_var = self.prior_mean, self.prior_var
        self.recent: deque[float] = deque(maxlen=self.window)
        self.episodes = 0
        self.intensity, self.phase, self.phase_episodes, self.offset = 0.0, Phase.BUILD_UP, 0, 0.0
        self._difficulty = self._choose()

    # ---- protocol ---------------------------------------------------------------------------------
    @property
    def difficulty(self) -> float:
        return self._difficulty

    def predicted_win_probability(self, difficulty: float | None = None) -> float:
        """P(win) at ``difficulty`` (default: the next episode's) under the current skill estimate."""
        d = self._difficulty if difficulty is None else check_difficulty(difficulty)
        return win_probability(self.skill_mean, d, self.slope)

    @property
    def rolling_win_rate(self) -> float | None:
        """Win rate over the last ``window`` episodes (None before the first)."""
        return float(np.mean(self.recent)) if self.recent else None

    def observe(self, won: bool, **details: Any) -> None:
        """Record one episode: ``won``, plus optional ``near_misses`` (pacing) and any other details."""
        played = self._difficulty
        self.skill_var += self.drift
        self.skill_mean, self.skill_var = logistic_update(self.skill_mean, self.skill_var, bool(won), played,
                                                          self.slope)
        self.recent.append(1.0 if won else 0.0)
        self.episodes += 1
        rate = cast(float, self.rolling_win_rate)  # (an outcome was just recorded)
        if len(self.recent) == self.window and abs(rate - self.target) > self.band + 1e-9:
            self.skill_var = max(self.skill_var, self.surprise_var)
        if self.pacing:
            self._pace(bool(won), float(details.get("near_misses", 0) or 0))
        self._difficulty = self._choose()

    # ---- internals --------------------------------------------------------------------------------
    def _choose(self) -> float:
        aim = self.target
        if self.recent:  # the gain grows as the window fills, so two early outcomes do not swing it
            aim += self.gain * len(self.recent) / self.window * (self.target - cast(float, self.rolling_win_rate))
        aim = min(max(aim, self.target - self.max_offset, 0.02), self.target + self.max_offset, 0.98)
        self.flow_difficulty = float(min(max(self.skill_mean - logit(aim) / self.slope, 0.0), 1.0))
        return float(min(max(self.flow_difficulty + self.offset, 0.0), 1.0))

    def _pace(self, won: bool, near_misses: float) -> None:
        self.intensity *= self.intensity_decay
        self.intensity += self.near_miss_weight * near_misses + (0.0 if won else self.loss_intensity)
        self.intensity = min(self.intensity, 1.0)
        self.phase_episodes += 1
        if self.phase == Phase.BUILD_UP:
            if self.intensity >= self.peak_intensity:
                self.phase, self.phase_episodes, self.offset = Phase.PEAK, 0, self.peak_offset
            else:
                self.offset = min(self.offset + self.build_step, self.peak_offset)
        elif self.phase == Phase.PEAK:
            if self.phase_episodes >= self.peak_episodes:
                self.phase, self.phase_episodes, self.offset = Phase.RELAX, 0, -self.relax_offset
        elif self.phase_episodes >= self.relax_episodes and self.intensity < self.relax_intensity:
            self.phase, self.phase_episodes, self.offset = Phase.BUILD_UP, 0, 0.0

    # ---- persistence ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "kind": "rule",
            "skill_mean": self.skill_mean,
            "skill_var": self.skill_var,
            "recent": list(self.recent),
            "episodes": self.episodes,
            "intensity": self.intensity,
            "phase": int(self.phase),
            "phase_episodes": self.phase_episodes,
            "offset": self.offset,
            "difficulty": self._difficulty,
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("kind") != "rule":
            raise ValueError(f"not a RuleDirector state (kind={state.get('kind')!r})")
        self.skill_mean, self.skill_var = float(state["skill_mean"]), float(state["skill_var"])
        self.recent = deque((float(x) for x in state["recent"]), maxlen=self.window)
        self.episodes = int(state["episodes"])
        self.intensity, self.phase = float(state["intensity"]), Phase(int(state["phase"]))
        self.phase_episodes, self.offset = int(state["phase_episodes"]), float(state["offset"])
        self._difficulty = check_difficulty(state["difficulty"])
