"""The duel rules and observation as numba kernels over struct-of-arrays state, for the batched env.

This is :mod:`envs.duel.rules` (one tick), the decision step of :class:`envs.duel.env.DuelEnv` (hold
both inputs ``frame_skip`` ticks, stop at the round's end, score the health change and the result) and
:func:`envs.duel.env.observe`, written again over arrays so that one call steps N rounds with no Python
per round. The Python versions stay the readable reference; ``tests/test_duel_vector.py`` proves these
equal to them bit for bit (state, observations, rewards) over random inputs. Events are not collected.

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
def _height(f):
    st = f[STATE]
    if st == _F_CROUCH or f[GUARD] == 2 or (st == _F_ATTACK and _CROUCH_MOVE[f[MOVE]]):
        return _CROUCH_H
    return _STAND_H


@_jit
def _phase(f):
    m = f[MOVE]
    if m == _M_NONE:
        return 0
    if f[FRAME] <= _FD[m, _STARTUP]:
        return 1
    return 2 if f[FRAME] <= _FD[m, _STARTUP] + _FD[m, _ACTIVE] else 3


@_jit
def _start_move(f, move):
    f[MOVE] = move
    f[FRAME] = 0
    f[CONNECTED] = 0
    if move == _M_AIR_KICK:
        f[AIR_ATTACKED] = 1
    else:
        f[STATE] = _F_ATTACK
        f[VX] = 0


@_jit
def _control(f, stick, button, has_projectile):
    f[GUARD] = 0
    st = f[STATE]
    if st == _F_GRABBED:
        return
    if st == _F_HITSTUN or st == _F_BLOCKSTUN:
        f[STUN] -= 1
        if f[STUN] > 0:
            if st == _F_BLOCKSTUN:
                f[GUARD] = 2 if _is_down(stick) else 1
            return
        f[STUN] = 0
        f[STATE] = _F_AIR if f[Y] > 0 else _F_STAND
        st = f[STATE]
        if st == _F_AIR:
            return
    if f[MOVE] != _M_NONE:
        f[FRAME] += 1
        if f[FRAME] > _TOTAL[f[MOVE]]:
            f[MOVE] = _M_NONE
            f[FRAME] = 0
            if st == _F_ATTACK:
                f[STATE] = _F_STAND
        return
    if st == _F_AIR:
        if button != _B_NONE and f[AIR_ATTACKED] == 0:
            m = _command(stick, button, True)
            if m != _M_NONE:
                _start_move(f, m)
                f[FRAME] = 1
        return
    m = _command(stick, button, False)
    if m == _M_PROJECTILE and has_projectile:
        m = _M_NONE
    if m != _M_NONE:
        _start_move(f, m)
        f[FRAME] = 1
        return
    if _is_up(stick):
        f[STATE] = _F_AIR
        f[VY] = _JUMP_SPEED
        f[AIR_ATTACKED] = 0
        drift = 0 if stick == _S_UP else (_JUMP_DRIFT if stick == _S_UP_FORWARD else -_JUMP_DRIFT)
        f[VX] = drift * f[FACING]
    elif _is_down(stick):
        f[STATE] = _F_CROUCH
        f[VX] = 0
        f[GUARD] = 2 if stick == _S_DOWN_BACK else 0
    elif stick == _S_FORWARD:
        f[STATE] = _F_WF
        f[VX] = _WALK_F * f[FACING]
    elif stick == _S_BACK:
        f[STATE] = _F_WB
        f[VX] = -_WALK_B * f[FACING]
        f[GUARD] = 1
    else:
        f[STATE] = _F_STAND
        f[VX] = 0


@_jit
def _physics(f):
    if f[STATE] == _F_GRABBED:
        return
    if f[Y] > 0 or f[VY] > 0:
        f[X] += f[VX]
        f[Y] += f[VY]
        f[VY] -= _GRAVITY
        if f[Y] <= 0:
            f[Y] = 0
            f[VY] = 0
            f[VX] = 0
            if f[STATE] == _F_AIR:
                f[STATE] = _F_STAND
                f[MOVE] = _M_NONE
                f[FRAME] = 0
    elif f[STATE] == _F_WF or f[STATE] == _F_WB:
        f[X] += f[VX]


@_jit
def _clamp_x(v):
    return _LO if v < _LO else (_HI if v > _HI else v)


@_jit
def _separate(a, b):
    a[X] = _clamp_x(a[X])
    b[X] = _clamp_x(b[X])
    if (a[Y] != 0 or b[Y] != 0) and (a[Y] >= b[Y] + _height(b) or b[Y] >= a[Y] + _height(a)):
        return
    dx = b[X] - a[X]
    overlap = 2 * _HW - abs(dx)
    if overlap <= 0:
        return
    push = (overlap + 1) // 2
    if dx > 0:
        a[X] -= push
        b[X] += push
    elif dx < 0:
        a[X] += push
        b[X] -= push
    else:
        a[X] -= push * a[FACING]
        b[X] -= push * b[FACING]
    for k in range(2):  # a fighter squeezed against a wall pushes the other out
        f, o = (a, b) if k == 0 else (b, a)
        if f[X] < _LO:
            o[X] += _LO - f[X]
            f[X] = _LO
        elif f[X] > _HI:
            o[X] -= f[X] - _HI
            f[X] = _HI
    a[X] = _clamp_x(a[X])
    b[X] = _clamp_x(b[X])


@_jit
def _guards(d, level):
    if d[Y] > 0 or d[GUARD] == 0:
        return False
    if level == _L_MID:
        return True
    return d[GUARD] == (1 if level == _L_HIGH else 2)


@_jit
def _push(d, a, amount):
    away = 1 if d[X] > a[X] else (-1 if d[X] < a[X] else -d[FACING])
    target = d[X] + away * amount
    if target < _LO or target > _HI:
        clipped = _LO if target < _LO else _HI
        a[X] -= away * abs(target - clipped)
        target = clipped
    d[X] = target


@_jit
def _apply_hit(d, a, move):
    if _guards(d, _FD[move, _LEVEL]):
        d[HEALTH] -= _FD[move, _CHIP]
        d[STATE] = _F_BLOCKSTUN
        d[STUN] = _FD[move, _BLOCKSTUN]
        d[MOVE] = _M_NONE
        d[FRAME] = 0
        _push(d, a, _FD[move, _KNOCKBACK] // 2)
    else:
        d[HEALTH] -= _FD[move, _DAMAGE]
        d[STATE] = _F_HITSTUN
        d[STUN] = _FD[move, _HITSTUN]
        d[MOVE] = _M_NONE
        d[FRAME] = 0
        d[GUARD] = 0
        if d[Y] > 0:
            d[VX] = (1 if d[X] > a[X] else -1) * 3
            d[VY] = min(d[VY], 0)
        _push(d, a, _FD[move, _KNOCKBACK])


@_jit
def _overlap(a0, a1, a2, a3, b0, b1, b2, b3):
    return a0 <= b1 and b0 <= a1 and a2 < b3 and b2 < a3


@_jit
def _melee_touch(a, d):
    """The attacker's live melee box overlaps the defender's hurtbox (rules.attack_box / hurtbox)."""
    m = a[MOVE]
    if m == _M_NONE or a[CONNECTED] != 0 or m == _M_PROJECTILE:
        return False
    first = _FD[m, _STARTUP] + 1
    last = _FD[m, _STARTUP] + _FD[m, _ACTIVE]
    if not (first <= a[FRAME] <= last):
        return False
    front = a[X] + _HW * a[FACING]
    far = front + _FD[m, _REACH] * a[FACING]
    if a[FACING] > 0:
        x0, x1 = front, far
    else:
        x0, x1 = far, front
    return _overlap(x0, x1, a[Y] + _FD[m, _BOX_LO], a[Y] + _FD[m, _BOX_HI],
                    d[X] - _HW, d[X] + _HW, d[Y], d[Y] + _height(d))


@_jit
def _resolve_hits(fs, ps):
    # pending, in the order rules._resolve_hits appends them: fighter 0's melee/grab, its projectile,
    # then fighter 1's. kind: 0 nothing, 1 melee, 2 grab
    kind0 = kind1 = 0
    move0 = move1 = 0
    proj0 = proj1 = False
    for i in range(2):
        a, d = fs[i], fs[1 - i]
        kind = 0
        if _melee_touch(a, d):
            if a[MOVE] != _M_THROW:
                kind = 1
            elif d[Y] == 0 and _phase(d) != 1 and _phase(d) != 2 and d[STATE] != _F_HITSTUN \
                    and d[STATE] != _F_BLOCKSTUN:
                kind = 2
        hit = False
        if ps[i, P_ON] != 0:
            px = ps[i, P_X]
            hit = _overlap(px - _PHW, px + _PHW, _PROJ_LO, _PROJ_HI, d[X] - _HW, d[X] + _HW, d[Y],
                           d[Y] + _height(d))
        if i == 0:
            kind0, proj0, move0 = kind, hit, a[MOVE]
        else:
            kind1, proj1, move1 = kind, hit, a[MOVE]
    if kind0 == 0 and kind1 == 0 and not proj0 and not proj1:
        return
    strikes = kind0 == 1 or kind1 == 1 or proj0 or proj1
    for i in range(2):
        a, d = fs[i], fs[1 - i]
        kind = kind0 if i == 0 else kind1
        if kind == 2:
            if not strikes:
                a[CONNECTED] = 1
                d[STATE] = _F_GRABBED
                d[STUN] = _TECH_WINDOW
                d[MOVE] = _M_NONE
                d[FRAME] = 0
                d[GUARD] = 0
                d[VX] = 0
        elif kind == 1:  # the move as it was when the hit was decided (a trade may have cleared it)
            a[CONNECTED] = 1
            _apply_hit(d, a, move0 if i == 0 else move1)
        if proj0 if i == 0 else proj1:
            ps[i, P_ON] = 0
            _apply_hit(d, a, _M_PROJECTILE)
    for i in range(2):
        a, d = fs[i], fs[1 - i]
        if d[STATE] == _F_GRABBED and a[STATE] == _F_HITSTUN:
            d[STATE] = _F_STAND
            d[STUN] = 0
    _separate(fs[0], fs[1])


@_jit
def advance(fs, ps, g, round_ticks, s0, b0, s1, b1):
    """One tick of one round in place (:func:`rules.advance`); ``fs = F[i]``, ``ps = P[i]``, ``g = G[i]``."""
    f0, f1 = fs[0], fs[1]
    grabbed = False
    for i in range(2):
        f = fs[i]
        if f[STATE] == _F_GRABBED:
            grabbed = True
        elif i == 0:
            _control(f, s0, b0, ps[0, P_ON] != 0)
        else:
            _control(f, s1, b1, ps[1, P_ON] != 0)
    if grabbed:
        for i in range(2):
            f, o = fs[i], fs[1 - i]
            if f[STATE] != _F_GRABBED:
                continue
            stick, button = (s0, b0) if i == 0 else (s1, b1)
            f[STUN] -= 1
            if button == _B_SPECIAL and not _is_down(stick):
                f[STATE] = _F_STAND
                f[STUN] = 0
                o[MOVE] = _M_NONE
                o[FRAME] = 0
                o[STATE] = _F_STAND
                _push(f, o, _TECH_PUSH // 2)
                _push(o, f, _TECH_PUSH // 2)
            elif f[STUN] <= 0:
                f[HEALTH] -= _FD[_M_THROW, _DAMAGE]
                f[STATE] = _F_HITSTUN
                f[STUN] = _FD[_M_THROW, _HITSTUN]
                _push(f, o, _FD[_M_THROW, _KNOCKBACK])
    _physics(f0)
    _physics(f1)
    x0, x1 = f0[X], f1[X]
    if x0 != x1:
        if f0[Y] == 0 and f0[STATE] <= _F_CROUCH:  # NEUTRAL_STATES = stand, walks, crouch
            f0[FACING] = 1 if x1 > x0 else -1
        if f1[Y] == 0 and f1[STATE] <= _F_CROUCH:
            f1[FACING] = 1 if x0 > x1 else -1
    _separate(f0, f1)
    if ps[0, P_ON] != 0 or ps[1, P_ON] != 0:
        for i in range(2):
            if ps[i, P_ON] != 0:
                ps[i, P_X] += ps[i, P_VX]
                if ps[i, P_X] < -_PHW or ps[i, P_X] > _SW + _PHW:
                    ps[i, P_ON] = 0
        if ps[0, P_ON] != 0 and ps[1, P_ON] != 0 and abs(ps[0, P_X] - ps[1, P_X]) <= 2 * _PHW:
            ps[0, P_ON] = 0
            ps[1, P_ON] = 0
    if f0[MOVE] != 0 or f1[MOVE] != 0 or ps[0, P_ON] != 0 or ps[1, P_ON] != 0:
        _resolve_hits(fs, ps)
    if f0[MOVE] == _M_PROJECTILE or f1[MOVE] == _M_PROJECTILE:
        for i in range(2):
            f = fs[i]
            if f[MOVE] == _M_PROJECTILE and f[FRAME] == _PROJ_STARTUP + 1 and ps[i, P_ON] == 0:
                ps[i, P_ON] = 1
                ps[i, P_X] = f[X] + (_HW + _PROJ_REACH) * f[FACING]
                ps[i, P_VX] = _PSPEED * f[FACING]
    g[G_TICK] += 1
    h0, h1 = f0[HEALTH], f1[HEALTH]
    if h0 <= 0 or h1 <= 0:
        f0[HEALTH] = max(h0, 0)
        f1[HEALTH] = max(h1, 0)
        g[G_OVER] = 1
        g[G_WINNER] = -1 if (h0 <= 0 and h1 <= 0) else (1 if h0 <= 0 else 0)
    elif g[G_TICK] >= round_ticks:
        g[G_OVER] = 1
        g[G_WINNER] = -1 if h0 == h1 else (0 if h0 > h1 else 1)


# ---- start of a round (rules.initial_state) ---------------------------------------------------------
_START = np.zeros((2, NF), dtype=np.int32)
_START[:, X] = [f.x for f in rules.initial_state().fighters]
_START[0, FACING], _START[1, FACING] = 1, -1
_START[:, HEALTH] = rules.MAX_HEALTH


@_jit
def reset_round(fs, ps, g):
    for k in range(2):
        for j in range(NF):
            fs[k, j] = _START[k, j]
        for j in range(NP):
            ps[k, j] = 0
    for j in range(NG):
        g[j] = 0


# ---- the observation (env.observe) ------------------------------------------------------------------
@_jit
def _fighter_block(out, off, f, sign, has_proj):
    m = f[MOVE]
    if m != 0:
        s_end = _FD[m, _STARTUP]
        a_end = s_end + _FD[m, _ACTIVE]
        phase = 1 if f[FRAME] <= s_end else (2 if f[FRAME] <= a_end else 3)
    else:
        phase = 0
    x = f[X] if sign > 0 else _SW - f[X]
    out[off + 0] = x / _W
    out[off + 1] = f[Y] / _MAX_JUMP
    out[off + 2] = f[VX] * sign / 8.0
    out[off + 3] = f[VY] / _VY_SCALE
    out[off + 4] = f[HEALTH] / _MAX_HEALTH
    out[off + 5] = float(f[FACING] * sign)
    for j in range(6, 27):
        out[off + j] = 0.0
    out[off + 6 + f[STATE]] = 1.0
    out[off + 15 + m] = 1.0
    if phase > 0:
        out[off + 23 + phase] = 1.0
    out[off + 27] = f[FRAME] / _TOTAL_OBS[m]
    out[off + 28] = min(f[STUN] / _MAX_STUN, 1.0)
    out[off + 29] = 1.0 if f[GUARD] == 1 else 0.0
    out[off + 30] = 1.0 if f[GUARD] == 2 else 0.0
    out[off + 31] = 1.0 if has_proj else 0.0


@_jit
def _busy(f):
    if f[STUN] != 0:
        return f[STUN]
    return _TOTAL[f[MOVE]] - f[FRAME] if f[MOVE] != 0 else 0


@_jit
def observe(out, fs, ps, g, round_ticks, me):
    """Write fighter ``me``'s float32 view of one round into ``out`` (76 floats), as env.observe."""
    f, o = fs[me], fs[1 - me]
    sign = f[FACING]
    mp_on, op_on = ps[me, P_ON] != 0, ps[1 - me, P_ON] != 0
    _fighter_block(out, 0, f, sign, mp_on)
    _fighter_block(out, 32, o, sign, op_on)
    back_wall = f[X] if sign > 0 else _SW - f[X]
    out[64] = (o[X] - f[X]) * sign / _W
    out[65] = (o[Y] - f[Y]) / _MAX_JUMP
    out[66] = max(abs(o[X] - f[X]) - 2 * _HW, 0) / _W
    out[67] = 0.0 if not mp_on else (ps[me, P_X] - f[X]) * sign / _W
    out[68] = 1.0 if op_on else 0.0
    out[69] = 0.0 if not op_on else (ps[1 - me, P_X] - f[X]) * sign / _W
    out[70] = 0.0 if not op_on else ps[1 - me, P_VX] * sign / _PSPEED
    out[71] = 1.0 - g[G_TICK] / round_ticks
    out[72] = (f[HEALTH] - o[HEALTH]) / _MAX_HEALTH
    out[73] = float(sign)
    out[74] = (back_wall - _HW) / _W
    out[75] = min(max((_busy(o) - _busy(f)) / 30.0, -1.0), 1.0)


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
    n = F.shape[0]
    for i in range(n):
        fs, ps, g = F[i], P[i], G[i]
        m = me[i]
        if restart[i]:
            reset_round(fs, ps, g)
            reward[i] = 0.0
            terminated[i] = False
        else:
            before = fs[0, HEALTH] - fs[1, HEALTH]
            if m == 0:
                s0, b0, s1, b1 = inputs[i, 0, 0], inputs[i, 0, 1], inputs[i, 1, 0], inputs[i, 1, 1]
            else:
                s0, b0, s1, b1 = inputs[i, 1, 0], inputs[i, 1, 1], inputs[i, 0, 0], inputs[i, 0, 1]
            for _ in range(frame_skip):
                advance(fs, ps, g, round_ticks, s0, b0, s1, b1)
                if g[G_OVER] != 0:
                    break
            # fighter 0's reward, then negated for fighter 1 (envs.duel.step's contract, -0.0 included)
            r = (fs[0, HEALTH] - fs[1, HEALTH] - before) / _MAX_HEALTH
            over = g[G_OVER] != 0
            if over and g[G_WINNER] >= 0:
                r += 1.0 if g[G_WINNER] == 0 else -1.0
            reward[i] = r if m == 0 else -r
            terminated[i] = over
        observe(obs_me[i], fs, ps, g, round_ticks, m)
        observe(obs_other[i], fs, ps, g, round_ticks, 1 - m)


@_jit
def observe_batch(F, P, G, round_ticks, me, obs_me, obs_other):
    for i in range(F.shape[0]):
        observe(obs_me[i], F[i], P[i], G[i], round_ticks, me[i])
        observe(obs_other[i], F[i], P[i], G[i], round_ticks, 1 - me[i])


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
