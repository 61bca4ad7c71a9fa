"""The scripted fighter: perceive -> decide an intent -> act, with difficulty knobs and play styles.

The fighter reads only the duel's observation vector (its own view, see :class:`envs.duel.env.DuelEnv`),
so it can play either side of the single-agent env or of the PettingZoo env. What it sees of the
opponent is ``reaction_ticks`` old; its own state and the distance are current.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np

from envs.duel import env as E
from envs.duel.rules import FRAME_DATA, N_BUTTON, STAGE_WIDTH, Button, FState, Move, Stick

STYLES = ("balanced", "rushdown", "zoner", "turtle")
_PREFERRED_GAP = {"rushdown": 15, "zoner": 220, "turtle": 60}  # style -> gap it walks to (else 35)
PRESETS = {"easy": 0.15, "normal": 0.5, "hard": 0.9}  # preset name -> difficulty


class Intent(IntEnum):
    """What the fighter decided to do this step."""

    WAIT = 0
    APPROACH = 1
    KEEP_DISTANCE = 2
    ATTACK = 3
    PUNISH = 4
    GUARD = 5
    ANTI_AIR = 6
    THROW = 7
    ZONE = 8  # throw a projectile
    ESCAPE = 9  # throw escape, or guard-jump over a projectile
    MISTAKE = 10  # the error-rate roll: a random input
    IDLE = 11  # the idle roll (difficulty below easy): stand still


IDLE_BELOW = 0.15  # difficulties under this add idling (the easy preset sits exactly here)


@dataclass(frozen=True)
class CharacterParams:
    """The difficulty knobs of a scripted fighter (one line each)."""

    reaction_ticks: int = 12  # how old (in ticks) the fighter's view of the opponent is
    error_rate: float = 0.15  # chance per decision of a random input instead of the chosen one
    aggression: float = 0.5  # chance per decision in neutral of attacking/approaching over waiting
    guard_prob: float = 0.5  # chance of guarding (the right way) an attack it sees coming
    anti_air_prob: float = 0.5  # chance of meeting a jump-in with the anti-air
    punish_prob: float = 0.5  # chance of punishing a move it sees recovering
    tech_prob: float = 0.3  # chance per step of pressing THROW while grabbed
    idle_prob: float = 0.0  # chance per decision of standing still (only below the easy preset)
    style: str = "balanced"  # balanced | rushdown | zoner | turtle

    @classmethod
    def from_difficulty(cls, difficulty: float, style: str = "balanced") -> CharacterParams:
        """Knobs for a continuous difficulty in [0, 1] (0 weakest), then the style's adjustments."""
        d = min(max(float(difficulty), 0.0), 1.0)
        p = cls(
            reaction_ticks=int(round(28 - 24 * d)),
            error_rate=0.45 * (1.0 - d) ** 1.5 + 0.01,
            aggression=0.35 + 0.3 * d,
            guard_prob=0.05 + 0.9 * d,
            anti_air_prob=0.05 + 0.9 * d,
            punish_prob=0.05 + 0.9 * d,
            tech_prob=0.05 + 0.6 * d,
            # Below easy (0.15) the fighter also stands idle more and more, so that at 0 it is weaker
            # than a random player and a director can find an even match for anyone.
            idle_prob=0.95 * max(0.0, (IDLE_BELOW - d) / IDLE_BELOW),
            style=style,
        )
        if style == "rushdown":
            p = replace(p, aggression=min(1.0, p.aggression + 0.3), guard_prob=p.guard_prob * 0.8)
        elif style == "zoner":
            p = replace(p, aggression=max(0.1, p.aggression - 0.15))
        elif style == "turtle":
            p = replace(p, aggression=max(0.05, p.aggression - 0.3), guard_prob=min(1.0, p.guard_prob + 0.1),
                        punish_prob=min(1.0, p.punish_prob + 0.1))
        elif style != "balanced":
            raise ValueError(f"unknown style {style!r}; valid: {', '.join(STYLES)}")
        return p


_W = float(STAGE_WIDTH)
_REACH = [0] + [FRAME_DATA[Move(m)].reach for m in range(1, len(Move))]
_LEVEL = [None] + [int(FRAME_DATA[Move(m)].level) for m in range(1, len(Move))]
_MY_STATE, _MY_MOVE = E.SELF + E.F_STATE, E.SELF + E.F_MOVE
_OPP_STATE, _OPP_MOVE, _OPP_PHASE = E.OPP + E.F_STATE, E.OPP + E.F_MOVE, E.OPP + E.F_PHASE
_OPP_Y, _MY_PROJ = E.OPP + E.F_Y, E.SELF + E.F_PROJ
_OPP_GUARD_STAND, _OPP_GUARD_CROUCH = E.OPP + E.F_GUARD_STAND, E.OPP + E.F_GUARD_CROUCH
_GAP, _DX, _ADVANTAGE, _BACK_WALL = E.OBS_GAP, E.OBS_DX, E.OBS_ADVANTAGE, E.OBS_BACK_WALL
_OPP_PROJ, _OPP_PROJ_DX, _OPP_PROJ_VX = E.OBS_OPP_PROJ, E.OBS_OPP_PROJ_DX, E.OBS_OPP_PROJ_VX


def _argmax(obs: list[float], start: int, n: int) -> int:
    """Index of the hot entry of a one-hot block (0 if none)."""
    block = obs[start:start + n]
    return block.index(1.0) if 1.0 in block else 0


class ScriptedFighter:
    """A rule-based fighter speaking the agent protocol.

    ``rng`` must be the env's ``np_random`` for seeded rollouts (the env rebinds it on reset).
    ``frame_skip`` converts ``reaction_ticks`` into decisions. ``flat`` returns ``Discrete(36)`` actions.
    """

    def __init__(self, params: CharacterParams, rng: np.random.Generator | None = None,
                 frame_skip: int = 4, flat: bool = False):
        self.base_params = params
        self.params = params
        self.rng = rng if rng is not None else np.random.default_rng()
        self.frame_skip = max(1, int(frame_skip))
        self.flat = flat
        self.last_intent = Intent.WAIT
        self._seen: deque = deque()
        self._draw: random.Random | None = None  # seeded from ``rng`` at reset (scalar draws are fast)

    # ---- protocol -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget what was seen; reseed the per-decision draws from ``rng`` (the env's generator)."""
        self._seen.clear()
        self.last_intent = Intent.WAIT
        self._draw = random.Random(int(self.rng.integers(2**63)))

    def set_difficulty(self, difficulty: float | None) -> None:
        """Knobs from a difficulty in [0, 1] keeping the style; None restores the preset."""
        if difficulty is None:
            self.params = self.base_params
        else:
            self.params = CharacterParams.from_difficulty(difficulty, self.base_params.style)

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        if episode_start is not None and np.any(episode_start):
            self.reset()
        if type(observation) is np.ndarray and observation.dtype == np.float32:
            cur = observation.tolist()
        else:
            cur = np.asarray(observation, dtype=np.float32).tolist()
        stick, button = self.decide(cur)
        if self.flat:
            return stick * N_BUTTON + button, state
        return np.array([stick, button], dtype=np.int64), state

    # ---- perceive -> decide -> act --------------------------------------------------------------
    def _act(self, intent: Intent, stick: int, button: int = Button.NONE) -> tuple[int, int]:
        """Record the intent and return its controller input."""
        self.last_intent = intent
        return int(stick), int(button)

    def decide(self, cur: list[float]) -> tuple[int, int]:
        """Controller input ``(stick, button)`` for the current observation (a list of floats)."""
        p = self.params
        if self._draw is None:
            self.reset()
        draw = self._draw
        self._seen.append(cur)
        delay = (p.reaction_ticks + self.frame_skip // 2) // self.frame_skip  # ticks -> decisions
        while len(self._seen) > delay + 1:
            self._seen.popleft()
        seen = self._seen[0]  # the opponent as perceived, ``delay`` decisions ago
        r = draw.random
        # perceive
        my_state = _argmax(cur, _MY_STATE, 9)
        my_move = _argmax(cur, _MY_MOVE, 9)
        free = my_state in (0, 1, 2, 3) and my_move == 0
        gap = cur[_GAP] * _W
        opp_state = _argmax(seen, _OPP_STATE, 9)
        opp_move = _argmax(seen, _OPP_MOVE, 9)
        opp_phase = _argmax(seen, _OPP_PHASE, 3) + 1 if opp_move else 0
        opp_air = seen[_OPP_Y] > 0.05
        opp_ahead = seen[_DX] > 0
        proj_incoming = seen[_OPP_PROJ] > 0.5 and seen[_OPP_PROJ_DX] * seen[_OPP_PROJ_VX] < 0
        proj_dist = abs(seen[_OPP_PROJ_DX]) * _W
        my_proj = cur[_MY_PROJ] > 0.5
        advantage = cur[_ADVANTAGE] * 30.0
        back_room = cur[_BACK_WALL] * _W
        style = p.style

        act = self._act

        if p.idle_prob > 0.0 and r() < p.idle_prob:  # drawn only when idling is on: presets keep their stream
            return act(Intent.IDLE, Stick.NEUTRAL)

        if my_state == FState.GRABBED:
            if r() < p.tech_prob:
                return act(Intent.ESCAPE, Stick.NEUTRAL, Button.SPECIAL)
            return act(Intent.WAIT, Stick.NEUTRAL)
        if r() < p.error_rate:
            a = draw.randrange(36)
            return act(Intent.MISTAKE, a // N_BUTTON, a % N_BUTTON)
        threat = opp_move != 0 and opp_phase in (1, 2) and opp_move not in (Move.THROW, Move.PROJECTILE)
        threat_level = _LEVEL[opp_move] if threat else None
        in_threat_range = threat and gap < _REACH[opp_move] + 30
        guard_stick = Stick.DOWN_BACK if threat_level == 2 else Stick.BACK

        if my_state == FState.AIR:
            if gap < 45 and my_move == 0 and r() < 0.6:
                return act(Intent.ATTACK, Stick.NEUTRAL, Button.HEAVY)
            return act(Intent.WAIT, Stick.NEUTRAL)
        if my_state == FState.BLOCKSTUN:
            return act(Intent.GUARD, guard_stick if threat else Stick.BACK)
        if not free:
            return act(Intent.WAIT, Stick.BACK if r() < p.guard_prob else Stick.NEUTRAL)

        # decide: reactions first (anti-air, guard, punish), then the neutral game of the style
        if opp_air and opp_ahead and gap < 140:
            if r() < p.anti_air_prob:
                if gap < 45:
                    return act(Intent.ANTI_AIR, Stick.DOWN, Button.HEAVY)
                return act(Intent.GUARD, Stick.BACK)
        if in_threat_range and r() < p.guard_prob:
            return act(Intent.GUARD, guard_stick)
        if opp_move == Move.THROW and opp_phase == 1 and gap < 40 and r() < p.punish_prob:
            return act(Intent.PUNISH, Stick.NEUTRAL, Button.LIGHT)  # an attack beats a throw's startup
        if proj_incoming and proj_dist < 160:
            jump_p = 0.5 if style == "rushdown" else 0.4 * p.aggression
            if 70 < proj_dist < 130 and r() < jump_p:  # jump over it, towards the thrower
                return act(Intent.ESCAPE, Stick.UP_FORWARD)
            if not my_proj and proj_dist > 100 and r() < (1.0 if style == "zoner" else 0.5):
                return act(Intent.ZONE, Stick.DOWN, Button.SPECIAL)  # cancel it with our own
            if r() < p.guard_prob:
                return act(Intent.GUARD, Stick.BACK)
        if opp_move == Move.PROJECTILE and opp_phase == 3 and 60 < gap < 150 and r() < p.punish_prob * 0.7:
            return act(Intent.PUNISH, Stick.UP_FORWARD)  # jump in on a projectile's long recovery
        if (opp_phase == 3 or opp_state == FState.HITSTUN) and advantage > 4 and r() < p.punish_prob:
            if gap < 40 and advantage > 4:
                return act(Intent.PUNISH, Stick.NEUTRAL, Button.LIGHT)
            if gap < 65 and advantage > 10:
                return act(Intent.PUNISH, Stick.NEUTRAL, Button.HEAVY)
            if gap < 30 and advantage > 5:
                return act(Intent.THROW, Stick.FORWARD, Button.SPECIAL)
        opp_blocking = seen[_OPP_GUARD_STAND] + seen[_OPP_GUARD_CROUCH] > 0.5 or opp_state == FState.BLOCKSTUN
        return self._neutral(r, gap, opp_blocking, my_proj, back_room)

    def _neutral(self, r, gap, opp_blocking, my_proj, back_room) -> tuple[int, int]:
        p = self.params
        style = p.style

        act = self._act

        want = _PREFERRED_GAP.get(style, 35)
        if gap < 32:  # throw and jab range
            if r() < p.aggression:
                x = r()
                if opp_blocking and x < 0.45:
                    return act(Intent.THROW, Stick.FORWARD, Button.SPECIAL)
                if x < 0.5:
                    return act(Intent.ATTACK, Stick.NEUTRAL, Button.LIGHT)
                if x < 0.7:
                    return act(Intent.ATTACK, Stick.DOWN, Button.LIGHT)
                if x < 0.8 and style == "rushdown":
                    return act(Intent.ATTACK, Stick.FORWARD, Button.HEAVY)
                if x < 0.9:
                    return act(Intent.THROW, Stick.FORWARD, Button.SPECIAL)
                return act(Intent.ATTACK, Stick.NEUTRAL, Button.HEAVY)
            if style in ("zoner", "turtle") and back_room > 40:
                return act(Intent.KEEP_DISTANCE, Stick.BACK)
            return act(Intent.GUARD, Stick.DOWN_BACK if r() < 0.5 else Stick.BACK)
        if gap < 60:  # heavy and low range
            if r() < p.aggression:
                x = r()
                if x < 0.45:
                    return act(Intent.ATTACK, Stick.NEUTRAL, Button.HEAVY)
                if x < 0.65 and gap < 50:
                    return act(Intent.ATTACK, Stick.DOWN, Button.LIGHT)
                return act(Intent.APPROACH, Stick.FORWARD)
            if style == "zoner" and back_room > 40:
                return act(Intent.KEEP_DISTANCE, Stick.BACK)
            return act(Intent.GUARD, Stick.BACK if r() < 0.5 else Stick.DOWN_BACK)
        # mid and far range
        if style == "zoner" or (gap > 180 and r() < 0.25):
            if not my_proj and r() < 0.6:
                return act(Intent.ZONE, Stick.DOWN, Button.SPECIAL)
            if gap < want and back_room > 40:
                return act(Intent.KEEP_DISTANCE, Stick.BACK)
        if style == "turtle" and gap < 200:
            if r() < p.aggression:
                return act(Intent.APPROACH, Stick.FORWARD)
            return act(Intent.GUARD, Stick.DOWN_BACK if r() < 0.5 else Stick.BACK)
        if style == "rushdown" and 90 < gap < 140 and r() < 0.15:
            return act(Intent.APPROACH, Stick.UP_FORWARD)
        if gap > want and r() < 0.4 + 0.6 * p.aggression:
            return act(Intent.APPROACH, Stick.FORWARD)
        return act(Intent.WAIT, Stick.NEUTRAL)


def make_scripted(
    arg: str | None, *, action_space=None, rng=None, frame_skip: int = 4, **_
) -> ScriptedFighter:
    """Factory for the ``scripted:NAME`` spec: NAME is a preset (easy, normal, hard), a style
    (rushdown, zoner, turtle at normal difficulty), ``STYLE-PRESET`` (e.g. ``zoner-hard``) or a
    difficulty number in [0, 1]."""
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
    flat = action_space is not None and not hasattr(action_space, "nvec")
    return ScriptedFighter(CharacterParams.from_difficulty(difficulty, style), rng=rng,
                           frame_skip=frame_skip, flat=flat)


__all__ = ["CharacterParams", "Intent", "PRESETS", "STYLES", "ScriptedFighter", "make_scripted"]
