"""Maps of a stealth level for a navigation AI: who sees where, how often, and where to hide.

All three read the level's compiled per-phase tables (:func:`envs.stealth.rules.compile_world`), so
they agree with what the env detects.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from envs.stealth.level import Level
from envs.stealth.rules import DELTAS


def visibility(level: Level, phase: int) -> np.ndarray:
    """(H, W) bool: the cells some guard sees at ``phase`` (taken modulo the period)."""
    world = level.world
    return world.watched[phase % world.period].reshape(level.shape).copy()


def threat_map(level: Level) -> np.ndarray:
    """(H, W) float in [0, 1]: the fraction of the guards' period during which each cell is watched."""
    world = level.world
    return world.watched.mean(axis=0).reshape(level.shape)


def _distances(walls: np.ndarray, source) -> np.ndarray:
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
    h, w = walls.shape
    threat = threat_map(level)
    from_start, to_goal = _distances(walls, level.start), _distances(walls, level.goal)
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
