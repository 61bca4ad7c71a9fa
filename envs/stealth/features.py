"""The navigation features of a stealth level, as pure functions of the level and the state.

They live beside the env (and not in ``agents.navigation``) because the env computes them itself when
asked for ``nav_features=True`` (the single env and the batched one alike), and ``envs`` imports no
``agents``. ``agents.navigation`` re-exports them and adds the planner and the agents that use them.

* :func:`threat_map`: how often each cell is watched over the guards' period;
* :func:`hiding_spots`: floor cells never watched, reachable from start and goal, most useful first;
* :func:`distances`: breadth-first walking distances over floor;
* :func:`static_maps` and :func:`danger_next`: the three extra observation channels ``EXTRA_CHANNELS``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from envs.stealth import rules
from envs.stealth.rules import DELTAS

if TYPE_CHECKING:  # pragma: no cover
    from envs.stealth.level import Level

# The extra observation channels of ``nav_features=True`` (after the env's six), in this order.
EXTRA_CHANNELS = ("threat", "hiding", "danger_next")


def visibility(level: Level, phase: int) -> np.ndarray:
    """(H, W) bool: the cells some guard sees at ``phase`` (taken modulo the period)."""
    world = level.world
    return world.watched[phase % world.period].reshape(level.shape).copy()


def threat_map(level: Level) -> np.ndarray:
    """(H, W) float in [0, 1]: the fraction of the guards' period during which each cell is watched."""
    world = level.world
    return world.watched.mean(axis=0).reshape(level.shape)


def distances(walls: np.ndarray, source) -> np.ndarray:
    """Breadth-first step counts over floor cells from ``source`` (-1 where unreachable)."""
    h, w = walls.shape
    dist = np.full((h, w), -1, dtype=np.int64)
    dist[source] = 0
    queue = deque([tuple(source)])
    while queue:
        r, c = queue.popleft()
        for dr, dc in DELTAS[1:]:
            r2, c2 = r + dr, c + dc
            if 0 <= r2 < h and 0 <= c2 < w and not walls[r2, c2] and dist[r2, c2] < 0:
                dist[r2, c2] = dist[r, c] + 1
                queue.append((r2, c2))
    return dist


def hiding_spots(level: Level, top: int | None = None) -> list[tuple[int, int]]:
    """Floor cells never watched during the whole period, most useful first.

    Usefulness along the route: a spot ranks higher the smaller its detour, ``dist(start, cell) +
    dist(cell, goal) - dist(start, goal)`` (walls only, guards ignored; 0 on a shortest route), then
    the more threat there is around it (sum of :func:`threat_map` over its four neighbours: a safe
    cell beside danger is where one waits for a guard to pass), then by row and column. Cells that
    cannot reach both start and goal are left out. ``top`` keeps only the first ``top`` spots.
    """
    walls = np.asarray(level.walls, dtype=bool)
    threat = threat_map(level)
    from_start, to_goal = distances(walls, level.start), distances(walls, level.goal)
    direct = from_start[level.goal]
    padded = np.pad(threat, 1)
    around = padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
    spots = []
    for r, c in zip(*np.nonzero(~walls & (threat == 0) & (from_start >= 0) & (to_goal >= 0)), strict=False):
        detour = int(from_start[r, c] + to_goal[r, c] - direct)
        spots.append((detour, -float(around[r, c]), int(r), int(c)))
    spots.sort()
    ranked = [(r, c) for _, _, r, c in spots]
    return ranked[:top] if top is not None else ranked


def static_maps(level: Level) -> np.ndarray:
    """(2, H, W) float32: the ``threat`` and ``hiding`` channels, which depend on the level only."""
    h, w = level.shape
    static = np.zeros((2, h, w), dtype=np.float32)
    static[0] = threat_map(level)
    for r, c in hiding_spots(level):
        static[1, r, c] = 1.0
    return static


def danger_next(world: rules.World, cell: int, phase: int) -> np.ndarray:
    """(N,) float32: 1 on each cell the player on flat ``cell`` at ``phase`` reaches with one action
    (itself and its four neighbours) where that action gets it caught (the ``danger_next`` channel)."""
    danger = np.zeros(world.n_cells, dtype=np.float32)
    cells = np.full(len(DELTAS), int(cell))
    new, caught, _ = rules.transition(world, cells, int(phase), np.arange(len(DELTAS)))
    danger[new[caught]] = 1.0
    return danger
