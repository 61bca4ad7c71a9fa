"""``sandbox/Stealth-v0``: cross the map from left to right without ever being seen."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.checks import check_int, check_number, discrete_action, episode_over_message
from envs.stealth import features, rules
from envs.stealth.level import MAX_SIDE, POOL_SIZE, POOLS, Level, load_level, pool_level
from envs.stealth.rules import Action, Rewards

OBS_MODES = ("grid", "vector", "local")
CHANNELS = ("walls", "player", "goal", "guards", "watched_now", "watched_next")
NAV_CHANNELS = CHANNELS + features.EXTRA_CHANNELS  # with nav_features=True


def channel_names(nav_features) -> tuple[str, ...]:
    """The observation channels, in order, for a ``nav_features`` value (see :func:`features.nav_names`)."""
    return CHANNELS + features.nav_names(nav_features)


class StealthEnv(gym.Env):
    """
    ## Description
    A grid with walls, a start on the left edge and a goal on the right edge. Guards patrol routes
    or stand as sentries turning through facings; each sees a cone (``fov_deg``, ``view_range``)
    limited by walls (supercover line of sight, see :mod:`envs.stealth.rules`). The player must reach
    the goal without ever ending a step on a watched cell or walking through a guard. The guard
    world is periodic, so the exact MDP over ``(cell, phase)`` is small enough to solve
    (:func:`envs.stealth.mdp.mdp_arrays`).

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
    or ``rewards.caught`` (-1) when caught.

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
    The last step's info holds ``is_success`` (SB3's convention): the goal was reached.

    ## Arguments
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
    * ``render_mode``: ``"human"``, ``"rgb_array"`` or ``"ansi"``.

    ## Batched
    ``gym.make_vec("sandbox/Stealth-v0", num_envs=N, **kwargs)`` builds
    :class:`envs.stealth.vector.StealthVectorEnv`, N of these envs stepped in one call; after
    ``reset(seed=s)`` its env ``i`` behaves exactly like this env reset with seed ``s + i``.

    ## Version History
    * v0: initial version. Since the batched env: ``level="random"`` draws from a seeded pool of
      ``POOL_SIZE`` generated levels (before, a fresh generator seed per reset), ``"heldout"`` from the
      held-out pool; the last step's info has ``is_success``; ``nav_features`` and ``exploring_starts``.
    """

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 8}

    def __init__(
        self,
        *,
        level: str | os.PathLike | Level = "tutorial",
        difficulty: float = 0.3,
        size: int = 12,
        obs_mode: str = "grid",
        local_size: int = 7,
        slip: float = 0.0,
        max_steps: int | None = None,
        rewards: Rewards | dict | None = None,
        nav_features: bool | str | tuple = False,
        exploring_starts: float = 0.0,
        render_mode: str | None = None,
    ):
        if obs_mode not in OBS_MODES:
            raise ValueError(f"unknown obs_mode {obs_mode!r}; valid: {', '.join(OBS_MODES)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"unknown render_mode {render_mode!r}; valid: None, human, rgb_array, ansi")
        slip = check_number("slip", slip, 0.0, 1.0)
        local_size = check_int("local_size", local_size, 1, 2 * MAX_SIDE + 1)
        if local_size % 2 == 0:
            raise ValueError(f"local_size must be a positive odd integer, got {local_size!r}")
        if max_steps is not None:
            max_steps = check_int("max_steps", max_steps, 1)
        self.exploring_starts = check_exploring_starts(exploring_starts)
        if isinstance(level, list | tuple) or (isinstance(level, str) and level == "all"):
            raise ValueError(f"level={level!r} names several levels; one env plays one: pass a list or 'all' "
                             "to gym.make_vec (env i plays item i mod len), or pick one level")
        if not isinstance(level, str | os.PathLike | Level):
            raise ValueError(f"level must be a level name, a path, a Level, 'random' or 'heldout'; got {level!r}")
        self.set_difficulty(difficulty)
        self.episode_difficulty = self.difficulty
        self.level_pool = level if isinstance(level, str) and level in POOLS else None
        self.size = check_int("size", size, 3, MAX_SIDE)
        if self.level_pool is not None:
            self.level = pool_level(self.level_pool, self.difficulty, 0, self.size)
        elif isinstance(level, Level):
            self.level = level
        else:
            self.level = load_level(level)
        self.obs_mode, self.local_size, self.slip = obs_mode, int(local_size), float(slip)
        self.nav_features = features.nav_names(nav_features)  # the channel names (empty: none)
        self.max_steps_arg = max_steps
        if isinstance(rewards, dict):
            unknown = set(rewards) - {"goal", "caught", "step"}
            if unknown:
                raise ValueError(f"unknown reward keys {sorted(unknown)}; valid: goal, caught, step")
            rewards = Rewards(**rewards)
        self.rewards = rewards or Rewards()
        if not isinstance(self.rewards, Rewards):
            raise ValueError(f"rewards must be a Rewards or a dict with keys goal, caught, step; got {rewards!r}")
        for key in ("goal", "caught", "step"):
            check_number(f"rewards[{key!r}]", getattr(self.rewards, key))
        self.render_mode = render_mode
        self.overlays: dict[str, np.ndarray] = {}  # name -> (H, W) array drawn by the human/rgb renderer
        h, w = self.level.shape
        self.action_space = spaces.Discrete(len(Action))
        c = len(CHANNELS) + len(self.nav_features)
        shape = {"grid": (c, h, w), "vector": (c * h * w,), "local": (c, local_size, local_size)}[obs_mode]
        self.observation_space = spaces.Box(0.0, 1.0, shape=shape, dtype=np.float32)
        self._renderer = None
        self._use_level(self.level)
        self.cell, self.phase, self.steps = self.world.start, 0, 0  # reset() sets them again
        self.caught = self.at_goal = False

    # -- level tables ------------------------------------------------------------------------

    def _use_level(self, level: Level) -> None:
        self.level = level
        self.world = level.world
        h, w = level.shape
        self.max_steps = self.max_steps_arg or level.max_steps or 8 * (h + w)
        world = self.world
        base = np.zeros((world.period, 6, h, w), dtype=np.float32)
        base[:, 0] = world.walls.reshape(h, w)
        goal_row, goal_col = divmod(world.goal, w)
        base[:, 2, goal_row, goal_col] = 1.0
        for p in range(world.period):
            rows, cols = np.divmod(world.guard_cells[p], w)
            base[p, 3, rows, cols] = 1.0
        base[:, 4] = world.watched.reshape(world.period, h, w)
        base[:, 5] = np.roll(base[:, 4], -1, axis=0)
        nav = self.nav_features
        if nav:  # threat, hiding and lookahead are per phase; danger_next and flow are filled in per step
            static = features.static_maps(level) if {"threat", "hiding"} & set(nav) else None
            base = np.concatenate([base, np.zeros((world.period, len(nav), h, w), dtype=np.float32)], axis=1)
            for k, name in enumerate(nav, start=len(CHANNELS)):
                if name in ("threat", "hiding"):
                    base[:, k] = static[0 if name == "threat" else 1]
                elif name == "lookahead":
                    base[:, k] = np.roll(base[:, 4], -2, axis=0)
            self._flow_costs = features.flow_costs(level) if "flow" in nav else None
        if self.obs_mode == "local":
            r = self.local_size // 2
            padded = np.zeros((world.period, base.shape[1], h + 2 * r, w + 2 * r), dtype=np.float32)
            padded[:, 0] = 1.0
            padded[:, :, r : r + h, r : r + w] = base
            base = padded
        self._obs_base = base

    def set_difficulty(self, difficulty: float) -> None:
        """Difficulty of the next random level (read by ``reset``)."""
        self.difficulty = _check_difficulty(difficulty)

    # -- gymnasium API -----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.episode_difficulty = self.difficulty
        if options and "difficulty" in options:  # this episode only; set_difficulty() persists
            self.episode_difficulty = _check_difficulty(options["difficulty"])
        if self.level_pool is not None:
            index = int(self.np_random.integers(POOL_SIZE))
            self._use_level(pool_level(self.level_pool, self.episode_difficulty, index, self.size))
        options = options or {}
        if self.exploring_starts > 0.0 and "start" not in options and "phase" not in options:
            if self.np_random.random() < self.exploring_starts:
                options = {**options, "start": "random", "phase": "random"}
        self.cell, self.phase = self._start_state(options)
        self.steps = 0
        self.caught = self.at_goal = False
        if self.render_mode == "human":
            self.render()
        return self._obs(), self._info(slipped=False)

    def _start_state(self, options: dict) -> tuple[int, int]:
        """The (cell, phase) to start from: the level's start at phase 0 unless ``options`` say
        ``start=(row, col)`` or ``"random"`` (a floor cell that is not the goal and not watched at the
        starting phase) and ``phase=int`` or ``"random"``."""
        world, (h, w) = self.world, self.level.shape
        phase = options.get("phase", 0)
        if phase == "random":
            phase = int(self.np_random.integers(world.period))
        elif not (isinstance(phase, (int, np.integer)) and 0 <= phase < world.period):
            raise ValueError(f"reset option phase must be 'random' or an int in [0, {world.period}), got {phase!r}")
        start = options.get("start")
        if start is None:
            return world.start, int(phase)
        watched = world.watched[int(phase)].reshape(-1)
        free = ~self.level.walls.reshape(-1) & ~watched
        free[world.goal] = False
        if start == "random":
            return int(self.np_random.choice(np.flatnonzero(free))), int(phase)
        try:
            r, c = (int(v) for v in start)
        except (TypeError, ValueError):
            raise ValueError(f"reset option start must be 'random' or (row, col), got {start!r}") from None
        if not (0 <= r < h and 0 <= c < w) or not free[r * w + c]:
            raise ValueError(f"reset option start {start!r} must be a floor cell of the {h}x{w} level that is "
                             f"neither the goal nor watched at phase {phase}")
        return r * w + c, int(phase)

    def step(self, action):
        if self.caught or self.at_goal or self.steps >= self.max_steps:  # the state says the episode ended
            raise RuntimeError(episode_over_message("sandbox/Stealth-v0"))
        action = discrete_action(  # Python and numpy integers; not floats or strings
            action, len(Action), "sandbox/Stealth-v0", "integers 0..4 (0 stay, 1 north, 2 south, 3 east, 4 west)"
        )
        direction = action
        if self.slip > 0.0 and action != Action.STAY:
            outcomes = rules.action_outcomes(action, self.slip)
            u, acc = self.np_random.random(), 0.0
            for direction, prob in outcomes:  # noqa: B007  (the loop picks the outcome)
                acc += prob
                if u < acc:
                    break
        new_cell, caught, at_goal = rules.transition(self.world, self.cell, self.phase, direction)
        self.cell, self.phase = int(new_cell), (self.phase + 1) % self.world.period
        self.caught, self.at_goal = bool(caught), bool(at_goal)
        self.steps += 1
        reward = float(rules.step_reward(self.rewards, self.caught, self.at_goal))
        terminated = self.caught or self.at_goal
        truncated = not terminated and self.steps >= self.max_steps
        if self.render_mode == "human":
            self.render()
        info = self._info(slipped=direction != action)
        if terminated or truncated:
            info["is_success"] = self.at_goal  # success, defined here once: the goal reached
        return self._obs(), reward, terminated, truncated, info

    def _obs(self) -> np.ndarray:
        h, w = self.level.shape
        r, c = divmod(self.cell, w)
        local = self.obs_mode == "local"
        if local:
            k = self.local_size
            obs = self._obs_base[self.phase, :, r : r + k, c : c + k].copy()
            obs[1, k // 2, k // 2] = 1.0
            half = k // 2
            goal_row, goal_col = divmod(self.world.goal, w)
            dr, dc = goal_row - r, goal_col - c
            if max(abs(dr), abs(dc)) > half:  # out of view: the compass cell on the window's edge
                obs[2, half + min(max(dr, -half), half), half + min(max(dc, -half), half)] = 1.0
        else:
            obs = self._obs_base[self.phase].copy()
            obs[1, r, c] = 1.0
        for k_ch, name in enumerate(self.nav_features, start=len(CHANNELS)):
            if name == "danger_next":
                layer = features.danger_next(self.world, self.cell, self.phase).reshape(h, w)
            elif name == "flow":
                layer = features.flow_view(self._flow_costs, (r, c))
            elif name == "trap_next":
                layer = features.trap_next(self.world, self.cell, self.phase).reshape(h, w)
            else:
                continue
            obs[k_ch] = np.pad(layer, half)[r : r + k, c : c + k] if local else layer
        return obs.reshape(-1) if self.obs_mode == "vector" else obs

    def _info(self, slipped: bool) -> dict:
        return {
            "cell": self.world.rc(self.cell),
            "phase": self.phase,
            "caught": self.caught,
            "at_goal": self.at_goal,
            "slipped": slipped,
        }

    # -- rendering ---------------------------------------------------------------------------

    def render(self):
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

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_renderer"] = None
        return state


def check_exploring_starts(prob) -> float:
    try:
        value = float(prob)
    except (TypeError, ValueError):
        raise ValueError(f"exploring_starts must be a probability in [0, 1], got {prob!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"exploring_starts must be a probability in [0, 1], got {prob!r}")
    return value


def _check_difficulty(difficulty) -> float:
    try:
        value = float(difficulty)
    except (TypeError, ValueError):
        raise ValueError(f"difficulty must be a number in [0, 1], got {difficulty!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty!r}")
    return value
