"""``gym.make_vec("sandbox/Stealth-v0", num_envs=N, **kwargs)``: N stealth envs stepped in one call.

:class:`StealthVectorEnv` is a natively batched :class:`gymnasium.vector.VectorEnv` around
:class:`envs.stealth.core.StealthCore`: the state is a struct of arrays (each env's level slot, cell, phase
and step count), the levels are packed into flat tables, and one numba kernel
(:func:`envs.stealth.kernels.step_kernel`) steps every env and writes every observation: no Python code
runs per env per step. The single env :class:`envs.stealth.env.StealthEnv` is the same core with N = 1;
``tests/test_stealth_vector.py`` proves env ``i`` of a batch equal to it, and ``tests/stealth_oracle.py``
(a readable reference, test-only) equal to both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.checks import check_choice, check_difficulty
from envs.stealth.config import StealthConfig
from envs.stealth.core import StealthCore
from envs.stealth.drives import StealthDrives
from envs.stealth.kernels import (
    BIT_WALL,
    BIT_WATCHED,
    INFO_PHASE,
    LV_GOAL,
    LV_HEIGHT,
    LV_OFF_BITS,
    LV_PERIOD,
    LV_START,
    LV_WIDTH,
    OUT_AT_GOAL,
    OUT_CAUGHT,
    OUT_ENDED,
    OUT_REWARD,
    OUT_SLIPPED,
    OUT_SUCCESS,
    OUT_TERMINATED,
    OUT_TRUNCATED,
    OUT_UNSHAPED,
    first_bad_action,
)
from envs.stealth.level import POOL_SIZE, Level
from envs.stealth.rules import Action

OBS_DTYPES = ("float32", "uint8")
_INVALID_ACTIONS = "invalid action; valid: integers 0..4 (0 stay, 1 north, 2 south, 3 east, 4 west)"


class StealthVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """
    ## Description
    ``num_envs`` copies of ``sandbox/Stealth-v0`` (see :class:`envs.stealth.env.StealthEnv` for the game,
    its spaces and its rewards), stepped together. Build it with ``gym.make_vec("sandbox/Stealth-v0",
    num_envs=N, **kwargs)``, which takes the single env's keyword arguments (or its ``config=``, a
    :class:`envs.stealth.config.StealthConfig`, checked the same way) and a few more (below).

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
    * ``shaping_gamma``, ``shaping_weight``: as the single env's; the step that autoresets an env gives it
      reward 0 and restarts its potential at the new start, so env ``i`` is shaped exactly as a single env
      in a ``SyncVectorEnv``.
    * ``drives``: as the single env's, the update one NumPy step over the batch; not with ``obs_dtype="uint8"``.
      The step that autoresets an env gives it reward 0 and starts its drives over.
    * ``render_mode``: only ``None``.

    ## Infos
    Arrays over envs: ``cell`` (N, 2) as (row, col), ``phase``, ``caught``, ``at_goal``, ``slipped`` (and
    ``unshaped_reward`` when shaping), each with its all-True mask ``_cell`` etc., and ``is_success`` with
    the mask ``_is_success`` of the envs whose episode ended on this step.

    ## Examples
    Four envs on two bundled levels, every one moving east until one episode ends:

    >>> import gymnasium as gym
    >>> import numpy as np
    >>> import envs  # registers the sandbox/* ids
    >>> vec = gym.make_vec("sandbox/Stealth-v0", num_envs=4, level=["courtyard", "tutorial"], obs_mode="local")
    >>> obs, info = vec.reset(seed=0)
    >>> obs.shape, obs.dtype, info["cell"].shape
    ((4, 6, 7, 7), dtype('float32'), (4, 2))
    >>> ended = np.zeros(4, dtype=bool)
    >>> while not ended.any():
    ...     obs, rewards, terminated, truncated, info = vec.step(np.full(4, 3))  # east
    ...     ended = terminated | truncated
    ...     assert rewards.shape == (4,) and np.all((rewards > -1.02) & (rewards < 1.0))
    >>> bool(np.array_equal(info["_is_success"], ended))
    True
    >>> bool(np.all(info["is_success"][ended] == info["at_goal"][ended]))  # success: the goal reached
    True
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": [], "reset_mask": True}

    def __init__(self, *, num_envs: int = 1, config: StealthConfig | Mapping[str, Any] | None = None,
                 render_mode: str | None = None, copy: bool = True, obs_dtype: str = "float32", **kwargs: Any):
        if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        config = StealthConfig.of(config, kwargs)
        if render_mode is not None:
            raise ValueError(f"the batched stealth env does not render (render_mode={render_mode!r}); "
                             "render a single env: gym.make('sandbox/Stealth-v0', render_mode=...)")
        self.obs_dtype = np.dtype(check_choice("obs_dtype", obs_dtype, OBS_DTYPES))
        self.num_envs, self.copy, self.render_mode = int(num_envs), bool(copy), None
        self._build(config)

    def _build(self, config: StealthConfig) -> None:
        """Set the batch up for ``config`` (the constructor, and :meth:`reconfigure`)."""
        if self.obs_dtype == np.uint8 and {"threat", "flow"} & set(config.nav_features):
            raise ValueError("obs_dtype='uint8' cannot hold nav_features' threat and flow channels (fractions); "
                             "use obs_dtype='float32'")
        n = self.num_envs
        self.config = config
        self._core = core = StealthCore(config, n, self.obs_dtype)
        self.obs_mode, self.local_size, self.slip = config.obs_mode, config.local_size, config.slip
        self.nav_features, self.size, self.max_steps_arg = config.nav_features, config.size, config.max_steps
        self.rewards, self.exploring_starts = config.rewards, config.exploring_starts
        self.shaping_gamma, self.shaping_weight = config.shaping_gamma, config.shaping_weight
        self.pad, self.env_pool = core.pad, core.env_pool
        self.difficulty = np.empty(n, dtype=np.float64)
        self.set_difficulty(config.difficulty)
        self.episode_difficulty = self.difficulty.copy()
        # -- spaces
        if config.drives is not None and self.obs_dtype == np.uint8:
            raise ValueError("obs_dtype='uint8' cannot hold the drive levels (fractions); use obs_dtype='float32'")
        self.drives = StealthDrives(config.drives, core) if config.drives is not None else None
        shape = core.obs_shape if self.drives is None else self.drives.obs_shape(core.obs_shape)
        high = 1 if self.obs_dtype == np.uint8 else 1.0
        self.single_observation_space = spaces.Box(0, high, shape=shape, dtype=self.obs_dtype)
        self.single_action_space = spaces.Discrete(len(Action))
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)
        # -- the state as named arrays (views of the core's struct of arrays), the buffers and masks
        self.slot, self.cell, self.phase, self.steps = core.state
        self._obs4 = core.new_obs()  # (N, C, h, w) for the kernel; _obs its (N, *shape) view
        self._obs = self._obs4.reshape(n, *core.obs_shape)
        self._autoreset = np.zeros(n, dtype=bool)  # the envs whose next step is a reset
        self._pending = False  # any of them
        self._no_reset = np.zeros(n, dtype=bool)
        self._restart_all = np.ones(n, dtype=bool)
        self._all = np.ones(n, dtype=bool)  # the infos' masks: read-only, shared
        self._all.flags.writeable = False
        core.initial_state(self.difficulty)  # a valid state before the first reset(): as the single env

    def reconfigure(self, **changes: Any) -> None:
        """Change some arguments of the batch (e.g. switch a training aid on): the config is replaced, checked,
        and the tables rebuilt; the generator and the difficulties stay. Call ``reset()`` next."""
        d = self.difficulty
        difficulty = float(d[0]) if (d == d[0]).all() else tuple(d.tolist())
        self._build(StealthConfig.of(self.config, {"difficulty": difficulty, **changes}))

    # -- levels ------------------------------------------------------------------------------

    @property
    def levels(self) -> list[Level]:
        """The level of each slot (``levels[slot[i]]`` is env ``i``'s); it grows as pools are drawn."""
        return self._core.levels

    def level(self, i: int) -> Level:
        """The level env ``i`` plays in its current episode."""
        return self._core.level(i)

    def preload_pools(self) -> int:
        """Generate and pack every entry of each pool the envs draw from at their current difficulty
        (lazily, a level is packed on its first draw; this does it all now, e.g. before timing).
        Returns the number of level slots."""
        core = self._core
        for row in np.unique(self._next_row[self.env_pool >= 0]).tolist():
            for j in np.flatnonzero(core._pool_slots[row] < 0).tolist():
                core.entry_slot(row, j)
        return len(self.levels)

    def set_difficulty(self, difficulty: float | Sequence[float] | np.ndarray,
                       indices: int | Sequence[int] | np.ndarray | None = None) -> None:
        """Difficulty of the next generated levels: one value for all envs (or for ``indices``), or one
        value per env. Read by each env's next (auto)reset."""
        target = np.arange(self.num_envs) if indices is None else np.atleast_1d(np.asarray(indices))
        self.difficulty[target] = _difficulties(difficulty, len(target))
        self._next_row = self._core.rows(self.difficulty)

    # -- starts ------------------------------------------------------------------------------

    def _reset_envs(self, envs: np.ndarray, rows: np.ndarray, seeds: Sequence[int] | None) -> None:
        """Start a new episode in ``envs`` (flat indices): level slot, start cell and phase.

        After ``reset(seed=s)`` env ``i`` makes the single env's draws, in its order, from ``np_random(s + i)``
        (:meth:`StealthCore.draw_episode`; a Python loop, at seeded resets only). Autoresets draw for all
        resetting envs at once from the batch's generator: an env playing generated levels draws entry ``j``
        of its pool (row ``rows[i]``), and with ``exploring_starts`` a coin picks a random start."""
        core = self._core
        drawing = core.env_pool[envs] >= 0
        if seeds is not None and (drawing.any() or self.exploring_starts > 0.0):
            for i in envs.tolist():
                core.draw_episode(i, seeding.np_random(int(seeds[i]))[0], float(self.episode_difficulty[i]))
            return
        slots = core.fixed_slot[envs]
        if drawing.any():
            index = self.np_random.integers(POOL_SIZE, size=int(drawing.sum()))
            rows = rows[envs[drawing]]
            drawn = core._pool_slots[rows, index]
            for k in np.flatnonzero(drawn < 0).tolist():  # a cold pool: each level is generated and packed once
                drawn[k] = core.entry_slot(int(rows[k]), int(index[k]))
            slots[drawing] = drawn
        core.start(envs, slots)
        if self.exploring_starts > 0.0 and seeds is None:
            self._exploring_starts(envs)

    def _exploring_starts(self, envs: np.ndarray) -> None:
        """With probability ``exploring_starts`` each of ``envs`` starts at a uniformly random phase and a
        uniformly random floor cell that is neither the goal nor watched then (rejection sampling: a loop
        over attempts, not over envs)."""
        chosen = envs[self.np_random.random(envs.size) < self.exploring_starts]
        if not chosen.size:
            return
        table, pad = self._core.tables, self.pad
        rows = table.slots[self.slot[chosen]]
        height, width = rows[:, LV_HEIGHT], rows[:, LV_WIDTH]
        phase = self.np_random.integers(0, rows[:, LV_PERIOD])
        cell = np.empty(chosen.size, dtype=np.int64)
        todo = np.arange(chosen.size)
        for _ in range(10_000):
            candidate = self.np_random.integers(0, height[todo] * width[todo])
            row, col = candidate // width[todo] + pad, candidate % width[todo] + pad
            wp = width[todo] + 2 * pad
            b = table.bits[rows[todo, LV_OFF_BITS] + (phase[todo] * (height[todo] + 2 * pad) + row) * wp + col]
            free = ((b >> BIT_WALL) & 1 == 0) & ((b >> BIT_WATCHED) & 1 == 0) & (candidate != rows[todo, LV_GOAL])
            cell[todo[free]] = candidate[free]
            todo = todo[~free]
            if not todo.size:
                break
        else:  # pragma: no cover  (a level with no free cell at some phase)
            raise ValueError(f"exploring starts: no free cell in level {self.level(int(chosen[todo[0]])).name!r}")
        self.cell[chosen], self.phase[chosen] = cell, phase
        self._core.explored[chosen] = cell != rows[:, LV_START]

    # -- gymnasium API -----------------------------------------------------------------------

    def reset(self, *, seed: int | Sequence[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
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
            rows = self._core.rows(self.episode_difficulty)
        self._reset_envs(envs, rows, seeds)
        self._autoreset = self._autoreset & ~mask
        self._pending = bool(self._autoreset.any())
        self._fresh_outputs()
        self._core.run(self._core.actions, self._restart_all, self._obs4)  # steps no env: every observation
        info = self._info(mask=None if mask is self._all else mask.copy())
        if self.drives is not None:
            self.drives.start(envs)
            info["drives"], info["_drives"] = self.drives.state.h.copy(), info["_cell"]
            return self.drives.observe(self._obs), info
        return self._obs, info

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or actions.dtype.kind not in "iu":
            raise ValueError(f"actions must be {self.num_envs} integers 0..4, got an array of shape "
                             f"{actions.shape} and dtype {actions.dtype}")
        actions = actions.astype(np.int64, copy=False)
        if first_bad_action(actions) >= 0:  # checked before anything changes
            raise ValueError(_INVALID_ACTIONS)
        resetting = self._no_reset
        if self._pending:  # next-step autoreset: these envs start a new episode instead of moving
            resetting = self._autoreset
            envs = np.flatnonzero(resetting)
            self.episode_difficulty[envs] = self.difficulty[envs]
            self._reset_envs(envs, self._next_row, seeds=None)
        if self.slip > 0.0:
            self.np_random.random(out=self._core.uniform)
        self._fresh_outputs()
        drives = self.drives
        if drives is not None:
            drives.remember()
        ended = self._core.run(actions, resetting, self._obs4)
        out_f, out_b = self._core.out_f, self._core.out_b
        self._pending = ended > 0
        self._autoreset = out_b[OUT_ENDED].copy() if ended else self._no_reset
        info = self._info()
        info["is_success"], info["_is_success"] = out_b[OUT_SUCCESS], out_b[OUT_ENDED]
        if self.exploring_starts > 0.0 and ended:  # a goal reached from a random start is not a crossing
            explored = self._core.explored.copy()
            info["is_success"] = out_b[OUT_SUCCESS] & ~explored
            info["exploring_start"], info["_exploring_start"] = explored, out_b[OUT_ENDED]
        if drives is not None:
            task = out_f[OUT_REWARD]
            drive_reward = drives.step(resetting if resetting is not self._no_reset else None)
            if self.shaping_gamma is None:
                info["unshaped_reward"], info["_unshaped_reward"] = task.copy(), self._all
            info["drive_reward"], info["_drive_reward"] = drive_reward, self._all
            info["drives"], info["_drives"] = drives.state.h.copy(), self._all
            rewards = drives.state.reward(task, drive_reward)
            return drives.observe(self._obs), rewards, out_b[OUT_TERMINATED], out_b[OUT_TRUNCATED], info
        return self._obs, out_f[OUT_REWARD], out_b[OUT_TERMINATED], out_b[OUT_TRUNCATED], info

    def _fresh_outputs(self) -> None:
        """New output arrays for the kernel to fill (it writes every element), so that what a step returns
        is never written again; with ``copy=False`` the observation buffer is reused."""
        core = self._core
        core.out_f = np.empty(core.out_f.shape, dtype=np.float64)
        core.out_b = np.empty(core.out_b.shape, dtype=np.bool_)
        core.out_i = np.empty(core.out_i.shape, dtype=np.int64)
        if self.copy:
            self._obs4 = np.empty(self._obs4.shape, dtype=self.obs_dtype)
            self._obs = self._obs4.reshape(self._obs.shape)

    def _info(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        core = self._core
        out_b, out_i = core.out_b, core.out_i
        masks = self._all if mask is None else mask  # self._all: read-only, shared
        info: dict[str, Any] = {
            "cell": out_i[:, :INFO_PHASE], "_cell": masks, "phase": out_i[:, INFO_PHASE], "_phase": masks,
            "caught": out_b[OUT_CAUGHT], "_caught": masks, "at_goal": out_b[OUT_AT_GOAL], "_at_goal": masks,
            "slipped": out_b[OUT_SLIPPED], "_slipped": masks}
        if self.shaping_gamma is not None:
            info["unshaped_reward"], info["_unshaped_reward"] = core.out_f[OUT_UNSHAPED], masks
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
        core = self._core.nbytes()
        state = core["state"] + sum(a.nbytes for a in (self._autoreset, self.difficulty, self.episode_difficulty))
        return {"tables": core["tables"], "levels": levels, "state": state, "obs": self._obs4.nbytes}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_obs", "slot", "cell", "phase", "steps"):  # views: pickling would cut them apart
            del state[name]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._obs = self._obs4.reshape(self.num_envs, *self._core.obs_shape)
        self.slot, self.cell, self.phase, self.steps = self._core.state

    def __repr__(self) -> str:
        return f"StealthVectorEnv(num_envs={self.num_envs}, obs_mode={self.obs_mode!r})"


def _difficulties(difficulty: float | Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    if np.ndim(difficulty) == 0:
        return np.full(n, check_difficulty(difficulty))
    values = list(cast("Iterable[float]", difficulty))
    if len(values) != n:
        raise ValueError(f"difficulty must be one number or {n} numbers (one per env), got {len(values)}")
    return np.array([check_difficulty(v) for v in values], dtype=np.float64)

