"""The batched core of ``sandbox/Stealth-v0``: N envs' state, their level tables and buffers, and the call
into the kernel that steps them.

Both forms of the env hold one :class:`StealthCore` and add their API around it: the batch
(:class:`envs.stealth.vector.StealthVectorEnv`, N envs, Gymnasium's vector API and next-step autoreset)
and the single env (:class:`envs.stealth.env.StealthEnv`, N = 1 behind the Gymnasium API). The step and
the observation are :func:`envs.stealth.kernels.step_kernel`; the start of an episode drawn the single
env's way is :meth:`StealthCore.draw_episode`, which the batch also uses after a seeded reset, so that env
``i`` of a batch reset with seed ``s`` is the single env reset with seed ``s + i``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from envs.stealth import kernels
from envs.stealth.config import StealthConfig
from envs.stealth.features import FLOW_SCALE
from envs.stealth.kernels import (
    CHANNELS,
    LV_PERIOD,
    LV_START,
    N_OUT_B,
    N_OUT_F,
    N_OUT_I,
    ST_CELL,
    ST_PHASE,
    ST_SLOT,
    ST_STEPS,
    STATE_FIELDS,
    Tables,
    kernel_params,
)
from envs.stealth.level import POOL_SIZE, POOLS, Level, bundled_levels, load_level, pool_level


class StealthCore:
    """N stealth envs as arrays: ``state[ST_*]`` (slot, cell, phase, steps), ``potential`` (shaping), the
    packed :class:`~envs.stealth.kernels.Tables` of every level in use, the kernel's inputs (``actions``,
    ``uniform``) and outputs (``out_f``, ``out_b``, ``out_i``, see ``kernels.OUT_*``).

    ``max_pool_slots``: when set (the single env), the tables forget the generated levels they packed once
    more than this many are held (the process's pool cache keeps the levels themselves)."""

    def __init__(self, config: StealthConfig, num_envs: int, obs_dtype: npt.DTypeLike = np.float32,
                 max_pool_slots: int | None = None):
        n = self.num_envs = int(num_envs)
        self.config = config
        self.local = config.obs_mode == "local"
        self.pad = config.local_size // 2 if self.local else 0
        self.max_pool_slots = max_pool_slots
        # -- levels: each env a fixed level slot, or a pool ("random"/"heldout") it draws from per reset
        specs = level_specs(config.level, n)
        self.env_pool = np.full(n, -1, dtype=np.int64)  # index into POOLS, -1 for a fixed level
        self.fixed_slot = np.full(n, -1, dtype=np.int64)
        self.fixed_levels: list[Level] = []
        fixed = [spec for spec in specs if isinstance(spec, Level)]
        self._new_tables()
        loaded: dict[int, int] = {}
        for j, spec in enumerate(specs):
            envs_j = np.arange(j, n, len(specs))
            if isinstance(spec, str):
                self.env_pool[envs_j] = POOLS.index(spec)
            else:
                if id(spec) not in loaded:
                    loaded[id(spec)] = self.add_level(spec)
                    self.fixed_levels.append(spec)
                self.fixed_slot[envs_j] = loaded[id(spec)]
        shapes = {level.shape for level in fixed}
        if (self.env_pool >= 0).any():
            shapes.add((config.size, config.size))
        if not self.local and len(shapes) > 1:
            listed = ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
            raise ValueError(f"level: levels of different shapes ({listed}) do not fit one {config.obs_mode!r} "
                             "observation; use levels of one shape or obs_mode='local'")
        # -- the observation
        self.channels = len(CHANNELS) + len(config.nav_features)
        self.window = (config.local_size, config.local_size) if self.local else shapes.pop()
        h, w = self.window
        self.obs_shape = (self.channels * h * w,) if config.obs_mode == "vector" else (self.channels, h, w)
        self.obs_dtype = np.dtype(obs_dtype)
        # -- state (struct of arrays), the kernel's inputs and outputs
        self.state = np.zeros((len(STATE_FIELDS), n), dtype=np.int64)
        self.potential = np.zeros(n, dtype=np.float64)
        # which envs' episodes began away from the level's start (an exploring start, or a start option): their
        # goal is no crossing, so the envs report it (``info["exploring_start"]``) and do not count it a success
        self.explored = np.zeros(n, dtype=np.bool_)
        self.actions = np.zeros(n, dtype=np.int64)
        self.uniform = np.zeros(n, dtype=np.float64)
        self.out_f = np.zeros((N_OUT_F, n), dtype=np.float64)
        self.out_b = np.zeros((N_OUT_B, n), dtype=np.bool_)
        self.out_i = np.zeros((n, N_OUT_I), dtype=np.int64)
        self.iparams, self.fparams = kernel_params(
            self.local, self.pad, config.nav_features, self.tables, config.slip, config.rewards, FLOW_SCALE,
            config.shaping_gamma, config.shaping_weight)

    # -- levels ------------------------------------------------------------------------------------------

    def _new_tables(self) -> None:
        cfg = self.config
        self.tables = Tables(self.pad, cfg.nav_features, shaping=cfg.shaping_gamma is not None)
        self.levels: list[Level] = []  # the level of each slot
        # generated levels: _pool_slots[row, j] is the slot of entry j of the pool of row (-1: not packed yet);
        # a row per (pool, difficulty) in use
        self._pool_rows: dict[tuple[int, float], int] = {}
        self._pool_keys: list[tuple[int, float]] = []
        self._pool_slots = np.full((0, POOL_SIZE), -1, dtype=np.int64)
        self.pool_slot_count = 0

    def add_level(self, level: Level) -> int:
        """Pack ``level`` into a new slot of the tables; returns the slot."""
        cfg = self.config
        max_steps = cfg.max_steps or level.max_steps or 8 * sum(level.shape)
        slot = self.tables.add(level, max_steps)
        self.levels.append(level)
        return slot

    def row(self, pool: int, difficulty: float) -> int:
        """The row of ``_pool_slots`` for entries of ``POOLS[pool]`` at ``difficulty`` (added on first use)."""
        key = (int(pool), float(difficulty))
        row = self._pool_rows.get(key)
        if row is None:
            row = self._pool_rows[key] = len(self._pool_keys)
            self._pool_keys.append(key)
            self._pool_slots = np.vstack([self._pool_slots, np.full((1, POOL_SIZE), -1, dtype=np.int64)])
        return row

    def rows(self, difficulty: np.ndarray) -> np.ndarray:
        """The ``_pool_slots`` row of each env for its ``difficulty``; 0 for fixed levels. A Python step per
        distinct (pool, difficulty) pair, never per env."""
        rows = np.zeros(self.num_envs, dtype=np.int64)
        drawing = self.env_pool >= 0
        if not drawing.any():
            return rows
        pairs, inverse = np.unique(np.stack([self.env_pool[drawing], difficulty[drawing]]), axis=1,
                                   return_inverse=True)
        pair_rows = np.array([self.row(pool, value) for pool, value in pairs.T.tolist()], dtype=np.int64)
        rows[drawing] = pair_rows[inverse.reshape(-1)]
        return rows

    def entry_slot(self, row: int, j: int) -> int:
        """The slot of entry ``j`` of the pool of ``row``: generated (or taken from the process's cache) and
        packed on first use."""
        slot = int(self._pool_slots[row, j])
        if slot < 0:
            pool, difficulty = self._pool_keys[row]
            slot = self.add_level(pool_level(POOLS[pool], difficulty, j, self.config.size))
            self._pool_slots[row, j] = slot
            self.pool_slot_count += 1
        return slot

    def pool_slot(self, pool: int, difficulty: float, j: int) -> int:
        """The slot of entry ``j`` of ``POOLS[pool]`` at ``difficulty``. With ``max_pool_slots``, a full table
        of generated levels is emptied first (the single env: no other env holds a slot)."""
        row = self.row(pool, difficulty)
        if self._pool_slots[row, j] < 0 and self.max_pool_slots is not None \
                and self.pool_slot_count >= self.max_pool_slots:
            self._forget_pools()
            row = self.row(pool, difficulty)
        return self.entry_slot(row, j)

    def _forget_pools(self) -> None:
        assert self.num_envs == 1, "only a core of one env forgets the pools (no other env may hold a slot)"
        self._new_tables()
        for level in self.fixed_levels:  # again slots 0, 1, ...: the fixed levels come first
            self.add_level(level)

    def level(self, i: int) -> Level:
        """The level env ``i`` plays in its current episode."""
        return self.levels[int(self.state[ST_SLOT, i])]

    # -- the start of an episode ---------------------------------------------------------------------------

    def initial_state(self, difficulty: np.ndarray) -> None:
        """Every env at the start of its level, phase 0: entry 0 of its pool for generated levels (the state
        before the first ``reset``)."""
        slot = self.fixed_slot.copy()
        drawing = self.env_pool >= 0
        if drawing.any():
            rows = self.rows(difficulty)
            for row in np.unique(rows[drawing]).tolist():  # a step per (pool, difficulty), never per env
                slot[drawing & (rows == row)] = self.entry_slot(row, 0)
        self.start(np.arange(self.num_envs), slot)

    def start(self, envs: np.ndarray, slots: np.ndarray) -> None:
        """``envs`` start an episode on ``slots``, on the level's start at phase 0."""
        self.state[ST_SLOT, envs] = slots
        self.state[ST_CELL, envs] = self.tables.slots[slots, LV_START]
        self.state[ST_PHASE, envs] = 0
        self.state[ST_STEPS, envs] = 0
        self.explored[envs] = False

    def draw_episode(self, i: int, rng: np.random.Generator, difficulty: float,
                     options: Mapping[str, Any] | None = None) -> None:
        """Env ``i`` starts an episode with the single env's draws from ``rng``, in its order: the pool entry
        (generated levels), then (``exploring_starts``) the coin, then the phase and the cell.

        ``options`` (the single env's ``reset`` options): ``start=(row, col) | "random"`` (a floor cell that
        is neither the goal nor watched at the starting phase) and ``phase=int | "random"``."""
        options = options or {}
        pool = int(self.env_pool[i])
        slot = int(self.fixed_slot[i]) if pool < 0 else self.pool_slot(pool, difficulty, int(rng.integers(POOL_SIZE)))
        start, phase = options.get("start"), options.get("phase", 0)
        explore = self.config.exploring_starts
        if explore > 0.0 and "start" not in options and "phase" not in options and rng.random() < explore:
            start, phase = "random", "random"
        level = self.levels[slot]
        world = level.world
        period = int(self.tables.slots[slot, LV_PERIOD])
        if isinstance(phase, str) and phase == "random":
            phase = int(rng.integers(period))
        elif not (isinstance(phase, int | np.integer) and 0 <= phase < period):
            raise ValueError(f"reset option phase must be 'random' or an int in [0, {period}), got {phase!r}")
        cell = world.start
        if start is not None:
            free = ~world.walls & ~world.watched[int(phase)]
            free[world.goal] = False
            if isinstance(start, str) and start == "random":
                cell = int(rng.choice(np.flatnonzero(free)))
            else:
                cell = _start_cell(start, level, free, phase)
        self.state[ST_SLOT, i], self.state[ST_CELL, i] = slot, cell
        self.state[ST_PHASE, i], self.state[ST_STEPS, i] = int(phase), 0
        self.explored[i] = cell != world.start

    # -- the kernel ----------------------------------------------------------------------------------------

    def run(self, actions: np.ndarray, resetting: np.ndarray, obs: np.ndarray) -> int:
        """Step the envs by ``actions`` (int64, checked; their slip draws in ``uniform``) and restart the
        ``resetting`` ones, writing every observation into ``obs`` (N, C, h, w) and the outputs; returns how
        many episodes ended."""
        t = self.tables
        return kernels.step_kernel(actions, self.uniform, resetting, self.state, self.potential, t.slots,
                                   t.bits, t.rule, t.maps, self.iparams, self.fparams, obs, self.out_f,
                                   self.out_b, self.out_i)

    def new_obs(self) -> np.ndarray:
        """A new (N, C, h, w) array for the kernel to fill (it writes every element)."""
        return np.empty((self.num_envs, self.channels, *self.window), dtype=self.obs_dtype)

    def nbytes(self) -> dict[str, int]:
        """Bytes of the tables (with the pool index) and of the state."""
        state = sum(a.nbytes for a in (self.state, self.potential, self.actions, self.uniform, self.out_f,
                                        self.out_b, self.out_i, self.env_pool, self.fixed_slot))
        return {"tables": self.tables.nbytes() + self._pool_slots.nbytes, "state": state}


def _start_cell(start, level: Level, free: np.ndarray, phase) -> int:
    h, w = level.shape
    try:
        r, c = (int(v) for v in start)
    except (TypeError, ValueError):
        raise ValueError(f"reset option start must be 'random' or (row, col), got {start!r}") from None
    if not (0 <= r < h and 0 <= c < w) or not free[r * w + c]:
        raise ValueError(f"reset option start {start!r} must be a floor cell of the {h}x{w} level that is "
                         f"neither the goal nor watched at phase {phase}")
    return r * w + c


def level_specs(level: Any, num_envs: int) -> list[Level | str]:
    """The distinct level specs of the ``level`` argument, in order: a :class:`Level` each, or a pool name
    (``"random"``, ``"heldout"``). Env ``i`` plays item ``i % len``."""
    if isinstance(level, str) and level == "all":
        items: list = bundled_levels()
    elif isinstance(level, tuple):
        items = list(level)
        if len(items) > num_envs:
            raise ValueError(f"level: a list of {len(items)} levels does not fit {num_envs} envs (env i plays "
                             f"level i mod {len(items)}, so some would never be played); pass num_envs >= "
                             f"{len(items)}")
    else:
        items = [level]
    cache: dict[str, Level] = {}
    out = []
    for item in items:
        if isinstance(item, Level) or (isinstance(item, str) and item in POOLS):
            out.append(item)
        else:
            key = os.fspath(item)
            if key not in cache:
                cache[key] = load_level(item)
            out.append(cache[key])
    return out
