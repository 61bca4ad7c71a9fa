"""The scripted fighter over N rounds at once, and the batched duel's entry point.

:class:`BatchedScripted` is :class:`agents.character.scripted.ScriptedFighter` as one numba kernel over
per-round arrays: its knobs (one row per round, so rounds may differ in difficulty), its delayed view of
the opponent (a ring of what it perceived in the last decisions) and its random draws. It plays the
single fighter's decisions **bit for bit**: the single fighter draws from a Python ``random.Random``
seeded at reset with ``rng.integers(2**63)`` from the env's generator; this kernel carries one
Mersenne Twister per round, seeded the same way (CPython's ``init_by_array``), and draws ``random()``
and ``randrange(36)`` as CPython does. So round i of ``gym.make_vec(..., num_envs=N)`` reset with seed
s plays exactly like ``gym.make`` reset with seed s + i, episode after episode.

:func:`make_duel_vector_env` is the ``vector_entry_point`` of ``sandbox/Duel-v0``: it resolves the
``opponent`` spec here in ``agents`` (envs may not import agents) and builds
:class:`envs.duel.vector.DuelVectorEnv`.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from agents.character.scripted import _PREFERRED_GAP, PRESETS, STYLES, CharacterParams, make_scripted
from envs.duel import env as E
from envs.duel.rules import FRAME_DATA, Move
from envs.duel.vector import TWO_PLAYER, DuelVectorEnv, draw_seeds

_jit = numba.njit(cache=True, nogil=True)

# ---- CPython's random.Random (MT19937), one generator per round ------------------------------------
_MT_N = 624
_MASK32 = 0xFFFFFFFF


@_jit
def _mt_seed(mt, seed):
    """``random.Random(seed)`` for 0 <= seed < 2**63: init_by_array with seed's 32-bit words."""
    lo, hi = seed & _MASK32, seed >> 32
    nkey = 2 if hi > 0 else 1
    prev = 19650218
    mt[0] = prev
    for i in range(1, _MT_N):
        prev = (1812433253 * (prev ^ (prev >> 30)) + i) & _MASK32
        mt[i] = prev
    i, j = 1, 0
    for _ in range(max(_MT_N, nkey)):
        prev = np.int64(mt[i - 1])
        key = lo if j == 0 else hi
        mt[i] = ((np.int64(mt[i]) ^ ((prev ^ (prev >> 30)) * 1664525)) + key + j) & _MASK32
        i += 1
        j += 1
        if i >= _MT_N:
            mt[0] = mt[_MT_N - 1]
            i = 1
        if j >= nkey:
            j = 0
    for _ in range(_MT_N - 1):
        prev = np.int64(mt[i - 1])
        mt[i] = ((np.int64(mt[i]) ^ ((prev ^ (prev >> 30)) * 1566083941)) - i) & _MASK32
        i += 1
        if i >= _MT_N:
            mt[0] = mt[_MT_N - 1]
            i = 1
    mt[0] = 0x80000000


@_jit
def _mt_u32(mt, pos, r):
    """The next 32-bit output of round r's generator."""
    p = pos[r]
    g = mt[r]
    if p >= _MT_N:
        for kk in range(_MT_N):
            y = (np.int64(g[kk]) & 0x80000000) | (np.int64(g[(kk + 1) % _MT_N]) & 0x7FFFFFFF)
            g[kk] = np.int64(g[(kk + 397) % _MT_N]) ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
        p = 0
    y = np.int64(g[p])
    pos[r] = p + 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y & _MASK32


@_jit
def _random(mt, pos, r):
    """``random.Random.random()``: 53 bits from two outputs."""
    a = _mt_u32(mt, pos, r) >> 5
    b = _mt_u32(mt, pos, r) >> 6
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


@_jit
def _randrange36(mt, pos, r):
    """``random.Random.randrange(36)``: 6-bit draws, rejecting 36..63."""
    x = _mt_u32(mt, pos, r) >> 26
    while x >= 36:
        x = _mt_u32(mt, pos, r) >> 26
    return x


# ---- perception: what the fighter reads of the delayed view ----------------------------------------
# one row per remembered decision (float64): opp state, opp move, opp phase, opp in the air,
# opp ahead, projectile incoming, projectile distance, opp guarding
_SEEN = 8
_OPP_STATE, _OPP_MOVE, _OPP_PHASE = E.OPP + E.F_STATE, E.OPP + E.F_MOVE, E.OPP + E.F_PHASE
_OPP_Y, _MY_PROJ = E.OPP + E.F_Y, E.SELF + E.F_PROJ
_OPP_GS, _OPP_GC = E.OPP + E.F_GUARD_STAND, E.OPP + E.F_GUARD_CROUCH
_MY_STATE, _MY_MOVE = E.SELF + E.F_STATE, E.SELF + E.F_MOVE
_GAP, _DX, _ADVANTAGE, _BACK_WALL = E.OBS_GAP, E.OBS_DX, E.OBS_ADVANTAGE, E.OBS_BACK_WALL
_OPP_PROJ, _OPP_PROJ_DX, _OPP_PROJ_VX = E.OBS_OPP_PROJ, E.OBS_OPP_PROJ_DX, E.OBS_OPP_PROJ_VX
_W = float(E.STAGE_WIDTH)
_REACH = np.array([0] + [FRAME_DATA[Move(m)].reach for m in range(1, len(Move))], dtype=np.float64)
_LEVEL = np.array([-1] + [int(FRAME_DATA[Move(m)].level) for m in range(1, len(Move))], dtype=np.int64)
_THROW, _PROJECTILE = int(Move.THROW), int(Move.PROJECTILE)
_BALANCED, _RUSHDOWN, _ZONER, _TURTLE = range(4)
assert STYLES == ("balanced", "rushdown", "zoner", "turtle")
_WANT = np.array([_PREFERRED_GAP.get(s, 35) for s in STYLES], dtype=np.float64)
# intents (agents.character.scripted.Intent)
_WAIT, _APPROACH, _KEEP, _ATTACK, _PUNISH, _GUARD, _ANTI_AIR, _THROW_I, _ZONE, _ESCAPE, _MISTAKE, _IDLE = range(12)


@_jit
def _argmax(row, start, n):
    for j in range(n):
        if row[start + j] == 1.0:
            return j
    return 0


@_jit
def _perceive(row, out):
    opp_move = _argmax(row, _OPP_MOVE, 9)
    out[0] = _argmax(row, _OPP_STATE, 9)
    out[1] = opp_move
    out[2] = _argmax(row, _OPP_PHASE, 3) + 1 if opp_move != 0 else 0
    out[3] = 1.0 if np.float64(row[_OPP_Y]) > 0.05 else 0.0
    out[4] = 1.0 if np.float64(row[_DX]) > 0 else 0.0
    pdx, pvx = np.float64(row[_OPP_PROJ_DX]), np.float64(row[_OPP_PROJ_VX])
    out[5] = 1.0 if (np.float64(row[_OPP_PROJ]) > 0.5 and pdx * pvx < 0) else 0.0
    out[6] = abs(pdx) * _W
    out[7] = 1.0 if np.float64(row[_OPP_GS]) + np.float64(row[_OPP_GC]) > 0.5 else 0.0


# ---- decide (ScriptedFighter.decide and _neutral, line for line) ------------------------------------
@_jit
def _decide(r, cur, seen, P, style, mt, pos):
    """``(intent, stick, button)`` of round r; ``P`` = (error, aggression, guard, anti_air, punish,
    tech, idle) of that round."""
    error_rate, aggression, guard_prob, anti_air_prob, punish_prob, tech_prob, idle_prob = (
        P[0], P[1], P[2], P[3], P[4], P[5], P[6])
    my_state = _argmax(cur, _MY_STATE, 9)
    my_move = _argmax(cur, _MY_MOVE, 9)
    free = my_state <= 3 and my_move == 0
    gap = np.float64(cur[_GAP]) * _W
    opp_state, opp_move, opp_phase = int(seen[0]), int(seen[1]), int(seen[2])
    opp_air, opp_ahead, proj_incoming = seen[3] > 0.5, seen[4] > 0.5, seen[5] > 0.5
    proj_dist = seen[6]
    my_proj = np.float64(cur[_MY_PROJ]) > 0.5
    advantage = np.float64(cur[_ADVANTAGE]) * 30.0
    back_room = np.float64(cur[_BACK_WALL]) * _W

    if idle_prob > 0.0 and _random(mt, pos, r) < idle_prob:
        return _IDLE, 0, 0
    if my_state == 8:  # grabbed
        if _random(mt, pos, r) < tech_prob:
            return _ESCAPE, 0, 3
        return _WAIT, 0, 0
    if _random(mt, pos, r) < error_rate:
        a = _randrange36(mt, pos, r)
        return _MISTAKE, a // 4, a % 4
    threat = opp_move != 0 and (opp_phase == 1 or opp_phase == 2) and opp_move != _THROW and opp_move != _PROJECTILE
    threat_level = _LEVEL[opp_move] if threat else -1
    in_threat_range = threat and gap < _REACH[opp_move] + 30
    guard_stick = 6 if threat_level == 2 else 7

    if my_state == 4:  # air
        if gap < 45 and my_move == 0 and _random(mt, pos, r) < 0.6:
            return _ATTACK, 0, 2
        return _WAIT, 0, 0
    if my_state == 7:  # blockstun
        return _GUARD, (guard_stick if threat else 7), 0
    if not free:
        return _WAIT, (7 if _random(mt, pos, r) < guard_prob else 0), 0

    if opp_air and opp_ahead and gap < 140:
        if _random(mt, pos, r) < anti_air_prob:
            if gap < 45:
                return _ANTI_AIR, 5, 2
            return _GUARD, 7, 0
    if in_threat_range and _random(mt, pos, r) < guard_prob:
        return _GUARD, guard_stick, 0
    if opp_move == _THROW and opp_phase == 1 and gap < 40 and _random(mt, pos, r) < punish_prob:
        return _PUNISH, 0, 1
    if proj_incoming and proj_dist < 160:
        jump_p = 0.5 if style == _RUSHDOWN else 0.4 * aggression
        if 70 < proj_dist < 130 and _random(mt, pos, r) < jump_p:
            return _ESCAPE, 2, 0
        if not my_proj and proj_dist > 100 and _random(mt, pos, r) < (1.0 if style == _ZONER else 0.5):
            return _ZONE, 5, 3
        if _random(mt, pos, r) < guard_prob:
            return _GUARD, 7, 0
    if opp_move == _PROJECTILE and opp_phase == 3 and 60 < gap < 150 and _random(mt, pos, r) < punish_prob * 0.7:
        return _PUNISH, 2, 0
    if (opp_phase == 3 or opp_state == 6) and advantage > 4 and _random(mt, pos, r) < punish_prob:
        if gap < 40 and advantage > 4:
            return _PUNISH, 0, 1
        if gap < 65 and advantage > 10:
            return _PUNISH, 0, 2
        if gap < 30 and advantage > 5:
            return _THROW_I, 3, 3
    opp_blocking = seen[7] > 0.5 or opp_state == 7

    # the neutral game
    want = _WANT[style]
    if gap < 32:
        if _random(mt, pos, r) < aggression:
            x = _random(mt, pos, r)
            if opp_blocking and x < 0.45:
                return _THROW_I, 3, 3
            if x < 0.5:
                return _ATTACK, 0, 1
            if x < 0.7:
                return _ATTACK, 5, 1
            if x < 0.8 and style == _RUSHDOWN:
                return _ATTACK, 3, 2
            if x < 0.9:
                return _THROW_I, 3, 3
            return _ATTACK, 0, 2
        if (style == _ZONER or style == _TURTLE) and back_room > 40:
            return _KEEP, 7, 0
        return _GUARD, (6 if _random(mt, pos, r) < 0.5 else 7), 0
    if gap < 60:
        if _random(mt, pos, r) < aggression:
            x = _random(mt, pos, r)
            if x < 0.45:
                return _ATTACK, 0, 2
            if x < 0.65 and gap < 50:
                return _ATTACK, 5, 1
            return _APPROACH, 3, 0
        if style == _ZONER and back_room > 40:
            return _KEEP, 7, 0
        return _GUARD, (7 if _random(mt, pos, r) < 0.5 else 6), 0
    if style == _ZONER or (gap > 180 and _random(mt, pos, r) < 0.25):
        if not my_proj and _random(mt, pos, r) < 0.6:
            return _ZONE, 5, 3
        if gap < want and back_room > 40:
            return _KEEP, 7, 0
    if style == _TURTLE and gap < 200:
        if _random(mt, pos, r) < aggression:
            return _APPROACH, 3, 0
        return _GUARD, (6 if _random(mt, pos, r) < 0.5 else 7), 0
    if style == _RUSHDOWN and 90 < gap < 140 and _random(mt, pos, r) < 0.15:
        return _APPROACH, 2, 0
    if gap > want and _random(mt, pos, r) < 0.4 + 0.6 * aggression:
        return _APPROACH, 3, 0
    return _WAIT, 0, 0


@_jit
def _act_kernel(obs, active, out, mt, pos, hist, count, delay, params, style, intent):
    n = obs.shape[0]
    ring = hist.shape[1]
    for r in range(n):
        if not active[r]:
            continue
        cur = obs[r]
        k = count[r]
        _perceive(cur, hist[r, k % ring])
        seen_k = k - delay[r]
        seen = hist[r, (seen_k if seen_k > 0 else 0) % ring]
        count[r] = k + 1
        it, stick, button = _decide(r, cur, seen, params[r], style[r], mt, pos)
        intent[r] = it
        out[r, 0] = stick
        out[r, 1] = button


@_jit
def _seed_kernel(idx, seeds, mt, pos, count):
    for j in range(idx.shape[0]):
        r = idx[j]
        _mt_seed(mt[r], seeds[j])
        pos[r] = _MT_N
        count[r] = 0


# ---- the batched opponent ------------------------------------------------------------------------
def _knobs(p: CharacterParams) -> tuple[float, ...]:
    return (p.error_rate, p.aggression, p.guard_prob, p.anti_air_prob, p.punish_prob, p.tech_prob, p.idle_prob)


class BatchedScripted:
    """The scripted fighter for N rounds (the :class:`envs.duel.vector.BatchedOpponent` interface).

    ``params`` are the preset knobs (as ``ScriptedFighter``'s ``base_params``); a round reset with a
    difficulty gets ``CharacterParams.from_difficulty(d, style)`` instead, as ``set_difficulty`` does.
    ``last_intent`` holds each round's last :class:`Intent` (as an int). Usable without an env: call
    ``bind``, then ``reset_envs`` and ``act`` on any ``(N, 76)`` batch of the fighter's own views.
    """

    def __init__(self, params: CharacterParams, spec: str = "scripted", frame_skip: int = 4):
        self.base_params = params
        self.spec = spec
        self.frame_skip = max(1, int(frame_skip))
        self.num_envs = 0

    def bind(self, num_envs: int) -> None:
        n = self.num_envs = int(num_envs)
        # remember enough decisions for the longest delay of any difficulty (difficulty 0)
        slowest = max(CharacterParams.from_difficulty(0.0).reaction_ticks, self.base_params.reaction_ticks)
        self._ring = (slowest + self.frame_skip // 2) // self.frame_skip + 1
        self._mt = np.zeros((n, _MT_N), dtype=np.uint32)
        self._pos = np.full(n, _MT_N, dtype=np.int64)
        self._hist = np.zeros((n, self._ring, _SEEN), dtype=np.float64)
        self._count = np.zeros(n, dtype=np.int64)
        self._delay = np.zeros(n, dtype=np.int64)
        self._params = np.zeros((n, 7), dtype=np.float64)
        self._style = np.full(n, STYLES.index(self.base_params.style), dtype=np.int64)
        self.last_intent = np.zeros(n, dtype=np.int64)
        self._cache: dict[float, tuple] = {}
        for j in range(n):
            self._set_params(j, self.base_params)

    def _set_params(self, r: int, p: CharacterParams) -> None:
        self._params[r] = _knobs(p)
        self._delay[r] = (p.reaction_ticks + self.frame_skip // 2) // self.frame_skip

    def _for_difficulty(self, d: float) -> CharacterParams:
        if np.isnan(d):
            return self.base_params
        p = self._cache.get(d)
        if p is None:
            p = self._cache[d] = CharacterParams.from_difficulty(d, self.base_params.style)
        return p

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        seeds = np.asarray(seeds, dtype=np.int64)
        for j, r in enumerate(idx):
            self._set_params(int(r), self._for_difficulty(np.nan if difficulty is None else float(difficulty[j])))
        _seed_kernel(idx, seeds, self._mt, self._pos, self._count)
        self.last_intent[idx] = _WAIT

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        _act_kernel(obs, active, out, self._mt, self._pos, self._hist, self._count, self._delay, self._params,
                    self._style, self.last_intent)


class BatchedRandom:
    """Uniform random inputs for N rounds, drawn from one generator seeded from round 0's at reset (not
    round-for-round equal to the single env's ``random`` opponent, which draws from each env's
    generator every step)."""

    spec = "random"

    def bind(self, num_envs: int) -> None:
        self.num_envs = int(num_envs)
        self.rng = np.random.default_rng()

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        if len(idx) == self.num_envs:  # a full reset (re)seeds the draws
            self.rng = np.random.default_rng(int(seeds[0]))

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        out[:, 0] = self.rng.integers(0, 9, self.num_envs)
        out[:, 1] = self.rng.integers(0, 4, self.num_envs)


def make_batched_opponent(spec: Any, frame_skip: int = 4):
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
        fighter = make_scripted(arg or None)  # validates NAME with the single fighter's message
        return BatchedScripted(fighter.base_params, spec=spec, frame_skip=frame_skip)
    if prefix == "random" and not arg:
        return BatchedRandom()
    raise ValueError(f"unknown batched duel opponent {spec!r}; valid: {_VALID}")


_VALID = (f"scripted:{'|'.join(PRESETS)}|{'|'.join(STYLES[1:])}|STYLE-PRESET|0..1, random, "
          "external (two-player), or a batched opponent object")


def match_batched(spec_a: Any, spec_b: Any, rounds: int, seed: int = 0, **kwargs) -> dict:
    """``rounds`` rounds of A against B at once, in the two-player form (``arena.match``'s batched
    twin): A plays the left fighter in even rounds and the right one in odd rounds; each side's
    opponent draws from round i's generator (seed + i), A's first. ``kwargs`` go to the env
    (``frame_skip``, ``round_seconds``). Returns A's wins, losses, draws and the mean round length."""
    env = DuelVectorEnv(num_envs=rounds, opponent=None, **kwargs)
    a, b = make_batched_opponent(spec_a, env.frame_skip), make_batched_opponent(spec_b, env.frame_skip)
    if a is None or b is None:
        raise ValueError("match_batched needs two opponents, not the two-player form")
    for x in (a, b):
        x.bind(rounds)
    obs, _ = env.reset(seed=seed)
    idx, nan = np.arange(rounds), np.full(rounds, np.nan)
    a.reset_envs(idx, draw_seeds(env._rngs, idx), nan)
    b.reset_envs(idx, draw_seeds(env._rngs, idx), nan)
    a_side = idx % 2
    act = np.zeros((rounds, 2, 2), dtype=np.int64)
    out_a, out_b = np.zeros((rounds, 2), np.int64), np.zeros((rounds, 2), np.int64)
    live = np.ones(rounds, dtype=bool)
    winner, ticks = np.full(rounds, -2), np.zeros(rounds, dtype=np.int64)
    while live.any():  # finished rounds restart and play on unrecorded until the last one ends
        a.act(np.ascontiguousarray(obs[idx, a_side]), live, out_a)
        b.act(np.ascontiguousarray(obs[idx, 1 - a_side]), live, out_b)
        act[idx, a_side], act[idx, 1 - a_side] = out_a, out_b
        obs, _, terminated, _, info = env.step(act)
        ended = terminated & live
        if ended.any():
            winner[ended], ticks[ended] = info["winner"][ended], info["tick"][ended]
        live &= ~terminated
    return {"wins": int(np.sum(winner == a_side)), "losses": int(np.sum((winner >= 0) & (winner != a_side))),
            "draws": int(np.sum(winner == -1)), "mean_ticks": float(ticks.mean())}


def make_duel_vector_env(num_envs: int = 1, opponent: Any = "scripted:normal", **kwargs) -> DuelVectorEnv:
    """``vector_entry_point`` of ``sandbox/Duel-v0``: ``gym.make_vec("sandbox/Duel-v0", num_envs=N,
    opponent=...)`` lands here, resolves the opponent spec and builds the batched env."""
    return DuelVectorEnv(num_envs=num_envs, opponent=make_batched_opponent(opponent, int(kwargs.get("frame_skip", 4))),
                         **kwargs)
