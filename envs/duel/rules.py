"""Pure rules of the fighting duel: one frame-data table, a small state value, and ``step``.

Everything is integer arithmetic on a side-view stage (x to the right, y up, the floor at y = 0), so
the rules are exactly deterministic and exactly mirror-symmetric: mirroring both fighters' positions
(``x -> STAGE_WIDTH - x``, facing flipped) and feeding the same controller inputs (which are relative
to facing) gives the mirrored next state, bit for bit. Both fighters are updated simultaneously from
the previous state, so swapping the two players also swaps the result.

The game runs at :data:`TICKS_PER_SECOND` ticks per second. An input is a pair ``(stick, button)``:
``stick`` is a :class:`Stick` direction relative to the fighter's facing and ``button`` a
:class:`Button`. :func:`command` turns them into a walk, jump, crouch, guard or a :class:`Move`:

=====================  ===========  ============  ===========
stick \\ button         LIGHT        HEAVY         SPECIAL
=====================  ===========  ============  ===========
neutral / back / up*    JAB          HEAVY         THROW
forward                 JAB          OVERHEAD      THROW
down / down-back / -fw  LOW          ANTI_AIR      PROJECTILE
in the air (any)        AIR_KICK     AIR_KICK      --
=====================  ===========  ============  ===========

(*) a button takes priority over a jump. With no button: forward/back walk (holding back guards
high and mid), down crouches, down-back crouches and guards low and mid, up jumps (up-forward and
up-back jump with a horizontal drift). A crouching guard does not stop an OVERHEAD or AIR_KICK
(level ``HIGH``); a standing guard does not stop a LOW. Throws ignore guard, but a fighter in the
startup or active frames of any move cannot be thrown, and a grabbed fighter escapes by pressing
THROW within :data:`THROW_TECH_WINDOW` ticks. Each fighter has at most one projectile on screen;
two projectiles that meet cancel out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

TICKS_PER_SECOND = 60
STAGE_WIDTH = 800  # stage units; walls at 0 and STAGE_WIDTH
HALF_WIDTH = 20  # half the width of a fighter's body
STAND_HEIGHT = 100
CROUCH_HEIGHT = 60
MAX_HEALTH = 200
WALK_FORWARD_SPEED = 4  # units per tick
WALK_BACK_SPEED = 3
JUMP_SPEED = 16  # initial upward speed; the arc lasts 2 * JUMP_SPEED + 1 ticks
JUMP_DRIFT = 4  # horizontal speed of a forward/back jump
GRAVITY = 1
MAX_JUMP_HEIGHT = JUMP_SPEED * (JUMP_SPEED + 1) // 2
PROJECTILE_SPEED = 6
PROJECTILE_HALF_WIDTH = 12
THROW_TECH_WINDOW = 7  # ticks a grabbed fighter has to press THROW and escape
TECH_PUSHBACK = 30
START_GAP = 300  # distance between the fighters at the start of a round
DEFAULT_ROUND_TICKS = 60 * TICKS_PER_SECOND


class Stick(IntEnum):
    """Stick direction relative to the fighter's facing (numpad notation in brackets)."""

    NEUTRAL = 0  # (5)
    UP = 1  # (8)
    UP_FORWARD = 2  # (9)
    FORWARD = 3  # (6)
    DOWN_FORWARD = 4  # (3)
    DOWN = 5  # (2)
    DOWN_BACK = 6  # (1)
    BACK = 7  # (4)
    UP_BACK = 8  # (7)


class Button(IntEnum):
    NONE = 0
    LIGHT = 1
    HEAVY = 2
    SPECIAL = 3


class Move(IntEnum):
    NONE = 0
    JAB = 1
    HEAVY = 2
    LOW = 3
    OVERHEAD = 4
    ANTI_AIR = 5
    AIR_KICK = 6
    THROW = 7
    PROJECTILE = 8


class Level(IntEnum):
    """Where an attack hits, which decides the guard that stops it."""

    HIGH = 0  # stopped by a standing guard only
    MID = 1  # stopped by either guard
    LOW = 2  # stopped by a crouching guard only
    THROW = 3  # unblockable; cannot grab a fighter in startup/active frames


class FState(IntEnum):
    """A fighter's state (one-hot in the observation)."""

    STAND = 0
    WALK_FORWARD = 1
    WALK_BACK = 2
    CROUCH = 3
    AIR = 4
    ATTACK = 5  # a ground move (AIR_KICK keeps the state AIR)
    HITSTUN = 6
    BLOCKSTUN = 7
    GRABBED = 8


N_STICK, N_BUTTON, N_MOVES, N_STATES = len(Stick), len(Button), len(Move), len(FState)
NEUTRAL_STATES = frozenset({FState.STAND, FState.WALK_FORWARD, FState.WALK_BACK, FState.CROUCH})
_UPS = frozenset({Stick.UP, Stick.UP_FORWARD, Stick.UP_BACK})
_DOWNS = frozenset({Stick.DOWN, Stick.DOWN_FORWARD, Stick.DOWN_BACK})


class FrameData(NamedTuple):
    """One row of the frame-data table. Boxes are relative to the attacker: x from the front edge of
    its body outwards (``reach``), y from its feet (``box_low`` .. ``box_high``)."""

    name: str
    startup: int  # ticks before the first active tick (the move hits on tick startup + 1)
    active: int  # ticks the hitbox is out
    recovery: int  # ticks after the last active tick before the fighter can act again
    damage: int
    chip: int  # damage through guard
    hitstun: int  # ticks the defender cannot act after a hit
    blockstun: int  # ticks the defender cannot act after guarding
    knockback: int  # units the defender is pushed (the attacker instead, if the defender is cornered)
    reach: int
    box_low: int
    box_high: int
    level: Level

    @property
    def total(self) -> int:
        return self.startup + self.active + self.recovery


# THE frame-data table (the README shows it). PROJECTILE: the hitbox is the projectile, spawned on the
# first active tick and flying PROJECTILE_SPEED units per tick; reach is the spawn distance.
FRAME_DATA: dict[Move, FrameData] = {
    #                      name         st  ac  rec dmg chip hs  bs  kb  reach lo  hi  level
    Move.JAB: FrameData("jab", 4, 3, 8, 5, 0, 14, 10, 8, 40, 50, 85, Level.MID),
    Move.HEAVY: FrameData("heavy", 10, 4, 18, 12, 2, 20, 14, 20, 65, 45, 90, Level.MID),
    Move.LOW: FrameData("low", 6, 3, 12, 6, 1, 15, 11, 10, 50, 0, 30, Level.LOW),
    Move.OVERHEAD: FrameData("overhead", 18, 3, 16, 10, 2, 18, 12, 14, 45, 50, 110, Level.HIGH),
    Move.ANTI_AIR: FrameData("anti_air", 5, 6, 24, 11, 1, 24, 12, 14, 35, 60, 190, Level.MID),
    Move.AIR_KICK: FrameData("air_kick", 5, 8, 6, 8, 1, 16, 12, 10, 35, -30, 40, Level.HIGH),
    Move.THROW: FrameData("throw", 5, 2, 22, 14, 0, 30, 0, 40, 25, 0, 100, Level.THROW),
    Move.PROJECTILE: FrameData("projectile", 16, 1, 28, 7, 1, 18, 12, 10, 30, 55, 80, Level.MID),
}
_PROJ = FRAME_DATA[Move.PROJECTILE]
_CROUCH_MOVES = frozenset({int(Move.LOW), int(Move.ANTI_AIR), int(Move.PROJECTILE)})  # done crouched
MOVE_NAMES = {m: (FRAME_DATA[m].name if m in FRAME_DATA else "none") for m in Move}
MAX_MOVE_TICKS = max(fd.total for fd in FRAME_DATA.values())
MAX_STUN = max(max(fd.hitstun, fd.blockstun) for fd in FRAME_DATA.values())


# plain-int aliases of the enums for the hot paths (IntEnum attribute lookups are slow)
_B_HEAVY = int(Button.HEAVY)
_B_LIGHT = int(Button.LIGHT)
_B_NONE = int(Button.NONE)
_B_SPECIAL = int(Button.SPECIAL)
_F_AIR = int(FState.AIR)
_F_ATTACK = int(FState.ATTACK)
_F_BLOCKSTUN = int(FState.BLOCKSTUN)
_F_CROUCH = int(FState.CROUCH)
_F_GRABBED = int(FState.GRABBED)
_F_HITSTUN = int(FState.HITSTUN)
_F_STAND = int(FState.STAND)
_F_WALK_BACK = int(FState.WALK_BACK)
_F_WALK_FORWARD = int(FState.WALK_FORWARD)
_L_HIGH = int(Level.HIGH)
_L_MID = int(Level.MID)
_M_AIR_KICK = int(Move.AIR_KICK)
_M_ANTI_AIR = int(Move.ANTI_AIR)
_M_HEAVY = int(Move.HEAVY)
_M_JAB = int(Move.JAB)
_M_LOW = int(Move.LOW)
_M_NONE = int(Move.NONE)
_M_OVERHEAD = int(Move.OVERHEAD)
_M_PROJECTILE = int(Move.PROJECTILE)
_M_THROW = int(Move.THROW)
_S_BACK = int(Stick.BACK)
_S_DOWN_BACK = int(Stick.DOWN_BACK)
_S_FORWARD = int(Stick.FORWARD)
_S_UP = int(Stick.UP)
_S_UP_FORWARD = int(Stick.UP_FORWARD)
_MOVE_TOTAL = [0] + [FRAME_DATA[m].total for m in list(Move)[1:]]
# per move: first and last active tick, reach, box bottom and top
_BOX = [(0, -1, 0, 0, 0)] + [
    (fd.startup + 1, fd.startup + fd.active, fd.reach, fd.box_low, fd.box_high)
    for fd in (FRAME_DATA[m] for m in list(Move)[1:])
]


def command(stick: int, button: int, airborne: bool) -> int:
    """The move that ``(stick, button)`` starts (``_M_NONE`` for a walk/jump/crouch/guard)."""
    if button == _B_NONE:
        return _M_NONE
    if airborne:
        return _M_AIR_KICK if button != _B_SPECIAL else _M_NONE
    down = stick in _DOWNS
    if button == _B_LIGHT:
        return _M_LOW if down else _M_JAB
    if button == _B_HEAVY:
        if down:
            return _M_ANTI_AIR
        return _M_OVERHEAD if stick == _S_FORWARD else _M_HEAVY
    return _M_PROJECTILE if down else _M_THROW


@dataclass(slots=True)
class Fighter:
    x: int
    y: int = 0
    vx: int = 0
    vy: int = 0
    facing: int = 1  # +1 faces right (towards larger x), -1 left
    health: int = MAX_HEALTH
    state: int = _F_STAND
    move: int = _M_NONE
    frame: int = 0  # ticks spent in the current move (1 on its first tick)
    stun: int = 0  # remaining hitstun / blockstun / grab ticks
    guard: int = 0  # 0 none, 1 standing guard (high+mid), 2 crouching guard (low+mid)
    connected: bool = False  # the current move has already hit or been guarded
    air_attacked: bool = False  # used the one air attack of this jump

    def copy(self) -> Fighter:
        return Fighter(self.x, self.y, self.vx, self.vy, self.facing, self.health, self.state,
                       self.move, self.frame, self.stun, self.guard, self.connected, self.air_attacked)

    @property
    def crouching(self) -> bool:
        st = self.state
        return st == 3 or self.guard == 2 or (st == 5 and self.move in _CROUCH_MOVES)

    @property
    def height(self) -> int:
        st = self.state  # written out (not via crouching): this is the hottest property
        if st == 3 or self.guard == 2 or (st == 5 and self.move in _CROUCH_MOVES):
            return CROUCH_HEIGHT
        return STAND_HEIGHT

    def phase(self) -> int:
        """0 no move, 1 startup, 2 active, 3 recovery."""
        if self.move == _M_NONE:
            return 0
        fd = FRAME_DATA[self.move]
        if self.frame <= fd.startup:
            return 1
        return 2 if self.frame <= fd.startup + fd.active else 3


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

    def copy(self) -> DuelState:
        p0, p1 = self.projectiles
        return DuelState(
            [self.fighters[0].copy(), self.fighters[1].copy()],
            [None if p0 is None else Projectile(p0.x, p0.vx),
             None if p1 is None else Projectile(p1.x, p1.vx)],
            self.tick, self.round_ticks, self.over, self.winner,
        )


def initial_state(round_ticks: int = DEFAULT_ROUND_TICKS) -> DuelState:
    """Fighter 0 on the left facing right, fighter 1 on the right facing left, START_GAP apart."""
    mid = STAGE_WIDTH // 2
    return DuelState(
        [Fighter(mid - START_GAP // 2, facing=1), Fighter(mid + START_GAP // 2, facing=-1)],
        round_ticks=round_ticks,
    )


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
    if s.winner is not None:
        s.winner = 1 - s.winner
    return s


def _event(kind: str, by: int, move: int = _M_NONE, damage: int = 0) -> dict:
    return {"type": kind, "by": by, "move": MOVE_NAMES[move], "damage": damage}


def _start_move(f: Fighter, move: int) -> None:
    f.move, f.frame, f.connected = move, 0, False
    if move == _M_AIR_KICK:
        f.air_attacked = True
    else:
        f.state, f.vx = _F_ATTACK, 0


def _control(f: Fighter, stick: int, button: int, has_projectile: bool) -> None:
    """Phase 1 for one fighter: act on the input if free, advance the current move or stun."""
    f.guard = 0
    st = f.state
    if st == _F_GRABBED:
        return
    if st == _F_HITSTUN or st == _F_BLOCKSTUN:
        f.stun -= 1
        if f.stun > 0:
            if st == _F_BLOCKSTUN:  # keep guarding; the stick picks standing or crouching
                f.guard = 2 if stick in _DOWNS else 1
            return
        f.stun = 0
        f.state = _F_AIR if f.y > 0 else _F_STAND
        st = f.state
        if st == _F_AIR:
            return
    if f.move != _M_NONE:  # advance the move
        f.frame += 1
        if f.frame > _MOVE_TOTAL[f.move]:
            f.move, f.frame = _M_NONE, 0
            if st == _F_ATTACK:
                f.state = _F_STAND
        return
    if st == _F_AIR:
        if button != _B_NONE and not f.air_attacked:
            m = command(stick, button, True)
            if m != _M_NONE:
                _start_move(f, m)
                f.frame = 1
        return
    # a free fighter on the ground
    m = command(stick, button, False)
    if m == _M_PROJECTILE and has_projectile:
        m = _M_NONE
    if m != _M_NONE:
        _start_move(f, m)
        f.frame = 1
        return
    if stick in _UPS:
        f.state, f.vy, f.air_attacked = _F_AIR, JUMP_SPEED, False
        drift = 0 if stick == _S_UP else (JUMP_DRIFT if stick == _S_UP_FORWARD else -JUMP_DRIFT)
        f.vx = drift * f.facing
    elif stick in _DOWNS:
        f.state, f.vx = _F_CROUCH, 0
        f.guard = 2 if stick == _S_DOWN_BACK else 0
    elif stick == _S_FORWARD:
        f.state, f.vx = _F_WALK_FORWARD, WALK_FORWARD_SPEED * f.facing
    elif stick == _S_BACK:
        f.state, f.vx, f.guard = _F_WALK_BACK, -WALK_BACK_SPEED * f.facing, 1
    else:
        f.state, f.vx = _F_STAND, 0


def _physics(f: Fighter) -> None:
    if f.state == _F_GRABBED:
        return
    if f.y > 0 or f.vy > 0:
        f.x += f.vx
        f.y += f.vy
        f.vy -= GRAVITY
        if f.y <= 0:  # landing ends an air move and an air state
            f.y, f.vy, f.vx = 0, 0, 0
            if f.state == _F_AIR:
                f.state = _F_STAND
                f.move, f.frame = _M_NONE, 0
    elif f.state in (_F_WALK_FORWARD, _F_WALK_BACK):
        f.x += f.vx


def _separate(a: Fighter, b: Fighter) -> None:
    """Keep fighters inside the walls and push overlapping bodies apart, symmetrically."""
    lo, hi = HALF_WIDTH, STAGE_WIDTH - HALF_WIDTH
    a.x = lo if a.x < lo else (hi if a.x > hi else a.x)
    b.x = lo if b.x < lo else (hi if b.x > hi else b.x)
    # bodies overlap only if they also overlap in height
    if (a.y or b.y) and (a.y >= b.y + b.height or b.y >= a.y + a.height):
        return
    dx = b.x - a.x
    overlap = 2 * HALF_WIDTH - abs(dx)
    if overlap <= 0:
        return
    push = (overlap + 1) // 2
    if dx > 0:
        a.x -= push
        b.x += push
    elif dx < 0:
        a.x += push
        b.x -= push
    else:  # same x: each steps back from its own facing
        a.x -= push * a.facing
        b.x -= push * b.facing
    for f, o in ((a, b), (b, a)):  # a fighter squeezed against a wall pushes the other out
        if f.x < lo:
            o.x += lo - f.x
            f.x = lo
        elif f.x > hi:
            o.x -= f.x - hi
            f.x = hi
    a.x = lo if a.x < lo else (hi if a.x > hi else a.x)
    b.x = lo if b.x < lo else (hi if b.x > hi else b.x)


def hitbox(f: Fighter) -> tuple[int, int, int, int] | None:
    """The live hitbox ``(x0, x1, y0, y1)`` of a fighter's melee move (None if it already connected)."""
    if f.connected:
        return None
    return attack_box(f)


def attack_box(f: Fighter) -> tuple[int, int, int, int] | None:
    """The box of a melee move during its active ticks, connected or not (for drawing), else None."""
    if f.move == _M_NONE or f.move == _M_PROJECTILE:
        return None
    first, last, reach, low, high = _BOX[f.move]
    if not first <= f.frame <= last:
        return None
    front = f.x + HALF_WIDTH * f.facing
    far = front + reach * f.facing
    x0, x1 = (front, far) if f.facing > 0 else (far, front)
    return x0, x1, f.y + low, f.y + high


def hurtbox(f: Fighter) -> tuple[int, int, int, int]:
    return f.x - HALF_WIDTH, f.x + HALF_WIDTH, f.y, f.y + f.height


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1] and a[2] < b[3] and b[2] < a[3]


def _guards(d: Fighter, level: int) -> bool:
    if d.y > 0 or d.guard == 0:
        return False
    if level == _L_MID:
        return True
    return d.guard == (1 if level == _L_HIGH else 2)


def _push(d: Fighter, a: Fighter, amount: int) -> None:
    """Knock ``d`` away from ``a``; a cornered defender pushes the attacker back instead."""
    away = 1 if d.x > a.x else (-1 if d.x < a.x else -d.facing)
    target = d.x + away * amount
    lo, hi = HALF_WIDTH, STAGE_WIDTH - HALF_WIDTH
    if target < lo or target > hi:
        clipped = lo if target < lo else hi
        a.x -= away * abs(target - clipped)
        target = clipped
    d.x = target


def _apply_hit(d: Fighter, a: Fighter, fd: FrameData, by: int, move: int, events: list) -> None:
    if _guards(d, fd.level):
        d.health -= fd.chip
        d.state, d.stun, d.move, d.frame = _F_BLOCKSTUN, fd.blockstun, _M_NONE, 0
        _push(d, a, fd.knockback // 2)
        events.append(_event("block", by, move, fd.chip))
    else:
        d.health -= fd.damage
        d.state, d.stun, d.move, d.frame, d.guard = _F_HITSTUN, fd.hitstun, _M_NONE, 0, 0
        if d.y > 0:
            d.vx = (1 if d.x > a.x else -1) * 3
            d.vy = min(d.vy, 0)
        _push(d, a, fd.knockback)
        events.append(_event("hit", by, move, fd.damage))


def step(state: DuelState, inputs: tuple[tuple[int, int], tuple[int, int]]) -> tuple[DuelState, list[dict]]:
    """One tick. ``inputs[i] = (stick, button)`` for fighter ``i``. Returns the next state (a new
    value; ``state`` is unchanged) and the tick's events, dicts with ``type`` in {hit, block, throw,
    tech, whiff_throw, projectile, clash, ko, timeout}, ``by`` (the acting fighter), ``move`` and
    ``damage``."""
    s = state.copy()
    events: list[dict] = []
    if s.over:
        return s, events
    advance(s, inputs, events)
    return s, events


def advance(s: DuelState, inputs, events: list) -> None:
    """Advance ``s`` by one tick in place (the body of :func:`step`, for callers that own ``s``)."""
    f0, f1 = s.fighters
    fs = (f0, f1)
    # 1. control: each free fighter from its own input; then grabbed fighters escape or get thrown
    grabbed = False
    for i in (0, 1):
        f = fs[i]
        if f.state == _F_GRABBED:
            grabbed = True
        else:
            stick, button = inputs[i]
            _control(f, stick, button, s.projectiles[i] is not None)
    if grabbed:
        for i in (0, 1):
            f, o = fs[i], fs[1 - i]
            if f.state != _F_GRABBED:
                continue
            stick, button = inputs[i]
            f.stun -= 1
            if button == _B_SPECIAL and stick not in _DOWNS:  # escape
                f.state, f.stun = _F_STAND, 0
                o.move, o.frame, o.state = _M_NONE, 0, _F_STAND
                _push(f, o, TECH_PUSHBACK // 2)
                _push(o, f, TECH_PUSHBACK // 2)
                events.append(_event("tech", i, _M_THROW))
            elif f.stun <= 0:  # the throw lands
                fd = FRAME_DATA[_M_THROW]
                f.health -= fd.damage
                f.state, f.stun = _F_HITSTUN, fd.hitstun
                _push(f, o, fd.knockback)
                events.append(_event("throw", 1 - i, _M_THROW, fd.damage))
    # 2. physics, facing, bodies
    _physics(f0)
    _physics(f1)
    x0, x1 = f0.x, f1.x
    if x0 != x1:  # fighters free on the ground turn to face each other
        if f0.y == 0 and f0.state in NEUTRAL_STATES:
            f0.facing = 1 if x1 > x0 else -1
        if f1.y == 0 and f1.state in NEUTRAL_STATES:
            f1.facing = 1 if x0 > x1 else -1
    _separate(f0, f1)
    # 3. projectiles fly; two that meet cancel out
    projs = s.projectiles
    if projs[0] is not None or projs[1] is not None:
        for i in (0, 1):
            p = projs[i]
            if p is not None:
                p.x += p.vx
                if p.x < -PROJECTILE_HALF_WIDTH or p.x > STAGE_WIDTH + PROJECTILE_HALF_WIDTH:
                    projs[i] = None
        p0, p1 = projs
        if p0 is not None and p1 is not None and abs(p0.x - p1.x) <= 2 * PROJECTILE_HALF_WIDTH:
            projs[0] = projs[1] = None
            events.append(_event("clash", 0, _M_PROJECTILE))
    # 4. hits, all decided from positions after movement, then applied together (trades are possible)
    if f0.move or f1.move or s.projectiles[0] is not None or s.projectiles[1] is not None:
        _resolve_hits(s, fs, events)
    # 5. projectiles spawn on the first active tick of PROJECTILE
    for i in (0, 1) if (f0.move == _M_PROJECTILE or f1.move == _M_PROJECTILE) else ():
        f = fs[i]
        if f.move == _M_PROJECTILE and f.frame == _PROJ.startup + 1 and s.projectiles[i] is None:
            spawn_x = f.x + (HALF_WIDTH + _PROJ.reach) * f.facing
            s.projectiles[i] = Projectile(spawn_x, PROJECTILE_SPEED * f.facing)
            events.append(_event("projectile", i, _M_PROJECTILE))
    # 6. the round ends at KO or time-out
    s.tick += 1
    h0, h1 = f0.health, f1.health
    if h0 <= 0 or h1 <= 0:
        f0.health, f1.health = max(h0, 0), max(h1, 0)
        s.over = True
        s.winner = None if (h0 <= 0 and h1 <= 0) else (1 if h0 <= 0 else 0)
        events.append(_event("ko", -1 if s.winner is None else s.winner))
    elif s.tick >= s.round_ticks:
        s.over = True
        s.winner = None if h0 == h1 else (0 if h0 > h1 else 1)
        events.append(_event("timeout", -1 if s.winner is None else s.winner))


def _resolve_hits(s: DuelState, fs: tuple[Fighter, Fighter], events: list) -> None:
    f0, f1 = fs
    pending: list[tuple[str, int, int]] = []  # (kind, attacker, move)
    for i in (0, 1):
        a, d = fs[i], fs[1 - i]
        box = attack_box(a) if a.move and not a.connected else None
        if box is not None and _overlap(box, hurtbox(d)):
            if a.move != _M_THROW:
                pending.append(("melee", i, a.move))
            # only a grounded fighter that is not attacking (startup/active) nor stunned can be grabbed
            elif d.y == 0 and d.phase() not in (1, 2) and d.state not in (_F_HITSTUN, _F_BLOCKSTUN):
                pending.append(("grab", i, a.move))
        p = s.projectiles[i]
        if p is not None:
            pbox = (p.x - PROJECTILE_HALF_WIDTH, p.x + PROJECTILE_HALF_WIDTH, _PROJ.box_low, _PROJ.box_high)
            if _overlap(pbox, hurtbox(d)):
                pending.append(("projectile", i, _M_PROJECTILE))
    if not pending:
        return
    strikes = False
    for kind, _, _ in pending:
        if kind != "grab":
            strikes = True
    for kind, i, move in pending:
        a, d = fs[i], fs[1 - i]
        if kind == "grab":
            if not strikes:  # any attack landing this tick beats the throw
                a.connected = True
                d.state, d.stun, d.move, d.frame, d.guard, d.vx = (
                    _F_GRABBED, THROW_TECH_WINDOW, _M_NONE, 0, 0, 0)
                events.append(_event("grab", i, _M_THROW))
        elif kind == "melee":
            a.connected = True
            _apply_hit(d, a, FRAME_DATA[move], i, move, events)
        else:
            s.projectiles[i] = None
            _apply_hit(d, a, _PROJ, i, move, events)
    # a thrower that got hit lets go
    for i in (0, 1):
        a, d = fs[i], fs[1 - i]
        if d.state == _F_GRABBED and a.state == _F_HITSTUN:
            d.state, d.stun = _F_STAND, 0
    _separate(f0, f1)
