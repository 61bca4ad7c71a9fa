"""``gym.make_vec("sandbox/Stealth-v0", num_envs=N, **kwargs)``: N stealth envs stepped in one call.

:class:`StealthVectorEnv` is a natively batched :class:`gymnasium.vector.VectorEnv`. Its state is a
struct of arrays (each env's level slot, cell, phase and step count), its levels are packed into flat
tables, and one numba kernel steps every env and writes every observation into one output array (a
preallocated buffer with ``copy=False``): no Python code runs per env per step. The single env
:class:`envs.stealth.env.StealthEnv` stays the readable reference; ``tests/test_stealth_vector.py`` proves
the batch equal to it, env by env.

Table layout (per level *slot*; a slot is one level in use, offsets index the flat arrays):

* ``bits[off_bits + (p * Hp + y) * Wp + x]`` (uint8): the observation of cell ``(y - r, x - r)`` at phase
  ``p`` as bits: 0 wall (also outside the map in the ``local`` view), 1 goal, 2 guard, 3 watched now,
  4 watched next, 5 hiding spot, 6 watched two steps from now (``lookahead``). ``r`` is the ``local`` view's
  half-width (0 for ``grid``/``vector``) and
  ``Hp, Wp = H + 2r, W + 2r``: the map padded so a window never leaves it.
* ``rule[off_rule + p * N + cell]`` (uint8): bit ``d`` (0..4) set when moving in direction ``d`` from
  ``cell`` at phase ``p`` swaps places with a guard.
* ``threat[off_threat + y * Wp + x]`` (float32): the ``threat`` channel, 0 outside the map; ``flow`` (float64,
  the same offsets): the flow field's walking cost to the goal (:func:`envs.stealth.features.flow_costs`),
  ``inf`` outside the map.

These are the tables of :func:`envs.stealth.rules.compile_world`, re-packed: a step is the same
``rules.transition`` look-up (move, watched next, swap), with the move read from the wall bits of the
next phase's ``bits`` (walls never change), so that the rule and the observation of an env read one
table region.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numba
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.stealth import features
from envs.stealth.env import CHANNELS, OBS_MODES, _check_difficulty, check_exploring_starts
from envs.stealth.features import FLOW_SCALE, NAV_FEATURES
from envs.stealth.level import POOL_SIZE, POOLS, Level, bundled_levels, load_level, pool_level
from envs.stealth.rules import DELTAS, PERPENDICULAR, Action, Rewards

OBS_DTYPES = ("float32", "uint8")
N_ACTIONS = len(Action)
_DR = np.array([dr for dr, _ in DELTAS], dtype=np.int64)  # row step of each action
_DC = np.array([dc for _, dc in DELTAS], dtype=np.int64)
_PERP = np.array([[0, 0]] + [list(PERPENDICULAR[a]) for a in list(Action)[1:]], dtype=np.int64)  # (5, 2)


class StealthVectorEnv(VectorEnv):
    """
    ## Description
    ``num_envs`` copies of ``sandbox/Stealth-v0`` (see :class:`envs.stealth.env.StealthEnv` for the game,
    its spaces and its rewards), stepped together. Build it with ``gym.make_vec("sandbox/Stealth-v0",
    num_envs=N, **kwargs)``, which takes the single env's keyword arguments and a few more (below).

    ## Exactness and seeding
    After ``reset(seed=s)``, env ``i`` behaves exactly like ``gym.make("sandbox/Stealth-v0", **kwargs)``
    reset with seed ``s + i`` (Gymnasium's ``SyncVectorEnv`` convention): the same level, observations,
    rewards, terminations and infos, step for step, until its first episode ends. With ``slip > 0`` the
    slips come from the batch's own generator, so they follow the same probabilities but not the same
    draws. Later episodes draw their levels (``"random"``/``"heldout"``) from the batch's generator too.

    ## Autoreset
    Gymnasium's default, next-step autoreset (``metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP``):
    the step that ends an episode returns its last observation with ``terminated`` or ``truncated`` set
    and ``info["is_success"]``; the next ``step`` ignores that env's action, resets it and returns the first
    observation of its new episode with reward 0 and both flags False.

    ## Arguments
    The single env's, with these differences:

    * ``level``: one level (a bundled name, a file, a :class:`Level`, ``"random"`` or ``"heldout"``), a
      list of them (env ``i`` plays item ``i % len``; the list may not be longer than ``num_envs``), or
      ``"all"`` (the bundled levels). In ``grid`` and ``vector`` mode all levels need one shape; ``local``
      mixes any.
    * ``difficulty``: one value for all envs or a sequence of ``num_envs`` values (per env).
    * ``num_envs``: how many envs.
    * ``copy``: return observations the env never touches again (default, as ``SyncVectorEnv``: the
      kernel fills a new array each step, with no extra copying pass); ``False`` returns one
      preallocated buffer, which the next ``step`` overwrites (what a trainer that copies the batch into
      its own rollout buffer wants; faster, as the buffer stays in cache).
    * ``obs_dtype``: ``"float32"`` (default, as the single env) or ``"uint8"`` (4x fewer bytes per
      observation; not with the ``threat`` and ``flow`` channels of ``nav_features``, which are fractions).
    * ``exploring_starts``: as the single env's: with this probability a reset (and an autoreset) starts
      at a random phase on a random floor cell that is neither the goal nor watched.
    * ``render_mode``: only ``None``.

    ## Infos
    Arrays over envs: ``cell`` (N, 2) as (row, col), ``phase``, ``caught``, ``at_goal``, ``slipped``,
    each with its all-True mask ``_cell`` etc., and ``is_success`` with the mask ``_is_success`` of the
    envs whose episode ended on this step.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": [], "reset_mask": True}

    def __init__(
        self,
        *,
        num_envs: int = 1,
        level: str | os.PathLike | Level | Sequence = "tutorial",
        difficulty: float | Sequence[float] = 0.3,
        size: int = 12,
        obs_mode: str = "grid",
        local_size: int = 7,
        slip: float = 0.0,
        max_steps: int | None = None,
        rewards: Rewards | dict | None = None,
        nav_features: bool | str | tuple = False,
        exploring_starts: float = 0.0,
        render_mode: str | None = None,
        copy: bool = True,
        obs_dtype: str = "float32",
    ):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if obs_mode not in OBS_MODES:
            raise ValueError(f"unknown obs_mode {obs_mode!r}; valid: {', '.join(OBS_MODES)}")
        if render_mode is not None:
            raise ValueError(f"the batched stealth env does not render (render_mode={render_mode!r}); "
                             "render a single env: gym.make('sandbox/Stealth-v0', render_mode=...)")
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must be a probability in [0, 1], got {slip!r}")
        if local_size < 1 or local_size % 2 == 0:
            raise ValueError(f"local_size must be a positive odd integer, got {local_size!r}")
        if obs_dtype not in OBS_DTYPES:
            raise ValueError(f"unknown obs_dtype {obs_dtype!r}; valid: {', '.join(OBS_DTYPES)}")
        nav = features.nav_names(nav_features)
        if obs_dtype == "uint8" and {"threat", "flow"} & set(nav):
            raise ValueError("obs_dtype='uint8' cannot hold nav_features' threat and flow channels (fractions); "
                             "use obs_dtype='float32'")
        if isinstance(rewards, dict):
            unknown = set(rewards) - {"goal", "caught", "step"}
            if unknown:
                raise ValueError(f"unknown reward keys {sorted(unknown)}; valid: goal, caught, step")
            rewards = Rewards(**rewards)
        n = self.num_envs = int(num_envs)
        self.exploring_starts = check_exploring_starts(exploring_starts)
        self.rewards = rewards or Rewards()
        self.obs_mode, self.local_size, self.slip = obs_mode, int(local_size), float(slip)
        self.nav_features, self.size, self.max_steps_arg = nav, int(size), max_steps
        # the output channel of each of features.NAV_FEATURES (-1: not asked for), read by the kernel
        self._nav_at = np.array([len(CHANNELS) + nav.index(name) if name in nav else -1 for name in NAV_FEATURES],
                                dtype=np.int64)
        self.copy, self.obs_dtype, self.render_mode = bool(copy), np.dtype(obs_dtype), None
        self.pad = self.local_size // 2 if obs_mode == "local" else 0

        # -- levels: each env a fixed level slot, or a pool ("random"/"heldout") it draws from per reset
        self._tables = _Tables(self.pad)
        specs = _level_specs(level, n)
        self.env_pool = np.full(n, -1, dtype=np.int64)  # index into POOLS, -1 for a fixed level
        self._fixed_slot = np.full(n, -1, dtype=np.int64)
        loaded: dict[int, int] = {}
        for j, spec in enumerate(specs):
            envs_j = np.arange(j, n, len(specs))
            if isinstance(spec, str):
                self.env_pool[envs_j] = POOLS.index(spec)
            else:
                if id(spec) not in loaded:
                    loaded[id(spec)] = self._add_level(spec)
                self._fixed_slot[envs_j] = loaded[id(spec)]
        shapes = {spec.shape for spec in specs if isinstance(spec, Level)}
        if (self.env_pool >= 0).any():
            shapes.add((self.size, self.size))
        if obs_mode != "local" and len(shapes) > 1:
            listed = ", ".join(f"{h}x{w}" for h, w in sorted(shapes))
            raise ValueError(f"levels of different shapes ({listed}) do not fit one {obs_mode!r} observation; "
                             "use levels of one shape or obs_mode='local'")
        # -- generated levels: _pool_slots[row, j] is the slot of entry j of the pool of row (-1: not yet
        # packed); a row per (pool, difficulty) in use
        self._pool_rows: dict[tuple[int, float], int] = {}
        self._pool_keys: list[tuple[int, float]] = []
        self._pool_slots = np.full((0, POOL_SIZE), -1, dtype=np.int64)
        self._next_row = np.zeros(n, dtype=np.int64)  # the row of each env's next autoreset
        self.difficulty = np.empty(n, dtype=np.float64)
        self.set_difficulty(difficulty)
        self.episode_difficulty = self.difficulty.copy()

        # -- spaces
        channels = len(CHANNELS) + len(nav)
        if obs_mode == "local":
            window = (self.local_size, self.local_size)
            shape: tuple[int, ...] = (channels, *window)
        else:
            window = shapes.pop()
            shape = (channels, *window) if obs_mode == "grid" else (channels * window[0] * window[1],)
        high = 1 if self.obs_dtype == np.uint8 else 1.0
        self.single_observation_space = spaces.Box(0, high, shape=shape, dtype=self.obs_dtype)
        self.single_action_space = spaces.Discrete(len(Action))
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)

        # -- state (struct of arrays) and preallocated outputs
        self.slot = np.zeros(n, dtype=np.int64)
        self.cell = np.zeros(n, dtype=np.int64)
        self.phase = np.zeros(n, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self._autoreset = np.zeros(n, dtype=bool)
        self._obs4 = np.zeros((n, channels, *window), dtype=self.obs_dtype)  # (N, C, h, w) for the kernel
        self._obs = self._obs4.reshape(n, *shape)
        self._rewards = np.zeros(n, dtype=np.float64)
        self._terminated = np.zeros(n, dtype=bool)
        self._truncated = np.zeros(n, dtype=bool)
        self._caught = np.zeros(n, dtype=bool)
        self._at_goal = np.zeros(n, dtype=bool)
        self._slipped = np.zeros(n, dtype=bool)
        self._uniform = np.zeros(n, dtype=np.float64)
        self._all = np.ones(n, dtype=bool)
        self._all.flags.writeable = False
        self._resetting = np.ones(n, dtype=bool)
        # a valid state before the first reset(): as the single env, entry 0 of a pool
        self._reset_envs(np.arange(n), self._next_row, seeds=None, first=True)

    # -- levels ------------------------------------------------------------------------------

    def _add_level(self, level: Level) -> int:
        max_steps = self.max_steps_arg or level.max_steps or 8 * sum(level.shape)
        return self._tables.add(level, max_steps, with_nav=bool(self.nav_features),
                                with_flow="flow" in self.nav_features)

    @property
    def levels(self) -> list[Level]:
        """The level of each slot (``levels[slot[i]]`` is env ``i``'s); it grows as pools are drawn."""
        return self._tables.levels

    def level(self, i: int) -> Level:
        """The level env ``i`` plays in its current episode."""
        return self._tables.levels[int(self.slot[i])]

    def preload_pools(self) -> int:
        """Generate and pack every entry of each pool the envs draw from at their current difficulty
        (lazily, a level is packed on its first draw; this does it all now, e.g. before timing).
        Returns the number of level slots."""
        rows = np.unique(self._next_row[self.env_pool >= 0])
        for row in rows.tolist():
            pool, difficulty = self._pool_keys[row]
            for j in np.flatnonzero(self._pool_slots[row] < 0).tolist():
                self._pool_slots[row, j] = self._add_level(pool_level(POOLS[pool], difficulty, j, self.size))
        return len(self.levels)

    def set_difficulty(self, difficulty: float | Sequence[float], indices=None) -> None:
        """Difficulty of the next generated levels: one value for all envs (or for ``indices``), or one
        value per env. Read by each env's next (auto)reset."""
        target = np.arange(self.num_envs) if indices is None else np.atleast_1d(np.asarray(indices))
        self.difficulty[target] = _difficulties(difficulty, len(target))
        self._next_row = self._rows(self.difficulty)

    def _rows(self, difficulty: np.ndarray) -> np.ndarray:
        """Row of ``_pool_slots`` of each env for ``difficulty`` (one per env); 0 for fixed levels.
        Costs a Python step per distinct (pool, difficulty) pair, never per env."""
        rows = np.zeros(self.num_envs, dtype=np.int64)
        drawing = self.env_pool >= 0
        if not drawing.any():
            return rows
        pairs, inverse = np.unique(np.stack([self.env_pool[drawing], difficulty[drawing]]), axis=1,
                                   return_inverse=True)
        pair_rows = np.empty(pairs.shape[1], dtype=np.int64)
        for k, (pool, value) in enumerate(pairs.T.tolist()):
            key = (int(pool), float(value))
            if key not in self._pool_rows:
                self._pool_rows[key] = len(self._pool_keys)
                self._pool_keys.append(key)
                self._pool_slots = np.vstack([self._pool_slots, np.full((1, POOL_SIZE), -1, dtype=np.int64)])
            pair_rows[k] = self._pool_rows[key]
        rows[drawing] = pair_rows[inverse.reshape(-1)]
        return rows

    def _reset_envs(self, envs: np.ndarray, rows: np.ndarray, seeds: Sequence[int] | None,
                    first: bool = False) -> None:
        """Start a new episode in ``envs`` (flat indices): level slot, start cell and phase.

        An env playing generated levels draws entry ``j`` of its pool (row ``rows[i]``); with
        ``exploring_starts`` a coin picks a random start. After ``reset(seed=s)`` env ``i`` makes the
        single env's draws, in its order, from ``np_random(s + i)`` (a Python loop, at seeded resets
        only); autoresets draw for all resetting envs at once from the batch's generator."""
        fixed = self._fixed_slot[envs]
        self.slot[envs] = fixed
        drawing = envs[fixed < 0]
        rngs = None
        if seeds is not None and (drawing.size or self.exploring_starts > 0.0):
            rngs = {int(i): seeding.np_random(int(seeds[i]))[0] for i in envs}
        if drawing.size:
            if first:
                index = np.zeros(drawing.size, dtype=np.int64)
            elif rngs is not None:
                index = np.array([rngs[int(i)].integers(POOL_SIZE) for i in drawing], dtype=np.int64)
            else:
                index = self.np_random.integers(POOL_SIZE, size=drawing.size)
            rows = rows[drawing]
            slots = self._pool_slots[rows, index]
            for k in np.flatnonzero(slots < 0):  # a cold pool: each level is generated and packed once
                row, j = int(rows[k]), int(index[k])
                if self._pool_slots[row, j] < 0:
                    pool, difficulty = self._pool_keys[row]
                    level = pool_level(POOLS[pool], difficulty, j, self.size)
                    self._pool_slots[row, j] = self._add_level(level)
                slots[k] = self._pool_slots[row, j]
            self.slot[drawing] = slots
        self.cell[envs] = self._tables.start[self.slot[envs]]
        self.phase[envs] = 0
        self.steps[envs] = 0
        if self.exploring_starts > 0.0 and not first:
            if rngs is not None:
                for i in envs:
                    self._seeded_exploring_start(int(i), rngs[int(i)])
            else:
                self._exploring_starts(envs)

    def _seeded_exploring_start(self, i: int, rng: np.random.Generator) -> None:
        """As ``StealthEnv.reset``: the coin, then ``_start_state(start="random", phase="random")``."""
        if rng.random() < self.exploring_starts:
            world = self.level(i).world
            phase = int(rng.integers(world.period))
            free = ~world.walls & ~world.watched[phase]
            free[world.goal] = False
            self.cell[i], self.phase[i] = int(rng.choice(np.flatnonzero(free))), phase

    def _exploring_starts(self, envs: np.ndarray) -> None:
        """With probability ``exploring_starts`` each of ``envs`` starts at a uniformly random phase and a
        uniformly random floor cell that is neither the goal nor watched then (rejection sampling: a loop
        over attempts, not over envs)."""
        chosen = envs[self.np_random.random(envs.size) < self.exploring_starts]
        if not chosen.size:
            return
        t, pad = self._tables, self.pad
        slot = self.slot[chosen]
        height, width = t.height[slot], t.width[slot]
        phase = self.np_random.integers(0, t.period[slot])
        cell = np.empty(chosen.size, dtype=np.int64)
        todo = np.arange(chosen.size)
        for _ in range(10_000):
            s = slot[todo]
            candidate = self.np_random.integers(0, height[todo] * width[todo])
            row, col = candidate // width[todo] + pad, candidate % width[todo] + pad
            wp = width[todo] + 2 * pad
            b = t.bits[t.off_bits[s] + (phase[todo] * (height[todo] + 2 * pad) + row) * wp + col]
            free = ((b & 1) == 0) & (((b >> 3) & 1) == 0) & (candidate != t.goal[s])
            cell[todo[free]] = candidate[free]
            todo = todo[~free]
            if not todo.size:
                break
        else:  # pragma: no cover  (a level with no free cell at some phase)
            raise ValueError(f"exploring starts: no free cell in level {self.level(int(chosen[todo[0]])).name!r}")
        self.cell[chosen], self.phase[chosen] = cell, phase

    # -- gymnasium API -----------------------------------------------------------------------

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        """Reset every env. ``seed=s`` seeds env ``i`` as ``s + i`` (a list gives each env its seed).
        Options: ``{"difficulty": d}`` (one value or one per env) holds for this episode only;
        ``{"reset_mask": mask}`` (bool, one per env) resets only those envs, as Gymnasium's own vector
        envs do; the others keep their state, and the infos cover the reset envs only."""
        n = self.num_envs
        options = dict(options or {})
        unknown = set(options) - {"difficulty", "reset_mask"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; valid: difficulty, reset_mask "
                             "(random starts: the exploring_starts= keyword)")
        mask = self._all
        if "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (n,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(f"reset_mask must be a bool array of shape ({n},) with at least one True")
        seeds = None
        if seed is not None:
            seeds = [int(seed) + i for i in range(n)] if isinstance(seed, int | np.integer) else list(seed)
            if len(seeds) != n:
                raise ValueError(f"seed must be an int or a list of {n} ints, got {len(seeds)} seeds")
            super().reset(seed=seeds[0])
        envs = np.flatnonzero(mask)
        self.episode_difficulty[envs] = self.difficulty[envs]
        rows = self._next_row
        if "difficulty" in options:  # this episode only; set_difficulty() persists
            self.episode_difficulty[envs] = _difficulties(options["difficulty"], n)[envs]
            rows = self._rows(self.episode_difficulty)
        self._reset_envs(envs, rows, seeds)
        self._autoreset[envs] = False
        self._resetting[:] = True  # the kernel steps no env: it only writes every observation
        self._run_kernel(np.zeros(n, dtype=np.int64), self._resetting)
        return self._observation(), self._info(ended=None, mask=mask)

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or actions.dtype.kind not in "iu":
            raise ValueError(f"actions must be {self.num_envs} integers 0..4, got an array of shape "
                             f"{actions.shape} and dtype {actions.dtype}")
        if not (0 <= actions.min() and actions.max() < N_ACTIONS):
            raise ValueError("invalid action; valid: integers 0..4 (0 stay, 1 north, 2 south, 3 east, 4 west)")
        resetting = self._autoreset
        if resetting.any():  # next-step autoreset: these envs start a new episode instead of moving
            envs = np.flatnonzero(resetting)
            self.episode_difficulty[envs] = self.difficulty[envs]
            self._reset_envs(envs, self._next_row, seeds=None)
        if self.slip > 0.0:
            self._uniform[:] = self.np_random.random(self.num_envs)
        self._run_kernel(actions.astype(np.int64, copy=False), resetting)
        ended = self._terminated | self._truncated
        info = self._info(ended=ended)
        self._autoreset = ended
        return (self._observation(), self._rewards.copy(), self._terminated.copy(), self._truncated.copy(), info)

    def _run_kernel(self, actions: np.ndarray, resetting: np.ndarray) -> None:
        if self.copy:  # a fresh array for the kernel to fill (it writes every element): no copy afterwards
            self._obs4 = np.empty_like(self._obs4)
            self._obs = self._obs4.reshape(self.num_envs, *self.single_observation_space.shape)
        t = self._tables
        _step_kernel(
            actions, self._uniform, self.slip, resetting, self.slot, self.cell, self.phase, self.steps,
            t.height, t.width, t.period, t.goal, t.max_steps, t.off_bits, t.off_rule, t.off_threat,
            t.bits, t.rule, t.threat, t.flow, _PERP,
            self.rewards.step, self.rewards.caught, self.rewards.goal,
            self.obs_mode == "local", self.pad, self._nav_at, FLOW_SCALE,
            self._obs4, self._rewards, self._terminated, self._truncated, self._caught, self._at_goal,
            self._slipped,
        )

    def _observation(self) -> np.ndarray:
        return self._obs  # with copy=True, a new array each step

    def _info(self, ended: np.ndarray | None, mask: np.ndarray | None = None) -> dict:
        cell = np.empty((self.num_envs, 2), dtype=np.int64)
        np.divmod(self.cell, self._tables.width[self.slot], out=(cell[:, 0], cell[:, 1]))
        info = {"cell": cell, "phase": self.phase.copy(), "caught": self._caught.copy(),
                "at_goal": self._at_goal.copy(), "slipped": self._slipped.copy()}
        for key in list(info):
            info["_" + key] = self._all if mask is None else mask.copy()  # self._all: read-only, shared
        if ended is not None:
            info["is_success"] = self._at_goal & ended
            info["_is_success"] = ended
        return info

    def memory_bytes(self) -> dict[str, int]:
        """Bytes held: ``tables`` (the packed tables of every level slot), ``levels`` (the compiled
        :class:`Level` worlds those slots came from, shared with the process's pool cache), ``state``
        (the per-env arrays) and ``obs`` (the observation buffer)."""
        levels = 0
        for level in self.levels:
            world = level.world
            levels += sum(a.nbytes for a in (world.walls, world.move, world.watched, world.swap,
                                              world.guard_cells, world.guard_facing)) + level.walls.nbytes
        state = sum(a.nbytes for a in (self.slot, self.cell, self.phase, self.steps, self._autoreset,
                                        self._rewards, self._terminated, self._truncated, self._caught,
                                        self._at_goal, self._slipped, self._uniform, self.difficulty,
                                        self.episode_difficulty, self.env_pool, self._fixed_slot))
        return {"tables": self._tables.nbytes() + self._pool_slots.nbytes, "levels": levels, "state": state,
                "obs": self._obs4.nbytes}

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_obs"]  # a view of _obs4: pickling would cut the two apart
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._obs = self._obs4.reshape(self.num_envs, *self.single_observation_space.shape)

    def __repr__(self) -> str:
        return f"StealthVectorEnv(num_envs={self.num_envs}, obs_mode={self.obs_mode!r})"


def _difficulties(difficulty, n: int) -> np.ndarray:
    if np.ndim(difficulty) == 0:
        return np.full(n, _check_difficulty(difficulty))
    values = list(difficulty)
    if len(values) != n:
        raise ValueError(f"difficulty must be one number or {n} numbers (one per env), got {len(values)}")
    return np.array([_check_difficulty(v) for v in values], dtype=np.float64)


def _level_specs(level, num_envs: int) -> list:
    """The distinct level specs, in order: a :class:`Level` each, or a pool name (``"random"``,
    ``"heldout"``). Env ``i`` plays item ``i % len``."""
    if isinstance(level, str) and level == "all":
        items: list = bundled_levels()
    elif isinstance(level, list | tuple):
        items = list(level)
        if not items:
            raise ValueError("the level list is empty; give at least one level name, file, 'random' or 'heldout'")
        if len(items) > num_envs:
            raise ValueError(f"a list of {len(items)} levels does not fit {num_envs} envs (env i plays level "
                             f"i mod {len(items)}, so some would never be played); pass num_envs >= {len(items)}")
    else:
        items = [level]
    cache: dict[str, Level] = {}
    out = []
    for item in items:
        if isinstance(item, Level) or (isinstance(item, str) and item in POOLS):
            out.append(item)
        elif isinstance(item, str | os.PathLike):
            key = os.fspath(item)
            if key not in cache:
                cache[key] = load_level(item)
            out.append(cache[key])
        else:
            raise ValueError(f"level {item!r} is not a level name, a file, a Level, 'random' or 'heldout'")
    return out


class _Tables:
    """Growable flat tables of the level slots (see the module docstring for the layout)."""

    def __init__(self, pad: int):
        self.pad = pad
        self.levels: list[Level] = []
        scalars = ("height", "width", "period", "start", "goal", "max_steps", "off_bits", "off_rule", "off_threat")
        for name in scalars:
            setattr(self, name, np.zeros(0, dtype=np.int64))
        self._scalars = scalars
        self.bits = np.zeros(0, dtype=np.uint8)
        self.rule = np.zeros(0, dtype=np.uint8)
        self.threat = np.zeros(0, dtype=np.float32)
        self.flow = np.zeros(0, dtype=np.float64)
        self._used = {"bits": 0, "rule": 0, "threat": 0, "flow": 0}
        self._count = 0

    def _append(self, name: str, values: np.ndarray) -> int:
        array, used = getattr(self, name), self._used[name]
        if used + values.size > array.size:  # grow by doubling: appends are amortised O(1)
            grown = np.zeros(max(2 * array.size, used + values.size, 1024), dtype=array.dtype)
            grown[:used] = array[:used]
            setattr(self, name, grown)
            array = grown
        array[used : used + values.size] = values.reshape(-1)
        self._used[name] = used + values.size
        return used

    def add(self, level: Level, max_steps: int, with_nav: bool, with_flow: bool = False) -> int:
        world, r = level.world, self.pad
        h, w = level.shape
        period = world.period
        bits = np.zeros((period, h + 2 * r, w + 2 * r), dtype=np.uint8)
        if r:
            bits[:] = 1  # outside the map reads as wall
        inner = bits[:, r : r + h, r : r + w]
        inner[:] = world.walls.reshape(h, w)
        goal_row, goal_col = divmod(world.goal, w)
        inner[:, goal_row, goal_col] |= 2
        for p in range(period):
            rows, cols = np.divmod(world.guard_cells[p], w)
            inner[p, rows, cols] |= 4
        watched = world.watched.reshape(period, h, w).astype(np.uint8)
        inner |= watched << 3
        inner |= np.roll(watched, -1, axis=0) << 4
        inner |= np.roll(watched, -2, axis=0) << 6
        threat = np.zeros((h + 2 * r, w + 2 * r), dtype=np.float32)
        if with_nav:
            static = features.static_maps(level)
            threat[r : r + h, r : r + w] = static[0]
            inner |= static[1].astype(np.uint8)[None] << 5
        flow = np.full((h + 2 * r, w + 2 * r), np.inf)
        if with_flow:
            flow[r : r + h, r : r + w] = features.flow_costs(level)
        rule = np.zeros((period, h * w), dtype=np.uint8)
        for d in range(len(Action)):
            rule |= world.swap[:, :, d].astype(np.uint8) << d
        offsets = {
            "off_bits": self._append("bits", bits),
            "off_rule": self._append("rule", rule),
            "off_threat": self._append("threat", threat),
        }
        self._append("flow", flow)  # the same offsets as threat (the same padded shape)
        values = {"height": h, "width": w, "period": period, "start": world.start, "goal": world.goal,
                  "max_steps": max_steps, **offsets}
        slot = self._count
        for name in self._scalars:
            array = getattr(self, name)
            if slot >= array.size:
                grown = np.zeros(max(2 * array.size, 16), dtype=np.int64)
                grown[: array.size] = array
                setattr(self, name, grown)
                array = grown
            array[slot] = values[name]
        self.levels.append(level)
        self._count += 1
        return slot

    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in (*self._scalars, "bits", "rule", "threat", "flow"))


@numba.njit(cache=True, inline="always")
def _destination(bits, base, wp, pad, h, w, cell, d):
    """The flat cell after moving in direction ``d`` from ``cell`` (a wall or the map's edge blocks: stay),
    and the observation bits of that cell in the phase table starting at ``base``: the move of
    ``rules.move_table``, read from the wall bits so that a step touches one table region."""
    row, col = cell // w, cell % w
    r2, c2 = row + _DR[d], col + _DC[d]
    if r2 < 0 or r2 >= h or c2 < 0 or c2 >= w or (bits[base + (r2 + pad) * wp + c2 + pad] & 1) == 1:
        r2, c2 = row, col
    return r2 * w + c2, bits[base + (r2 + pad) * wp + c2 + pad]


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


@numba.njit(cache=True, nogil=True)
def _step_kernel(actions, uniform, slip, resetting, slot, cell, phase, steps,
                t_height, t_width, t_period, t_goal, t_max_steps, t_off_bits, t_off_rule,
                t_off_threat, bits, rule, threat, flow, perp,
                r_step, r_caught, r_goal, local, pad, nav_at, flow_scale,
                obs, rewards, terminated, truncated, caught_out, goal_out, slipped_out):
    """Step every env not ``resetting`` by its action (the rule of :func:`envs.stealth.rules.transition`),
    then write every env's observation; no allocation. Two passes over the envs: the first, with a short
    loop body, lets the CPU overlap the table look-ups (cache misses) of many envs; the second writes
    the observations."""
    n = actions.shape[0]
    k = obs.shape[2]
    half = k // 2
    for i in range(n):
        s = slot[i]
        h, w, period = t_height[s], t_width[s], t_period[s]
        n_cells = h * w
        off_rule = t_off_rule[s]
        # ---- the rule
        if resetting[i]:
            rewards[i] = 0.0
            terminated[i] = truncated[i] = caught_out[i] = goal_out[i] = slipped_out[i] = False
        else:
            c, p, a = cell[i], phase[i], actions[i]
            d = a
            if slip > 0.0 and a != 0:
                u = uniform[i]
                if u < 1.0 - slip:
                    d = a
                elif u < (1.0 - slip) + slip / 2.0:
                    d = perp[a, 0]
                else:
                    d = perp[a, 1]
            q = (p + 1) % period
            base_q = t_off_bits[s] + q * (h + 2 * pad) * (w + 2 * pad)
            new, b_new = _destination(bits, base_q, w + 2 * pad, pad, h, w, c, d)
            caught = ((b_new >> 3) & 1) == 1 or ((rule[off_rule + p * n_cells + c] >> d) & 1) == 1
            at_goal = new == t_goal[s] and not caught
            cell[i], phase[i] = new, q
            steps[i] += 1
            rewards[i] = r_step + r_caught * (1.0 if caught else 0.0) + r_goal * (1.0 if at_goal else 0.0)
            terminated[i] = caught or at_goal
            truncated[i] = (not terminated[i]) and steps[i] >= t_max_steps[s]
            caught_out[i], goal_out[i], slipped_out[i] = caught, at_goal, d != a
    for i in range(n):
        s = slot[i]
        h, w, period = t_height[s], t_width[s], t_period[s]
        n_cells = h * w
        off_rule = t_off_rule[s]
        # ---- the observation
        c, p = cell[i], phase[i]
        row, col = c // w, c % w
        wp = w + 2 * pad
        hp = h + 2 * pad
        if local:
            oy, ox, kh, kw = row, col, k, k
        else:
            oy, ox, kh, kw = 0, 0, h, w
        base = t_off_bits[s] + p * hp * wp
        tbase = t_off_threat[s]
        at_threat, at_hiding, at_danger, at_flow, at_look = nav_at[0], nav_at[1], nav_at[2], nav_at[3], nav_at[4]
        at_trap = nav_at[5]
        here = flow[tbase + (row + pad) * wp + col + pad]
        for y in range(kh):
            at = base + (oy + y) * wp + ox
            tat = tbase + (oy + y) * wp + ox
            for x in range(kw):
                b = bits[at + x]
                obs[i, 0, y, x] = b & 1
                obs[i, 1, y, x] = 0
                obs[i, 2, y, x] = (b >> 1) & 1
                obs[i, 3, y, x] = (b >> 2) & 1
                obs[i, 4, y, x] = (b >> 3) & 1
                obs[i, 5, y, x] = (b >> 4) & 1
                if at_threat >= 0:
                    obs[i, at_threat, y, x] = threat[tat + x]
                if at_hiding >= 0:
                    obs[i, at_hiding, y, x] = (b >> 5) & 1
                if at_danger >= 0:
                    obs[i, at_danger, y, x] = 0
                if at_flow >= 0:  # as features.flow_view
                    there = flow[tat + x]
                    if np.isfinite(here) and np.isfinite(there):
                        obs[i, at_flow, y, x] = 0.5 + 0.5 * min(max((here - there) / flow_scale, -1.0), 1.0)
                    else:
                        obs[i, at_flow, y, x] = 0
                if at_look >= 0:
                    obs[i, at_look, y, x] = (b >> 6) & 1
                if at_trap >= 0:
                    obs[i, at_trap, y, x] = 0
        if local:
            obs[i, 1, half, half] = 1
            goal = t_goal[s]
            dr, dc = goal // w - row, goal % w - col
            if max(abs(dr), abs(dc)) > half:  # out of view: the compass cell on the window's edge
                obs[i, 2, half + min(max(dr, -half), half), half + min(max(dc, -half), half)] = 1
        else:
            obs[i, 1, row, col] = 1
        if at_danger >= 0:  # danger_next: the cells one action reaches where it is caught
            q = (p + 1) % period
            base_q = t_off_bits[s] + q * hp * wp
            for d in range(5):
                new, b_new = _destination(bits, base_q, wp, pad, h, w, c, d)
                if ((b_new >> 3) & 1) == 1 or ((rule[off_rule + p * n_cells + c] >> d) & 1) == 1:
                    _mark(obs, i, at_danger, new, w, row, col, half, k, local)
        if at_trap >= 0:  # trap_next: the cells one action reaches safely from which every next action is caught
            q = (p + 1) % period
            q2 = (q + 1) % period
            base_q = t_off_bits[s] + q * hp * wp
            base_q2 = t_off_bits[s] + q2 * hp * wp
            for d in range(5):
                new, b_new = _destination(bits, base_q, wp, pad, h, w, c, d)
                if ((b_new >> 3) & 1) == 1 or ((rule[off_rule + p * n_cells + c] >> d) & 1) == 1:
                    continue  # caught now: danger_next's
                if new == t_goal[s]:
                    continue
                doomed = True
                for d2 in range(5):
                    new2, b_new2 = _destination(bits, base_q2, wp, pad, h, w, new, d2)
                    if not (((b_new2 >> 3) & 1) == 1 or ((rule[off_rule + q * n_cells + new] >> d2) & 1) == 1):
                        doomed = False
                        break
                if doomed:
                    _mark(obs, i, at_trap, new, w, row, col, half, k, local)
