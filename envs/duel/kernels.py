"""The duel rules and observation as numba kernels over struct-of-arrays state, for the batched env.

This is :mod:`envs.duel.rules` (one tick), the one decision step (``envs.duel.step``: hold both inputs
``frame_skip`` ticks, stop at the round's end, score the health change and the result) and
:func:`envs.duel.env.observe`, written again over arrays so that one call steps N rounds with no Python
per round. The Python versions stay the readable reference; ``tests/test_duel_vector.py`` proves these
equal to them bit for bit (state, observations, rewards) over random inputs. Events are not collected.

Helpers index the batch arrays directly (``F[e, k, X]``, round ``e``, fighter ``k``) rather than taking
per-round views: every array view passed to a jitted call costs atomic reference-count updates, about a
third of a tick's time when measured.

State of N rounds, all integers:

- ``F[N, 2, NF]`` int32: per fighter the fields of :class:`rules.Fighter` (column constants below);
- ``P[N, 2, NP]`` int32: per fighter its projectile (present flag, x, vx);
- ``G[N, NG]`` int32: tick, over flag, winner (0, 1, or -1 for a draw; meaningful once over).
"""

from __future__ import annotations

import numba
import numpy as np

from envs.duel import rules
from envs.duel.rules import FRAME_DATA, Move

# ---- state layout --------------------------------------------------------------------------------
X, Y, VX, VY, FACING, HEALTH, STATE, MOVE, FRAME, STUN, GUARD, CONNECTED, AIR_ATTACKED = range(13)
NF = 13
P_ON, P_X, P_VX = range(3)
NP = 3
G_TICK, G_OVER, G_WINNER = range(3)
NG = 3

_FIELDS = ("x", "y", "vx", "vy", "facing", "health", "state", "move", "frame", "stun", "guard",
           "connected", "air_attacked")

# ---- constants the kernels close over (numba freezes module-level globals at compile time) --------
_W = float(rules.STAGE_WIDTH)
_SW = rules.STAGE_WIDTH
_HW = rules.HALF_WIDTH
_LO, _HI = rules.HALF_WIDTH, rules.STAGE_WIDTH - rules.HALF_WIDTH
_STAND_H, _CROUCH_H = rules.STAND_HEIGHT, rules.CROUCH_HEIGHT
_MAX_HEALTH = rules.MAX_HEALTH
_JUMP_SPEED, _JUMP_DRIFT, _GRAVITY = rules.JUMP_SPEED, rules.JUMP_DRIFT, rules.GRAVITY
_WALK_F, _WALK_B = rules.WALK_FORWARD_SPEED, rules.WALK_BACK_SPEED
_PSPEED, _PHW = rules.PROJECTILE_SPEED, rules.PROJECTILE_HALF_WIDTH
_TECH_WINDOW, _TECH_PUSH = rules.THROW_TECH_WINDOW, rules.TECH_PUSHBACK
_MAX_JUMP = rules.MAX_JUMP_HEIGHT
_MAX_STUN = rules.MAX_STUN
_VY_SCALE = float(rules.JUMP_SPEED + 1)

_NM = len(Move)
# frame-data columns per move (row 0: no move)
_FD = np.zeros((_NM, 12), dtype=np.int64)
(_STARTUP, _ACTIVE, _RECOVERY, _DAMAGE, _CHIP, _HITSTUN, _BLOCKSTUN, _KNOCKBACK, _REACH, _BOX_LO, _BOX_HI,
 _LEVEL) = range(12)
for _m in range(1, _NM):
    _fd = FRAME_DATA[Move(_m)]
    _FD[_m] = (_fd.startup, _fd.active, _fd.recovery, _fd.damage, _fd.chip, _fd.hitstun, _fd.blockstun,
               _fd.knockback, _fd.reach, _fd.box_low, _fd.box_high, int(_fd.level))
_TOTAL = np.array([0] + [FRAME_DATA[Move(m)].total for m in range(1, _NM)], dtype=np.int64)
_TOTAL_OBS = _TOTAL.copy()
_TOTAL_OBS[0] = 1  # the observation divides by it (envs.duel.env._MOVE_TOTAL)
_CROUCH_MOVE = np.zeros(_NM, dtype=np.bool_)
_CROUCH_MOVE[[int(Move.LOW), int(Move.ANTI_AIR), int(Move.PROJECTILE)]] = True

_M_NONE, _M_AIR_KICK, _M_THROW, _M_PROJECTILE = 0, int(Move.AIR_KICK), int(Move.THROW), int(Move.PROJECTILE)
_M_JAB, _M_HEAVY, _M_LOW, _M_OVERHEAD, _M_ANTI_AIR = (int(Move.JAB), int(Move.HEAVY), int(Move.LOW),
                                                     int(Move.OVERHEAD), int(Move.ANTI_AIR))
_F_STAND, _F_WF, _F_WB, _F_CROUCH, _F_AIR, _F_ATTACK, _F_HITSTUN, _F_BLOCKSTUN, _F_GRABBED = range(9)
_B_NONE, _B_LIGHT, _B_HEAVY, _B_SPECIAL = range(4)
_S_UP, _S_UP_FORWARD, _S_FORWARD, _S_DOWN_BACK, _S_BACK = (int(rules.Stick.UP), int(rules.Stick.UP_FORWARD),
                                                           int(rules.Stick.FORWARD), int(rules.Stick.DOWN_BACK),
                                                           int(rules.Stick.BACK))
_L_HIGH, _L_MID = int(rules.Level.HIGH), int(rules.Level.MID)
_PROJ_STARTUP = FRAME_DATA[Move.PROJECTILE].startup
_PROJ_REACH = FRAME_DATA[Move.PROJECTILE].reach
_PROJ_LO, _PROJ_HI = FRAME_DATA[Move.PROJECTILE].box_low, FRAME_DATA[Move.PROJECTILE].box_high
assert [int(s) for s in rules._UPS] and {int(s) for s in rules._UPS} == {1, 2, 8}
assert {int(s) for s in rules._DOWNS} == {4, 5, 6}

_jit = numba.njit(cache=True, nogil=True)


# ---- one tick (rules.advance) ----------------------------------------------------------------------
@_jit
def _is_up(stick):
    return stick == 1 or stick == 2 or stick == 8


@_jit
def _is_down(stick):
    return stick == 4 or stick == 5 or stick == 6


@_jit
def _command(stick, button, airborne):
    if button == _B_NONE:
        return _M_NONE
    if airborne:
        return _M_AIR_KICK if button != _B_SPECIAL else _M_NONE
    down = _is_down(stick)
    if button == _B_LIGHT:
        return _M_LOW if down else _M_JAB
    if button == _B_HEAVY:
        if down:
            return _M_ANTI_AIR
        return _M_OVERHEAD if stick == _S_FORWARD else _M_HEAVY
    return _M_PROJECTILE if down else _M_THROW


@_jit
def _height(F, e, f):
    st = F[e, f, STATE]
    if st == _F_CROUCH or F[e, f, GUARD] == 2 or (st == _F_ATTACK and _CROUCH_MOVE[F[e, f, MOVE]]):
        return _CROUCH_H
    return _STAND_H


@_jit
def _phase(F, e, f):
    m = F[e, f, MOVE]
    if m == _M_NONE:
        return 0
    if F[e, f, FRAME] <= _FD[m, _STARTUP]:
        return 1
    return 2 if F[e, f, FRAME] <= _FD[m, _STARTUP] + _FD[m, _ACTIVE] else 3


@_jit
def _start_move(F, e, f, move):
    F[e, f, MOVE] = move
    F[e, f, FRAME] = 0
    F[e, f, CONNECTED] = 0
    if move == _M_AIR_KICK:
        F[e, f, AIR_ATTACKED] = 1
    else:
        F[e, f, STATE] = _F_ATTACK
        F[e, f, VX] = 0


@_jit
def _control(F, e, f, stick, button, has_projectile):
    F[e, f, GUARD] = 0
    st = F[e, f, STATE]
    if st == _F_GRABBED:
        return
    if st == _F_HITSTUN or st == _F_BLOCKSTUN:
        F[e, f, STUN] -= 1
        if F[e, f, STUN] > 0:
            if st == _F_BLOCKSTUN:
                F[e, f, GUARD] = 2 if _is_down(stick) else 1
            return
        F[e, f, STUN] = 0
        F[e, f, STATE] = _F_AIR if F[e, f, Y] > 0 else _F_STAND
        st = F[e, f, STATE]
        if st == _F_AIR:
            return
    if F[e, f, MOVE] != _M_NONE:
        F[e, f, FRAME] += 1
        if F[e, f, FRAME] > _TOTAL[F[e, f, MOVE]]:
            F[e, f, MOVE] = _M_NONE
            F[e, f, FRAME] = 0
            if st == _F_ATTACK:
                F[e, f, STATE] = _F_STAND
        return
    if st == _F_AIR:
        if button != _B_NONE and F[e, f, AIR_ATTACKED] == 0:
            m = _command(stick, button, True)
            if m != _M_NONE:
                _start_move(F, e, f, m)
                F[e, f, FRAME] = 1
        return
    m = _command(stick, button, False)
    if m == _M_PROJECTILE and has_projectile:
        m = _M_NONE
    if m != _M_NONE:
        _start_move(F, e, f, m)
        F[e, f, FRAME] = 1
        return
    if _is_up(stick):
        F[e, f, STATE] = _F_AIR
        F[e, f, VY] = _JUMP_SPEED
        F[e, f, AIR_ATTACKED] = 0
        drift = 0 if stick == _S_UP else (_JUMP_DRIFT if stick == _S_UP_FORWARD else -_JUMP_DRIFT)
        F[e, f, VX] = drift * F[e, f, FACING]
    elif _is_down(stick):
        F[e, f, STATE] = _F_CROUCH
        F[e, f, VX] = 0
        F[e, f, GUARD] = 2 if stick == _S_DOWN_BACK else 0
    elif stick == _S_FORWARD:
        F[e, f, STATE] = _F_WF
        F[e, f, VX] = _WALK_F * F[e, f, FACING]
    elif stick == _S_BACK:
        F[e, f, STATE] = _F_WB
        F[e, f, VX] = -_WALK_B * F[e, f, FACING]
        F[e, f, GUARD] = 1
    else:
        F[e, f, STATE] = _F_STAND
        F[e, f, VX] = 0


@_jit
def _physics(F, e, f):
    if F[e, f, STATE] == _F_GRABBED:
        return
    if F[e, f, Y] > 0 or F[e, f, VY] > 0:
        F[e, f, X] += F[e, f, VX]
        F[e, f, Y] += F[e, f, VY]
        F[e, f, VY] -= _GRAVITY
        if F[e, f, Y] <= 0:
            F[e, f, Y] = 0
            F[e, f, VY] = 0
            F[e, f, VX] = 0
            if F[e, f, STATE] == _F_AIR:
                F[e, f, STATE] = _F_STAND
                F[e, f, MOVE] = _M_NONE
                F[e, f, FRAME] = 0
    elif F[e, f, STATE] == _F_WF or F[e, f, STATE] == _F_WB:
        F[e, f, X] += F[e, f, VX]


@_jit
def _clamp_x(v):
    return _LO if v < _LO else (_HI if v > _HI else v)


@_jit
def _separate(F, e, a, b):
    F[e, a, X] = _clamp_x(F[e, a, X])
    F[e, b, X] = _clamp_x(F[e, b, X])
    ay, by = F[e, a, Y], F[e, b, Y]
    if (ay != 0 or by != 0) and (ay >= by + _height(F, e, b) or by >= ay + _height(F, e, a)):
        return
    dx = F[e, b, X] - F[e, a, X]
    overlap = 2 * _HW - abs(dx)
    if overlap <= 0:
        return
    push = (overlap + 1) // 2
    if dx > 0:
        F[e, a, X] -= push
        F[e, b, X] += push
    elif dx < 0:
        F[e, a, X] += push
        F[e, b, X] -= push
    else:
        F[e, a, X] -= push * F[e, a, FACING]
        F[e, b, X] -= push * F[e, b, FACING]
    for k in range(2):  # a fighter squeezed against a wall pushes the other out
        f, o = (a, b) if k == 0 else (b, a)
        if F[e, f, X] < _LO:
            F[e, o, X] += _LO - F[e, f, X]
            F[e, f, X] = _LO
        elif F[e, f, X] > _HI:
            F[e, o, X] -= F[e, f, X] - _HI
            F[e, f, X] = _HI
    F[e, a, X] = _clamp_x(F[e, a, X])
    F[e, b, X] = _clamp_x(F[e, b, X])


@_jit
def _guards(F, e, d, level):
    if F[e, d, Y] > 0 or F[e, d, GUARD] == 0:
        return False
    if level == _L_MID:
        return True
    return F[e, d, GUARD] == (1 if level == _L_HIGH else 2)


@_jit
def _push(F, e, d, a, amount):
    away = 1 if F[e, d, X] > F[e, a, X] else (-1 if F[e, d, X] < F[e, a, X] else -F[e, d, FACING])
    target = F[e, d, X] + away * amount
    if target < _LO or target > _HI:
        clipped = _LO if target < _LO else _HI
        F[e, a, X] -= away * abs(target - clipped)
        target = clipped
    F[e, d, X] = target


@_jit
def _apply_hit(F, e, d, a, move):
    if _guards(F, e, d, _FD[move, _LEVEL]):
        F[e, d, HEALTH] -= _FD[move, _CHIP]
        F[e, d, STATE] = _F_BLOCKSTUN
        F[e, d, STUN] = _FD[move, _BLOCKSTUN]
        F[e, d, MOVE] = _M_NONE
        F[e, d, FRAME] = 0
        _push(F, e, d, a, _FD[move, _KNOCKBACK] // 2)
    else:
        F[e, d, HEALTH] -= _FD[move, _DAMAGE]
        F[e, d, STATE] = _F_HITSTUN
        F[e, d, STUN] = _FD[move, _HITSTUN]
        F[e, d, MOVE] = _M_NONE
        F[e, d, FRAME] = 0
        F[e, d, GUARD] = 0
        if F[e, d, Y] > 0:
            F[e, d, VX] = (1 if F[e, d, X] > F[e, a, X] else -1) * 3
            F[e, d, VY] = min(F[e, d, VY], 0)
        _push(F, e, d, a, _FD[move, _KNOCKBACK])


@_jit
def _overlap(a0, a1, a2, a3, b0, b1, b2, b3):
    return a0 <= b1 and b0 <= a1 and a2 < b3 and b2 < a3


@_jit
def _melee_touch(F, e, a, d):
    """The attacker's live melee box overlaps the defender's hurtbox (rules.attack_box / hurtbox)."""
    m = F[e, a, MOVE]
    if m == _M_NONE or F[e, a, CONNECTED] != 0 or m == _M_PROJECTILE:
        return False
    first = _FD[m, _STARTUP] + 1
    last = _FD[m, _STARTUP] + _FD[m, _ACTIVE]
    if not (first <= F[e, a, FRAME] <= last):
        return False
    front = F[e, a, X] + _HW * F[e, a, FACING]
    far = front + _FD[m, _REACH] * F[e, a, FACING]
    if F[e, a, FACING] > 0:
        x0, x1 = front, far
    else:
        x0, x1 = far, front
    return _overlap(x0, x1, F[e, a, Y] + _FD[m, _BOX_LO], F[e, a, Y] + _FD[m, _BOX_HI],
                    F[e, d, X] - _HW, F[e, d, X] + _HW, F[e, d, Y], F[e, d, Y] + _height(F, e, d))


@_jit
def _resolve_hits(F, P, e):
    # pending, in the order rules._resolve_hits appends them: fighter 0's melee/grab, its projectile,
    # then fighter 1's. kind: 0 nothing, 1 melee, 2 grab
    kind0 = kind1 = 0
    move0 = move1 = 0
    proj0 = proj1 = False
    for i in range(2):
        a, d = i, 1 - i
        kind = 0
        if _melee_touch(F, e, a, d):
            if F[e, a, MOVE] != _M_THROW:
                kind = 1
            else:
                ph, st = _phase(F, e, d), F[e, d, STATE]
                if F[e, d, Y] == 0 and ph != 1 and ph != 2 and st != _F_HITSTUN and st != _F_BLOCKSTUN:
                    kind = 2
        hit = False
        if P[e, i, P_ON] != 0:
            px = P[e, i, P_X]
            dx, dy = F[e, d, X], F[e, d, Y]
            hit = _overlap(px - _PHW, px + _PHW, _PROJ_LO, _PROJ_HI, dx - _HW, dx + _HW, dy, dy + _height(F, e, d))
        if i == 0:
            kind0, proj0, move0 = kind, hit, F[e, a, MOVE]
        else:
            kind1, proj1, move1 = kind, hit, F[e, a, MOVE]
    if kind0 == 0 and kind1 == 0 and not proj0 and not proj1:
        return
    strikes = kind0 == 1 or kind1 == 1 or proj0 or proj1
    for i in range(2):
        a, d = i, 1 - i
        kind = kind0 if i == 0 else kind1
        if kind == 2:
            if not strikes:
                F[e, a, CONNECTED] = 1
                F[e, d, STATE] = _F_GRABBED
                F[e, d, STUN] = _TECH_WINDOW
                F[e, d, MOVE] = _M_NONE
                F[e, d, FRAME] = 0
                F[e, d, GUARD] = 0
                F[e, d, VX] = 0
        elif kind == 1:  # the move as it was when the hit was decided (a trade may have cleared it)
            F[e, a, CONNECTED] = 1
            _apply_hit(F, e, d, a, move0 if i == 0 else move1)
        if proj0 if i == 0 else proj1:
            P[e, i, P_ON] = 0
            _apply_hit(F, e, d, a, _M_PROJECTILE)
    for i in range(2):
        a, d = i, 1 - i
        if F[e, d, STATE] == _F_GRABBED and F[e, a, STATE] == _F_HITSTUN:
            F[e, d, STATE] = _F_STAND
            F[e, d, STUN] = 0
    _separate(F, e, 0, 1)


@_jit
def advance(F, P, G, e, round_ticks, s0, b0, s1, b1):
    """One tick of round ``e`` in place (:func:`rules.advance`); ``(s0, b0)`` is fighter 0's input."""
    f0, f1 = 0, 1
    grabbed = False
    for i in range(2):
        f = i
        if F[e, f, STATE] == _F_GRABBED:
            grabbed = True
        elif i == 0:
            _control(F, e, f, s0, b0, P[e, 0, P_ON] != 0)
        else:
            _control(F, e, f, s1, b1, P[e, 1, P_ON] != 0)
    if grabbed:
        for i in range(2):
            f, o = i, 1 - i
            if F[e, f, STATE] != _F_GRABBED:
                continue
            stick, button = (s0, b0) if i == 0 else (s1, b1)
            F[e, f, STUN] -= 1
            if button == _B_SPECIAL and not _is_down(stick):
                F[e, f, STATE] = _F_STAND
                F[e, f, STUN] = 0
                F[e, o, MOVE] = _M_NONE
                F[e, o, FRAME] = 0
                F[e, o, STATE] = _F_STAND
                _push(F, e, f, o, _TECH_PUSH // 2)
                _push(F, e, o, f, _TECH_PUSH // 2)
            elif F[e, f, STUN] <= 0:
                F[e, f, HEALTH] -= _FD[_M_THROW, _DAMAGE]
                F[e, f, STATE] = _F_HITSTUN
                F[e, f, STUN] = _FD[_M_THROW, _HITSTUN]
                _push(F, e, f, o, _FD[_M_THROW, _KNOCKBACK])
    _physics(F, e, f0)
    _physics(F, e, f1)
    x0, x1 = F[e, f0, X], F[e, f1, X]
    if x0 != x1:
        if F[e, f0, Y] == 0 and F[e, f0, STATE] <= _F_CROUCH:  # NEUTRAL_STATES = stand, walks, crouch
            F[e, f0, FACING] = 1 if x1 > x0 else -1
        if F[e, f1, Y] == 0 and F[e, f1, STATE] <= _F_CROUCH:
            F[e, f1, FACING] = 1 if x0 > x1 else -1
    _separate(F, e, f0, f1)
    if P[e, 0, P_ON] != 0 or P[e, 1, P_ON] != 0:
        for i in range(2):
            if P[e, i, P_ON] != 0:
                P[e, i, P_X] += P[e, i, P_VX]
                if P[e, i, P_X] < -_PHW or P[e, i, P_X] > _SW + _PHW:
                    P[e, i, P_ON] = 0
        if P[e, 0, P_ON] != 0 and P[e, 1, P_ON] != 0 and abs(P[e, 0, P_X] - P[e, 1, P_X]) <= 2 * _PHW:
            P[e, 0, P_ON] = 0
            P[e, 1, P_ON] = 0
    if F[e, f0, MOVE] != 0 or F[e, f1, MOVE] != 0 or P[e, 0, P_ON] != 0 or P[e, 1, P_ON] != 0:
        _resolve_hits(F, P, e)
    if F[e, f0, MOVE] == _M_PROJECTILE or F[e, f1, MOVE] == _M_PROJECTILE:
        for i in range(2):
            f = i
            if F[e, f, MOVE] == _M_PROJECTILE and F[e, f, FRAME] == _PROJ_STARTUP + 1 and P[e, i, P_ON] == 0:
                P[e, i, P_ON] = 1
                P[e, i, P_X] = F[e, f, X] + (_HW + _PROJ_REACH) * F[e, f, FACING]
                P[e, i, P_VX] = _PSPEED * F[e, f, FACING]
    G[e, G_TICK] += 1
    h0, h1 = F[e, f0, HEALTH], F[e, f1, HEALTH]
    if h0 <= 0 or h1 <= 0:
        F[e, f0, HEALTH] = max(h0, 0)
        F[e, f1, HEALTH] = max(h1, 0)
        G[e, G_OVER] = 1
        G[e, G_WINNER] = -1 if (h0 <= 0 and h1 <= 0) else (1 if h0 <= 0 else 0)
    elif G[e, G_TICK] >= round_ticks:
        G[e, G_OVER] = 1
        G[e, G_WINNER] = -1 if h0 == h1 else (0 if h0 > h1 else 1)


# ---- start of a round (rules.initial_state) ---------------------------------------------------------
_START = np.zeros((2, NF), dtype=np.int32)
_START[:, X] = [f.x for f in rules.initial_state().fighters]
_START[0, FACING], _START[1, FACING] = 1, -1
_START[:, HEALTH] = rules.MAX_HEALTH


@_jit
def reset_round(F, P, G, e):
    for k in range(2):
        for j in range(NF):
            F[e, k, j] = _START[k, j]
        for j in range(NP):
            P[e, k, j] = 0
    for j in range(NG):
        G[e, j] = 0


# ---- the observation (env.observe) ------------------------------------------------------------------
@_jit
def _fighter_block(O, e, off, F, f, sign, has_proj):
    m = F[e, f, MOVE]
    if m != 0:
        s_end = _FD[m, _STARTUP]
        a_end = s_end + _FD[m, _ACTIVE]
        phase = 1 if F[e, f, FRAME] <= s_end else (2 if F[e, f, FRAME] <= a_end else 3)
    else:
        phase = 0
    x = F[e, f, X] if sign > 0 else _SW - F[e, f, X]
    O[e, off + 0] = x / _W
    O[e, off + 1] = F[e, f, Y] / _MAX_JUMP
    O[e, off + 2] = F[e, f, VX] * sign / 8.0
    O[e, off + 3] = F[e, f, VY] / _VY_SCALE
    O[e, off + 4] = F[e, f, HEALTH] / _MAX_HEALTH
    O[e, off + 5] = float(F[e, f, FACING] * sign)
    for j in range(6, 27):
        O[e, off + j] = 0.0
    O[e, off + 6 + F[e, f, STATE]] = 1.0
    O[e, off + 15 + m] = 1.0
    if phase > 0:
        O[e, off + 23 + phase] = 1.0
    O[e, off + 27] = F[e, f, FRAME] / _TOTAL_OBS[m]
    O[e, off + 28] = min(F[e, f, STUN] / _MAX_STUN, 1.0)
    O[e, off + 29] = 1.0 if F[e, f, GUARD] == 1 else 0.0
    O[e, off + 30] = 1.0 if F[e, f, GUARD] == 2 else 0.0
    O[e, off + 31] = 1.0 if has_proj else 0.0


@_jit
def _busy(F, e, f):
    if F[e, f, STUN] != 0:
        return F[e, f, STUN]
    return _TOTAL[F[e, f, MOVE]] - F[e, f, FRAME] if F[e, f, MOVE] != 0 else 0


@_jit
def observe(O, F, P, G, e, round_ticks, me):
    """Write fighter ``me``'s float32 view of round ``e`` into row ``e`` of ``O`` (76 floats), as env.observe."""
    f, o = me, 1 - me
    sign = F[e, f, FACING]
    mp_on, op_on = P[e, me, P_ON] != 0, P[e, 1 - me, P_ON] != 0
    _fighter_block(O, e, 0, F, f, sign, mp_on)
    _fighter_block(O, e, 32, F, o, sign, op_on)
    back_wall = F[e, f, X] if sign > 0 else _SW - F[e, f, X]
    O[e, 64] = (F[e, o, X] - F[e, f, X]) * sign / _W
    O[e, 65] = (F[e, o, Y] - F[e, f, Y]) / _MAX_JUMP
    O[e, 66] = max(abs(F[e, o, X] - F[e, f, X]) - 2 * _HW, 0) / _W
    O[e, 67] = 0.0 if not mp_on else (P[e, me, P_X] - F[e, f, X]) * sign / _W
    O[e, 68] = 1.0 if op_on else 0.0
    O[e, 69] = 0.0 if not op_on else (P[e, 1 - me, P_X] - F[e, f, X]) * sign / _W
    O[e, 70] = 0.0 if not op_on else P[e, 1 - me, P_VX] * sign / _PSPEED
    O[e, 71] = 1.0 - G[e, G_TICK] / round_ticks
    O[e, 72] = (F[e, f, HEALTH] - F[e, o, HEALTH]) / _MAX_HEALTH
    O[e, 73] = float(sign)
    O[e, 74] = (back_wall - _HW) / _W
    O[e, 75] = min(max((_busy(F, e, o) - _busy(F, e, f)) / 30.0, -1.0), 1.0)


# ---- the batched decision step ----------------------------------------------------------------------
@_jit
def step_batch(F, P, G, round_ticks, frame_skip, inputs, me, restart, reward, terminated, obs_me, obs_other):
    """One decision step of every round, in place.

    ``inputs[i, 0] = (stick, button)`` of fighter ``me[i]`` (0 left, 1 right) in round i and
    ``inputs[i, 1]`` of the other, held ``frame_skip`` ticks (fewer if the round ends); the reward is
    fighter ``me[i]``'s. Rounds with
    ``restart[i]`` start a new round instead (next-step autoreset; reward 0, not terminated).
    Writes ``reward`` (float64: fighter 0's change of (h0 - h1) / max health, +-1 at a win/loss,
    negated when ``me[i]`` is 1),
    ``terminated`` and both fighters' observations: ``obs_me[i]`` of fighter ``me[i]``, ``obs_other[i]``
    of the other.
    """
    for e in range(F.shape[0]):
        m = me[e]
        if restart[e]:
            reset_round(F, P, G, e)
            reward[e] = 0.0
            terminated[e] = False
        else:
            before = F[e, 0, HEALTH] - F[e, 1, HEALTH]
            if m == 0:
                s0, b0, s1, b1 = inputs[e, 0, 0], inputs[e, 0, 1], inputs[e, 1, 0], inputs[e, 1, 1]
            else:
                s0, b0, s1, b1 = inputs[e, 1, 0], inputs[e, 1, 1], inputs[e, 0, 0], inputs[e, 0, 1]
            for _ in range(frame_skip):
                advance(F, P, G, e, round_ticks, s0, b0, s1, b1)
                if G[e, G_OVER] != 0:
                    break
            # fighter 0's reward, then negated for fighter 1 (envs.duel.step's contract, -0.0 included)
            r = (F[e, 0, HEALTH] - F[e, 1, HEALTH] - before) / _MAX_HEALTH
            over = G[e, G_OVER] != 0
            if over and G[e, G_WINNER] >= 0:
                r += 1.0 if G[e, G_WINNER] == 0 else -1.0
            reward[e] = r if m == 0 else -r
            terminated[e] = over
        observe(obs_me, F, P, G, e, round_ticks, m)
        observe(obs_other, F, P, G, e, round_ticks, 1 - m)


@_jit
def observe_batch(F, P, G, round_ticks, me, obs_me, obs_other):
    for e in range(F.shape[0]):
        observe(obs_me, F, P, G, e, round_ticks, me[e])
        observe(obs_other, F, P, G, e, round_ticks, 1 - me[e])


# ---- conversion to and from the reference state ------------------------------------------------------
def to_state(F_i: np.ndarray, P_i: np.ndarray, G_i: np.ndarray, round_ticks: int) -> rules.DuelState:
    """The :class:`rules.DuelState` of one round's arrays (for rendering and tests)."""
    fighters = []
    for k in range(2):
        vals = [int(v) for v in F_i[k]]
        vals[CONNECTED], vals[AIR_ATTACKED] = bool(vals[CONNECTED]), bool(vals[AIR_ATTACKED])
        fighters.append(rules.Fighter(**dict(zip(_FIELDS, vals, strict=True))))
    projs = [rules.Projectile(int(P_i[k, P_X]), int(P_i[k, P_VX])) if P_i[k, P_ON] else None for k in range(2)]
    over = bool(G_i[G_OVER])
    winner = (None if G_i[G_WINNER] < 0 else int(G_i[G_WINNER])) if over else None
    return rules.DuelState(fighters, projs, int(G_i[G_TICK]), round_ticks, over, winner)


def from_state(s: rules.DuelState, F_i: np.ndarray, P_i: np.ndarray, G_i: np.ndarray) -> None:
    """Write a :class:`rules.DuelState` into one round's arrays (the inverse of :func:`to_state`)."""
    for k, f in enumerate(s.fighters):
        F_i[k] = [int(getattr(f, name)) for name in _FIELDS]
        p = s.projectiles[k]
        P_i[k] = (0, 0, 0) if p is None else (1, p.x, p.vx)
    G_i[:] = (s.tick, int(s.over), -1 if s.winner is None else s.winner)
