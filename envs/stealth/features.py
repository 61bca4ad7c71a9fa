"""The navigation features of a stealth level: pure functions of the level, computed once per level.

They live beside the env (and not in ``agents.navigation``) because the env packs them into its tables
when asked for ``nav_features`` or goal shaping (the single env and the batched one alike), and ``envs``
imports no ``agents``. ``agents.navigation`` re-exports them and adds the planner and the agents that use
them. The channels that depend on the player's state (``danger_next``, ``flow`` as seen from the player,
``lookahead``, ``trap_next``) are built from these tables by the env's kernel
(:mod:`envs.stealth.kernels`), the one place the observation is written.

* :func:`threat_map`: how often each cell is watched over the guards' period;
* :func:`hiding_spots`: floor cells never watched, reachable from start and goal, most useful first;
* :func:`distances`: breadth-first walking distances over floor;
* :func:`flow_costs`: the threat-aware flow field, each cell's walking cost to the goal;
* :func:`goal_potential`: the potential of goal shaping, ``-d(cell) / d(start)``;
* :func:`static_maps`: the ``threat`` and ``hiding`` channels; :data:`NAV_FEATURES` names every channel
  of ``nav_features``, :func:`nav_names` reads the keyword and :func:`nav_spec` writes it as plain data.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from envs.stealth.rules import DELTAS

if TYPE_CHECKING:  # pragma: no cover
    from envs.stealth.level import Level

# The navigation AI's observation channels, in the order they follow the env's six. ``nav_features`` takes
# any of them (a comma-separated string or a sequence), ``"all"``, or True: the first three (what
# ``nav_features=True`` meant before ``flow`` and ``lookahead``, so older checkpoints keep their shape).
NAV_FEATURES = ("threat", "hiding", "danger_next", "flow", "lookahead", "trap_next")
EXTRA_CHANNELS = NAV_FEATURES[:3]  # nav_features=True
# The flow field's cost of entering a cell is 1 + FLOW_THREAT_COST * its threat (cells watched at every
# phase cannot be entered); its channel shows cost differences to the player's cell over FLOW_SCALE.
FLOW_THREAT_COST = 4.0
FLOW_SCALE = 8.0


def nav_names(value: bool | str | Sequence[str] | None) -> tuple[str, ...]:
    """The channels a ``nav_features`` value asks for, in :data:`NAV_FEATURES` order: False/None/"" for
    none, True for :data:`EXTRA_CHANNELS`, ``"all"``, or names (a comma-separated string or a sequence)."""
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return ()
    if value is True:
        return EXTRA_CHANNELS
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return NAV_FEATURES
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(f"nav_features must be a bool, 'all' or channel names ({', '.join(NAV_FEATURES)}); "
                         f"got {value!r}")
    unknown = [v for v in items if v not in NAV_FEATURES]
    if unknown:
        raise ValueError(f"nav_features: unknown nav feature {unknown[0]!r}; valid: {', '.join(NAV_FEATURES)}, "
                         "'all' or true")
    return tuple(name for name in NAV_FEATURES if name in items)


def visibility(level: Level, phase: int) -> np.ndarray:
    """(H, W) bool: the cells some guard sees at ``phase`` (taken modulo the period)."""
    world = level.world
    return world.watched[phase % world.period].reshape(level.shape).copy()


def threat_map(level: Level) -> np.ndarray:
    """(H, W) float in [0, 1]: the fraction of the guards' period during which each cell is watched."""
    world = level.world
    return world.watched.mean(axis=0).reshape(level.shape)


def distances(walls: np.ndarray, source: tuple[int, int]) -> np.ndarray:
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


def nav_spec(value: bool | str | Sequence[str] | None) -> bool | str:
    """A ``nav_features`` value as plain data for configs and sidecars: False (none), True (the first
    three) or the names joined by commas (never ``"all"``, whose meaning grows with new channels).
    Checked by :func:`nav_names`."""
    names = nav_names(value)
    if not names:
        return False
    return True if names == EXTRA_CHANNELS else ",".join(names)


def flow_costs(level: Level) -> np.ndarray:
    """(H, W) float64: the threat-aware flow field of ``level``, each cell's cheapest walking cost to the goal,
    ``inf`` where none (walls, cells cut off). Entering a cell costs ``1 + FLOW_THREAT_COST * threat``
    (:func:`threat_map`), and a cell watched at every phase cannot be entered: the influence-map-weighted
    path cost that game navigation computes. Guards' timing is not in it; the policy learns that."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    walls = np.asarray(level.walls, dtype=bool)
    h, w = walls.shape
    threat = threat_map(level).reshape(-1)
    passable = ~walls.reshape(-1) & (threat < 1.0)
    cost = 1.0 + FLOW_THREAT_COST * threat
    index = np.arange(h * w).reshape(h, w)
    src_parts, dst_parts = [], []
    for a, b in ((index[:, :-1], index[:, 1:]), (index[:-1, :], index[1:, :])):  # each pair of neighbours
        src_parts += [a.reshape(-1), b.reshape(-1)]
        dst_parts += [b.reshape(-1), a.reshape(-1)]
    src, dst = np.concatenate(src_parts), np.concatenate(dst_parts)
    keep = passable[src] & passable[dst]
    # reversed edges (dst -> src, weight = the cost of entering dst) so one search from the goal gives
    # every cell's cost *to* the goal
    graph = csr_matrix((cost[dst[keep]], (dst[keep], src[keep])), shape=(h * w, h * w))
    goal = level.goal[0] * w + level.goal[1]
    costs = dijkstra(graph, directed=True, indices=goal)
    if not passable[goal]:
        costs[:] = np.inf
    return costs.reshape(h, w)


def goal_potential(level: Level) -> np.ndarray:
    """(H, W) float64: the potential of goal shaping, ``Phi(cell) = -d(cell) / d(start)`` with ``d`` the
    walking distance to the goal over floor (:func:`distances`; guards ignored, their threat stays the env's
    own penalty): 0 at the goal, -1 at the start. Cells that cannot reach the goal count as the farthest
    reachable cell (walls are never stood on). Shaping with it (Ng, Harada & Russell, 1999) adds
    ``gamma * Phi(s') - Phi(s)`` to a reward, which leaves the optimal policies for the discount ``gamma``
    unchanged and pays for every step toward the goal."""
    dist = distances(level.walls, level.goal).astype(np.float64)
    far = dist.max() if dist.max() > 0 else 1.0
    dist[dist < 0] = far
    scale = max(dist[level.start], 1.0)
    return -dist / scale
