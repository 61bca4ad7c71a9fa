"""``sandbox/Stealth-v0``: cross the map from left to right without ever being seen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.checks import check_choice, check_difficulty, discrete_action, episode_over_message
from envs.stealth import features
from envs.stealth.config import OBS_MODES, StealthConfig
from envs.stealth.core import StealthCore
from envs.stealth.drives import StealthDrives
from envs.stealth.kernels import CHANNELS, LV_MAX_STEPS, LV_WIDTH, N_ACTIONS, ST_CELL, ST_PHASE, ST_STEPS
from envs.stealth.level import POOLS

if TYPE_CHECKING:
    from envs.stealth.render import Renderer
    from envs.stealth.rules import World

__all__ = ["CHANNELS", "NAV_CHANNELS", "OBS_MODES", "StealthConfig", "StealthEnv", "channel_names"]

#: An action as ``step`` takes it: an integer 0..4, a NumPy integer or a 0-d integer array (never a float).
StealthAction: TypeAlias = "int | np.integer | np.ndarray"

ENV_ID = "sandbox/Stealth-v0"
VALID_ACTIONS = "integers 0..4 (0 stay, 1 north, 2 south, 3 east, 4 west)"
NAV_CHANNELS = CHANNELS + features.EXTRA_CHANNELS  # with nav_features=True
MAX_POOL_SLOTS = 64  # generated levels whose tables a single env keeps (the process's pool cache keeps the levels)


def channel_names(nav_features: bool | str | Sequence[str] | None) -> tuple[str, ...]:
    """The observation channels, in order, for a ``nav_features`` value (see :func:`features.nav_names`)."""
    return CHANNELS + features.nav_names(nav_features)


class StealthEnv(gym.Env[np.ndarray, StealthAction]):
    """
    ## Description
    A grid with walls, a start on the left edge and a goal on the right edge. Guards patrol routes
    or stand as sentries turning through facings; each sees a cone (``fov_deg``, ``view_range``)
    limited by walls (supercover line of sight, see :mod:`envs.stealth.rules`). The player must reach
    the goal without ever ending a step on a watched cell or walking through a guard. The guard
    world is periodic, so the exact MDP over ``(cell, phase)`` is small enough to solve
    (:func:`envs.stealth.mdp.mdp_arrays`).

    This env is the batched env's code run for one env (:class:`envs.stealth.core.StealthCore` with N = 1):
    the step and the observation are written once, in :mod:`envs.stealth.kernels`.

    ## Action Space
    ``Discrete(5)``, named by :class:`Action`: 0 stay, 1 north, 2 south, 3 east, 4 west. Moves into
    a wall or off the map leave the player in place. With ``slip > 0`` a move goes to one of the two
    perpendicular directions instead, each with probability ``slip / 2`` (stay never slips).

    ## Observation Space
    Channels (float32, 0 or 1), in this order: walls, player, goal, guards, cells watched now, cells
    watched after the next step (what the player would be caught on).

    * ``grid``: ``Box(0, 1, (6, H, W), float32)``.
    * ``vector``: the same, flattened C-order to ``(6 * H * W,)``.
    * ``local``: ``Box(0, 1, (6, k, k), float32)``, the ``k x k`` window centred on the player
      (``k = local_size``, odd); outside the map reads as wall. When the goal is out of view, the
      goal channel marks a compass cell instead: the player-relative offset to the goal clamped to
      the window, so a fixed-size view still says where the goal lies.

    With ``nav_features`` the navigation AI's channels follow the six, in this order, those asked for
    (``features.NAV_FEATURES``; see :mod:`envs.stealth.features`): ``threat`` (the fraction of the period
    each cell is watched), ``hiding`` (1 on the hiding spots), ``danger_next`` (1 on each cell one action
    reaches where it gets the player caught), ``flow`` (the threat-aware flow field: 0.5 plus half the
    drop in walking cost to the goal from the player's cell to each cell, over ``FLOW_SCALE``, clipped; 0
    where the goal cannot be reached), ``lookahead`` (the cells watched two steps from now) and
    ``trap_next`` (1 on each cell one action reaches safely but from which every next action is caught).
    ``nav_features=True`` is the first three (``NAV_CHANNELS``), ``"all"`` all six, or name them
    (``"flow,lookahead"``). Outside the map they read 0 in the ``local`` view.

    ## Rewards
    Every step gives ``rewards.step`` (default -0.01), plus ``rewards.goal`` (+1) on reaching the goal
    or ``rewards.caught`` (-1) when caught. With ``shaping_gamma`` (a training aid) each reward also gains
    ``shaping_weight * (shaping_gamma * Phi(s') - Phi(s))``, potential-based shaping with
    ``Phi = -d(cell) / d(start)`` (:func:`envs.stealth.features.goal_potential`; ``Phi = 0`` after a
    termination), and ``info["unshaped_reward"]`` holds the game's own reward.

    ## Starting State
    The player on the level's start cell, the guards at phase 0 of their period.
    ``reset(options={"start": (row, col) | "random", "phase": int | "random"})`` starts elsewhere
    (exploring starts for training; a random start is a floor cell neither the goal nor watched).
    With ``exploring_starts=p``, each reset without those options starts at a random start and phase
    with probability ``p`` (a training aid; evaluate with 0).

    ## Episode End
    Terminated when the player reaches the goal or is caught; truncated after ``max_steps`` steps.
    The last step's info holds ``is_success`` (reached the goal), Stable-Baselines3's convention.
    Stepping after either raises ``RuntimeError`` until ``reset()`` (the contract of :mod:`envs.checks`).

    ## Arguments
    Keywords only, or ``config=`` a :class:`envs.stealth.config.StealthConfig` (keywords then override its
    fields); every argument is checked there, once, the same way for this env and the batched one.

    * ``level``: a bundled level name (see ``envs.stealth.bundled_levels()``), a path to a level
      file, a :class:`Level`, ``"random"`` or ``"heldout"``. ``"random"``: at each reset a generated
      level drawn from the training pool of ``POOL_SIZE`` (4096) levels for the difficulty and size,
      its index drawn from the env's generator (so ``reset(seed=s)`` fixes it; the batched env draws
      from the same pool, see :func:`envs.stealth.level.pool_level`). ``"heldout"``: the same from the
      held-out pool, whose generator seeds never meet the training pool's (for evaluation).
    * ``difficulty``: generator difficulty in [0, 1] for generated levels; ``set_difficulty()``
      changes it for the following resets, ``reset(options={"difficulty": d})`` for that episode only
      (``episode_difficulty`` holds the one in use).
    * ``size``: grid size of random levels (fixed, so the observation space is too).
    * ``obs_mode``: ``"grid"``, ``"vector"`` or ``"local"``; ``local_size``: its window.
    * ``slip``: probability of a perpendicular slip.
    * ``max_steps``: step limit (default: the level's, else ``8 * (H + W)``).
    * ``rewards``: a :class:`Rewards` or a dict with keys ``goal``, ``caught``, ``step``.
    * ``nav_features``: add the navigation AI's channels (above): True, ``"all"`` or names.
    * ``exploring_starts``: probability of a random start (above); 0 by default.
    * ``shaping_gamma``: the discount to shape the rewards for (above); None (the default) does not shape.
      ``shaping_weight``: the shaping term's weight (1 by default).
    * ``drives``: None (the default), or the character's drive table: ``"default"`` (fear and fatigue), a
      TOML file or a :class:`envs.drives.table.DriveTable`. Its levels, scaled to [0, 1], are appended to the
      observation (one constant channel per drive; ``vector``: one value each), the reward is the table's
      (homeostatic, creatures or a mix with the game's), and ``info`` holds ``drives``, ``drive_reward`` and
      ``unshaped_reward`` (the game's own reward); see docs/drives.md.
    * ``render_mode``: ``"human"``, ``"rgb_array"`` or ``"ansi"``.

    ## Batched
    ``gym.make_vec("sandbox/Stealth-v0", num_envs=N, **kwargs)`` builds
    :class:`envs.stealth.vector.StealthVectorEnv`, N of these envs stepped in one call; after
    ``reset(seed=s)`` its env ``i`` behaves exactly like this env reset with seed ``s + i``.

    ## Version History
    * v0: initial version. Since the batched env: ``level="random"`` draws from a seeded pool of
      ``POOL_SIZE`` generated levels (before, a fresh generator seed per reset), ``"heldout"`` from the
      held-out pool; the last step's info has ``is_success``; ``nav_features`` and ``exploring_starts``.
      Since one implementation: ``config=``, and goal shaping as the ``shaping_gamma``/``shaping_weight``
      keywords (the observations, rewards and infos of every other argument unchanged).

    ## Examples
    An episode on the ``courtyard`` level, standing still until a guard sees the player or time runs out:

    >>> import gymnasium as gym
    >>> import envs  # registers the sandbox/* ids
    >>> env = gym.make("sandbox/Stealth-v0", level="courtyard", obs_mode="grid")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.dtype, env.action_space
    ((6, 11, 17), dtype('float32'), Discrete(5))
    >>> terminated = truncated = False
    >>> while not (terminated or truncated):
    ...     obs, reward, terminated, truncated, info = env.step(0)  # stay
    ...     assert -1.02 < reward < 0.0 and obs.min() >= 0.0 and obs.max() <= 1.0
    >>> info["is_success"], info["at_goal"]
    (False, False)
    >>> env.close()
    """

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 8}

    def __init__(self, *, config: StealthConfig | Mapping[str, Any] | None = None, render_mode: str | None = None,
                 **kwargs: Any):
        config = StealthConfig.of(config, kwargs)
        if render_mode is not None:
            check_choice("render_mode", render_mode, tuple(self.metadata["render_modes"]))
        self.render_mode = render_mode
        self.overlays: dict[str, np.ndarray] = {}  # name -> (H, W) array drawn by the human/rgb renderer
        self._renderer: Renderer | None = None
        self._build(config)

    def _build(self, config: StealthConfig) -> None:
        """Set the env up for ``config`` (the constructor, and :meth:`reconfigure`)."""
        level = config.level
        if isinstance(level, tuple) or (isinstance(level, str) and level == "all"):
            shown = list(level) if isinstance(level, tuple) else level
            raise ValueError(f"level={shown!r} names several levels; one env plays one: pass a list or 'all' "
                             "to gym.make_vec (env i plays item i mod len), or pick one level")
        if isinstance(config.difficulty, tuple):
            raise ValueError(f"difficulty must be one number in [0, 1] for one env (one per env is for "
                             f"gym.make_vec); got {list(config.difficulty)!r}")
        self.config = config
        self._core = core = StealthCore(config, 1, max_pool_slots=MAX_POOL_SLOTS)
        self.obs_mode, self.local_size, self.slip = config.obs_mode, config.local_size, config.slip
        self.size, self.max_steps_arg, self.rewards = config.size, config.max_steps, config.rewards
        self.nav_features = config.nav_features  # the channel names (empty: none)
        self.exploring_starts = config.exploring_starts
        self.shaping_gamma, self.shaping_weight = config.shaping_gamma, config.shaping_weight
        self.level_pool = level if isinstance(level, str) and level in POOLS else None
        self.set_difficulty(config.difficulty)
        self.episode_difficulty = self.difficulty
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.drives = StealthDrives(config.drives, core) if config.drives is not None else None
        shape = core.obs_shape if self.drives is None else self.drives.obs_shape(core.obs_shape)
        self.observation_space = spaces.Box(0.0, 1.0, shape=shape, dtype=np.float32)
        # the one env's state and outputs as flat views (one tolist() reads them) and the kernel's masks
        self._state, self._flags, self._floats = core.state.reshape(-1), core.out_b.reshape(-1), core.out_f.reshape(-1)
        self._stepping, self._restarting = np.zeros(1, dtype=np.bool_), np.ones(1, dtype=np.bool_)
        self._idx0 = np.zeros(1, dtype=np.int64)
        self._batch_shape = (1, core.channels, *core.window)  # the kernel's (N, C, h, w); obs[0] or flattened
        self._flat = core.obs_shape[0] if config.obs_mode == "vector" else 0
        core.initial_state(np.array([self.difficulty]))
        self._sync()
        self.caught = self.at_goal = False

    def reconfigure(self, **changes: Any) -> None:
        """Change some arguments of this env (e.g. switch a training aid on): the config is replaced, checked,
        and the tables rebuilt; the generator, the difficulty set by :meth:`set_difficulty` and the overlays
        stay. The state is the constructor's: call ``reset()`` next."""
        self._build(StealthConfig.of(self.config, {"difficulty": self.difficulty, **changes}))

    def _sync(self) -> None:
        """Read the core's state into plain Python values (the attributes below read them); at a reset, as
        the level may change (a step never changes it)."""
        slot, self._cell, self._phase, self._steps = self._state.tolist()
        self.level = self._core.levels[slot]
        self._width = int(self._core.tables.slots[slot, LV_WIDTH])
        self.max_steps = int(self._core.tables.slots[slot, LV_MAX_STEPS])

    # -- the state, as the rest of the project reads (and the tests set) it --------------------------------

    @property
    def world(self) -> World:
        """The compiled tables of the level in play (:class:`envs.stealth.rules.World`)."""
        return self.level.world

    @property
    def cell(self) -> int:
        """The player's flat cell (``row * W + col``)."""
        return self._cell

    @cell.setter
    def cell(self, value: int) -> None:
        self._core.state[ST_CELL, 0] = self._cell = int(value)

    @property
    def phase(self) -> int:
        """The guards' phase."""
        return self._phase

    @phase.setter
    def phase(self, value: int) -> None:
        self._core.state[ST_PHASE, 0] = self._phase = int(value)

    @property
    def steps(self) -> int:
        """Steps taken in this episode."""
        return self._steps

    @steps.setter
    def steps(self, value: int) -> None:
        self._core.state[ST_STEPS, 0] = self._steps = int(value)

    def set_difficulty(self, difficulty: float) -> None:
        """Difficulty of the next random level (read by ``reset``)."""
        self.difficulty = check_difficulty(difficulty)

    # -- gymnasium API -----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        difficulty = self.difficulty
        if options and "difficulty" in options:  # this episode only; set_difficulty() persists
            difficulty = check_difficulty(options["difficulty"])
        self.episode_difficulty = difficulty
        self._core.draw_episode(0, self.np_random, difficulty, options)
        obs = self._obs()
        self.caught = self.at_goal = False
        if self.render_mode == "human":
            self.render()
        info: dict[str, Any] = {"cell": divmod(self._cell, self._width), "phase": self._phase, "caught": False,
                                "at_goal": False, "slipped": False}
        if self.drives is not None:
            info["drives"] = self.drives.state.h[0].copy()
        return obs, info

    def step(self, action: StealthAction) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.caught or self.at_goal or self._steps >= self.max_steps:  # the state says the episode ended
            raise RuntimeError(episode_over_message(ENV_ID))
        action = discrete_action(action, N_ACTIONS, ENV_ID, VALID_ACTIONS)  # integers only, never floats
        core = self._core
        core.actions[0] = action
        if self.slip > 0.0 and action != 0:  # one draw per move that may slip, as ever
            core.uniform[0] = self.np_random.random()
        obs = np.empty(self._batch_shape, dtype=np.float32)
        drives = self.drives
        if drives is not None:
            drives.remember()
        core.run(core.actions, self._stepping, obs)
        terminated, truncated, caught, at_goal, slipped, _, _ = self._flags.tolist()
        reward, unshaped = self._floats.tolist()
        if drives is not None:
            drive_reward = drives.step(None)
            task = np.array([reward])
            if self.shaping_gamma is None:
                unshaped = reward
            reward = float(drives.state.reward(task, drive_reward)[0])
        _, cell, phase, self._steps = self._state.tolist()
        self._cell, self._phase, self.caught, self.at_goal = cell, phase, caught, at_goal
        if self.render_mode == "human":
            self.render()
        info: dict[str, Any] = {"cell": divmod(cell, self._width), "phase": phase, "caught": caught,
                                "at_goal": at_goal, "slipped": slipped}
        if terminated or truncated:
            explored = bool(self._core.explored[0])  # the episode began away from the level's start
            info["is_success"] = at_goal and not explored  # success, defined here once: the level crossed
            if explored:
                info["exploring_start"] = True
        if self.shaping_gamma is not None or drives is not None:
            info["unshaped_reward"] = unshaped
        if drives is not None:
            info["drive_reward"], info["drives"] = float(drive_reward[0]), drives.state.h[0].copy()
            return self._with_drives(obs), reward, terminated, truncated, info
        return (obs.reshape(self._flat) if self._flat else obs[0]), reward, terminated, truncated, info

    def _with_drives(self, obs: np.ndarray) -> np.ndarray:
        """The kernel's (1, C, h, w) observation with the drive levels appended."""
        assert self.drives is not None
        return self.drives.observe(obs.reshape(1, self._flat) if self._flat else obs)[0]

    def _obs(self) -> np.ndarray:
        """The observation of the current state, written by the kernel (which also restarts the reward, the
        flags and the shaping potential from it)."""
        obs = np.empty(self._batch_shape, dtype=np.float32)
        self._core.run(self._core.actions, self._restarting, obs)
        self._sync()
        if self.drives is not None:
            self.drives.start(self._idx0)
            return self._with_drives(obs)
        return obs.reshape(self._flat) if self._flat else obs[0]

    # -- rendering ---------------------------------------------------------------------------

    # gymnasium types render() with a type variable bound nowhere (RenderFrame): no override can match it
    def render(self) -> np.ndarray | str | None:  # type: ignore[override]
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode= to the constructor")
            return None
        from envs.stealth import render as stealth_render

        if self.render_mode == "ansi":
            return stealth_render.ansi(self.world, self.cell, self.phase)
        if self._renderer is None:
            self._renderer = stealth_render.Renderer(
                self.world, self.render_mode, fps=self.metadata["render_fps"]
            )
        self._renderer.world = self.world
        return self._renderer.draw(self.cell, self.phase, overlays=self.overlays)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_renderer"] = None
        del state["_state"], state["_flags"], state["_floats"]  # views of the core's arrays: rebuilt on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        core = self._core
        self._state, self._flags, self._floats = core.state.reshape(-1), core.out_b.reshape(-1), core.out_f.reshape(-1)
