"""A readable reference of the stealth env, for the tests only: the package never imports it.

The env's step and observation are written once, as numba kernels (``envs/stealth/kernels.py``). This
module keeps the plain Python they replaced, so that the tests can hold the kernels equal to it bit for
bit: the observation of a state built channel by channel with numpy (:func:`observe`), the navigation
channels that depend on the player's state (:func:`danger_next`, :func:`trap_next`, :func:`flow_view`,
:func:`lookahead_map`), the single env's episode (:class:`OracleEnv`: its draws, in its order, and the step
of :func:`envs.stealth.rules.transition`), the old ``GoalShaping``/``VectorGoalShaping`` wrappers' shaping
arithmetic, and the safe-path search written with :func:`envs.stealth.rules.transition` over arrays.
"""

from __future__ import annotations

import numpy as np

from envs.stealth import features, rules
from envs.stealth.features import FLOW_SCALE, NAV_FEATURES, nav_names
from envs.stealth.level import POOL_SIZE, POOLS, Level, load_level, pool_level
from envs.stealth.rules import DELTAS, Action, Rewards

CHANNELS = ("walls", "player", "goal", "guards", "watched_now", "watched_next")


# ---- the navigation channels that depend on the player's state ---------------------------------------------


def danger_next(world: rules.World, cell: int, phase: int) -> np.ndarray:
    """(N,) float32: 1 on each cell the player on flat ``cell`` at ``phase`` reaches with one action
    (itself and its four neighbours) where that action gets it caught."""
    danger = np.zeros(world.n_cells, dtype=np.float32)
    cells = np.full(len(DELTAS), int(cell))
    new, caught, _ = rules.transition(world, cells, int(phase), np.arange(len(DELTAS)))
    danger[new[caught]] = 1.0
    return danger


def trap_next(world: rules.World, cell: int, phase: int) -> np.ndarray:
    """(N,) float32: 1 on each cell reached with one action without being caught, from which every action of
    the following step is caught (a dead end in time, two steps ahead)."""
    trap = np.zeros(world.n_cells, dtype=np.float32)
    directions = np.arange(len(DELTAS))
    new, caught, at_goal = rules.transition(world, np.full(len(DELTAS), int(cell)), int(phase), directions)
    following = (int(phase) + 1) % world.period
    for d in directions[~caught & ~at_goal]:
        _, caught2, _ = rules.transition(world, np.full(len(DELTAS), int(new[d])), following, directions)
        if caught2.all():
            trap[new[d]] = 1.0
    return trap


def flow_view(costs: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: the ``flow`` channel for the player on ``cell``: ``0.5 + 0.5 * clip((C(player) -
    C(x)) / FLOW_SCALE, -1, 1)`` for each cell x, 0 where either cost is infinite."""
    here = costs[cell]
    with np.errstate(invalid="ignore"):
        view = 0.5 + 0.5 * np.clip((here - costs) / FLOW_SCALE, -1.0, 1.0)
    view[~np.isfinite(costs) | (not np.isfinite(here))] = 0.0
    return view.astype(np.float32)


def lookahead_map(world: rules.World, phase: int) -> np.ndarray:
    """(N,) float32: the cells watched two steps after ``phase``."""
    return world.watched[(phase + 2) % world.period].astype(np.float32)


def extra_maps(level: Level, cell: int, phase: int, names) -> np.ndarray:
    """(len(names), H, W) float32: the ``nav_features`` channels ``names`` for the player on flat ``cell`` at
    ``phase``, over the whole map."""
    world = level.world
    h, w = level.shape
    out = np.zeros((len(names), h, w), dtype=np.float32)
    for k, name in enumerate(names):
        if name in ("threat", "hiding"):
            out[k] = features.static_maps(level)[0 if name == "threat" else 1]
        elif name == "danger_next":
            out[k] = danger_next(world, cell, phase).reshape(h, w)
        elif name == "flow":
            out[k] = flow_view(features.flow_costs(level), divmod(int(cell), w))
        elif name == "trap_next":
            out[k] = trap_next(world, cell, phase).reshape(h, w)
        else:
            out[k] = lookahead_map(world, phase).reshape(h, w)
    return out


# ---- the observation --------------------------------------------------------------------------------------


def observe(level: Level, cell: int, phase: int, obs_mode: str = "grid", local_size: int = 7, nav=()) -> np.ndarray:
    """The observation of the player on flat ``cell`` at ``phase``: the six channels (walls, player, goal,
    guards, watched now, watched after the next step), then the ``nav`` channels in ``NAV_FEATURES`` order;
    ``grid`` (C, H, W), ``vector`` flattened, ``local`` the (C, k, k) window around the player (outside the
    map: wall, and 0 in the nav channels), with the compass cell for a goal out of view."""
    nav = nav_names(nav)
    world = level.world
    h, w = level.shape
    base = np.zeros((6, h, w), dtype=np.float32)
    base[0] = world.walls.reshape(h, w)
    goal_row, goal_col = divmod(world.goal, w)
    base[2, goal_row, goal_col] = 1.0
    rows, cols = np.divmod(world.guard_cells[phase], w)
    base[3, rows, cols] = 1.0
    base[4] = world.watched[phase].reshape(h, w)
    base[5] = world.watched[(phase + 1) % world.period].reshape(h, w)
    layers = np.concatenate([base, extra_maps(level, cell, phase, nav)])
    r, c = divmod(int(cell), w)
    if obs_mode != "local":
        layers[1, r, c] = 1.0
        return layers.reshape(-1) if obs_mode == "vector" else layers
    k = local_size
    half = k // 2
    padded = np.zeros((layers.shape[0], h + 2 * half, w + 2 * half), dtype=np.float32)
    padded[0] = 1.0  # outside the map reads as wall (and 0 in every other channel)
    padded[:, half : half + h, half : half + w] = layers
    obs = padded[:, r : r + k, c : c + k].copy()
    obs[1, half, half] = 1.0
    dr, dc = goal_row - r, goal_col - c
    if max(abs(dr), abs(dc)) > half:  # out of view: the compass cell on the window's edge
        obs[2, half + min(max(dr, -half), half), half + min(max(dc, -half), half)] = 1.0
    return obs


# ---- goal shaping, as the old wrappers computed it ----------------------------------------------------------


def goal_potential(level: Level) -> np.ndarray:
    """Phi over the (H, W) grid: 0 at the goal, -1 at the start, unreachable cells as the farthest."""
    dist = features.distances(level.walls, level.goal).astype(np.float64)
    far = dist.max() if dist.max() > 0 else 1.0
    dist[dist < 0] = far
    scale = max(dist[level.start], 1.0)
    return -dist / scale


def shaped(reward: float, phi: float, phi_next: float, gamma: float, weight: float) -> float:
    """The old ``GoalShaping.step``: ``reward + weight * (gamma * Phi(s') - Phi(s))`` (``phi_next`` is 0 after a
    termination)."""
    return reward + weight * (gamma * phi_next - phi)


def vector_shaped(reward: np.ndarray, terminated: np.ndarray, phi: np.ndarray, phi_now: np.ndarray,
                  reset_now: np.ndarray, gamma: float, weight: float) -> np.ndarray:
    """The old ``VectorGoalShaping.step`` over a batch: ``phi_now`` the potential of each env's cell after the
    step, ``reset_now`` the envs that were reset on this step (their reward stays 0)."""
    phi_next = np.where(terminated, 0.0, phi_now)
    out = reward + weight * (gamma * phi_next - phi)
    out[reset_now] = 0.0
    return out


# ---- the single env ---------------------------------------------------------------------------------------


class OracleEnv:
    """The single stealth env written plainly: ``reset`` draws from its generator in the env's order (pool
    entry, exploring-start coin, phase, cell), ``step`` draws a slip for each move that may slip and applies
    :func:`envs.stealth.rules.transition`, the observation is :func:`observe`, and with ``shaping_gamma`` the
    reward is shaped as the old ``GoalShaping`` wrapper did."""

    def __init__(self, level="tutorial", difficulty=0.3, size=12, obs_mode="grid", local_size=7, slip=0.0,
                 max_steps=None, rewards=None, nav_features=False, exploring_starts=0.0, shaping_gamma=None,
                 shaping_weight=1.0):
        self.pool = level if isinstance(level, str) and level in POOLS else None
        self.fixed = None if self.pool else (level if isinstance(level, Level) else load_level(level))
        self.difficulty, self.size, self.obs_mode, self.local_size = difficulty, size, obs_mode, local_size
        self.slip, self.max_steps_arg, self.nav = slip, max_steps, nav_names(nav_features)
        self.rewards = Rewards(**rewards) if isinstance(rewards, dict) else (rewards or Rewards())
        self.exploring_starts, self.gamma, self.weight = exploring_starts, shaping_gamma, shaping_weight
        self.rng = np.random.default_rng()

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        options = dict(options or {})
        difficulty = options.get("difficulty", self.difficulty)
        if self.pool is not None:
            self.level = pool_level(self.pool, difficulty, int(self.rng.integers(POOL_SIZE)), self.size)
        else:
            self.level = self.fixed
        world = self.level.world
        h, w = self.level.shape
        self.max_steps = self.max_steps_arg or self.level.max_steps or 8 * (h + w)
        if self.exploring_starts > 0.0 and "start" not in options and "phase" not in options:
            if self.rng.random() < self.exploring_starts:
                options.update(start="random", phase="random")
        phase = options.get("phase", 0)
        if phase == "random":
            phase = int(self.rng.integers(world.period))
        self.cell, self.phase = world.start, int(phase)
        start = options.get("start")
        if start is not None:
            free = ~self.level.walls.reshape(-1) & ~world.watched[self.phase]
            free[world.goal] = False
            self.cell = int(self.rng.choice(np.flatnonzero(free))) if start == "random" else start[0] * w + start[1]
        self.explored = self.cell != world.start  # began away from the level's start: no crossing
        self.steps, self.caught, self.at_goal = 0, False, False
        self.phi = float(goal_potential(self.level).reshape(-1)[self.cell]) if self.gamma is not None else 0.0
        info = {"cell": divmod(self.cell, w), "phase": self.phase, "caught": False, "at_goal": False,
                "slipped": False}
        return self.observation(), info

    def observation(self) -> np.ndarray:
        return observe(self.level, self.cell, self.phase, self.obs_mode, self.local_size, self.nav)

    def step(self, action: int):
        action = int(action)
        direction = action
        if self.slip > 0.0 and action != Action.STAY:
            u, acc = self.rng.random(), 0.0
            for direction, prob in rules.action_outcomes(action, self.slip):  # noqa: B007
                acc += prob
                if u < acc:
                    break
        world = self.level.world
        new_cell, caught, at_goal = rules.transition(world, self.cell, self.phase, direction)
        self.cell, self.phase = int(new_cell), (self.phase + 1) % world.period
        self.caught, self.at_goal = bool(caught), bool(at_goal)
        self.steps += 1
        reward = float(rules.step_reward(self.rewards, self.caught, self.at_goal))
        terminated = self.caught or self.at_goal
        truncated = not terminated and self.steps >= self.max_steps
        info = {"cell": world.rc(self.cell), "phase": self.phase, "caught": self.caught, "at_goal": self.at_goal,
                "slipped": direction != action}
        if terminated or truncated:
            info["is_success"] = self.at_goal and not self.explored
            if self.explored:
                info["exploring_start"] = True
        if self.gamma is not None:
            phi_next = 0.0 if terminated else float(goal_potential(self.level).reshape(-1)[self.cell])
            info["unshaped_reward"] = reward
            reward = float(shaped(reward, self.phi, phi_next, self.gamma, self.weight))
            self.phi = phi_next
        return self.observation(), reward, terminated, truncated, info


# ---- the safe-path search, over numpy arrays -----------------------------------------------------------------


def safe_path(world: rules.World, start_cell: int, start_phase: int = 0) -> list[int] | None:
    """Shortest never-seen path from ``(start_cell, start_phase)`` to the goal, as flat cells: breadth-first
    over the time-expanded graph, one layer per step, each state expanded at most once; among equally short
    paths the one found first in action order (stay, N, S, E, W) wins."""
    period = world.period
    phase = start_phase % period
    if start_cell == world.goal:
        return [int(start_cell)]
    visited = np.zeros((period, world.n_cells), dtype=bool)
    visited[phase, start_cell] = True
    frontier = np.array([start_cell], dtype=np.int64)
    layers: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted new cells, their parent cells)
    while frontier.size:
        nxt = (phase + 1) % period
        news, parents = [], []
        for d in range(len(DELTAS)):
            new, caught, _ = rules.transition(world, frontier, phase, d)
            keep = ~caught & ~visited[nxt, new]
            news.append(new[keep])
            parents.append(frontier[keep])
        new, parent = np.concatenate(news), np.concatenate(parents)
        cells, first = np.unique(new, return_index=True)
        layers.append((cells, parent[first]))
        visited[nxt, cells] = True
        if cells.size and visited[nxt, world.goal]:
            path = [int(world.goal)]
            for cells_t, parents_t in reversed(layers):
                path.append(int(parents_t[np.searchsorted(cells_t, path[-1])]))
            return path[::-1]
        frontier = cells[cells != world.goal]
        phase = nxt
    return None


__all__ = ["CHANNELS", "NAV_FEATURES", "OracleEnv", "danger_next", "extra_maps", "flow_view", "goal_potential",
           "lookahead_map", "observe", "safe_path", "shaped", "trap_next", "vector_shaped"]
