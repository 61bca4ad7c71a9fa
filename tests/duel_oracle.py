"""The duel's rules, decision step and observation written plainly in Python: the oracle that the
package's one implementation (the numba kernels of ``envs/duel/kernels.py``) is checked against, bit for
bit (``tests/test_duel_kernels.py``). Test code only: the package never imports it.

It is the rules as they were written before the kernels became the one implementation, with every
constant read from the fighter's own character (``Fighter.ch``), so the oracle covers several rule sets
too. A state is a :class:`DuelState` of two :class:`Fighter` s; events are dicts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from envs.duel import layout as L
from envs.duel.character import Character, default_character
from envs.duel.layout import Button, FState, Level, Move, Stick

STAGE_WIDTH, START_GAP = L.STAGE_WIDTH, L.START_GAP
_UPS, _DOWNS = L.UP_STICKS, L.DOWN_STICKS
_CROUCH_MOVES = {int(m) for m in L.CROUCH_MOVES}
EVENT_MOVE_NAMES = {m: m.name.lower() if m != Move.NONE else "none" for m in Move}


def command(stick: int, button: int, airborne: bool) -> int:
    if button == Button.NONE:
        return Move.NONE
    if airborne:
        return Move.AIR_KICK if button != Button.SPECIAL else Move.NONE
    down = stick in _DOWNS
    if button == Button.LIGHT:
        return Move.LOW if down else Move.JAB
    if button == Button.HEAVY:
        if down:
            return Move.ANTI_AIR
        return Move.OVERHEAD if stick == Stick.FORWARD else Move.HEAVY
    return Move.PROJECTILE if down else Move.THROW


@dataclass
class Fighter:
    x: int
    ch: Character
    y: int = 0
    vx: int = 0
    vy: int = 0
    facing: int = 1
    health: int = 0
    state: int = FState.STAND
    move: int = Move.NONE
    frame: int = 0
    stun: int = 0
    guard: int = 0
    connected: bool = False
    air_attacked: bool = False

    def copy(self) -> Fighter:
        return Fighter(self.x, self.ch, self.y, self.vx, self.vy, self.facing, self.health, self.state, self.move,
                       self.frame, self.stun, self.guard, self.connected, self.air_attacked)

    @property
    def height(self) -> int:
        st = self.state
        if st == FState.CROUCH or self.guard == 2 or (st == FState.ATTACK and self.move in _CROUCH_MOVES):
            return self.ch.crouch_height
        return self.ch.stand_height

    def fd(self, m: int):
        return self.ch.move(m)

    def phase(self) -> int:
        if self.move == Move.NONE:
            return 0
        fd = self.fd(self.move)
        if self.frame <= fd.startup:
            return 1
        return 2 if self.frame <= fd.startup + fd.active else 3

    @property
    def lo(self) -> int:
        return self.ch.half_width

    @property
    def hi(self) -> int:
        return STAGE_WIDTH - self.ch.half_width


@dataclass
class Projectile:
    x: int
    vx: int


@dataclass
class DuelState:
    fighters: list[Fighter]
    projectiles: list[Projectile | None] = field(default_factory=lambda: [None, None])
    tick: int = 0
    round_ticks: int = L.DEFAULT_ROUND_TICKS
    over: bool = False
    winner: int | None = None

    def copy(self) -> DuelState:
        p0, p1 = self.projectiles
        projectiles = [None if p is None else Projectile(p.x, p.vx) for p in (p0, p1)]
        return DuelState([self.fighters[0].copy(), self.fighters[1].copy()], projectiles, self.tick,
                         self.round_ticks, self.over, self.winner)


def initial_state(round_ticks: int = L.DEFAULT_ROUND_TICKS, ch0: Character | None = None,
                  ch1: Character | None = None) -> DuelState:
    ch0 = ch0 or default_character()
    ch1 = ch1 or ch0
    mid = STAGE_WIDTH // 2
    return DuelState([Fighter(mid - START_GAP // 2, ch0, facing=1, health=ch0.max_health),
                      Fighter(mid + START_GAP // 2, ch1, facing=-1, health=ch1.max_health)], round_ticks=round_ticks)


def _event(kind: str, by: int, move: int = Move.NONE, damage: int = 0) -> dict:
    return {"type": kind, "by": by, "move": EVENT_MOVE_NAMES[Move(move)], "damage": damage}


def _start_move(f: Fighter, move: int) -> None:
    f.move, f.frame, f.connected = move, 1, False
    if move == Move.AIR_KICK:
        f.air_attacked = True
    else:
        f.state, f.vx = FState.ATTACK, 0


def _control(f: Fighter, stick: int, button: int, has_projectile: bool) -> None:
    f.guard = 0
    st = f.state
    if st == FState.GRABBED:
        return
    if st in (FState.HITSTUN, FState.BLOCKSTUN):
        f.stun -= 1
        if f.stun > 0:
            if st == FState.BLOCKSTUN:
                f.guard = 2 if stick in _DOWNS else 1
            return
        f.stun = 0
        f.state = FState.AIR if f.y > 0 else FState.STAND
        st = f.state
        if st == FState.AIR:
            return
    if f.move != Move.NONE:
        f.frame += 1
        if f.frame > f.fd(f.move).total:
            f.move, f.frame = Move.NONE, 0
            if st == FState.ATTACK:
                f.state = FState.STAND
        return
    if st == FState.AIR:
        if button != Button.NONE and not f.air_attacked:
            m = command(stick, button, True)
            if m != Move.NONE:
                _start_move(f, m)
        return
    m = command(stick, button, False)
    if m == Move.PROJECTILE and has_projectile:
        m = Move.NONE
    if m != Move.NONE:
        _start_move(f, m)
        return
    if stick in _UPS:
        f.state, f.vy, f.air_attacked = FState.AIR, f.ch.jump_speed, False
        drift = 0 if stick == Stick.UP else (f.ch.jump_drift if stick == Stick.UP_FORWARD else -f.ch.jump_drift)
        f.vx = drift * f.facing
    elif stick in _DOWNS:
        f.state, f.vx = FState.CROUCH, 0
        f.guard = 2 if stick == Stick.DOWN_BACK else 0
    elif stick == Stick.FORWARD:
        f.state, f.vx = FState.WALK_FORWARD, f.ch.walk_forward_speed * f.facing
    elif stick == Stick.BACK:
        f.state, f.vx, f.guard = FState.WALK_BACK, -f.ch.walk_back_speed * f.facing, 1
    else:
        f.state, f.vx = FState.STAND, 0


def _physics(f: Fighter) -> None:
    if f.state == FState.GRABBED:
        return
    if f.y > 0 or f.vy > 0:
        f.x += f.vx
        f.y += f.vy
        f.vy -= f.ch.gravity
        if f.y <= 0:
            f.y, f.vy, f.vx = 0, 0, 0
            if f.state == FState.AIR:
                f.state = FState.STAND
                f.move, f.frame = Move.NONE, 0
    elif f.state in (FState.WALK_FORWARD, FState.WALK_BACK):
        f.x += f.vx


def _clamp(f: Fighter) -> None:
    f.x = f.lo if f.x < f.lo else (f.hi if f.x > f.hi else f.x)


def _separate(a: Fighter, b: Fighter) -> None:
    _clamp(a)
    _clamp(b)
    if (a.y or b.y) and (a.y >= b.y + b.height or b.y >= a.y + a.height):
        return
    dx = b.x - a.x
    overlap = a.ch.half_width + b.ch.half_width - abs(dx)
    if overlap <= 0:
        return
    push = (overlap + 1) // 2
    if dx > 0:
        a.x -= push
        b.x += push
    elif dx < 0:
        a.x += push
        b.x -= push
    else:
        a.x -= push * a.facing
        b.x -= push * b.facing
    for f, o in ((a, b), (b, a)):
        if f.x < f.lo:
            o.x += f.lo - f.x
            f.x = f.lo
        elif f.x > f.hi:
            o.x -= f.x - f.hi
            f.x = f.hi
    _clamp(a)
    _clamp(b)


def attack_box(f: Fighter) -> tuple[int, int, int, int] | None:
    if f.move in (Move.NONE, Move.PROJECTILE):
        return None
    fd = f.fd(f.move)
    if not fd.startup + 1 <= f.frame <= fd.startup + fd.active:
        return None
    front = f.x + f.ch.half_width * f.facing
    far = front + fd.reach * f.facing
    x0, x1 = (front, far) if f.facing > 0 else (far, front)
    return x0, x1, f.y + fd.box_low, f.y + fd.box_high


def hurtbox(f: Fighter) -> tuple[int, int, int, int]:
    return f.x - f.ch.half_width, f.x + f.ch.half_width, f.y, f.y + f.height


def _overlap(a, b) -> bool:
    return a[0] <= b[1] and b[0] <= a[1] and a[2] < b[3] and b[2] < a[3]


def _guards(d: Fighter, level: int) -> bool:
    if d.y > 0 or d.guard == 0:
        return False
    if level == Level.MID:
        return True
    return d.guard == (1 if level == Level.HIGH else 2)


def _push(d: Fighter, a: Fighter, amount: int) -> None:
    away = 1 if d.x > a.x else (-1 if d.x < a.x else -d.facing)
    target = d.x + away * amount
    if target < d.lo or target > d.hi:
        clipped = d.lo if target < d.lo else d.hi
        a.x -= away * abs(target - clipped)
        target = clipped
    d.x = target


def _apply_hit(d: Fighter, a: Fighter, move: int, by: int, events: list) -> None:
    fd = a.fd(move)
    if _guards(d, fd.level):
        d.health -= fd.chip
        d.state, d.stun, d.move, d.frame = FState.BLOCKSTUN, fd.blockstun, Move.NONE, 0
        _push(d, a, fd.knockback // 2)
        events.append(_event("block", by, move, fd.chip))
    else:
        d.health -= fd.damage
        d.state, d.stun, d.move, d.frame, d.guard = FState.HITSTUN, fd.hitstun, Move.NONE, 0, 0
        if d.y > 0:
            d.vx = (1 if d.x > a.x else -1) * d.ch.air_hit_speed
            d.vy = min(d.vy, 0)
        _push(d, a, fd.knockback)
        events.append(_event("hit", by, move, fd.damage))


def advance(s: DuelState, inputs, events: list) -> None:
    """One tick in place."""
    f0, f1 = s.fighters
    fs = (f0, f1)
    grabbed = False
    for i in (0, 1):
        f = fs[i]
        if f.state == FState.GRABBED:
            grabbed = True
        else:
            stick, button = inputs[i]
            _control(f, stick, button, s.projectiles[i] is not None)
    if grabbed:
        for i in (0, 1):
            f, o = fs[i], fs[1 - i]
            if f.state != FState.GRABBED:
                continue
            stick, button = inputs[i]
            f.stun -= 1
            if button == Button.SPECIAL and stick not in _DOWNS:
                f.state, f.stun = FState.STAND, 0
                o.move, o.frame, o.state = Move.NONE, 0, FState.STAND
                _push(f, o, f.ch.tech_pushback // 2)
                _push(o, f, f.ch.tech_pushback // 2)
                events.append(_event("tech", i, Move.THROW))
            elif f.stun <= 0:
                fd = o.fd(Move.THROW)
                f.health -= fd.damage
                f.state, f.stun = FState.HITSTUN, fd.hitstun
                _push(f, o, fd.knockback)
                events.append(_event("throw", 1 - i, Move.THROW, fd.damage))
    _physics(f0)
    _physics(f1)
    x0, x1 = f0.x, f1.x
    if x0 != x1:
        if f0.y == 0 and f0.state in L.NEUTRAL_STATES:
            f0.facing = 1 if x1 > x0 else -1
        if f1.y == 0 and f1.state in L.NEUTRAL_STATES:
            f1.facing = 1 if x0 > x1 else -1
    _separate(f0, f1)
    projs = s.projectiles
    for i in (0, 1):
        p = projs[i]
        if p is not None:
            p.x += p.vx
            phw = fs[i].ch.projectile_half_width
            if p.x < -phw or p.x > STAGE_WIDTH + phw:
                projs[i] = None
    p0, p1 = projs
    reach = f0.ch.projectile_half_width + f1.ch.projectile_half_width
    if p0 is not None and p1 is not None and abs(p0.x - p1.x) <= reach:
        projs[0] = projs[1] = None
        events.append(_event("clash", 0, Move.PROJECTILE))
    if f0.move or f1.move or projs[0] is not None or projs[1] is not None:
        _resolve_hits(s, fs, events)
    for i in (0, 1):
        f = fs[i]
        proj = f.fd(Move.PROJECTILE)
        if f.move == Move.PROJECTILE and f.frame == proj.startup + 1 and s.projectiles[i] is None:
            s.projectiles[i] = Projectile(f.x + (f.ch.half_width + proj.reach) * f.facing,
                                          f.ch.projectile_speed * f.facing)
            events.append(_event("projectile", i, Move.PROJECTILE))
    s.tick += 1
    h0, h1 = f0.health, f1.health
    if h0 <= 0 or h1 <= 0:
        f0.health, f1.health = max(h0, 0), max(h1, 0)
        s.over = True
        s.winner = None if (h0 <= 0 and h1 <= 0) else (1 if h0 <= 0 else 0)
        events.append(_event("ko", -1 if s.winner is None else s.winner))
    elif s.tick >= s.round_ticks:
        s.over = True
        lead = h0 * f1.ch.max_health - h1 * f0.ch.max_health
        s.winner = None if lead == 0 else (0 if lead > 0 else 1)
        events.append(_event("timeout", -1 if s.winner is None else s.winner))


def _resolve_hits(s: DuelState, fs, events: list) -> None:
    pending = []
    for i in (0, 1):
        a, d = fs[i], fs[1 - i]
        box = attack_box(a) if a.move and not a.connected else None
        if box is not None and _overlap(box, hurtbox(d)):
            if a.move != Move.THROW:
                pending.append(("melee", i, a.move))
            elif d.y == 0 and d.phase() not in (1, 2) and d.state not in (FState.HITSTUN, FState.BLOCKSTUN):
                pending.append(("grab", i, a.move))
        p = s.projectiles[i]
        if p is not None:
            proj, phw = a.fd(Move.PROJECTILE), a.ch.projectile_half_width
            if _overlap((p.x - phw, p.x + phw, proj.box_low, proj.box_high), hurtbox(d)):
                pending.append(("projectile", i, Move.PROJECTILE))
    if not pending:
        return
    strikes = any(kind != "grab" for kind, _, _ in pending)
    for kind, i, move in pending:
        a, d = fs[i], fs[1 - i]
        if kind == "grab":
            if not strikes:
                a.connected = True
                d.state, d.stun, d.move, d.frame, d.guard, d.vx = (FState.GRABBED, a.ch.tech_window, Move.NONE, 0, 0, 0)
                events.append(_event("grab", i, Move.THROW))
        elif kind == "melee":
            a.connected = True
            _apply_hit(d, a, move, i, events)
        else:
            s.projectiles[i] = None
            _apply_hit(d, a, Move.PROJECTILE, i, events)
    for i in (0, 1):
        a, d = fs[i], fs[1 - i]
        if d.state == FState.GRABBED and a.state == FState.HITSTUN:
            d.state, d.stun = FState.STAND, 0
    _separate(fs[0], fs[1])


def decision_step(s: DuelState, p0, p1, frame_skip: int) -> tuple[float, list]:
    """Both inputs held ``frame_skip`` ticks (stop at the round's end); fighter 0's reward and the events."""
    assert not s.over
    f0, f1 = s.fighters
    b0, b1 = f0.health, f1.health
    events: list = []
    for _ in range(frame_skip):
        advance(s, (p0, p1), events)
        if s.over:
            break
    m0, m1 = f0.ch.max_health, f1.ch.max_health
    if m0 == m1:
        reward = (f0.health - f1.health - (b0 - b1)) / m0
    else:
        reward = (f0.health - b0) / m0 - (f1.health - b1) / m1
    if s.over and s.winner is not None:
        reward += 1.0 if s.winner == 0 else -1.0
    return reward, events


# ---- the observation -----------------------------------------------------------------------------------
_PACK = struct.Struct(f"={L.OBS_SIZE}f").pack


def _onehot(n: int, k: int) -> list[float]:
    v = [0.0] * n
    v[k] = 1.0
    return v


def _block(f: Fighter, sign: int, has_proj: bool) -> list[float]:
    ch = f.ch
    ph = f.phase()
    x = f.x if sign > 0 else STAGE_WIDTH - f.x
    vy = min(max(f.vy / (ch.jump_speed + ch.gravity), -1.0), 1.0)
    block = [x / float(STAGE_WIDTH), f.y / ch.max_jump_height, f.vx * sign / L.OBS_VX_SCALE, vy,
             f.health / ch.max_health, float(f.facing * sign)]
    block += _onehot(L.N_STATES, f.state) + _onehot(L.N_MOVES, f.move) + ([0.0] * 3 if ph == 0 else _onehot(3, ph - 1))
    total = f.fd(f.move).total if f.move else 1
    block += [f.frame / total, min(f.stun / max(ch.max_stun, 1), 1.0), float(f.guard == 1), float(f.guard == 2),
              float(has_proj)]
    return block


def _busy(f: Fighter) -> int:
    if f.stun:
        return f.stun
    return f.fd(f.move).total - f.frame if f.move else 0


def observe(s: DuelState, me: int) -> np.ndarray:
    f, o = s.fighters[me], s.fighters[1 - me]
    sign = f.facing
    mp, op = s.projectiles[me], s.projectiles[1 - me]
    w = float(STAGE_WIDTH)
    back_wall = f.x if sign > 0 else STAGE_WIDTH - f.x
    if f.ch.max_health == o.ch.max_health:
        diff = (f.health - o.health) / f.ch.max_health
    else:
        diff = f.health / f.ch.max_health - o.health / o.ch.max_health
    vec = _block(f, sign, mp is not None) + _block(o, sign, op is not None) + [
        (o.x - f.x) * sign / w,
        (o.y - f.y) / f.ch.max_jump_height,
        max(abs(o.x - f.x) - (f.ch.half_width + o.ch.half_width), 0) / w,
        0.0 if mp is None else (mp.x - f.x) * sign / w,
        0.0 if op is None else 1.0,
        0.0 if op is None else (op.x - f.x) * sign / w,
        0.0 if op is None else op.vx * sign / o.ch.projectile_speed,
        1.0 - s.tick / s.round_ticks,
        diff,
        float(sign),
        (back_wall - f.ch.half_width) / w,
        min(max((_busy(o) - _busy(f)) / L.OBS_ADVANTAGE_SCALE, -1.0), 1.0),
    ]
    return np.frombuffer(bytearray(_PACK(*vec)), dtype=np.float32)


# ---- to and from the kernels' arrays ---------------------------------------------------------------------------
def write_arrays(s: DuelState, F_i: np.ndarray, P_i: np.ndarray, G_i: np.ndarray) -> None:
    """Write one oracle state into one round's kernel arrays."""
    for k, f in enumerate(s.fighters):
        F_i[k, : len(L.FIGHTER_FIELDS)] = [int(getattr(f, name)) for name in L.FIGHTER_FIELDS]
        p = s.projectiles[k]
        P_i[k] = (0, 0, 0) if p is None else (1, p.x, p.vx)
    G_i[:] = (s.tick, int(s.over), -1 if s.winner is None else s.winner)


def same_state(s: DuelState, F_i: np.ndarray, P_i: np.ndarray, G_i: np.ndarray) -> bool:
    """The kernel arrays of one round hold exactly the oracle's state."""
    F2, P2, G2 = F_i.copy(), np.zeros_like(P_i), np.zeros_like(G_i)  # F2 keeps the round's character column
    write_arrays(s, F2, P2, G2)
    if not s.over:
        G2[L.G_WINNER] = G_i[L.G_WINNER]  # meaningful once over only
    P1 = P_i * (P_i[:, L.P_ON:L.P_ON + 1] != 0)  # a projectile's x and speed mean something while it is on
    return np.array_equal(F2, F_i) and np.array_equal(P2, P1) and np.array_equal(G2, G_i)
