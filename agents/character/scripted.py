"""The scripted fighter as a single-env agent: a batch of one of :class:`agents.character.fighter.BatchedScripted`.

The decisions (perceive -> decide an intent -> act) exist once, as the kernel of
:mod:`agents.character.fighter`; :class:`ScriptedFighter` wraps one row of it in the agent protocol. The
knobs, presets, styles and intents are data (:mod:`agents.character.params`, re-exported here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agents.character.fighter import BatchedScripted
from agents.character.params import IDLE_BELOW, PRESETS, STYLES, CharacterParams, Intent
from envs.duel.config import DuelConfig
from envs.duel.env import OBS_SIZE
from envs.duel.rules import N_BUTTON
from envs.duel.vector import TWO_PLAYER
from envs.protocols import BatchedAgent, RecurrentState

if TYPE_CHECKING:
    from gymnasium import spaces


_INTENTS = tuple(Intent)  # intent code -> Intent
_FLOAT32 = np.dtype(np.float32)


class ScriptedFighter:
    """A rule-based fighter speaking the agent protocol: one round of the batched kernel.

    ``rng`` must be the env's ``np_random`` for seeded rollouts (the env rebinds it on reset); ``reset()``
    draws the round's stream key from it, ``int(rng.integers(2**63))``, as the batched duel draws each
    round's seed from that round's generator: given generators in the same state, the two play alike.
    ``frame_skip`` converts ``reaction_ticks`` into decisions. ``flat`` returns ``Discrete(36)`` actions.
    ``params`` (settable) are the knobs in use, ``base_params`` the preset.
    """

    def __init__(self, params: CharacterParams, rng: np.random.Generator | None = None,
                 frame_skip: int = DuelConfig.frame_skip, flat: bool = False):
        self.rng = rng if rng is not None else np.random.default_rng()
        self.flat = flat
        self._one = BatchedScripted(params, frame_skip=frame_skip)
        self._one.bind(1)
        # preallocated arguments of the batch of one
        self._row = np.zeros(1, dtype=np.int64)
        self._seed = np.zeros(1, dtype=np.int64)
        self._active = np.ones(1, dtype=bool)
        self._out = np.zeros((1, 2), dtype=np.int64)
        self._keyed = False  # reset() has drawn a key

    @property
    def base_params(self) -> CharacterParams:
        return self._one.base_params

    @property
    def params(self) -> CharacterParams:
        return self._one.params[0]

    @params.setter
    def params(self, p: CharacterParams) -> None:
        self._one.set_params(0, p)

    @property
    def frame_skip(self) -> int:
        """Ticks per decision, which turns ``reaction_ticks`` into decisions (settable)."""
        return self._one.frame_skip

    @frame_skip.setter
    def frame_skip(self, frame_skip: int) -> None:
        self._one.frame_skip = max(1, int(frame_skip))
        self._one.set_params(0, self.params)  # the delay in decisions follows

    @property
    def last_intent(self) -> Intent:
        """What the fighter decided at its last ``predict`` (``Intent.WAIT`` after a reset)."""
        return _INTENTS[self._one.last_intent[0]]

    # ---- protocol -------------------------------------------------------------------------------
    def reset(self) -> None:
        """A new round: forget what was seen; key the random stream with a draw from ``rng``."""
        self._seed[0] = int(self.rng.integers(2**63))
        self._one.restart(self._row, self._seed)
        self._keyed = True

    def set_difficulty(self, difficulty: float | None) -> None:
        """Knobs from a difficulty in [0, 1] keeping the style; None restores the preset."""
        if difficulty is None:
            self.params = self.base_params
        else:
            self.params = CharacterParams.from_difficulty(difficulty, self.base_params.style)

    def predict(self, observation: np.ndarray, state: RecurrentState = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray | int, RecurrentState]:
        """``(action, state)``: ``[stick, button]`` (int64) or, with ``flat``, ``stick * 4 + button``;
        ``state`` is passed through. A true ``episode_start`` resets first."""
        if (episode_start is not None and np.any(episode_start)) or not self._keyed:
            self.reset()
        obs: np.ndarray
        if type(observation) is np.ndarray and observation.dtype is _FLOAT32 and observation.ndim == 1:
            obs = observation.reshape(1, OBS_SIZE)  # the env's own observation: a view, no copy
            vectorized = False
        else:
            obs = np.asarray(observation, dtype=np.float32)
            vectorized = obs.ndim == 2  # SB3's vectorized form: one env's observation as a batch of one
            if obs.shape != (OBS_SIZE,) and obs.shape != (1, OBS_SIZE):
                raise ValueError(f"ScriptedFighter.predict takes one duel observation, shape ({OBS_SIZE},) or "
                                 f"(1, {OBS_SIZE}); got {obs.shape} (for N rounds: BatchedScripted)")
            obs = obs.reshape(1, OBS_SIZE)
        out = self._out
        self._one.act(obs, self._active, out)
        if vectorized:
            return (out[:, 0] * N_BUTTON + out[:, 1] if self.flat else out.copy()), state
        if self.flat:
            return int(out[0, 0]) * N_BUTTON + int(out[0, 1]), state
        return out[0].copy(), state


def scripted_params(arg: str | None) -> CharacterParams:
    """The knobs of the ``scripted:NAME`` spec: NAME is a preset (easy, normal, hard), a style (rushdown,
    zoner, turtle at normal difficulty), ``STYLE-PRESET`` (e.g. ``zoner-hard``) or a difficulty number in
    [0, 1]. Anything else raises a one-line ValueError listing the valid forms."""
    name = (arg or "normal").strip().lower()
    style, _, level = name.partition("-")
    if not level and (style in PRESETS or style[:1].isdigit()):
        style, level = "balanced", name
    level = level or "normal"
    if style not in STYLES:
        raise ValueError(f"unknown scripted fighter {name!r}; valid: easy, normal, hard, rushdown, zoner, "
                         "turtle, STYLE-PRESET (e.g. zoner-hard) or a difficulty in [0, 1]")
    if level in PRESETS:
        difficulty = PRESETS[level]
    else:
        try:
            difficulty = float(level)
        except ValueError:
            difficulty = -1.0
        if not 0.0 <= difficulty <= 1.0:
            raise ValueError(
                f"unknown scripted level {level!r}; valid: easy, normal, hard or a number in [0, 1]")
    return CharacterParams.from_difficulty(difficulty, style)


def make_scripted(
    arg: str | None, *, action_space: spaces.Space | None = None, rng: np.random.Generator | None = None,
    frame_skip: int = DuelConfig.frame_skip, **_: Any
) -> ScriptedFighter:
    """Factory for the ``scripted:NAME`` spec (the forms of :func:`scripted_params`); a ``Discrete``
    ``action_space`` makes it return flat actions."""
    flat = action_space is not None and not hasattr(action_space, "nvec")
    return ScriptedFighter(scripted_params(arg), rng=rng, frame_skip=frame_skip, flat=flat)

def make_batched_opponent(spec: str | BatchedAgent | None,
                          frame_skip: int = DuelConfig.frame_skip) -> BatchedAgent | None:
    """A batched opponent from a spec: ``scripted:NAME`` (every form ``make_scripted`` takes),
    ``random``, or an object already speaking the batched interface. ``None``/``"external"`` (the
    two-player form) return None. Anything else raises a one-line ValueError."""
    if spec is None or (isinstance(spec, str) and spec in TWO_PLAYER):
        return None
    if not isinstance(spec, str):
        if all(hasattr(spec, a) for a in ("bind", "reset_envs", "act")):
            return spec
        raise ValueError(f"the batched duel needs a batched opponent (bind, reset_envs, act) or a spec; "
                         f"got {type(spec).__name__}; valid specs: {_VALID}")
    prefix, _, arg = spec.partition(":")
    if prefix == "scripted":
        return BatchedScripted(scripted_params(arg or None), spec=spec, frame_skip=frame_skip)
    if prefix == "random" and not arg:
        from agents.protocol import UniformAgent
        from envs.duel.env import duel_spaces

        return UniformAgent(duel_spaces()[0], spec="random")
    raise ValueError(f"unknown batched duel opponent {spec!r}; valid: {_VALID}")


_VALID = (f"scripted:{'|'.join(PRESETS)}|{'|'.join(STYLES[1:])}|STYLE-PRESET|0..1, random, "
          "external (two-player), or a batched opponent object")


__all__ = ["IDLE_BELOW", "PRESETS", "STYLES", "CharacterParams", "Intent", "ScriptedFighter", "make_batched_opponent",
           "make_scripted", "scripted_params"]
