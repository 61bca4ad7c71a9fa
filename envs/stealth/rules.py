"""Pure rules of the stealth grid: guard motion, vision, detection and the player's move.

Everything here is a function of a level (or of the :class:`World` tables compiled from it) and of
a state ``(cell, phase)``. Nothing holds hidden state and nothing draws random numbers: the env
samples slip outcomes in the order of :func:`action_outcomes` with its own generator, and the exact MDP
(:mod:`envs.stealth.mdp`) enumerates the same outcomes. The MDP calls :func:`transition`; the env's kernel
(:mod:`envs.stealth.kernels`) applies the same rule to the same compiled tables, and the tests hold the two
equal from every state.

Conventions
-----------
* Cells are ``(row, col)``, row 0 at the top. Inside the tables a cell is the flat index
  ``row * W + col``.
* Facings are angles in degrees, counter-clockwise from east as seen on screen: 0 = E, 90 = N,
  180 = W, 270 = S.
* **The guard world is periodic.** Guard ``g`` at time ``t`` is in state ``track(g)[t % len]``;
  the world's period is the least common multiple of the guards' periods and the *phase* is
  ``t % period``. Every watched set and guard move is precomputed per phase, so a step is a few
  table look-ups and never casts a ray.

Vision rule (exact)
-------------------
A guard standing on cell ``g`` and facing angle ``f`` sees cell ``c`` when all of these hold:

1. ``c`` is ``g`` itself (a guard always sees its own cell); or
2. range: the Euclidean distance between the cell centres is ``<= view_range``;
3. cone: the angle between the facing vector and the vector from ``g``'s centre to ``c``'s centre is
   ``<= fov_deg / 2`` (``fov_deg = 360`` sees all around);
4. line of sight: no wall lies on the **supercover** of the segment between the two centres, other
   than ``c`` itself. The supercover is every cell the segment touches; where the segment passes
   exactly through a grid corner, both cells beside that corner are in it, so a diagonal gap
   between two walls blocks sight. The supercover of ``a -> b`` equals that of ``b -> a``, so the
   rule is symmetric. Walls themselves are never "watched" (the player cannot stand there).

Detection
---------
One step is: the player moves, the guards move (phase ``p -> p + 1``), then detection. The player is
caught when it ends the step on a cell watched at phase ``p + 1`` (which includes every guard's
cell), or when it swapped cells with a guard (it moved ``b -> a`` while a guard moved ``a -> b``:
they would pass through each other). Reaching the goal while caught counts as caught.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import reduce
from typing import Any, Protocol, TypeAlias, cast

import numba
import numpy as np

#: Cells, phases or directions: one integer, or (element-wise) an integer array of them.
IndexLike: TypeAlias = "int | np.integer | np.ndarray"


class Action(IntEnum):
    """The player's five actions (``Discrete(5)``)."""

    STAY = 0
    NORTH = 1
    SOUTH = 2
    EAST = 3
    WEST = 4


# (d_row, d_col) of each action, indexed by Action.
DELTAS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 0), (1, 0), (0, 1), (0, -1))
# The two directions perpendicular to each action (STAY has none: it never slips).
PERPENDICULAR: dict[int, tuple[int, ...]] = {
    Action.STAY: (),
    Action.NORTH: (Action.EAST, Action.WEST),
    Action.SOUTH: (Action.EAST, Action.WEST),
    Action.EAST: (Action.NORTH, Action.SOUTH),
    Action.WEST: (Action.NORTH, Action.SOUTH),
}
COMPASS: dict[str, float] = {
    "E": 0.0,
    "NE": 45.0,
    "N": 90.0,
    "NW": 135.0,
    "W": 180.0,
    "SW": 225.0,
    "S": 270.0,
    "SE": 315.0,
}


@dataclass(frozen=True)
class Rewards:
    """Reward of one step: ``step`` always, plus ``goal`` on reaching the goal or ``caught`` when caught."""

    goal: float = 1.0
    caught: float = -1.0
    step: float = -0.01


def step_reward(rewards: Rewards, caught: bool | np.ndarray, at_goal: bool | np.ndarray) -> float | np.ndarray:
    """Reward of a step that ended ``caught`` / ``at_goal`` (scalars or arrays)."""
    return rewards.step + rewards.caught * caught + rewards.goal * at_goal  # bools and bool arrays alike


def action_outcomes(action: int, slip: float) -> tuple[tuple[int, float], ...]:
    """The directions the player actually moves in after ``action``, with their probabilities.

    With probability ``1 - slip`` the player moves as asked; otherwise it slips to one of the two
    perpendicular directions, each with probability ``slip / 2``. ``STAY`` never slips.
    """
    action = int(action)
    if slip <= 0.0 or action == Action.STAY:
        return ((action, 1.0),)
    a, b = PERPENDICULAR[action]
    return ((action, 1.0 - slip), (int(a), slip / 2.0), (int(b), slip / 2.0))


# --------------------------------------------------------------------------------------------
# Guards and their motion


@dataclass(frozen=True)
class Guard:
    """One guard: a ``patrol`` (route + mode) or a ``sentry`` (at + facings + turn_every). Importable from
    :mod:`envs.stealth.level` too, with the level it belongs to."""

    kind: str
    view_range: float
    fov_deg: float
    route: tuple[tuple[int, int], ...] = ()
    mode: str = "pingpong"
    at: tuple[int, int] | None = None
    facings: tuple[float, ...] = ()
    turn_every: int = 1


class LevelSpec(Protocol):
    """What the rules read of a level: :class:`envs.stealth.level.Level` is one. ``check_limits`` raises
    (a :class:`~envs.stealth.level.LevelError` naming the limit) when the level's tables would be larger
    than :func:`envs.stealth.level.check_level_limits` allows."""

    @property
    def walls(self) -> np.ndarray: ...

    @property
    def start(self) -> tuple[int, int]: ...

    @property
    def goal(self) -> tuple[int, int]: ...

    @property
    def guards(self) -> tuple[Guard, ...]: ...

    def check_limits(self) -> None: ...


def direction_angle(d_row: int, d_col: int) -> float:
    """Facing angle (degrees, CCW from east, screen y up) of a move by ``(d_row, d_col)``."""
    return math.degrees(math.atan2(-d_row, d_col)) % 360.0


def patrol_cells(route: Sequence[Sequence[int]], mode: str) -> list[tuple[int, int]]:
    """The cells a patrol occupies over one period, one per step.

    ``route`` is a list of waypoints joined by straight segments. ``loop`` walks the route and back
    from the last waypoint to the first; ``pingpong`` walks it forward, then back.
    """
    points = [cast("tuple[int, int]", tuple(p)) for p in route]
    if len(points) == 1:
        return [points[0]]
    legs = list(zip(points, points[1:], strict=False))
    if mode == "loop":
        legs.append((points[-1], points[0]))
    cells: list[tuple[int, int]] = []
    for (r0, c0), (r1, c1) in legs:
        dr, dc = int(np.sign(r1 - r0)), int(np.sign(c1 - c0))
        r, c = r0, c0
        while (r, c) != (r1, c1):
            cells.append((r, c))
            r, c = r + dr, c + dc
    if mode == "loop":
        return cells
    cells.append(points[-1])
    return cells + cells[-2:0:-1]  # forward, then back without repeating the two ends


def guard_track(guard: Guard) -> list[tuple[tuple[int, int], float]]:
    """One period of ``guard``'s states: a list of ``(cell, facing_deg)``, index = time mod period.

    A patrol faces the direction of its next move (so it turns as it reaches a waypoint); a sentry
    stands still and holds each of its facings for ``turn_every`` steps.
    """
    if guard.kind == "sentry":
        assert guard.at is not None  # a sentry stands somewhere
        at = cast("tuple[int, int]", tuple(guard.at))
        return [(at, float(f)) for f in guard.facings for _ in range(guard.turn_every)]
    cells = patrol_cells(guard.route, guard.mode)
    n = len(cells)
    if n == 1:
        return [(cells[0], 0.0)]
    track = []
    for t, cell in enumerate(cells):
        nxt = cells[(t + 1) % n]
        track.append((cell, direction_angle(nxt[0] - cell[0], nxt[1] - cell[1])))
    return track


def guard_period(guard: Guard) -> int:
    """``len(guard_track(guard))``, computed without building the track (so that a level can be
    checked against its limits before anything is allocated): a sentry holds each facing for
    ``turn_every`` steps; a patrol takes one step per cell of its legs, there and back for
    ``pingpong``; a patrol of a single waypoint has period 1."""
    if guard.kind == "sentry":
        return len(guard.facings) * int(guard.turn_every)
    points = [tuple(p) for p in guard.route]
    if len(points) == 1:
        return 1
    legs = list(zip(points, points[1:], strict=False))
    if guard.mode == "loop":
        legs.append((points[-1], points[0]))
    length = sum(abs(r1 - r0) + abs(c1 - c0) for (r0, c0), (r1, c1) in legs)
    return length if guard.mode == "loop" else 2 * length


def world_period(guards: Iterable[Guard]) -> int:
    """Least common multiple of the guards' periods (1 without guards)."""
    return reduce(math.lcm, (guard_period(g) for g in guards), 1)


# --------------------------------------------------------------------------------------------
# Vision


def supercover(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Every cell touched by the segment between the centres of cells ``a`` and ``b``, from a to b.

    Integer-exact. When the segment passes exactly through a grid corner, both side cells are
    included (before the diagonal cell). The set is the same for ``(a, b)`` and ``(b, a)``.
    """
    (r, c), (r1, c1) = a, b
    dr, dc = abs(r1 - r), abs(c1 - c)
    sr, sc = (1 if r1 > r else -1), (1 if c1 > c else -1)
    cells = [(r, c)]
    ir = ic = 0
    while ir < dr or ic < dc:
        # compare the segment's crossing of the next column edge with that of the next row edge
        col_cross, row_cross = (1 + 2 * ic) * dr, (1 + 2 * ir) * dc
        if col_cross == row_cross:  # exactly through a corner: touch both side cells
            cells.append((r, c + sc))
            cells.append((r + sr, c))
            r, c, ir, ic = r + sr, c + sc, ir + 1, ic + 1
        elif col_cross < row_cross:
            c, ic = c + sc, ic + 1
        else:
            r, ir = r + sr, ir + 1
        cells.append((r, c))
    return cells


def line_of_sight(walls: np.ndarray, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True when no wall lies on the supercover of ``a -> b``, other than at ``b`` itself."""
    return not any(walls[cell] for cell in supercover(a, b) if cell != tuple(b))


def in_cone(origin: Sequence[float], facing_deg: float, fov_deg: float, target: Sequence[float]) -> bool:
    """Is ``target``'s centre within ``fov_deg / 2`` of the facing direction seen from ``origin``?"""
    if fov_deg >= 360.0:
        return True
    dy, dx = -(target[0] - origin[0]), target[1] - origin[1]  # screen y up
    norm = math.hypot(dx, dy)
    if norm == 0.0:
        return True
    f = math.radians(facing_deg)
    cos_angle = (dx * math.cos(f) + dy * math.sin(f)) / norm
    return cos_angle >= math.cos(math.radians(fov_deg / 2.0)) - 1e-9


def visible_cells(
    walls: np.ndarray, cell: Sequence[int], facing_deg: float, view_range: float, fov_deg: float
) -> np.ndarray:
    """Boolean (H, W) mask of the floor cells a guard on ``cell`` facing ``facing_deg`` sees.

    Compiled (:func:`_visible_cells`, the same rule in numba); :func:`visible_cells_reference` is this
    rule written with :func:`in_cone` and :func:`line_of_sight`, and the tests hold the two equal."""
    walls = np.ascontiguousarray(walls, dtype=np.bool_)
    return _visible_cells(walls, int(cell[0]), int(cell[1]), float(facing_deg), float(view_range), float(fov_deg))


@numba.njit(cache=True, nogil=True)
def _visible_cells(walls, r0, c0, facing_deg, view_range, fov_deg):
    h, w = walls.shape
    seen = np.zeros((h, w), dtype=np.bool_)
    seen[r0, c0] = not walls[r0, c0]
    reach = int(math.floor(view_range))
    f = math.radians(facing_deg)
    cos_f, sin_f = math.cos(f), math.sin(f)
    cos_half = math.cos(math.radians(fov_deg / 2.0)) - 1e-9
    for r in range(max(0, r0 - reach), min(h, r0 + reach + 1)):
        for c in range(max(0, c0 - reach), min(w, c0 + reach + 1)):
            if walls[r, c] or (r == r0 and c == c0):
                continue
            if (r - r0) ** 2 + (c - c0) ** 2 > view_range**2 + 1e-9:
                continue
            if fov_deg < 360.0:  # the cone of in_cone
                dy, dx = -(r - r0), c - c0
                if (dx * cos_f + dy * sin_f) / math.hypot(dx, dy) < cos_half:
                    continue
            # the supercover of (r0, c0) -> (r, c), walls blocking everywhere but at the target
            dr, dc = abs(r - r0), abs(c - c0)
            sr = 1 if r > r0 else -1
            sc = 1 if c > c0 else -1
            y, x, ir, ic = r0, c0, 0, 0
            clear = not walls[y, x]
            while clear and (ir < dr or ic < dc):
                col_cross, row_cross = (1 + 2 * ic) * dr, (1 + 2 * ir) * dc
                if col_cross == row_cross:  # exactly through a corner: both side cells
                    if walls[y, x + sc] or walls[y + sr, x]:
                        clear = False
                    y, x, ir, ic = y + sr, x + sc, ir + 1, ic + 1
                elif col_cross < row_cross:
                    x, ic = x + sc, ic + 1
                else:
                    y, ir = y + sr, ir + 1
                if clear and not (y == r and x == c) and walls[y, x]:
                    clear = False
            seen[r, c] = clear
    return seen


def visible_cells_reference(
    walls: np.ndarray, cell: Sequence[int], facing_deg: float, view_range: float, fov_deg: float
) -> np.ndarray:
    """:func:`visible_cells` in plain Python, from :func:`in_cone` and :func:`line_of_sight` (the
    rule's reference, for the tests)."""
    h, w = walls.shape
    seen = np.zeros((h, w), dtype=bool)
    r0, c0 = int(cell[0]), int(cell[1])
    seen[r0, c0] = not walls[r0, c0]
    reach = int(math.floor(view_range))
    for r in range(max(0, r0 - reach), min(h, r0 + reach + 1)):
        for c in range(max(0, c0 - reach), min(w, c0 + reach + 1)):
            if walls[r, c] or (r, c) == (r0, c0):
                continue
            if (r - r0) ** 2 + (c - c0) ** 2 > view_range**2 + 1e-9:
                continue
            if in_cone((r0, c0), facing_deg, fov_deg, (r, c)) and line_of_sight(walls, (r0, c0), (r, c)):
                seen[r, c] = True
    return seen


# --------------------------------------------------------------------------------------------
# The compiled world: every per-phase table a step needs


@dataclass(frozen=True, eq=False)
class World:
    """Look-up tables of a level. ``P`` = period, ``N = H * W`` flat cells.

    move[cell, direction]     flat cell after moving (walls and the map edge block: stay)
    watched[phase, cell]      cell is seen by some guard at that phase
    swap[phase, cell, dir]    moving from ``cell`` in ``dir`` at ``phase`` swaps places with a guard
    guard_cells[phase, g]     flat cell of guard g;  guard_facing[phase, g]: its facing (degrees)
    """

    height: int
    width: int
    period: int
    walls: np.ndarray  # (N,) bool
    move: np.ndarray  # (N, 5) int64
    watched: np.ndarray  # (P, N) bool
    swap: np.ndarray  # (P, N, 5) bool
    guard_cells: np.ndarray  # (P, G) int64
    guard_facing: np.ndarray  # (P, G) float64
    start: int
    goal: int

    @property
    def n_cells(self) -> int:
        return self.height * self.width

    def flat(self, cell: Sequence[int]) -> int:
        return int(cell[0]) * self.width + int(cell[1])

    def rc(self, flat: int) -> tuple[int, int]:
        return divmod(int(flat), self.width)


def move_table(walls: np.ndarray) -> np.ndarray:
    """(N, 5) flat destination of each action from each cell; blocked moves stay put."""
    h, w = walls.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    table = np.empty((h * w, len(DELTAS)), dtype=np.int64)
    for d, (dr, dc) in enumerate(DELTAS):
        r2, c2 = rows + dr, cols + dc
        inside = (r2 >= 0) & (r2 < h) & (c2 >= 0) & (c2 < w)
        dest = np.where(inside, r2 * w + c2, rows * w + cols)
        blocked = walls.reshape(-1)[np.clip(dest, 0, h * w - 1)]
        table[:, d] = np.where(blocked, rows * w + cols, dest)
    return table


def compile_world(level: LevelSpec) -> World:
    """Precompute the tables of ``level`` (guard tracks, watched set and guard moves per phase).

    The level is first checked against its limits (``level.check_limits()``: for a
    :class:`~envs.stealth.level.Level`, :func:`envs.stealth.level.check_level_limits`, a
    :class:`~envs.stealth.level.LevelError` naming the limit), so no table larger than they allow is
    ever allocated."""
    level.check_limits()
    walls = np.asarray(level.walls, dtype=bool)
    h, w = walls.shape
    n = h * w
    period = world_period(level.guards)
    tracks = [guard_track(g) for g in level.guards]
    n_guards = len(tracks)
    guard_cells = np.zeros((period, n_guards), dtype=np.int64)
    guard_facing = np.zeros((period, n_guards), dtype=np.float64)
    watched = np.zeros((period, n), dtype=bool)
    cache: dict[tuple, np.ndarray] = {}
    for g, (guard, track) in enumerate(zip(level.guards, tracks, strict=False)):
        for p in range(period):
            cell, facing = track[p % len(track)]
            guard_cells[p, g] = cell[0] * w + cell[1]
            guard_facing[p, g] = facing
            key = (cell, facing, float(guard.view_range), float(guard.fov_deg))
            if key not in cache:
                cache[key] = visible_cells(walls, cell, facing, guard.view_range, guard.fov_deg).reshape(-1)
            watched[p] |= cache[key]
    move = move_table(walls)
    swap = np.zeros((period, n, len(DELTAS)), dtype=bool)
    for p in range(period):
        q = (p + 1) % period
        for g in range(n_guards):
            a, b = guard_cells[p, g], guard_cells[q, g]
            if a != b:  # guard walks a -> b; a player walking b -> a passes through it
                swap[p, b] |= move[b] == a
    return World(
        height=h,
        width=w,
        period=period,
        walls=walls.reshape(-1).copy(),
        move=move,
        watched=watched,
        swap=swap,
        guard_cells=guard_cells,
        guard_facing=guard_facing,
        start=level.start[0] * w + level.start[1],
        goal=level.goal[0] * w + level.goal[1],
    )


# --------------------------------------------------------------------------------------------
# The step rule, shared by the env, the exact MDP and the planner


def transition(world: World, cell: IndexLike, phase: IndexLike, direction: IndexLike) -> tuple[Any, Any, Any]:
    """One step from flat ``cell`` at ``phase`` when the player moves in ``direction``.

    Returns ``(new_cell, caught, at_goal)``; the next phase is ``(phase + 1) % world.period``.
    Works on scalars and, element-wise, on numpy arrays of cells, phases and directions.
    """
    new_cell = world.move[cell, direction]
    next_phase = (phase + 1) % world.period
    caught = world.watched[next_phase, new_cell] | world.swap[phase, cell, direction]
    at_goal = (new_cell == world.goal) & ~caught
    return new_cell, caught, at_goal


def safe_path(world: World, start_cell: int, start_phase: int = 0) -> list[int] | None:
    """Shortest never-seen path from ``(start_cell, start_phase)`` to the goal, as flat cells.

    Breadth-first search over the time-expanded graph of ``(cell, phase)`` states, one layer per
    step; a state is expanded at most once. Among equally short paths the one found first in action
    order (stay, N, S, E, W) wins. Returns the cells occupied at steps 0, 1, ..., ending on the goal,
    or ``None`` when every path is seen.

    Compiled (:func:`_safe_path`, the step of :func:`transition` read from the same tables);
    ``tests/stealth_oracle.py`` keeps the search written with :func:`transition` over numpy arrays, and
    the tests hold the two equal."""
    path = _safe_path(world.move, world.watched, world.swap, int(world.goal), int(start_cell),
                      int(start_phase) % world.period)
    return path.tolist() if path.size else None


@numba.njit(cache=True, nogil=True)
def _safe_path(move, watched, swap, goal, start, phase):
    """:func:`safe_path` over the world's tables; an empty array when every path is seen."""
    period, n = watched.shape
    if start == goal:
        return np.full(1, start, dtype=np.int64)
    visited = np.zeros((period, n), dtype=np.bool_)
    visited[phase, start] = True
    # every layer's new cells (sorted within the layer) and their parents: layer t is [bounds[t], bounds[t + 1])
    cells = np.empty(period * n, dtype=np.int64)
    parents = np.empty(period * n, dtype=np.int64)
    bounds = np.zeros(period * n + 1, dtype=np.int64)
    parent_of = np.full(n, -1, dtype=np.int64)  # the parent of a cell found in this layer (-1: not found)
    found = np.empty(n, dtype=np.int64)
    frontier = np.full(1, start, dtype=np.int64)
    layer = 0
    while frontier.size:
        nxt = (phase + 1) % period
        n_found = 0
        for d in range(move.shape[1]):  # in action order, then frontier order: the first parent found wins
            for c in frontier:
                new = move[c, d]
                if watched[nxt, new] or swap[phase, c, d] or visited[nxt, new] or parent_of[new] >= 0:
                    continue
                parent_of[new] = c
                found[n_found] = new
                n_found += 1
        frontier = np.sort(found[:n_found])
        at = bounds[layer]
        for k in range(n_found):
            cell = frontier[k]
            cells[at + k], parents[at + k] = cell, parent_of[cell]
            parent_of[cell] = -1
            visited[nxt, cell] = True
        bounds[layer + 1] = at + n_found
        if n_found and visited[nxt, goal]:
            path = np.empty(layer + 2, dtype=np.int64)
            path[layer + 1] = goal
            for t in range(layer, -1, -1):  # back through the layers: each cell's parent
                lo, hi = bounds[t], bounds[t + 1]
                path[t] = parents[lo + np.searchsorted(cells[lo:hi], path[t + 1])]
            return path
        phase = nxt
        layer += 1
    return np.empty(0, dtype=np.int64)
