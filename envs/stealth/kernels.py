"""The stealth grid's step and observation, written once: numba kernels over a batch of envs.

Both forms of ``sandbox/Stealth-v0`` run this code through :class:`envs.stealth.core.StealthCore`: the
batch (:class:`envs.stealth.vector.StealthVectorEnv`) with N envs and the single env
(:class:`envs.stealth.env.StealthEnv`) with N = 1. The step is the rule of
:func:`envs.stealth.rules.transition` (the exact MDP's too; ``tests/test_stealth_mdp.py`` holds them
equal), read from the tables below. ``tests/stealth_oracle.py`` is a readable Python reference of the
observation, test-only, and the tests hold the kernel equal to it bit for bit.

Tables (:class:`Tables`; one *slot* per level in use, the offsets index the flat arrays)

* ``slots[s, LV_*]`` (int64): the level's height, width, period, start and goal cells (flat), step limit,
  and the offsets of its regions in ``bits``, ``rule`` and ``maps``.
* ``bits[off_bits + (p * Hp + y) * Wp + x]`` (uint8): cell ``(y - pad, x - pad)`` at phase ``p`` as the
  bits ``BIT_*``: wall (also outside the map), goal, guard, watched now, watched after the next step,
  hiding spot, watched two steps from now. ``pad`` is the ``local`` view's half-width (0 for ``grid`` and
  ``vector``) and ``Hp, Wp = H + 2 pad, W + 2 pad``: the map padded so that a window never leaves it.
* ``rule[off_rule + p * H * W + cell]`` (uint8): bit ``d`` set when moving in direction ``d`` from ``cell``
  at phase ``p`` swaps places with a guard.
* ``maps[row, off_map + y * Wp + x]`` (float64), one row per per-level map in use (``IP_ROW_*`` holds its
  row, -1 when absent): ``threat`` (0 outside the map), the flow field's walking cost to the goal (``inf``
  outside and where cut off) and the goal potential of shaping.

The move is read from the wall bits of the next phase, so that the rule and the observation of an env
read one table region.
"""

from __future__ import annotations

import numba
import numpy as np

from envs.jit import refresh_cache
from envs.stealth import features, rules
from envs.stealth.features import NAV_FEATURES
from envs.stealth.level import Level
from envs.stealth.rules import DELTAS, PERPENDICULAR, Action

refresh_cache(__file__, [rules.__file__, features.__file__])  # their names are compiled into these kernels

N_ACTIONS = len(Action)

# ---- the bits of a cell in ``bits``
BIT_WALL, BIT_GOAL, BIT_GUARD, BIT_WATCHED, BIT_WATCHED_NEXT, BIT_HIDING, BIT_LOOKAHEAD = range(7)

# ---- the observation's channels: the six of every mode, then the nav_features asked for
CHANNELS = ("walls", "player", "goal", "guards", "watched_now", "watched_next")
CH_WALLS, CH_PLAYER, CH_GOAL, CH_GUARDS, CH_WATCHED, CH_WATCHED_NEXT = range(len(CHANNELS))
NAV_THREAT = NAV_FEATURES.index("threat")
NAV_HIDING = NAV_FEATURES.index("hiding")
NAV_DANGER = NAV_FEATURES.index("danger_next")
NAV_FLOW = NAV_FEATURES.index("flow")
NAV_LOOKAHEAD = NAV_FEATURES.index("lookahead")
NAV_TRAP = NAV_FEATURES.index("trap_next")

# ---- a level slot's fields: slots[s, LV_*]
LEVEL_FIELDS = ("height", "width", "period", "start", "goal", "max_steps", "off_bits", "off_rule", "off_map")
LV_HEIGHT, LV_WIDTH, LV_PERIOD, LV_START, LV_GOAL, LV_MAX_STEPS, LV_OFF_BITS, LV_OFF_RULE, LV_OFF_MAP = range(
    len(LEVEL_FIELDS))
MAPS = ("threat", "flow", "potential")  # the float maps a slot may carry, each in its own row of ``maps``

# ---- the state of the envs (struct of arrays): state[ST_*, i], int64
STATE_FIELDS = ("slot", "cell", "phase", "steps")
ST_SLOT, ST_CELL, ST_PHASE, ST_STEPS = range(len(STATE_FIELDS))

# ---- the kernel's parameters: iparams[IP_*] (int64) and fparams[FP_*] (float64)
IP_LOCAL, IP_PAD, IP_SHAPING, IP_ROW_THREAT, IP_ROW_FLOW, IP_ROW_POTENTIAL, IP_NAV = range(7)
N_IPARAMS = IP_NAV + len(NAV_FEATURES)  # iparams[IP_NAV + NAV_*]: the output channel of that feature, or -1
FP_SLIP, FP_REWARD_STEP, FP_REWARD_CAUGHT, FP_REWARD_GOAL, FP_FLOW_SCALE, FP_GAMMA, FP_WEIGHT = range(7)
N_FPARAMS = 7

# ---- its outputs: out_f[OUT_*, i] (float64), out_b[OUT_*, i] (bool) and out_i[i, INFO_*] (int64)
OUT_REWARD, OUT_UNSHAPED = range(2)
N_OUT_F = 2
OUT_TERMINATED, OUT_TRUNCATED, OUT_CAUGHT, OUT_AT_GOAL, OUT_SLIPPED, OUT_ENDED, OUT_SUCCESS = range(7)
N_OUT_B = 7
INFO_ROW, INFO_COL, INFO_PHASE = range(3)
N_OUT_I = 3

_DR = np.array([dr for dr, _ in DELTAS], dtype=np.int64)  # the row step of each action
_DC = np.array([dc for _, dc in DELTAS], dtype=np.int64)
_PERP = np.array([[0, 0]] + [list(PERPENDICULAR[a]) for a in list(Action)[1:]], dtype=np.int64)  # (5, 2)


class Tables:
    """The growable flat tables of the level slots (the layout is in the module docstring).

    ``pad`` is the ``local`` view's half-width (0 otherwise); ``nav`` the nav_features names and ``shaping``
    whether the goal potential is needed: a slot carries only the maps those ask for."""

    def __init__(self, pad: int, nav: tuple[str, ...], shaping: bool):
        self.pad, self.nav, self.shaping = pad, tuple(nav), bool(shaping)
        wanted = {"threat": "threat" in nav, "flow": "flow" in nav, "potential": self.shaping}
        names = [name for name in MAPS if wanted[name]]
        self.map_row = {name: (names.index(name) if name in names else -1) for name in MAPS}
        self.n_maps = len(names)
        self.slots = np.zeros((16, len(LEVEL_FIELDS)), dtype=np.int64)
        self.bits = np.zeros(1024, dtype=np.uint8)
        self.rule = np.zeros(1024, dtype=np.uint8)
        self.maps = np.zeros((max(len(names), 1), 1024), dtype=np.float64)
        self.used = {"bits": 0, "rule": 0, "maps": 0}
        self.count = 0

    def _append(self, name: str, values: np.ndarray) -> int:
        """Append ``values`` to the flat table ``name`` (``maps``: one row per map, the same offset);
        returns their offset. The tables grow by doubling, so appends are amortised O(1)."""
        array, used = getattr(self, name), self.used[name]
        size = values.shape[-1] if name == "maps" else values.size
        if used + size > array.shape[-1]:
            grown = np.zeros((*array.shape[:-1], max(2 * array.shape[-1], used + size)), dtype=array.dtype)
            grown[..., :used] = array[..., :used]
            setattr(self, name, grown)
            array = grown
        if name == "maps":
            array[: values.shape[0], used : used + size] = values
        else:
            array[used : used + size] = values.reshape(-1)
        self.used[name] = used + size
        return used

    def add(self, level: Level, max_steps: int) -> int:
        """Pack ``level`` into a new slot (its step limit ``max_steps``); returns the slot."""
        world, r = level.world, self.pad
        h, w = level.shape
        period = world.period
        hp, wp = h + 2 * r, w + 2 * r
        bits = np.full((period, hp, wp), 1 << BIT_WALL if r else 0, dtype=np.uint8)  # outside reads as wall
        inner = bits[:, r : r + h, r : r + w]
        inner[:] = world.walls.reshape(h, w).astype(np.uint8) << BIT_WALL
        goal_row, goal_col = divmod(world.goal, w)
        inner[:, goal_row, goal_col] |= 1 << BIT_GOAL
        rows, cols = np.divmod(world.guard_cells, w)  # (P, G) each
        inner[np.arange(period)[:, None], rows, cols] |= 1 << BIT_GUARD
        watched = world.watched.reshape(period, h, w).astype(np.uint8)
        inner |= watched << BIT_WATCHED
        inner |= np.roll(watched, -1, axis=0) << BIT_WATCHED_NEXT
        inner |= np.roll(watched, -2, axis=0) << BIT_LOOKAHEAD
        if "hiding" in self.nav:
            hiding = np.zeros((h, w), dtype=np.uint8)
            for row, col in features.hiding_spots(level):
                hiding[row, col] = 1
            inner |= hiding[None] << BIT_HIDING
        rule = np.zeros((period, h * w), dtype=np.uint8)
        for d in range(N_ACTIONS):
            rule |= world.swap[:, :, d].astype(np.uint8) << d
        maps = np.zeros((self.n_maps, hp, wp), dtype=np.float64)
        if self.map_row["threat"] >= 0:
            maps[self.map_row["threat"], r : r + h, r : r + w] = features.threat_map(level)
        if self.map_row["flow"] >= 0:
            maps[self.map_row["flow"]] = np.inf
            maps[self.map_row["flow"], r : r + h, r : r + w] = features.flow_costs(level)
        if self.map_row["potential"] >= 0:
            maps[self.map_row["potential"], r : r + h, r : r + w] = features.goal_potential(level)
        values = np.zeros(len(LEVEL_FIELDS), dtype=np.int64)
        values[[LV_HEIGHT, LV_WIDTH, LV_PERIOD, LV_START, LV_GOAL, LV_MAX_STEPS]] = (
            h, w, period, world.start, world.goal, max_steps)
        values[LV_OFF_BITS] = self._append("bits", bits)
        values[LV_OFF_RULE] = self._append("rule", rule)
        if self.n_maps:  # else no map is read: the slot takes no room in ``maps``
            values[LV_OFF_MAP] = self._append("maps", maps.reshape(self.n_maps, -1))
        slot = self.count
        if slot >= self.slots.shape[0]:
            grown = np.zeros((2 * self.slots.shape[0], len(LEVEL_FIELDS)), dtype=np.int64)
            grown[:slot] = self.slots[:slot]
            self.slots = grown
        self.slots[slot] = values
        self.count += 1
        return slot

    def nbytes(self) -> int:
        return self.slots.nbytes + self.bits.nbytes + self.rule.nbytes + self.maps.nbytes


def kernel_params(local: bool, pad: int, nav: tuple[str, ...], tables: Tables, slip: float, rewards,
                  flow_scale: float, shaping_gamma: float | None, shaping_weight: float) -> tuple:
    """``(iparams, fparams)``: the kernel's parameters for these settings (see the ``IP_*``/``FP_*`` names)."""
    iparams = np.full(N_IPARAMS, -1, dtype=np.int64)
    iparams[IP_LOCAL], iparams[IP_PAD], iparams[IP_SHAPING] = int(local), pad, int(shaping_gamma is not None)
    iparams[IP_ROW_THREAT] = tables.map_row["threat"]
    iparams[IP_ROW_FLOW] = tables.map_row["flow"]
    iparams[IP_ROW_POTENTIAL] = tables.map_row["potential"]
    for k, name in enumerate(NAV_FEATURES):
        if name in nav:
            iparams[IP_NAV + k] = len(CHANNELS) + nav.index(name)
    fparams = np.zeros(N_FPARAMS, dtype=np.float64)
    fparams[FP_SLIP] = slip
    fparams[FP_REWARD_STEP] = rewards.step
    fparams[FP_REWARD_CAUGHT] = rewards.caught
    fparams[FP_REWARD_GOAL] = rewards.goal
    fparams[FP_FLOW_SCALE] = flow_scale
    fparams[FP_GAMMA] = 0.0 if shaping_gamma is None else shaping_gamma
    fparams[FP_WEIGHT] = shaping_weight
    return iparams, fparams


# ---- the kernel and its helpers ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def first_bad_action(actions) -> int:
    """The index of the first action outside ``0..4``, or -1 (checked before anything is stepped)."""
    for i in range(actions.shape[0]):
        if actions[i] < 0 or actions[i] >= N_ACTIONS:
            return i
    return -1


@numba.njit(cache=True, inline="always")
def _bit(b, k):
    return (b >> k) & 1


@numba.njit(cache=True, inline="always")
def _destination(bits, base, wp, pad, h, w, cell, d):
    """The flat cell after moving in direction ``d`` from ``cell`` (a wall or the map's edge blocks: stay),
    and that cell's bits in the phase table starting at ``base``: the move of ``rules.move_table``."""
    row, col = cell // w, cell % w
    r2, c2 = row + _DR[d], col + _DC[d]
    if r2 < 0 or r2 >= h or c2 < 0 or c2 >= w or _bit(bits[base + (r2 + pad) * wp + c2 + pad], BIT_WALL) == 1:
        r2, c2 = row, col
    return r2 * w + c2, bits[base + (r2 + pad) * wp + c2 + pad]


@numba.njit(cache=True, inline="always")
def _is_caught(b_new, rule_bits, d):
    """Caught: the cell reached is watched after the step, or the move swapped places with a guard."""
    return _bit(b_new, BIT_WATCHED) == 1 or ((rule_bits >> d) & 1) == 1


@numba.njit(cache=True, inline="always")
def _slipped_direction(a, u, slip):
    """The direction moved for action ``a`` and the uniform draw ``u``: ``a`` with probability ``1 - slip``,
    else one of its two perpendiculars (``rules.action_outcomes``, in its order); stay never slips."""
    if slip <= 0.0 or a == 0:
        return a
    if u < 1.0 - slip:
        return a
    if u < (1.0 - slip) + slip / 2.0:
        return _PERP[a, 0]
    return _PERP[a, 1]


@numba.njit(cache=True, inline="always")
def _mark(obs, i, channel, cell, w, row, col, half, k, local):
    """Set ``obs[i, channel]`` at flat ``cell`` (in the ``local`` view: relative to the player on ``row, col``,
    and only when inside the ``k x k`` window)."""
    y, x = cell // w, cell % w
    if local:
        y, x = y - row + half, x - col + half
        if y < 0 or y >= k or x < 0 or x >= k:
            return
    obs[i, channel, y, x] = 1


@numba.njit(cache=True, inline="always")
def _map_at(maps, row, off_map, wp, pad, cell, w):
    return maps[row, off_map + (cell // w + pad) * wp + cell % w + pad]


@numba.njit(cache=True, inline="always")
def _step_env(i, a, u, state, potential, slots, bits, rule, maps, iparams, fparams, out_f, out_b):
    """One step of env ``i`` by action ``a`` (``u``: its slip draw): the rule, the reward (shaped when
    asked), the flags; returns whether the episode ended."""
    s = state[ST_SLOT, i]
    h, w, period = slots[s, LV_HEIGHT], slots[s, LV_WIDTH], slots[s, LV_PERIOD]
    pad = iparams[IP_PAD]
    wp = w + 2 * pad
    c, p = state[ST_CELL, i], state[ST_PHASE, i]
    d = _slipped_direction(a, u, fparams[FP_SLIP])
    q = (p + 1) % period
    base_q = slots[s, LV_OFF_BITS] + q * (h + 2 * pad) * wp
    new, b_new = _destination(bits, base_q, wp, pad, h, w, c, d)
    caught = _is_caught(b_new, rule[slots[s, LV_OFF_RULE] + p * h * w + c], d)
    at_goal = new == slots[s, LV_GOAL] and not caught
    state[ST_CELL, i], state[ST_PHASE, i] = new, q
    state[ST_STEPS, i] += 1
    terminated = caught or at_goal
    truncated = (not terminated) and state[ST_STEPS, i] >= slots[s, LV_MAX_STEPS]
    reward = fparams[FP_REWARD_STEP] + fparams[FP_REWARD_CAUGHT] * (1.0 if caught else 0.0) \
        + fparams[FP_REWARD_GOAL] * (1.0 if at_goal else 0.0)
    out_f[OUT_UNSHAPED, i] = reward
    if iparams[IP_SHAPING] == 1:  # potential-based: weight * (gamma * Phi(s') - Phi(s)), Phi = 0 once terminated
        phi = 0.0
        if not terminated:
            phi = _map_at(maps, iparams[IP_ROW_POTENTIAL], slots[s, LV_OFF_MAP], wp, pad, new, w)
        reward = reward + fparams[FP_WEIGHT] * (fparams[FP_GAMMA] * phi - potential[i])
        potential[i] = phi
    out_f[OUT_REWARD, i] = reward
    out_b[OUT_TERMINATED, i], out_b[OUT_TRUNCATED, i] = terminated, truncated
    out_b[OUT_CAUGHT, i], out_b[OUT_AT_GOAL, i], out_b[OUT_SLIPPED, i] = caught, at_goal, d != a
    out_b[OUT_ENDED, i], out_b[OUT_SUCCESS, i] = terminated or truncated, at_goal
    return terminated or truncated


@numba.njit(cache=True, inline="always")
def _restart_env(i, state, potential, slots, maps, iparams, out_f, out_b):
    """Env ``i`` starts an episode (its state was set by the caller): reward 0, no flags, its potential."""
    out_f[OUT_REWARD, i] = out_f[OUT_UNSHAPED, i] = 0.0
    for f in range(N_OUT_B):
        out_b[f, i] = False
    if iparams[IP_SHAPING] == 1:
        s = state[ST_SLOT, i]
        w, pad = slots[s, LV_WIDTH], iparams[IP_PAD]
        potential[i] = _map_at(maps, iparams[IP_ROW_POTENTIAL], slots[s, LV_OFF_MAP], w + 2 * pad, pad,
                               state[ST_CELL, i], w)


@numba.njit(cache=True, inline="always")
def _observe_env(i, state, slots, bits, rule, maps, iparams, fparams, obs, out_i):
    """Write env ``i``'s observation (every channel) and its info cell and phase."""
    k = obs.shape[2]
    half = k // 2
    local = iparams[IP_LOCAL] == 1
    pad = iparams[IP_PAD]
    s = state[ST_SLOT, i]
    h, w, period = slots[s, LV_HEIGHT], slots[s, LV_WIDTH], slots[s, LV_PERIOD]
    c, p = state[ST_CELL, i], state[ST_PHASE, i]
    row, col = c // w, c % w
    out_i[i, INFO_ROW], out_i[i, INFO_COL], out_i[i, INFO_PHASE] = row, col, p
    wp, hp = w + 2 * pad, h + 2 * pad
    if local:
        oy, ox, kh, kw = row, col, k, k
    else:
        oy, ox, kh, kw = 0, 0, h, w
    base = slots[s, LV_OFF_BITS] + p * hp * wp
    off_map, off_rule = slots[s, LV_OFF_MAP], slots[s, LV_OFF_RULE]
    ch_threat, ch_hiding = iparams[IP_NAV + NAV_THREAT], iparams[IP_NAV + NAV_HIDING]
    ch_danger, ch_flow = iparams[IP_NAV + NAV_DANGER], iparams[IP_NAV + NAV_FLOW]
    ch_look, ch_trap = iparams[IP_NAV + NAV_LOOKAHEAD], iparams[IP_NAV + NAV_TRAP]
    row_threat, row_flow = iparams[IP_ROW_THREAT], iparams[IP_ROW_FLOW]
    flow_scale = fparams[FP_FLOW_SCALE]
    here = np.inf
    if ch_flow >= 0:
        here = _map_at(maps, row_flow, off_map, wp, pad, c, w)
    for y in range(kh):
        at = base + (oy + y) * wp + ox
        at_map = off_map + (oy + y) * wp + ox
        for x in range(kw):
            b = bits[at + x]
            obs[i, CH_WALLS, y, x] = _bit(b, BIT_WALL)
            obs[i, CH_PLAYER, y, x] = 0
            obs[i, CH_GOAL, y, x] = _bit(b, BIT_GOAL)
            obs[i, CH_GUARDS, y, x] = _bit(b, BIT_GUARD)
            obs[i, CH_WATCHED, y, x] = _bit(b, BIT_WATCHED)
            obs[i, CH_WATCHED_NEXT, y, x] = _bit(b, BIT_WATCHED_NEXT)
            if ch_threat >= 0:
                obs[i, ch_threat, y, x] = maps[row_threat, at_map + x]
            if ch_hiding >= 0:
                obs[i, ch_hiding, y, x] = _bit(b, BIT_HIDING)
            if ch_danger >= 0:
                obs[i, ch_danger, y, x] = 0
            if ch_flow >= 0:  # 0.5 + half the drop in cost from the player's cell, over flow_scale, clipped
                there = maps[row_flow, at_map + x]
                if np.isfinite(here) and np.isfinite(there):
                    obs[i, ch_flow, y, x] = 0.5 + 0.5 * min(max((here - there) / flow_scale, -1.0), 1.0)
                else:
                    obs[i, ch_flow, y, x] = 0
            if ch_look >= 0:
                obs[i, ch_look, y, x] = _bit(b, BIT_LOOKAHEAD)
            if ch_trap >= 0:
                obs[i, ch_trap, y, x] = 0
    if local:
        obs[i, CH_PLAYER, half, half] = 1
        goal = slots[s, LV_GOAL]
        dr, dc = goal // w - row, goal % w - col
        if max(abs(dr), abs(dc)) > half:  # out of view: the compass cell on the window's edge
            obs[i, CH_GOAL, half + min(max(dr, -half), half), half + min(max(dc, -half), half)] = 1
    else:
        obs[i, CH_PLAYER, row, col] = 1
    if ch_danger >= 0 or ch_trap >= 0:
        q = (p + 1) % period
        base_q = slots[s, LV_OFF_BITS] + q * hp * wp
        base_q2 = slots[s, LV_OFF_BITS] + ((q + 1) % period) * hp * wp
        rule_here = rule[off_rule + p * h * w + c]
        for d in range(N_ACTIONS):
            new, b_new = _destination(bits, base_q, wp, pad, h, w, c, d)
            if _is_caught(b_new, rule_here, d):  # danger_next: one action reaches it and is caught
                if ch_danger >= 0:
                    _mark(obs, i, ch_danger, new, w, row, col, half, k, local)
                continue
            if ch_trap < 0 or new == slots[s, LV_GOAL]:
                continue
            doomed = True  # trap_next: reached safely, but every action of the next step is caught
            rule_new = rule[off_rule + q * h * w + new]
            for d2 in range(N_ACTIONS):
                _, b_new2 = _destination(bits, base_q2, wp, pad, h, w, new, d2)
                if not _is_caught(b_new2, rule_new, d2):
                    doomed = False
                    break
            if doomed:
                _mark(obs, i, ch_trap, new, w, row, col, half, k, local)


@numba.njit(cache=True, nogil=True)
def step_kernel(actions, uniform, resetting, state, potential, slots, bits, rule, maps, iparams, fparams,
                obs, out_f, out_b, out_i):
    """Step every env not ``resetting`` by its action (its slip draw in ``uniform``), restart the
    ``resetting`` ones (their state already set), then write every env's observation into ``obs`` and the
    outputs; nothing is allocated. Returns the number of envs whose episode ended on this step.

    Two passes over the envs: the first, with a short loop body, lets the CPU overlap the table look-ups
    (cache misses) of many envs; the second writes the observations."""
    n = actions.shape[0]
    ended = 0
    for i in range(n):
        if resetting[i]:
            _restart_env(i, state, potential, slots, maps, iparams, out_f, out_b)
        elif _step_env(i, actions[i], uniform[i], state, potential, slots, bits, rule, maps, iparams, fparams,
                       out_f, out_b):
            ended += 1
    for i in range(n):
        _observe_env(i, state, slots, bits, rule, maps, iparams, fparams, obs, out_i)
    return ended
