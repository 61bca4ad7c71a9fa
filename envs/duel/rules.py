"""The duel's rules as Python values: a state you can read, build and step, over the one implementation.

The rules themselves live once, in :mod:`envs.duel.kernels` (read its docstring for the game: the
controller table, the order of a tick, throws, guards and projectiles). This module gives them a
readable face for drawing, tests and scripts:

- :class:`DuelState`, :class:`Fighter`, :class:`Projectile`: one round as plain values (what the renderer
  draws; ``DuelVectorEnv.round_state(i)`` returns one);
- :func:`initial_state`, :func:`step` (a new state and the tick's events) and :func:`advance` (in place):
  one tick, computed by the kernels;
- :func:`attack_box`, :func:`hurtbox`, ``Fighter.height`` and ``Fighter.phase()``: geometry, also from
  the kernels;
- the names of the layout (:class:`Stick`, :class:`Button`, :class:`Move`, :class:`Level`,
  :class:`FState`...) and the shipped character's numbers under their old names (``FRAME_DATA``,
  ``MAX_HEALTH``, ``HALF_WIDTH``...), read from ``characters/default.toml``.

A state's fighters play the shipped character unless ``DuelState.characters`` names others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from envs.duel import kernels as K
from envs.duel import layout as L
from envs.duel.character import Character, FrameData, character_table, default_character
from envs.duel.layout import (  # noqa: F401  (the layout's names, re-exported under their old home)
    DEFAULT_ROUND_TICKS,
    N_BUTTON,
    N_MOVES,
    N_STATES,
    N_STICK,
    NEUTRAL_STATES,
    STAGE_WIDTH,
    START_GAP,
    TICKS_PER_SECOND,
    Button,
    FState,
    Level,
    Move,
    Stick,
)

# ---- the shipped character's numbers, under the names the rules had before they became data ----------
_DEFAULT = default_character()
FRAME_DATA: dict[Move, FrameData] = _DEFAULT.frame_data
MOVE_NAMES = {m: (FRAME_DATA[m].name if m in FRAME_DATA else "none") for m in Move}
MAX_HEALTH = _DEFAULT.max_health
HALF_WIDTH = _DEFAULT.half_width
STAND_HEIGHT, CROUCH_HEIGHT = _DEFAULT.stand_height, _DEFAULT.crouch_height
WALK_FORWARD_SPEED, WALK_BACK_SPEED = _DEFAULT.walk_forward_speed, _DEFAULT.walk_back_speed
JUMP_SPEED, JUMP_DRIFT, GRAVITY = _DEFAULT.jump_speed, _DEFAULT.jump_drift, _DEFAULT.gravity
MAX_JUMP_HEIGHT = _DEFAULT.max_jump_height
PROJECTILE_SPEED, PROJECTILE_HALF_WIDTH = _DEFAULT.projectile_speed, _DEFAULT.projectile_half_width
THROW_TECH_WINDOW, TECH_PUSHBACK = _DEFAULT.tech_window, _DEFAULT.tech_pushback
MAX_MOVE_TICKS = max(fd.total for fd in FRAME_DATA.values())
MAX_STUN = _DEFAULT.max_stun


# ---- one round as values -----------------------------------------------------------------------------
@dataclass(slots=True)
class Fighter:
    """One fighter's fields (the columns of the kernels' ``F`` array, :data:`envs.duel.layout.FIGHTER_FIELDS`)."""

    x: int
    y: int = 0
    vx: int = 0
    vy: int = 0
    facing: int = 1  # +1 faces right (towards larger x), -1 left
    health: int = MAX_HEALTH
    state: int = int(FState.STAND)
    move: int = int(Move.NONE)
    frame: int = 0  # ticks spent in the current move (1 on its first tick)
    stun: int = 0  # remaining hitstun / blockstun / grab ticks
    guard: int = 0  # 0 none, 1 standing guard (high+mid), 2 crouching guard (low+mid)
    connected: bool = False  # the current move has already hit or been guarded
    air_attacked: bool = False  # used the one air attack of this jump

    def copy(self) -> Fighter:
        return Fighter(*(getattr(self, name) for name in L.FIGHTER_FIELDS))

    @property
    def height(self) -> int:
        """The body's height (crouching or standing), for the shipped character."""
        return int(_geometry(self)[0, 10])

    @property
    def crouching(self) -> bool:
        return self.height == _DEFAULT.crouch_height and _DEFAULT.crouch_height != _DEFAULT.stand_height

    def phase(self) -> int:
        """0 no move, 1 startup, 2 active, 3 recovery (for the shipped character)."""
        return int(_geometry(self)[0, 9])


@dataclass(slots=True)
class Projectile:
    x: int
    vx: int


@dataclass(slots=True)
class DuelState:
    fighters: list[Fighter]
    projectiles: list[Projectile | None] = field(default_factory=lambda: [None, None])
    tick: int = 0
    round_ticks: int = DEFAULT_ROUND_TICKS
    over: bool = False
    winner: int | None = None  # 0 or 1 once over; None for a draw or while running
    characters: tuple[Character, Character] | None = None  # None: both play the shipped character

    def copy(self) -> DuelState:
        p0, p1 = self.projectiles
        projectiles = [None if p is None else Projectile(p.x, p.vx) for p in (p0, p1)]
        return DuelState([self.fighters[0].copy(), self.fighters[1].copy()], projectiles, self.tick,
                         self.round_ticks, self.over, self.winner, self.characters)


# ---- to and from the kernels' arrays -------------------------------------------------------------------------
def table(characters: tuple[Character, Character] | None) -> np.ndarray:
    """The character table of one round whose fighters play ``characters`` (None: the shipped one): rows
    0 and 1, fighter 0's and fighter 1's."""
    return _table(characters or (_DEFAULT, _DEFAULT))


@lru_cache(maxsize=64)
def _table(pair: tuple[Character, Character]) -> np.ndarray:
    return character_table(list(pair))


def to_arrays(s: DuelState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(F, P, G)``: one round (a batch of one) holding ``s``, its fighters on rows 0 and 1 of :func:`table`."""
    F = np.zeros((1, 2, L.NF), dtype=np.int32)
    F[0, :, L.CHARACTER] = (0, 1)
    P = np.zeros((1, 2, L.NP), dtype=np.int32)
    G = np.zeros((1, L.NG), dtype=np.int32)
    write_arrays(s, F[0], P[0], G[0])
    return F, P, G


def write_arrays(s: DuelState, F_i: np.ndarray, P_i: np.ndarray, G_i: np.ndarray) -> None:
    """Write ``s`` into one round's arrays (every field but the fighters' rows of the character table)."""
    for k, f in enumerate(s.fighters):
        F_i[k, : len(L.FIGHTER_FIELDS)] = [int(getattr(f, name)) for name in L.FIGHTER_FIELDS]
        p = s.projectiles[k]
        P_i[k] = (0, 0, 0) if p is None else (1, p.x, p.vx)
    G_i[:] = (s.tick, int(s.over), -1 if s.winner is None else s.winner)


def read_arrays(s: DuelState, F_i: np.ndarray, P_i: np.ndarray, G_i: np.ndarray) -> DuelState:
    """Update ``s`` in place from one round's arrays (the same Fighter objects); returns ``s``."""
    for k, f in enumerate(s.fighters):
        for j, name in enumerate(L.FIGHTER_FIELDS):
            v = int(F_i[k, j])  # (the character column is the round's, not the fighter value's)
            setattr(f, name, bool(v) if j in (L.CONNECTED, L.AIR_ATTACKED) else v)
        p = s.projectiles[k]
        if not P_i[k, L.P_ON]:
            s.projectiles[k] = None
        elif p is None:
            s.projectiles[k] = Projectile(int(P_i[k, L.P_X]), int(P_i[k, L.P_VX]))
        else:
            p.x, p.vx = int(P_i[k, L.P_X]), int(P_i[k, L.P_VX])
    s.tick = int(G_i[L.G_TICK])
    s.over = bool(G_i[L.G_OVER])
    s.winner = (None if G_i[L.G_WINNER] < 0 else int(G_i[L.G_WINNER])) if s.over else None
    return s


def from_arrays(F_i: np.ndarray, P_i: np.ndarray, G_i: np.ndarray, round_ticks: int,
                characters: tuple[Character, Character] | None = None) -> DuelState:
    """A new :class:`DuelState` of one round's arrays."""
    s = DuelState([Fighter(0), Fighter(0)], round_ticks=round_ticks, characters=characters)
    return read_arrays(s, F_i, P_i, G_i)


def events_of(EV_i: np.ndarray) -> list[dict]:
    """One round's events (``EV_i[1:]``, ``EV_i[0, 0]`` of them) as dicts ``{"type", "by", "move", "damage"}``
    (``by``: 0, 1 or -1)."""
    out = []
    for kind, by, move, damage in EV_i[1: 1 + min(int(EV_i[0, 0]), len(EV_i) - 1)].tolist():
        out.append({"type": L.EVENT_KINDS[kind], "by": by, "move": MOVE_NAMES[Move(move)], "damage": damage})
    return out


# ---- the rules, through the kernels ----------------------------------------------------------------------------
def initial_state(round_ticks: int = DEFAULT_ROUND_TICKS,
                  characters: tuple[Character, Character] | None = None) -> DuelState:
    """Fighter 0 on the left facing right, fighter 1 on the right facing left, START_GAP apart."""
    F, P, G = to_arrays(DuelState([Fighter(0), Fighter(0)]))
    K.reset_round(F, P, G, table(characters), 0)
    return from_arrays(F[0], P[0], G[0], int(round_ticks), characters)


def advance(s: DuelState, inputs: Sequence[tuple[int, int]], events: list[dict]) -> None:
    """Advance ``s`` by one tick in place; ``inputs[i] = (stick, button)`` of fighter ``i``; the tick's
    events (dicts, see :func:`events_of`) are appended to ``events``."""
    F, P, G = to_arrays(s)
    EV = np.zeros((1, 1 + L.EVENTS_PER_TICK, 4), dtype=np.int32)
    (s0, b0), (s1, b1) = inputs
    K.tick(F, P, G, table(s.characters), 0, s.round_ticks, int(s0), int(b0), int(s1), int(b1), EV)
    read_arrays(s, F[0], P[0], G[0])
    events += events_of(EV[0])


def step(state: DuelState, inputs: Sequence[tuple[int, int]]) -> tuple[DuelState, list[dict]]:
    """One tick: the next state (a new value; ``state`` is unchanged) and the tick's events (none once over)."""
    s = state.copy()
    events: list[dict] = []
    if not s.over:
        advance(s, inputs, events)
    return s, events


def mirror(state: DuelState) -> DuelState:
    """The state reflected about the middle of the stage (same players, same health)."""
    s = state.copy()
    for f in s.fighters:
        f.x, f.vx, f.facing = STAGE_WIDTH - f.x, -f.vx, -f.facing
    for p in s.projectiles:
        if p is not None:
            p.x, p.vx = STAGE_WIDTH - p.x, -p.vx
    return s


def swap(state: DuelState) -> DuelState:
    """The state with players 0 and 1 exchanged."""
    s = state.copy()
    s.fighters.reverse()
    s.projectiles.reverse()
    if s.characters is not None:
        s.characters = (s.characters[1], s.characters[0])
    if s.winner is not None:
        s.winner = 1 - s.winner
    return s


def _geometry(f: Fighter, characters: Any = None) -> np.ndarray:
    """``kernels.boxes`` of a round holding ``f`` as fighter 0 (the other fighter far away)."""
    F, P, _ = to_arrays(DuelState([f, Fighter(0)]))
    out = np.zeros((2, 11), dtype=np.int64)
    K.boxes(F, P, table(characters), 0, out)
    return out


def attack_box(f: Fighter) -> tuple[int, int, int, int] | None:
    """The box ``(x0, x1, y0, y1)`` of a melee move during its active ticks, connected or not (for
    drawing), else None (the shipped character's frame data)."""
    g = _geometry(f)[0]
    return (int(g[5]), int(g[6]), int(g[7]), int(g[8])) if g[4] else None


def hurtbox(f: Fighter) -> tuple[int, int, int, int]:
    g = _geometry(f)[0]
    return int(g[0]), int(g[1]), int(g[2]), int(g[3])


def command(stick: int, button: int, airborne: bool) -> int:
    """The move that ``(stick, button)`` starts (``Move.NONE`` for a walk, jump, crouch or guard)."""
    return int(K.command(int(stick), int(button), bool(airborne)))
