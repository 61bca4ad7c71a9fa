"""The scripted fighter, written once: perceive -> decide an intent -> act, as one numba kernel over N rounds.

:class:`BatchedScripted` owns the per-round arrays (struct of arrays, one row per round): the knobs (so
rounds may differ in difficulty and style), the delayed view of the opponent (a ring of what it perceived
in its last decisions), and its random stream (:mod:`agents.stream`, SplitMix64 keyed by the
round's seed). :class:`agents.character.scripted.ScriptedFighter`, the single-env agent, is a batch of one
of the same class, so ``gym.make`` and ``gym.make_vec`` play one body.

The fighter reads only the duel's observation vector (its own view, see :class:`envs.duel.env.DuelEnv`),
so it can play either side of any duel env. What it sees of the opponent is ``reaction_ticks`` old; its
own state and the distance are current. Observation offsets are the layout names of
:mod:`envs.duel.env`; inputs, states, moves and intents are the names of :mod:`envs.duel.rules` and
:class:`Intent`.

numba caches these kernels (``cache=True``) keyed by this file's source only, while the stream functions
it calls and the constants it reads from other modules (observation offsets, frame data) are frozen into
the cache: :func:`envs.jit.refresh_cache` drops the cache when one of those files changed.
"""

from __future__ import annotations

import numba
import numpy as np

from agents import stream as S
from agents.character.params import PREFERRED_GAP, STYLES, CharacterParams, Intent
from envs.duel import env as E
from envs.duel import layout as _layout
from envs.duel.character import SHIPPED as _CHARACTERS
from envs.duel.config import DuelConfig
from envs.duel.rules import (
    FRAME_DATA,
    N_BUTTON,
    N_MOVES,
    N_STATES,
    N_STICK,
    STAGE_WIDTH,
    Button,
    FState,
    Level,
    Move,
    Stick,
)
from envs.jit import refresh_cache

refresh_cache(__file__, [S.__file__, _layout.__file__, _CHARACTERS / "default.toml",
                         __file__.replace("fighter.py", "params.py")])
_jit = numba.njit(cache=True, nogil=True)

# ---- names the kernel uses (module-level ints are compile-time constants to numba) ----------------------
# observation offsets
_MY_STATE, _MY_MOVE, _MY_PROJ = E.SELF + E.F_STATE, E.SELF + E.F_MOVE, E.SELF + E.F_PROJ
_OPP_STATE, _OPP_MOVE, _OPP_PHASE, _OPP_Y = E.OPP + E.F_STATE, E.OPP + E.F_MOVE, E.OPP + E.F_PHASE, E.OPP + E.F_Y
_OPP_GUARD_STAND, _OPP_GUARD_CROUCH = E.OPP + E.F_GUARD_STAND, E.OPP + E.F_GUARD_CROUCH
_GAP, _DX, _ADVANTAGE, _BACK_WALL = E.OBS_GAP, E.OBS_DX, E.OBS_ADVANTAGE, E.OBS_BACK_WALL
_OPP_PROJ, _OPP_PROJ_DX, _OPP_PROJ_VX = E.OBS_OPP_PROJ, E.OBS_OPP_PROJ_DX, E.OBS_OPP_PROJ_VX
_N_PHASES = E.F_PROGRESS - E.F_PHASE  # startup, active, recovery
_PH_STARTUP, _PH_ACTIVE, _PH_RECOVERY = 1, 2, 3  # phase numbers (0: no move)
_W = float(STAGE_WIDTH)
_ADVANTAGE_SCALE = 30.0  # the observation's frame advantage is ticks / 30
# inputs
_S_NEUTRAL, _S_UP_FORWARD, _S_FORWARD = int(Stick.NEUTRAL), int(Stick.UP_FORWARD), int(Stick.FORWARD)
_S_DOWN, _S_DOWN_BACK, _S_BACK = int(Stick.DOWN), int(Stick.DOWN_BACK), int(Stick.BACK)
_B_NONE, _B_LIGHT, _B_HEAVY, _B_SPECIAL = int(Button.NONE), int(Button.LIGHT), int(Button.HEAVY), int(Button.SPECIAL)
_N_ACTIONS = N_STICK * N_BUTTON  # a random input is one of these, stick * N_BUTTON + button
# fighter states and moves
_F_AIR, _F_HITSTUN, _F_BLOCKSTUN, _F_GRABBED = int(FState.AIR), int(FState.HITSTUN), int(FState.BLOCKSTUN), int(
    FState.GRABBED)
_FREE_STATES_BELOW = int(FState.AIR)  # stand, walk forward, walk back, crouch: free to act
_M_NONE, _M_THROW, _M_PROJECTILE = int(Move.NONE), int(Move.THROW), int(Move.PROJECTILE)
_REACH = np.array([0] + [FRAME_DATA[Move(m)].reach for m in range(1, N_MOVES)], dtype=np.float64)
_LEVEL = np.array([-1] + [int(FRAME_DATA[Move(m)].level) for m in range(1, N_MOVES)], dtype=np.int64)
_L_LOW = int(Level.LOW)  # guarded crouching (down-back); every other attack is guarded standing (back)
# styles and intents
_BALANCED, _RUSHDOWN, _ZONER, _TURTLE = (STYLES.index(s) for s in ("balanced", "rushdown", "zoner", "turtle"))
(_I_WAIT, _I_APPROACH, _I_KEEP, _I_ATTACK, _I_PUNISH, _I_GUARD, _I_ANTI_AIR, _I_THROW, _I_ZONE, _I_ESCAPE,
 _I_MISTAKE, _I_IDLE) = (int(i) for i in Intent)
assert [i.name for i in Intent] == ["WAIT", "APPROACH", "KEEP_DISTANCE", "ATTACK", "PUNISH", "GUARD", "ANTI_AIR",
                                    "THROW", "ZONE", "ESCAPE", "MISTAKE", "IDLE"]

# the rules' thresholds. Distances are gaps between the bodies in stage units; advantage is in ticks.
_ON = 0.5  # a 0/1 feature (or a perceived flag) is on above this
_AIRBORNE = 0.05  # the opponent's height feature above which it is in the air
CLOSE_RANGE = 32  # throw and jab range
MID_RANGE = 60  # heavy and low range
LOW_REACH = 50  # the low is tried in neutral within this gap
AIR_REACH = 45  # an air kick or an anti-air connects within this gap
ANTI_AIR_WATCH = 140  # a jump-in closer than this is met (anti-air, or a guard when too far for it)
GUARD_MARGIN = 30  # an attack is guarded when the gap is under its reach plus this
JAB_REACH = 40  # a jab punishes (or beats a throw's startup) within this gap
HEAVY_REACH = 65  # a heavy punishes within this gap
THROW_REACH = 30  # a throw punishes within this gap
PUNISH_ADVANTAGE, HEAVY_ADVANTAGE, THROW_ADVANTAGE = 4, 10, 5  # ticks of advantage each punish needs
PROJ_WATCH = 160  # an incoming projectile closer than this is answered
PROJ_JUMP_FROM, PROJ_JUMP_TO = 70, 130  # distances at which jumping over a projectile clears it
PROJ_CANCEL_FROM = 100  # beyond this, our own projectile meets theirs in time
PROJ_PUNISH_FROM, PROJ_PUNISH_TO = 60, 150  # gaps from which a jump-in punishes a projectile's recovery
FAR_RANGE = 180  # beyond this, any style zones sometimes
TURTLE_RANGE = 200  # within this, the turtle creeps in or guards
RUSH_JUMP_FROM, RUSH_JUMP_TO = 90, 140  # gaps from which the rushdown jumps in
BACK_ROOM = 40  # room behind needed to back off
# the rules' fixed odds (the knobs scale the rest)
AIR_KICK_P = 0.6  # an air kick when close in the air
RUSH_PROJ_JUMP_P = 0.5  # the rushdown jumps a projectile (other styles: PROJ_JUMP_PER_AGGRESSION x aggression)
PROJ_JUMP_PER_AGGRESSION = 0.4
ZONER_CANCEL_P, CANCEL_P = 1.0, 0.5  # a projectile answered with our own
PROJ_PUNISH_SCALE = 0.7  # punishing a projectile's recovery, relative to the punish knob
FAR_ZONE_P, ZONE_P = 0.25, 0.6  # zoning tried from far (non-zoners), then a projectile thrown
RUSH_JUMP_P = 0.15  # the rushdown's jump-in from mid range
APPROACH_BASE, APPROACH_PER_AGGRESSION = 0.4, 0.6  # walking in towards the preferred gap
CROUCH_GUARD_P = 0.5  # a guard in neutral is crouching (down-back) this often
HEAVY_SHARE = 0.45  # in heavy range, the share of attacks that are heavies (then lows, then walking in)
LOW_SHARE_TO = 0.65
# in throw range, an attack is x in [0, 1): a throw on a guarding opponent below 0.45, else a jab below
# 0.5, a low below 0.7, the rushdown's overhead below 0.8, a throw below 0.9, a heavy above
BLOCKED_THROW_TO, JAB_TO, CLOSE_LOW_TO, OVERHEAD_TO, THROW_TO = 0.45, 0.5, 0.7, 0.8, 0.9

# knob columns of a round (one float64 row each)
K_ERROR, K_AGGRESSION, K_GUARD, K_ANTI_AIR, K_PUNISH, K_TECH, K_IDLE, K_WANT = range(8)
N_KNOBS = 8
# perceived columns (one float64 row per remembered decision): what the fighter reads of the opponent
P_STATE, P_MOVE, P_PHASE, P_AIR, P_AHEAD, P_PROJ_INCOMING, P_PROJ_DIST, P_GUARDING = range(8)
N_PERCEIVED = 8


# ---- perceive ------------------------------------------------------------------------------------------
@_jit
def _hot(row, start, n):
    """Index of the hot entry of a one-hot block (0 if none)."""
    for j in range(n):
        if row[start + j] == 1.0:
            return j
    return 0


@_jit
def _perceive(row, seen):
    """What the fighter reads of the opponent in observation ``row``, written into ``seen``."""
    opp_move = _hot(row, _OPP_MOVE, N_MOVES)
    seen[P_STATE] = _hot(row, _OPP_STATE, N_STATES)
    seen[P_MOVE] = opp_move
    seen[P_PHASE] = _hot(row, _OPP_PHASE, _N_PHASES) + 1 if opp_move != _M_NONE else 0
    seen[P_AIR] = 1.0 if np.float64(row[_OPP_Y]) > _AIRBORNE else 0.0
    seen[P_AHEAD] = 1.0 if np.float64(row[_DX]) > 0 else 0.0
    pdx, pvx = np.float64(row[_OPP_PROJ_DX]), np.float64(row[_OPP_PROJ_VX])
    seen[P_PROJ_INCOMING] = 1.0 if (np.float64(row[_OPP_PROJ]) > _ON and pdx * pvx < 0) else 0.0
    seen[P_PROJ_DIST] = abs(pdx) * _W
    guarding = np.float64(row[_OPP_GUARD_STAND]) + np.float64(row[_OPP_GUARD_CROUCH]) > _ON
    seen[P_GUARDING] = 1.0 if guarding else 0.0


# ---- decide --------------------------------------------------------------------------------------------
@_jit
def _decide(stream, r, cur, seen, knobs, style):
    """``(intent, stick, button)`` of round r: rolls (idle, throw escape, mistake), then what its state
    forces, then reactions to what it saw (anti-air, guard, punish, projectiles), then the neutral game.
    ``cur`` is the current observation, ``seen`` the delayed perception of the opponent."""
    my_state = _hot(cur, _MY_STATE, N_STATES)
    my_move = _hot(cur, _MY_MOVE, N_MOVES)
    free = my_state < _FREE_STATES_BELOW and my_move == _M_NONE
    gap = np.float64(cur[_GAP]) * _W
    opp_state, opp_move, opp_phase = int(seen[P_STATE]), int(seen[P_MOVE]), int(seen[P_PHASE])
    my_proj = np.float64(cur[_MY_PROJ]) > _ON
    guard_prob, punish_prob = knobs[K_GUARD], knobs[K_PUNISH]

    if knobs[K_IDLE] > 0.0 and S.uniform(stream, r) < knobs[K_IDLE]:  # drawn only when idling is on
        return _I_IDLE, _S_NEUTRAL, _B_NONE
    if my_state == _F_GRABBED:
        if S.uniform(stream, r) < knobs[K_TECH]:
            return _I_ESCAPE, _S_NEUTRAL, _B_SPECIAL
        return _I_WAIT, _S_NEUTRAL, _B_NONE
    if S.uniform(stream, r) < knobs[K_ERROR]:
        a = S.below(stream, r, _N_ACTIONS)
        return _I_MISTAKE, a // N_BUTTON, a % N_BUTTON
    threat = (opp_move != _M_NONE and (opp_phase == _PH_STARTUP or opp_phase == _PH_ACTIVE)
              and opp_move != _M_THROW and opp_move != _M_PROJECTILE)
    in_threat_range = threat and gap < _REACH[opp_move] + GUARD_MARGIN
    guard_stick = _S_DOWN_BACK if threat and _LEVEL[opp_move] == _L_LOW else _S_BACK

    # what its own state forces
    if my_state == _F_AIR:
        if gap < AIR_REACH and my_move == _M_NONE and S.uniform(stream, r) < AIR_KICK_P:
            return _I_ATTACK, _S_NEUTRAL, _B_HEAVY
        return _I_WAIT, _S_NEUTRAL, _B_NONE
    if my_state == _F_BLOCKSTUN:
        return _I_GUARD, guard_stick, _B_NONE
    if not free:
        return _I_WAIT, (_S_BACK if S.uniform(stream, r) < guard_prob else _S_NEUTRAL), _B_NONE

    # reactions to what it saw
    if seen[P_AIR] > _ON and seen[P_AHEAD] > _ON and gap < ANTI_AIR_WATCH:
        if S.uniform(stream, r) < knobs[K_ANTI_AIR]:
            if gap < AIR_REACH:
                return _I_ANTI_AIR, _S_DOWN, _B_HEAVY
            return _I_GUARD, _S_BACK, _B_NONE
    if in_threat_range and S.uniform(stream, r) < guard_prob:
        return _I_GUARD, guard_stick, _B_NONE
    if opp_move == _M_THROW and opp_phase == _PH_STARTUP and gap < JAB_REACH and S.uniform(stream, r) < punish_prob:
        return _I_PUNISH, _S_NEUTRAL, _B_LIGHT  # an attack beats a throw's startup
    proj_dist = seen[P_PROJ_DIST]
    if seen[P_PROJ_INCOMING] > _ON and proj_dist < PROJ_WATCH:
        jump_p = RUSH_PROJ_JUMP_P if style == _RUSHDOWN else PROJ_JUMP_PER_AGGRESSION * knobs[K_AGGRESSION]
        if PROJ_JUMP_FROM < proj_dist < PROJ_JUMP_TO and S.uniform(stream, r) < jump_p:  # over it, at the thrower
            return _I_ESCAPE, _S_UP_FORWARD, _B_NONE
        cancel_p = ZONER_CANCEL_P if style == _ZONER else CANCEL_P
        if not my_proj and proj_dist > PROJ_CANCEL_FROM and S.uniform(stream, r) < cancel_p:
            return _I_ZONE, _S_DOWN, _B_SPECIAL  # cancel it with our own
        if S.uniform(stream, r) < guard_prob:
            return _I_GUARD, _S_BACK, _B_NONE
    if (opp_move == _M_PROJECTILE and opp_phase == _PH_RECOVERY and PROJ_PUNISH_FROM < gap < PROJ_PUNISH_TO
            and S.uniform(stream, r) < punish_prob * PROJ_PUNISH_SCALE):
        return _I_PUNISH, _S_UP_FORWARD, _B_NONE  # jump in on a projectile's long recovery
    advantage = np.float64(cur[_ADVANTAGE]) * _ADVANTAGE_SCALE
    if ((opp_phase == _PH_RECOVERY or opp_state == _F_HITSTUN) and advantage > PUNISH_ADVANTAGE
            and S.uniform(stream, r) < punish_prob):
        if gap < JAB_REACH and advantage > PUNISH_ADVANTAGE:
            return _I_PUNISH, _S_NEUTRAL, _B_LIGHT
        if gap < HEAVY_REACH and advantage > HEAVY_ADVANTAGE:
            return _I_PUNISH, _S_NEUTRAL, _B_HEAVY
        if gap < THROW_REACH and advantage > THROW_ADVANTAGE:
            return _I_THROW, _S_FORWARD, _B_SPECIAL
    opp_blocking = seen[P_GUARDING] > _ON or opp_state == _F_BLOCKSTUN
    back_room = np.float64(cur[_BACK_WALL]) * _W
    return _neutral(stream, r, gap, opp_blocking, my_proj, back_room, knobs, style)


@_jit
def _neutral(stream, r, gap, opp_blocking, my_proj, back_room, knobs, style):
    """The neutral game of the style, by range: throw and jab range, heavy and low range, mid and far."""
    aggression, want = knobs[K_AGGRESSION], knobs[K_WANT]
    if gap < CLOSE_RANGE:
        if S.uniform(stream, r) < aggression:
            x = S.uniform(stream, r)
            if opp_blocking and x < BLOCKED_THROW_TO:
                return _I_THROW, _S_FORWARD, _B_SPECIAL
            if x < JAB_TO:
                return _I_ATTACK, _S_NEUTRAL, _B_LIGHT
            if x < CLOSE_LOW_TO:
                return _I_ATTACK, _S_DOWN, _B_LIGHT
            if x < OVERHEAD_TO and style == _RUSHDOWN:
                return _I_ATTACK, _S_FORWARD, _B_HEAVY
            if x < THROW_TO:
                return _I_THROW, _S_FORWARD, _B_SPECIAL
            return _I_ATTACK, _S_NEUTRAL, _B_HEAVY
        if (style == _ZONER or style == _TURTLE) and back_room > BACK_ROOM:
            return _I_KEEP, _S_BACK, _B_NONE
        return _I_GUARD, (_S_DOWN_BACK if S.uniform(stream, r) < CROUCH_GUARD_P else _S_BACK), _B_NONE
    if gap < MID_RANGE:
        if S.uniform(stream, r) < aggression:
            x = S.uniform(stream, r)
            if x < HEAVY_SHARE:
                return _I_ATTACK, _S_NEUTRAL, _B_HEAVY
            if x < LOW_SHARE_TO and gap < LOW_REACH:
                return _I_ATTACK, _S_DOWN, _B_LIGHT
            return _I_APPROACH, _S_FORWARD, _B_NONE
        if style == _ZONER and back_room > BACK_ROOM:
            return _I_KEEP, _S_BACK, _B_NONE
        return _I_GUARD, (_S_BACK if S.uniform(stream, r) < 1.0 - CROUCH_GUARD_P else _S_DOWN_BACK), _B_NONE
    # mid and far range
    if style == _ZONER or (gap > FAR_RANGE and S.uniform(stream, r) < FAR_ZONE_P):
        if not my_proj and S.uniform(stream, r) < ZONE_P:
            return _I_ZONE, _S_DOWN, _B_SPECIAL
        if gap < want and back_room > BACK_ROOM:
            return _I_KEEP, _S_BACK, _B_NONE
    if style == _TURTLE and gap < TURTLE_RANGE:
        if S.uniform(stream, r) < aggression:
            return _I_APPROACH, _S_FORWARD, _B_NONE
        return _I_GUARD, (_S_DOWN_BACK if S.uniform(stream, r) < CROUCH_GUARD_P else _S_BACK), _B_NONE
    if style == _RUSHDOWN and RUSH_JUMP_FROM < gap < RUSH_JUMP_TO and S.uniform(stream, r) < RUSH_JUMP_P:
        return _I_APPROACH, _S_UP_FORWARD, _B_NONE
    if gap > want and S.uniform(stream, r) < APPROACH_BASE + APPROACH_PER_AGGRESSION * aggression:
        return _I_APPROACH, _S_FORWARD, _B_NONE
    return _I_WAIT, _S_NEUTRAL, _B_NONE


# ---- act: every active round, one call -----------------------------------------------------------------
@_jit
def act_kernel(obs, active, out, stream, seen, count, delay, knobs, style, intent):
    """For every round r with ``active[r]``: remember what it perceives in ``obs[r]``, look ``delay[r]``
    decisions back, decide, and write ``(stick, button)`` into ``out[r]`` and the intent into ``intent[r]``."""
    ring = seen.shape[1]
    for r in range(obs.shape[0]):
        if not active[r]:
            continue
        k = count[r]
        _perceive(obs[r], seen[r, k % ring])
        then = k - delay[r]
        it, stick, button = _decide(stream, r, obs[r], seen[r, (then if then > 0 else 0) % ring], knobs[r], style[r])
        count[r] = k + 1
        intent[r] = it
        out[r, 0] = stick
        out[r, 1] = button


@_jit
def _restart(idx, count, intent):
    for j in range(idx.shape[0]):
        count[idx[j]] = 0
        intent[idx[j]] = _I_WAIT


# ---- the state of N fighters ---------------------------------------------------------------------------
def knob_row(p: CharacterParams) -> np.ndarray:
    """The kernel's knob row of ``p`` (columns ``K_*``)."""
    row = np.zeros(N_KNOBS)
    row[[K_ERROR, K_AGGRESSION, K_GUARD, K_ANTI_AIR, K_PUNISH, K_TECH, K_IDLE, K_WANT]] = (
        p.error_rate, p.aggression, p.guard_prob, p.anti_air_prob, p.punish_prob, p.tech_prob, p.idle_prob,
        PREFERRED_GAP[p.style])
    return row


def delay_decisions(reaction_ticks: int, frame_skip: int) -> int:
    """How many decisions old the fighter's view of the opponent is: ticks rounded to decisions."""
    return (reaction_ticks + frame_skip // 2) // frame_skip


class BatchedScripted:
    """The scripted fighter for N rounds (the batched agent protocol, :mod:`agents.batched`).

    ``params`` are the preset knobs (``base_params``); a round reset with a difficulty gets
    ``CharacterParams.from_difficulty(d, style)`` instead. ``last_intent`` holds each round's last
    :class:`Intent` (as an int). Usable without an env: ``bind``, then ``reset_envs`` and ``act`` on any
    ``(N, 76)`` batch of the fighter's own views.
    """

    def __init__(self, params: CharacterParams, spec: str = "scripted", frame_skip: int = DuelConfig.frame_skip):
        self.base_params = params
        self.spec = spec
        self.frame_skip = max(1, int(frame_skip))
        self.num_envs = 0

    def bind(self, num_envs: int) -> None:
        n = self.num_envs = int(num_envs)
        # remember enough decisions for the longest delay of any difficulty (difficulty 0) and the preset
        slowest = max(CharacterParams.from_difficulty(0.0).reaction_ticks, self.base_params.reaction_ticks)
        self._stream = S.new_streams(n)
        self._seen = np.zeros((n, delay_decisions(slowest, self.frame_skip) + 1, N_PERCEIVED))
        self._count = np.zeros(n, dtype=np.int64)
        self._delay = np.zeros(n, dtype=np.int64)
        self._knobs = np.zeros((n, N_KNOBS))
        self._style = np.zeros(n, dtype=np.int64)
        self.last_intent = np.zeros(n, dtype=np.int64)
        self.params = [self.base_params] * n  # each round's knobs as CharacterParams
        self._cache: dict[float, CharacterParams] = {}
        for r in range(n):
            self.set_params(r, self.base_params)

    def set_params(self, r: int, p: CharacterParams) -> None:
        """Round r plays with knobs ``p`` from its next decision."""
        delay = delay_decisions(p.reaction_ticks, self.frame_skip)
        if delay + 1 > self._seen.shape[1]:
            self._grow_ring(delay + 1)
        self.params[r] = p
        self._knobs[r] = knob_row(p)
        self._style[r] = STYLES.index(p.style)
        self._delay[r] = delay

    def _grow_ring(self, size: int) -> None:
        """A longer memory of perceptions, each round's remembered decisions kept at their new places."""
        old, ring = self._seen, self._seen.shape[1]
        self._seen = np.zeros((old.shape[0], size, N_PERCEIVED))
        for r, k in enumerate(self._count.tolist()):
            for j in range(max(0, k - ring), k):
                self._seen[r, j % size] = old[r, j % ring]

    def _for_difficulty(self, d: float) -> CharacterParams:
        if np.isnan(d):
            return self.base_params
        p = self._cache.get(d)
        if p is None:
            p = self._cache[d] = CharacterParams.from_difficulty(d, self.base_params.style)
        return p

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        """Rounds ``idx`` start: their knobs from ``difficulty`` (NaN: the preset), their streams keyed
        by ``seeds``, their memory of the opponent cleared."""
        idx = np.asarray(idx, dtype=np.int64)
        for j, r in enumerate(idx.tolist()):
            self.set_params(r, self._for_difficulty(np.nan if difficulty is None else float(difficulty[j])))
        self.restart(idx, seeds)

    def restart(self, idx: np.ndarray, seeds: np.ndarray) -> None:
        """Rounds ``idx`` start with their current knobs: streams keyed by ``seeds``, memory cleared."""
        idx = np.asarray(idx, dtype=np.int64)
        S.seed_streams(self._stream, idx, np.asarray(seeds, dtype=np.int64))
        _restart(idx, self._count, self.last_intent)

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        act_kernel(obs, active, out, self._stream, self._seen, self._count, self._delay, self._knobs, self._style,
                   self.last_intent)


__all__ = ["BatchedScripted", "act_kernel", "delay_decisions", "knob_row"]
