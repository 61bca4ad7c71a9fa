"""The duel's rules, decision step and observation: the one implementation, as numba kernels over arrays.

Every form of the duel runs these: the single env (a batch of one), the batched env, the PettingZoo
view, the arena and the watcher. ``tests/duel_oracle.py`` keeps a readable Python version of the same
rules as an oracle, and ``tests/test_duel_kernels.py`` checks these kernels against it bit for bit.

The game. A side-view stage (x to the right, y up, the floor at y = 0) with walls at 0 and
``STAGE_WIDTH``, at ``TICKS_PER_SECOND`` ticks per second, all integer arithmetic, so the rules are
exactly deterministic and mirror-symmetric. An input is ``(stick, button)``, the stick relative to the
fighter's facing; :func:`command` turns it into a move:

=====================  ===========  ============  ===========
stick \\ button         LIGHT        HEAVY         SPECIAL
=====================  ===========  ============  ===========
neutral / back / up*    JAB          HEAVY         THROW
forward                 JAB          OVERHEAD      THROW
down / down-back / -fw  LOW          ANTI_AIR      PROJECTILE
in the air (any)        AIR_KICK     AIR_KICK      --
=====================  ===========  ============  ===========

(*) a button takes priority over a jump. With no button: forward/back walk (holding back guards high
and mid), down crouches, down-back crouches and guards low and mid, up jumps (up-forward and up-back
drift). A crouching guard does not stop a HIGH move; a standing guard does not stop a LOW one. Throws
ignore guard, but a fighter in the startup or active ticks of a move cannot be thrown, and a grabbed
fighter escapes by pressing SPECIAL (not down) within the thrower's ``tech_window``. Each fighter has at
most one projectile on screen; two that meet cancel out. Both fighters are updated simultaneously.

One tick (:func:`tick`): 1. control (each free fighter acts on its input; grabbed fighters escape or get
thrown); 2. physics, facing, bodies pushed apart; 3. projectiles fly (and clash); 4. hits, all decided
from positions after movement, then applied together (trades happen); 5. projectiles spawn on their
move's first active tick; 6. the round ends at a KO or when time runs out.

The numbers are data: each fighter reads its own row of the character tables ``C`` (body) and ``D``
(frame data) at the row ``F[e, k, CHARACTER]`` of round ``e``'s fighter ``k`` (:mod:`envs.duel.character`).

State of N rounds (int32, layout names in :mod:`envs.duel.layout`): ``F[N, 2, NF]`` per fighter,
``P[N, 2, NP]`` per fighter's projectile, ``G[N, NG]`` per round. Helpers index the batch arrays
(``F[e, k, X]``) rather than taking per-round views: every array view passed to a jitted call costs
reference-count updates, about a third of a tick's time when measured.

Events (hits, blocks, grabs, throws, escapes, projectiles, clashes, the end) are written as rows
``(kind, by, move, damage)`` into ``EV[e, 1:]`` while there is room, and counted in ``EV[e, 0, 0]``; a caller that
does not want them passes an ``EV`` with no room.
"""

from __future__ import annotations

import numba

from envs.duel import layout as L
from envs.duel.layout import (
    AIR_ATTACKED,
    CONNECTED,
    FACING,
    FRAME,
    G_OVER,
    G_TICK,
    G_WINNER,
    GUARD,
    HEALTH,
    MOVE,
    NG,
    NP,
    P_ON,
    P_VX,
    P_X,
    STATE,
    STUN,
    VX,
    VY,
    Button,
    FState,
    Level,
    Move,
    Stick,
    X,
    Y,
)
from envs.jit import refresh_cache  # noqa: E402

refresh_cache(__file__, [L.__file__])  # the layout's names are compiled into these kernels
_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")  # helpers: compiled into their callers

# plain ints of the names the kernels compare with (numba freezes module globals at compile time)
_SW = L.STAGE_WIDTH
_W = float(L.STAGE_WIDTH)
_START_X0, _START_X1 = L.STAGE_WIDTH // 2 - L.START_GAP // 2, L.STAGE_WIDTH // 2 + L.START_GAP // 2
_VX_SCALE, _ADV_SCALE = L.OBS_VX_SCALE, L.OBS_ADVANTAGE_SCALE
_M_NONE, _M_JAB, _M_HEAVY, _M_LOW, _M_OVERHEAD = int(Move.NONE), int(Move.JAB), int(Move.HEAVY), int(Move.LOW), int(
    Move.OVERHEAD)
_M_ANTI_AIR, _M_AIR_KICK, _M_THROW, _M_PROJECTILE = (int(Move.ANTI_AIR), int(Move.AIR_KICK), int(Move.THROW),
                                                     int(Move.PROJECTILE))
_F_STAND, _F_WALK_F, _F_WALK_B, _F_CROUCH = (int(FState.STAND), int(FState.WALK_FORWARD), int(FState.WALK_BACK),
                                             int(FState.CROUCH))
_F_AIR, _F_ATTACK, _F_HITSTUN, _F_BLOCKSTUN, _F_GRABBED = (int(FState.AIR), int(FState.ATTACK), int(FState.HITSTUN),
                                                           int(FState.BLOCKSTUN), int(FState.GRABBED))
_LAST_NEUTRAL = max(int(s) for s in L.NEUTRAL_STATES)
assert sorted(int(s) for s in L.NEUTRAL_STATES) == list(range(_LAST_NEUTRAL + 1))  # neutral: state <= _LAST_NEUTRAL
_B_NONE, _B_LIGHT, _B_HEAVY, _B_SPECIAL = int(Button.NONE), int(Button.LIGHT), int(Button.HEAVY), int(Button.SPECIAL)
_S_NEUTRAL, _S_UP, _S_UP_F, _S_FORWARD = int(Stick.NEUTRAL), int(Stick.UP), int(Stick.UP_FORWARD), int(Stick.FORWARD)
_S_DOWN_F, _S_DOWN, _S_DOWN_B, _S_BACK, _S_UP_B = (int(Stick.DOWN_FORWARD), int(Stick.DOWN), int(Stick.DOWN_BACK),
                                                   int(Stick.BACK), int(Stick.UP_BACK))
_L_HIGH, _L_MID = int(Level.HIGH), int(Level.MID)
_G_NONE, _G_STAND, _G_CROUCH = L.GUARD_NONE, L.GUARD_STAND, L.GUARD_CROUCH
_PH_NONE, _PH_STARTUP, _PH_ACTIVE, _PH_RECOVERY = 0, 1, 2, 3
# character table columns
(_C_MAX_HEALTH, _C_HW, _C_STAND_H, _C_CROUCH_H, _C_WALK_F, _C_WALK_B, _C_JUMP, _C_DRIFT, _C_GRAVITY, _C_AIR_HIT,
 _C_PSPEED, _C_PHW, _C_TECH_WINDOW, _C_TECH_PUSH, _C_MAX_JUMP, _C_VY_SCALE, _C_MAX_STUN) = (
    L.C_MAX_HEALTH, L.C_HALF_WIDTH, L.C_STAND_HEIGHT, L.C_CROUCH_HEIGHT, L.C_WALK_FORWARD, L.C_WALK_BACK,
    L.C_JUMP_SPEED, L.C_JUMP_DRIFT, L.C_GRAVITY, L.C_AIR_HIT_SPEED, L.C_PROJ_SPEED, L.C_PROJ_HALF_WIDTH,
    L.C_TECH_WINDOW, L.C_TECH_PUSHBACK, L.C_MAX_JUMP, L.C_VY_SCALE, L.C_MAX_STUN)
(_D_STARTUP, _D_ACTIVE, _D_DAMAGE, _D_CHIP, _D_HITSTUN, _D_BLOCKSTUN, _D_KNOCKBACK, _D_REACH, _D_BOX_LOW, _D_BOX_HIGH,
 _D_LEVEL, _D_TOTAL, _D_CROUCH) = (L.D_STARTUP, L.D_ACTIVE, L.D_DAMAGE, L.D_CHIP, L.D_HITSTUN, L.D_BLOCKSTUN,
                                   L.D_KNOCKBACK, L.D_REACH, L.D_BOX_LOW, L.D_BOX_HIGH, L.D_LEVEL, L.D_TOTAL,
                                   L.D_CROUCH)
_EV_HIT, _EV_BLOCK, _EV_GRAB, _EV_THROW, _EV_TECH = L.EV_HIT, L.EV_BLOCK, L.EV_GRAB, L.EV_THROW, L.EV_TECH
_EV_PROJECTILE, _EV_CLASH, _EV_KO, _EV_TIMEOUT = L.EV_PROJECTILE, L.EV_CLASH, L.EV_KO, L.EV_TIMEOUT
# pending hits of a tick
_HIT_NONE, _HIT_MELEE, _HIT_GRAB = 0, 1, 2
# observation offsets
_F_X, _F_Y, _F_VX, _F_VY, _F_HEALTH, _F_FACING = L.F_X, L.F_Y, L.F_VX, L.F_VY, L.F_HEALTH, L.F_FACING
_F_STATE, _F_MOVE, _F_PHASE, _F_PROGRESS, _F_STUN = L.F_STATE, L.F_MOVE, L.F_PHASE, L.F_PROGRESS, L.F_STUN
_F_GUARD_STAND, _F_GUARD_CROUCH, _F_PROJ, _FF = L.F_GUARD_STAND, L.F_GUARD_CROUCH, L.F_PROJ, L.FIGHTER_FEATURES
_SELF, _OPP = L.SELF, L.OPP
_N_FIELDS = len(L.FIGHTER_FIELDS)


# ---- the character table (one row per character: the body, then each move's frame data) -------------------
_CHAR = L.CHARACTER  # the fighter's column holding its row of the table
_MOVE0, _ND = L.T_MOVES, L.ND


@_inline
def _fd(T, c, m, k):
    """Field ``k`` (``D_*``) of move ``m``'s frame data in character row ``c``."""
    return T[c, _MOVE0 + m * _ND + k]


# ---- the controller -----------------------------------------------------------------------------------
@_inline
def is_up(stick):
    return stick == _S_UP or stick == _S_UP_F or stick == _S_UP_B


@_inline
def is_down(stick):
    return stick == _S_DOWN or stick == _S_DOWN_F or stick == _S_DOWN_B


@_inline
def command(stick, button, airborne):
    """The move ``(stick, button)`` starts (``Move.NONE`` for a walk, jump, crouch or guard)."""
    if button == _B_NONE:
        return _M_NONE
    if airborne:
        return _M_AIR_KICK if button != _B_SPECIAL else _M_NONE
    down = is_down(stick)
    if button == _B_LIGHT:
        return _M_LOW if down else _M_JAB
    if button == _B_HEAVY:
        if down:
            return _M_ANTI_AIR
        return _M_OVERHEAD if stick == _S_FORWARD else _M_HEAVY
    return _M_PROJECTILE if down else _M_THROW


# ---- a fighter's derived values ----------------------------------------------------------------------
@_inline
def height(F, T, e, f):
    """The body's height: crouching (a crouch, a crouching guard, a move done crouched) or standing."""
    c = F[e, f, _CHAR]
    st = F[e, f, STATE]
    if st == _F_CROUCH or F[e, f, GUARD] == _G_CROUCH or (st == _F_ATTACK and _fd(T, c, F[e, f, MOVE], _D_CROUCH) != 0):
        return T[c, _C_CROUCH_H]
    return T[c, _C_STAND_H]


@_inline
def phase(F, T, e, f):
    """0 no move, 1 startup, 2 active, 3 recovery."""
    m = F[e, f, MOVE]
    if m == _M_NONE:
        return _PH_NONE
    c = F[e, f, _CHAR]
    if F[e, f, FRAME] <= _fd(T, c, m, _D_STARTUP):
        return _PH_STARTUP
    return _PH_ACTIVE if F[e, f, FRAME] <= _fd(T, c, m, _D_STARTUP) + _fd(T, c, m, _D_ACTIVE) else _PH_RECOVERY


@_inline
def busy(F, T, e, f):
    """Ticks until the fighter can act again: its stun, or what is left of its move."""
    if F[e, f, STUN] != 0:
        return F[e, f, STUN]
    m = F[e, f, MOVE]
    return _fd(T, F[e, f, _CHAR], m, _D_TOTAL) - F[e, f, FRAME] if m != _M_NONE else 0


@_inline
def attack_box(F, T, e, a):
    """``(live, x0, x1, y0, y1)``: during the active ticks of fighter ``a``'s melee move (connected or
    not), ``live`` is True and the rest is its box; otherwise ``(False, 0, 0, 0, 0)``."""
    m = F[e, a, MOVE]
    if m == _M_NONE or m == _M_PROJECTILE:
        return False, 0, 0, 0, 0
    c = F[e, a, _CHAR]
    first = _fd(T, c, m, _D_STARTUP) + 1
    last = _fd(T, c, m, _D_STARTUP) + _fd(T, c, m, _D_ACTIVE)
    if not (first <= F[e, a, FRAME] <= last):
        return False, 0, 0, 0, 0
    front = F[e, a, X] + T[c, _C_HW] * F[e, a, FACING]
    far = front + _fd(T, c, m, _D_REACH) * F[e, a, FACING]
    x0, x1 = (front, far) if F[e, a, FACING] > 0 else (far, front)
    return True, x0, x1, F[e, a, Y] + _fd(T, c, m, _D_BOX_LOW), F[e, a, Y] + _fd(T, c, m, _D_BOX_HIGH)


@_inline
def _overlap(a0, a1, a2, a3, b0, b1, b2, b3):
    return a0 <= b1 and b0 <= a1 and a2 < b3 and b2 < a3


# ---- events -------------------------------------------------------------------------------------------
@_inline
def _emit(EV, e, kind, by, move, damage):
    """Append the event ``(kind, by, move, damage)`` to round ``e``'s rows ``EV[e, 1:]`` while there is room;
    ``EV[e, 0, 0]`` counts every event of the decision (room or not)."""
    k = EV[e, 0, 0]
    if k + 1 < EV.shape[1]:
        EV[e, k + 1, 0] = kind
        EV[e, k + 1, 1] = by
        EV[e, k + 1, 2] = move
        EV[e, k + 1, 3] = damage
    EV[e, 0, 0] = k + 1


# ---- phase 1: control ----------------------------------------------------------------------------------
@_inline
def _start_move(F, e, f, move):
    F[e, f, MOVE] = move
    F[e, f, FRAME] = 1
    F[e, f, CONNECTED] = 0
    if move == _M_AIR_KICK:
        F[e, f, AIR_ATTACKED] = 1
    else:
        F[e, f, STATE] = _F_ATTACK
        F[e, f, VX] = 0


@_inline
def _control(F, T, e, f, stick, button, has_projectile):
    """One free fighter acts on its input, or advances its move or its stun."""
    c = F[e, f, _CHAR]
    F[e, f, GUARD] = _G_NONE
    st = F[e, f, STATE]
    if st == _F_GRABBED:
        return
    if st == _F_HITSTUN or st == _F_BLOCKSTUN:
        F[e, f, STUN] -= 1
        if F[e, f, STUN] > 0:
            if st == _F_BLOCKSTUN:  # keep guarding; the stick picks standing or crouching
                F[e, f, GUARD] = _G_CROUCH if is_down(stick) else _G_STAND
            return
        F[e, f, STUN] = 0
        F[e, f, STATE] = _F_AIR if F[e, f, Y] > 0 else _F_STAND
        st = F[e, f, STATE]
        if st == _F_AIR:
            return
    if F[e, f, MOVE] != _M_NONE:  # advance the move
        F[e, f, FRAME] += 1
        if F[e, f, FRAME] > _fd(T, c, F[e, f, MOVE], _D_TOTAL):
            F[e, f, MOVE] = _M_NONE
            F[e, f, FRAME] = 0
            if st == _F_ATTACK:
                F[e, f, STATE] = _F_STAND
        return
    if st == _F_AIR:  # one air attack per jump
        if button != _B_NONE and F[e, f, AIR_ATTACKED] == 0:
            m = command(stick, button, True)
            if m != _M_NONE:
                _start_move(F, e, f, m)
        return
    m = command(stick, button, False)  # a free fighter on the ground
    if m == _M_PROJECTILE and has_projectile:
        m = _M_NONE
    if m != _M_NONE:
        _start_move(F, e, f, m)
        return
    if is_up(stick):
        F[e, f, STATE] = _F_AIR
        F[e, f, VY] = T[c, _C_JUMP]
        F[e, f, AIR_ATTACKED] = 0
        drift = 0 if stick == _S_UP else (T[c, _C_DRIFT] if stick == _S_UP_F else -T[c, _C_DRIFT])
        F[e, f, VX] = drift * F[e, f, FACING]
    elif is_down(stick):
        F[e, f, STATE] = _F_CROUCH
        F[e, f, VX] = 0
        F[e, f, GUARD] = _G_CROUCH if stick == _S_DOWN_B else _G_NONE
    elif stick == _S_FORWARD:
        F[e, f, STATE] = _F_WALK_F
        F[e, f, VX] = T[c, _C_WALK_F] * F[e, f, FACING]
    elif stick == _S_BACK:
        F[e, f, STATE] = _F_WALK_B
        F[e, f, VX] = -T[c, _C_WALK_B] * F[e, f, FACING]
        F[e, f, GUARD] = _G_STAND
    else:
        F[e, f, STATE] = _F_STAND
        F[e, f, VX] = 0


@_inline
def _grabbed(F, T, e, f, stick, button, EV):
    """A grabbed fighter escapes with SPECIAL (not down), or the throw lands when the window closes."""
    o = 1 - f
    F[e, f, STUN] -= 1
    if button == _B_SPECIAL and not is_down(stick):  # escape
        F[e, f, STATE] = _F_STAND
        F[e, f, STUN] = 0
        F[e, o, MOVE] = _M_NONE
        F[e, o, FRAME] = 0
        F[e, o, STATE] = _F_STAND
        push = T[F[e, f, _CHAR], _C_TECH_PUSH] // 2
        _push(F, T, e, f, o, push)
        _push(F, T, e, o, f, push)
        _emit(EV, e, _EV_TECH, f, _M_THROW, 0)
    elif F[e, f, STUN] <= 0:  # the throw lands: the thrower's frame data
        t = F[e, o, _CHAR]
        F[e, f, HEALTH] -= _fd(T, t, _M_THROW, _D_DAMAGE)
        F[e, f, STATE] = _F_HITSTUN
        F[e, f, STUN] = _fd(T, t, _M_THROW, _D_HITSTUN)
        _push(F, T, e, f, o, _fd(T, t, _M_THROW, _D_KNOCKBACK))
        _emit(EV, e, _EV_THROW, o, _M_THROW, _fd(T, t, _M_THROW, _D_DAMAGE))


# ---- phase 2: physics, facing, bodies ------------------------------------------------------------------
@_inline
def _physics(F, T, e, f):
    if F[e, f, STATE] == _F_GRABBED:
        return
    if F[e, f, Y] > 0 or F[e, f, VY] > 0:
        F[e, f, X] += F[e, f, VX]
        F[e, f, Y] += F[e, f, VY]
        F[e, f, VY] -= T[F[e, f, _CHAR], _C_GRAVITY]
        if F[e, f, Y] <= 0:  # landing ends an air move and an air state
            F[e, f, Y] = 0
            F[e, f, VY] = 0
            F[e, f, VX] = 0
            if F[e, f, STATE] == _F_AIR:
                F[e, f, STATE] = _F_STAND
                F[e, f, MOVE] = _M_NONE
                F[e, f, FRAME] = 0
    elif F[e, f, STATE] == _F_WALK_F or F[e, f, STATE] == _F_WALK_B:
        F[e, f, X] += F[e, f, VX]


@_inline
def _clamp_x(F, T, e, f):
    """Keep fighter ``f`` inside the walls (its body's half width from each)."""
    hw = T[F[e, f, _CHAR], _C_HW]
    v = F[e, f, X]
    F[e, f, X] = hw if v < hw else (_SW - hw if v > _SW - hw else v)


@_inline
def _separate(F, T, e):
    """Keep the fighters inside the walls and push overlapping bodies apart, symmetrically."""
    _clamp_x(F, T, e, 0)
    _clamp_x(F, T, e, 1)
    y0, y1 = F[e, 0, Y], F[e, 1, Y]
    if (y0 != 0 or y1 != 0) and (y0 >= y1 + height(F, T, e, 1) or y1 >= y0 + height(F, T, e, 0)):
        return  # bodies overlap only if they also overlap in height
    dx = F[e, 1, X] - F[e, 0, X]
    overlap = T[F[e, 0, _CHAR], _C_HW] + T[F[e, 1, _CHAR], _C_HW] - abs(dx)
    if overlap <= 0:
        return
    push = (overlap + 1) // 2
    if dx > 0:
        F[e, 0, X] -= push
        F[e, 1, X] += push
    elif dx < 0:
        F[e, 0, X] += push
        F[e, 1, X] -= push
    else:  # same x: each steps back from its own facing
        F[e, 0, X] -= push * F[e, 0, FACING]
        F[e, 1, X] -= push * F[e, 1, FACING]
    for f in range(2):  # a fighter squeezed against a wall pushes the other out
        o = 1 - f
        hw = T[F[e, f, _CHAR], _C_HW]
        if F[e, f, X] < hw:
            F[e, o, X] += hw - F[e, f, X]
            F[e, f, X] = hw
        elif F[e, f, X] > _SW - hw:
            F[e, o, X] -= F[e, f, X] - (_SW - hw)
            F[e, f, X] = _SW - hw
    _clamp_x(F, T, e, 0)
    _clamp_x(F, T, e, 1)


@_inline
def _push(F, T, e, d, a, amount):
    """Knock ``d`` away from ``a``; a cornered defender pushes the attacker back instead."""
    away = 1 if F[e, d, X] > F[e, a, X] else (-1 if F[e, d, X] < F[e, a, X] else -F[e, d, FACING])
    target = F[e, d, X] + away * amount
    hw = T[F[e, d, _CHAR], _C_HW]
    if target < hw or target > _SW - hw:
        clipped = hw if target < hw else _SW - hw
        F[e, a, X] -= away * abs(target - clipped)
        target = clipped
    F[e, d, X] = target


# ---- phase 3: projectiles -------------------------------------------------------------------------------
@_inline
def _fly(F, P, T, e, EV):
    for i in range(2):
        if P[e, i, P_ON] != 0:
            P[e, i, P_X] += P[e, i, P_VX]
            phw = T[F[e, i, _CHAR], _C_PHW]
            if P[e, i, P_X] < -phw or P[e, i, P_X] > _SW + phw:
                P[e, i, P_ON] = 0
    if P[e, 0, P_ON] != 0 and P[e, 1, P_ON] != 0:
        if abs(P[e, 0, P_X] - P[e, 1, P_X]) <= T[F[e, 0, _CHAR], _C_PHW] + T[F[e, 1, _CHAR], _C_PHW]:
            P[e, 0, P_ON] = 0
            P[e, 1, P_ON] = 0
            _emit(EV, e, _EV_CLASH, 0, _M_PROJECTILE, 0)


# ---- phase 4: hits ------------------------------------------------------------------------------------------
@_inline
def _guards(F, e, d, level):
    if F[e, d, Y] > 0 or F[e, d, GUARD] == _G_NONE:
        return False
    if level == _L_MID:
        return True
    return F[e, d, GUARD] == (_G_STAND if level == _L_HIGH else _G_CROUCH)


@_inline
def _apply_hit(F, T, e, d, a, move, EV):
    """Attacker ``a``'s ``move`` (its own frame data) lands on ``d``: guarded (chip, blockstun, half the
    knockback) or not (damage, hitstun, knockback; a fighter hit in the air flies off)."""
    c = F[e, a, _CHAR]
    if _guards(F, e, d, _fd(T, c, move, _D_LEVEL)):
        F[e, d, HEALTH] -= _fd(T, c, move, _D_CHIP)
        F[e, d, STATE] = _F_BLOCKSTUN
        F[e, d, STUN] = _fd(T, c, move, _D_BLOCKSTUN)
        F[e, d, MOVE] = _M_NONE
        F[e, d, FRAME] = 0
        _push(F, T, e, d, a, _fd(T, c, move, _D_KNOCKBACK) // 2)
        _emit(EV, e, _EV_BLOCK, a, move, _fd(T, c, move, _D_CHIP))
    else:
        F[e, d, HEALTH] -= _fd(T, c, move, _D_DAMAGE)
        F[e, d, STATE] = _F_HITSTUN
        F[e, d, STUN] = _fd(T, c, move, _D_HITSTUN)
        F[e, d, MOVE] = _M_NONE
        F[e, d, FRAME] = 0
        F[e, d, GUARD] = _G_NONE
        if F[e, d, Y] > 0:
            F[e, d, VX] = (1 if F[e, d, X] > F[e, a, X] else -1) * T[F[e, d, _CHAR], _C_AIR_HIT]
            F[e, d, VY] = min(F[e, d, VY], 0)
        _push(F, T, e, d, a, _fd(T, c, move, _D_KNOCKBACK))
        _emit(EV, e, _EV_HIT, a, move, _fd(T, c, move, _D_DAMAGE))


@_inline
def _melee_touch(F, T, e, a, d):
    """Fighter ``a``'s live melee box (not yet connected) overlaps ``d``'s hurtbox."""
    if F[e, a, CONNECTED] != 0:
        return False
    live, x0, x1, y0, y1 = attack_box(F, T, e, a)
    if not live:
        return False
    dx, dy, hw = F[e, d, X], F[e, d, Y], T[F[e, d, _CHAR], _C_HW]
    return _overlap(x0, x1, y0, y1, dx - hw, dx + hw, dy, dy + height(F, T, e, d))


@_inline
def _projectile_touch(F, P, T, e, i, d):
    """Fighter ``i``'s projectile overlaps ``d``'s hurtbox."""
    if P[e, i, P_ON] == 0:
        return False
    c = F[e, i, _CHAR]
    px, phw = P[e, i, P_X], T[c, _C_PHW]
    dx, dy, hw = F[e, d, X], F[e, d, Y], T[F[e, d, _CHAR], _C_HW]
    return _overlap(px - phw, px + phw, _fd(T, c, _M_PROJECTILE, _D_BOX_LOW), _fd(T, c, _M_PROJECTILE, _D_BOX_HIGH),
                    dx - hw, dx + hw, dy, dy + height(F, T, e, d))


@_inline
def _resolve_hits(F, P, T, e, EV):
    """Decide every hit of the tick from the positions after movement, then apply them in order: fighter
    0's melee or grab, its projectile, then fighter 1's. Any strike landing this tick beats a grab."""
    kind0 = kind1 = _HIT_NONE
    move0 = move1 = _M_NONE
    proj0 = proj1 = False
    for i in range(2):
        a, d = i, 1 - i
        kind = _HIT_NONE
        if _melee_touch(F, T, e, a, d):
            if F[e, a, MOVE] != _M_THROW:
                kind = _HIT_MELEE
            else:  # only a grounded fighter that is not attacking (startup, active) nor stunned can be grabbed
                ph, st = phase(F, T, e, d), F[e, d, STATE]
                if F[e, d, Y] == 0 and ph != _PH_STARTUP and ph != _PH_ACTIVE and st != _F_HITSTUN \
                        and st != _F_BLOCKSTUN:
                    kind = _HIT_GRAB
        hit = _projectile_touch(F, P, T, e, i, d)
        if i == 0:
            kind0, proj0, move0 = kind, hit, F[e, a, MOVE]
        else:
            kind1, proj1, move1 = kind, hit, F[e, a, MOVE]
    if kind0 == _HIT_NONE and kind1 == _HIT_NONE and not proj0 and not proj1:
        return
    strikes = kind0 == _HIT_MELEE or kind1 == _HIT_MELEE or proj0 or proj1
    for i in range(2):
        a, d = i, 1 - i
        kind = kind0 if i == 0 else kind1
        if kind == _HIT_GRAB:
            if not strikes:
                F[e, a, CONNECTED] = 1
                F[e, d, STATE] = _F_GRABBED
                F[e, d, STUN] = T[F[e, a, _CHAR], _C_TECH_WINDOW]
                F[e, d, MOVE] = _M_NONE
                F[e, d, FRAME] = 0
                F[e, d, GUARD] = _G_NONE
                F[e, d, VX] = 0
                _emit(EV, e, _EV_GRAB, a, _M_THROW, 0)
        elif kind == _HIT_MELEE:  # the move as it was when the hit was decided (a trade may have cleared it)
            F[e, a, CONNECTED] = 1
            _apply_hit(F, T, e, d, a, move0 if i == 0 else move1, EV)
        if proj0 if i == 0 else proj1:
            P[e, i, P_ON] = 0
            _apply_hit(F, T, e, d, a, _M_PROJECTILE, EV)
    for i in range(2):  # a thrower that got hit lets go
        a, d = i, 1 - i
        if F[e, d, STATE] == _F_GRABBED and F[e, a, STATE] == _F_HITSTUN:
            F[e, d, STATE] = _F_STAND
            F[e, d, STUN] = 0
    _separate(F, T, e)


# ---- one tick ---------------------------------------------------------------------------------------------------
@_jit
def tick(F, P, G, T, e, round_ticks, s0, b0, s1, b1, EV):
    """Advance round ``e`` by one tick in place; ``(s0, b0)`` is fighter 0's input, ``(s1, b1)`` fighter 1's."""
    # 1. control: each free fighter from its own input; then grabbed fighters escape or get thrown
    grabbed = False
    for f in range(2):
        if F[e, f, STATE] == _F_GRABBED:
            grabbed = True
        elif f == 0:
            _control(F, T, e, 0, s0, b0, P[e, 0, P_ON] != 0)
        else:
            _control(F, T, e, 1, s1, b1, P[e, 1, P_ON] != 0)
    if grabbed:
        for f in range(2):
            if F[e, f, STATE] == _F_GRABBED:
                if f == 0:
                    _grabbed(F, T, e, 0, s0, b0, EV)
                else:
                    _grabbed(F, T, e, 1, s1, b1, EV)
    # 2. physics, facing (fighters free on the ground turn to face each other), bodies
    _physics(F, T, e, 0)
    _physics(F, T, e, 1)
    x0, x1 = F[e, 0, X], F[e, 1, X]
    if x0 != x1:
        if F[e, 0, Y] == 0 and F[e, 0, STATE] <= _LAST_NEUTRAL:
            F[e, 0, FACING] = 1 if x1 > x0 else -1
        if F[e, 1, Y] == 0 and F[e, 1, STATE] <= _LAST_NEUTRAL:
            F[e, 1, FACING] = 1 if x0 > x1 else -1
    _separate(F, T, e)
    # 3. projectiles fly; two that meet cancel out
    if P[e, 0, P_ON] != 0 or P[e, 1, P_ON] != 0:
        _fly(F, P, T, e, EV)
    # 4. hits
    if F[e, 0, MOVE] != _M_NONE or F[e, 1, MOVE] != _M_NONE or P[e, 0, P_ON] != 0 or P[e, 1, P_ON] != 0:
        _resolve_hits(F, P, T, e, EV)
    # 5. projectiles spawn on the first active tick of PROJECTILE
    for f in range(2):
        c = F[e, f, _CHAR]
        if F[e, f, MOVE] == _M_PROJECTILE and F[e, f, FRAME] == _fd(T, c, _M_PROJECTILE, _D_STARTUP) + 1 \
                and P[e, f, P_ON] == 0:
            P[e, f, P_ON] = 1
            P[e, f, P_X] = F[e, f, X] + (T[c, _C_HW] + _fd(T, c, _M_PROJECTILE, _D_REACH)) * F[e, f, FACING]
            P[e, f, P_VX] = T[c, _C_PSPEED] * F[e, f, FACING]
            _emit(EV, e, _EV_PROJECTILE, f, _M_PROJECTILE, 0)
    # 6. the round ends at a KO or a time-out (the healthier fighter, by share of its health, wins)
    G[e, G_TICK] += 1
    h0, h1 = F[e, 0, HEALTH], F[e, 1, HEALTH]
    if h0 <= 0 or h1 <= 0:
        F[e, 0, HEALTH] = max(h0, 0)
        F[e, 1, HEALTH] = max(h1, 0)
        G[e, G_OVER] = 1
        G[e, G_WINNER] = -1 if (h0 <= 0 and h1 <= 0) else (1 if h0 <= 0 else 0)
        _emit(EV, e, _EV_KO, G[e, G_WINNER], _M_NONE, 0)
    elif G[e, G_TICK] >= round_ticks:
        G[e, G_OVER] = 1
        lead = h0 * T[F[e, 1, _CHAR], _C_MAX_HEALTH] - h1 * T[F[e, 0, _CHAR], _C_MAX_HEALTH]
        G[e, G_WINNER] = -1 if lead == 0 else (0 if lead > 0 else 1)
        _emit(EV, e, _EV_TIMEOUT, G[e, G_WINNER], _M_NONE, 0)


# ---- the start of a round ----------------------------------------------------------------------------------------
@_jit
def reset_round(F, P, G, T, e):
    """Fighter 0 on the left facing right, fighter 1 on the right facing left, START_GAP apart, full health."""
    for k in range(2):
        for j in range(_N_FIELDS):  # every field but the fighter's character
            F[e, k, j] = 0
        for j in range(NP):
            P[e, k, j] = 0
        F[e, k, HEALTH] = T[F[e, k, _CHAR], _C_MAX_HEALTH]
    F[e, 0, X], F[e, 1, X] = _START_X0, _START_X1
    F[e, 0, FACING], F[e, 1, FACING] = 1, -1
    for j in range(NG):
        G[e, j] = 0


# ---- the observation ----------------------------------------------------------------------------------------------
@_inline
def _fighter_block(O, e, off, F, T, f, sign, has_proj):
    c = F[e, f, _CHAR]
    m = F[e, f, MOVE]
    ph = phase(F, T, e, f)
    x = F[e, f, X] if sign > 0 else _SW - F[e, f, X]
    O[e, off + _F_X] = x / _W
    O[e, off + _F_Y] = F[e, f, Y] / T[c, _C_MAX_JUMP]
    O[e, off + _F_VX] = F[e, f, VX] * sign / _VX_SCALE
    O[e, off + _F_VY] = min(max(F[e, f, VY] / T[c, _C_VY_SCALE], -1.0), 1.0)
    O[e, off + _F_HEALTH] = F[e, f, HEALTH] / T[c, _C_MAX_HEALTH]
    O[e, off + _F_FACING] = float(F[e, f, FACING] * sign)
    for j in range(_F_STATE, _F_PROGRESS):  # the state, move and phase one-hots
        O[e, off + j] = 0.0
    O[e, off + _F_STATE + F[e, f, STATE]] = 1.0
    O[e, off + _F_MOVE + m] = 1.0
    if ph != _PH_NONE:
        O[e, off + _F_PHASE + ph - 1] = 1.0
    O[e, off + _F_PROGRESS] = F[e, f, FRAME] / (_fd(T, c, m, _D_TOTAL) if m != _M_NONE else 1)
    O[e, off + _F_STUN] = min(F[e, f, STUN] / T[c, _C_MAX_STUN], 1.0)
    O[e, off + _F_GUARD_STAND] = 1.0 if F[e, f, GUARD] == _G_STAND else 0.0
    O[e, off + _F_GUARD_CROUCH] = 1.0 if F[e, f, GUARD] == _G_CROUCH else 0.0
    O[e, off + _F_PROJ] = 1.0 if has_proj else 0.0


@_inline
def _health_share_diff(F, T, e, f, o):
    """(f's health - o's health) / max health; with two different max healths, the difference of shares."""
    mf, mo = T[F[e, f, _CHAR], _C_MAX_HEALTH], T[F[e, o, _CHAR], _C_MAX_HEALTH]
    if mf == mo:
        return (F[e, f, HEALTH] - F[e, o, HEALTH]) / mf
    return F[e, f, HEALTH] / mf - F[e, o, HEALTH] / mo


@_jit
def observe(O, F, P, G, T, e, round_ticks, me):
    """Write fighter ``me``'s view of round ``e`` into row ``e`` of ``O`` (76 float32, layout ``OBS_*``)."""
    f, o = me, 1 - me
    sign = F[e, f, FACING]
    mp_on, op_on = P[e, f, P_ON] != 0, P[e, o, P_ON] != 0
    _fighter_block(O, e, _SELF, F, T, f, sign, mp_on)
    _fighter_block(O, e, _OPP, F, T, o, sign, op_on)
    hw_f, hw_o = T[F[e, f, _CHAR], _C_HW], T[F[e, o, _CHAR], _C_HW]
    back_wall = F[e, f, X] if sign > 0 else _SW - F[e, f, X]
    O[e, L.OBS_DX] = (F[e, o, X] - F[e, f, X]) * sign / _W
    O[e, L.OBS_DY] = (F[e, o, Y] - F[e, f, Y]) / T[F[e, f, _CHAR], _C_MAX_JUMP]
    O[e, L.OBS_GAP] = max(abs(F[e, o, X] - F[e, f, X]) - (hw_f + hw_o), 0) / _W
    O[e, L.OBS_MY_PROJ_DX] = 0.0 if not mp_on else (P[e, f, P_X] - F[e, f, X]) * sign / _W
    O[e, L.OBS_OPP_PROJ] = 1.0 if op_on else 0.0
    O[e, L.OBS_OPP_PROJ_DX] = 0.0 if not op_on else (P[e, o, P_X] - F[e, f, X]) * sign / _W
    O[e, L.OBS_OPP_PROJ_VX] = 0.0 if not op_on else P[e, o, P_VX] * sign / T[F[e, o, _CHAR], _C_PSPEED]
    O[e, L.OBS_TIME] = 1.0 - G[e, G_TICK] / round_ticks
    O[e, L.OBS_HEALTH_DIFF] = _health_share_diff(F, T, e, f, o)
    O[e, L.OBS_ABS_FACING] = float(sign)
    O[e, L.OBS_BACK_WALL] = (back_wall - hw_f) / _W
    advantage = (busy(F, T, e, o) - busy(F, T, e, f)) / _ADV_SCALE
    O[e, L.OBS_ADVANTAGE] = min(max(advantage, -1.0), 1.0)


# ---- the decision step: both inputs held frame_skip ticks, then the score --------------------------------------------
@_jit
def begin_decision(F, BH, EV, e):
    """Remember both healths at the start of a decision (the reward's baseline) and clear its events."""
    BH[e, 0] = F[e, 0, HEALTH]
    BH[e, 1] = F[e, 1, HEALTH]
    EV[e, 0, 0] = 0


@_jit
def decision_reward(F, G, T, BH, e):
    """Fighter 0's reward for the decision since :func:`begin_decision`: the change of the health
    difference over max health (computed on integers, divided once), plus +1 for a win, -1 for a loss.
    Fighter 1's is exactly its negation."""
    m0, m1 = T[F[e, 0, _CHAR], _C_MAX_HEALTH], T[F[e, 1, _CHAR], _C_MAX_HEALTH]
    if m0 == m1:
        r = (F[e, 0, HEALTH] - F[e, 1, HEALTH] - (BH[e, 0] - BH[e, 1])) / m0
    else:
        r = (F[e, 0, HEALTH] - BH[e, 0]) / m0 - (F[e, 1, HEALTH] - BH[e, 1]) / m1
    if G[e, G_OVER] != 0 and G[e, G_WINNER] >= 0:
        r += 1.0 if G[e, G_WINNER] == 0 else -1.0
    return r


@_jit
def step_batch(F, P, G, T, BH, round_ticks, frame_skip, inputs, me, restart, reward, terminated, obs_me,
               obs_other, EV):
    """One decision step of every round, in place.

    ``inputs[i, 0] = (stick, button)`` of fighter ``me[i]`` (0 left, 1 right) in round i and ``inputs[i, 1]``
    of the other, both held ``frame_skip`` ticks (fewer when the round ends). Rounds with ``restart[i]``
    start a new round instead (next-step autoreset: reward 0, not terminated). Writes ``reward`` (fighter
    ``me[i]``'s, float64), ``terminated`` and both fighters' observations: ``obs_me[i]`` of fighter
    ``me[i]``, ``obs_other[i]`` of the other. The events of the decision go to ``EV``. Returns
    the number of rounds that terminated.
    """
    ended = 0
    for e in range(F.shape[0]):
        m = me[e]
        begin_decision(F, BH, EV, e)
        if restart[e]:
            reset_round(F, P, G, T, e)
            reward[e] = 0.0
            terminated[e] = False
        else:
            if m == 0:
                s0, b0, s1, b1 = inputs[e, 0, 0], inputs[e, 0, 1], inputs[e, 1, 0], inputs[e, 1, 1]
            else:
                s0, b0, s1, b1 = inputs[e, 1, 0], inputs[e, 1, 1], inputs[e, 0, 0], inputs[e, 0, 1]
            for _ in range(frame_skip):
                tick(F, P, G, T, e, round_ticks, s0, b0, s1, b1, EV)
                if G[e, G_OVER] != 0:
                    break
            r = decision_reward(F, G, T, BH, e)
            reward[e] = r if m == 0 else -r
            terminated[e] = G[e, G_OVER] != 0
            ended += terminated[e]
        observe(obs_me, F, P, G, T, e, round_ticks, m)
        observe(obs_other, F, P, G, T, e, round_ticks, 1 - m)
    return ended


@_jit
def tick_batch(F, P, G, T, round_ticks, inputs, me, active, EV):
    """One tick of every round with ``active[i]`` that is not over (the per-tick form of :func:`step_batch`,
    for a watcher that draws every tick; ``inputs`` and ``me`` as there)."""
    for e in range(F.shape[0]):
        if not active[e] or G[e, G_OVER] != 0:
            continue
        if me[e] == 0:
            s0, b0, s1, b1 = inputs[e, 0, 0], inputs[e, 0, 1], inputs[e, 1, 0], inputs[e, 1, 1]
        else:
            s0, b0, s1, b1 = inputs[e, 1, 0], inputs[e, 1, 1], inputs[e, 0, 0], inputs[e, 0, 1]
        tick(F, P, G, T, e, round_ticks, s0, b0, s1, b1, EV)


@_jit
def finish_batch(F, P, G, T, BH, round_ticks, me, active, reward, terminated, obs_me, obs_other):
    """The end of a decision played with :func:`tick_batch`: rewards, terminations, observations."""
    for e in range(F.shape[0]):
        if not active[e]:
            continue
        r = decision_reward(F, G, T, BH, e)
        reward[e] = r if me[e] == 0 else -r
        terminated[e] = G[e, G_OVER] != 0
        observe(obs_me, F, P, G, T, e, round_ticks, me[e])
        observe(obs_other, F, P, G, T, e, round_ticks, 1 - me[e])


@_jit
def begin_batch(F, BH, EV, active):
    for e in range(F.shape[0]):
        if active[e]:
            begin_decision(F, BH, EV, e)


@_jit
def observe_batch(F, P, G, T, round_ticks, me, obs_me, obs_other):
    for e in range(F.shape[0]):
        observe(obs_me, F, P, G, T, e, round_ticks, me[e])
        observe(obs_other, F, P, G, T, e, round_ticks, 1 - me[e])


@_jit
def boxes(F, P, T, e, out):
    """The geometry of round ``e`` for drawing: ``out[k] = (hurt x0, x1, y0, y1, has attack box, attack x0,
    x1, y0, y1, phase, height)`` of fighter k (the attack box whether connected or not)."""
    for k in range(2):
        hw, h = T[F[e, k, _CHAR], _C_HW], height(F, T, e, k)
        out[k, 0], out[k, 1], out[k, 2], out[k, 3] = F[e, k, X] - hw, F[e, k, X] + hw, F[e, k, Y], F[e, k, Y] + h
        live, x0, x1, y0, y1 = attack_box(F, T, e, k)
        out[k, 4], out[k, 5], out[k, 6], out[k, 7], out[k, 8] = (1 if live else 0), x0, x1, y0, y1
        out[k, 9] = phase(F, T, e, k)
        out[k, 10] = h


# ---- the envs' lean path: actions in, per-round info out -------------------------------------------------
@_jit
def take_actions(a, act, players, flat, n_stick, n_button):
    """Copy the integer actions ``a`` (flattened) into ``act[:, :players]`` (``(N, 2, 2)``: round, player,
    stick and button), from pairs or, with ``flat``, from ``stick * n_button + button``. Returns False
    (``act`` partly written) when an action is out of range; the caller then refuses the step before
    anything else moves."""
    k = 0
    for e in range(act.shape[0]):
        for p in range(players):
            if flat:
                v = a[k]
                k += 1
                if v < 0 or v >= n_stick * n_button:
                    return False
                act[e, p, 0] = v // n_button
                act[e, p, 1] = v % n_button
            else:
                s, b = a[k], a[k + 1]
                k += 2
                if s < 0 or s >= n_stick or b < 0 or b >= n_button:
                    return False
                act[e, p, 0] = s
                act[e, p, 1] = b
    return True


@_jit
def fill_info(F, G, me, out):
    """``out[e] = (agent's health, opponent's health, tick, winner)`` of every round, the agent being
    fighter ``me[e]`` (winner: 0, 1, -1 for a draw; meaningful once over)."""
    for e in range(F.shape[0]):
        out[e, 0] = F[e, me[e], HEALTH]
        out[e, 1] = F[e, 1 - me[e], HEALTH]
        out[e, 2] = G[e, G_TICK]
        out[e, 3] = G[e, G_WINNER]
