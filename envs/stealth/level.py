"""Stealth levels: the :class:`Level` value, TOML level files, the bundled maps and the generator.

Level file format (TOML, read with :mod:`tomllib`)::

    name = "example"             # optional; defaults to the file name
    difficulty = 0.1             # optional, in [0, 1]; orders the bundled levels
    max_steps = 100              # optional episode step limit
    # '#' wall, '.' floor, 'S' start (left edge), 'G' goal (right edge): exactly one of each
    grid = '''
    ############
    #..........#
    S...#......G
    #...#......#
    ############
    '''

    [[guard]]                    # one table per guard
    kind = "patrol"              # walks its route one cell per step, facing where it goes next
    route = [[1, 6], [3, 6], [3, 8]]  # waypoints [row, col], 0-based, joined by straight segments
    mode = "pingpong"            # "pingpong" (there and back) or "loop" (last waypoint back to the first)
    view_range = 2               # cells, centre to centre
    fov_deg = 90                 # cone angle in degrees (360 = all around)

    [[guard]]
    kind = "sentry"              # stands still and turns
    at = [1, 10]                 # [row, col]
    facings = ["W", "S"]         # compass names (N, NE, E, SE, S, SW, W, NW) or degrees CCW from east
    turn_every = 3               # steps it holds each facing
    view_range = 3
    fov_deg = 60

Bad files raise :class:`LevelError`, whose message names the file, the line where it can and the
reason.

Limits
------
A level is data from a file, so what it may cost is bounded, and checked before anything is
allocated (:func:`check_level_limits`; a :class:`LevelError` names the file and the limit):

* the file: at most ``MAX_FILE_BYTES`` (1 MiB), UTF-8 text;
* the grid: at most ``MAX_SIDE`` (256) rows and columns;
* guards: at most ``MAX_GUARDS`` (128); ``view_range`` a finite number in [0, ``MAX_VIEW_RANGE``
  (512)]; facings finite;
* the world period (the lcm of the guards' periods, each ``len(facings) * turn_every`` for a sentry,
  its route's steps for a patrol): at most ``MAX_PERIOD`` (10,000), for each guard and for the world;
* the per-phase tables: period x cells at most ``MAX_TABLE`` (1,048,576 entries; the env's
  observation tables take about 30 bytes per entry, so at most ~32 MB);
* vision work: the sum over guards of (distinct guard states) x (cells in the square of side
  ``2 * view_range + 1`` clipped to the grid) x (``view_range`` clipped to the grid's larger side) at
  most ``MAX_VISION_WORK`` (4,000,000): each such cell costs a line-of-sight walk of up to that many
  cells when the tables are compiled (the largest bundled level, fortress, needs 337,173).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import tomllib
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from envs.fileio import FileFormatError, parse_toml_text, read_text_limited
from envs.stealth import rules
from envs.stealth.rules import Guard  # the guard value lives with its motion rules; re-exported here

MAPS_PACKAGE = "envs.stealth.maps"
GRID_CHARS = {"#": "wall", ".": "floor", "S": "start", "G": "goal"}
GUARD_KEYS = {
    "patrol": {"kind", "route", "mode", "view_range", "fov_deg"},
    "sentry": {"kind", "at", "facings", "turn_every", "view_range", "fov_deg"},
}
TOP_KEYS = {"name", "difficulty", "max_steps", "grid", "guard", "description"}

# Limits (see the module docstring): what a level may cost, checked before allocating.
MAX_FILE_BYTES = 1 << 20
MAX_SIDE = 256
MAX_GUARDS = 128
MAX_VIEW_RANGE = 512.0
MAX_PERIOD = 10_000
MAX_TABLE = 1 << 20
MAX_VISION_WORK = 4_000_000


class LevelError(FileFormatError):
    """A level that cannot be loaded: ``file:line: reason`` (the line when it is known)."""

    WHAT = "level"


@dataclass(frozen=True, eq=False)
class Level:
    """A stealth level. ``walls`` is a bool (H, W) array; cells are ``(row, col)``."""

    name: str
    walls: np.ndarray
    start: tuple[int, int]
    goal: tuple[int, int]
    guards: tuple[Guard, ...] = ()
    max_steps: int | None = None
    difficulty: float | None = None
    description: str = ""
    source: str | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.walls.shape)

    def check_limits(self) -> None:
        """Raise a :class:`LevelError` naming the limit when this level exceeds one
        (:func:`check_level_limits`); :func:`envs.stealth.rules.compile_world` calls it first."""
        check_level_limits(self)

    @cached_property
    def world(self) -> rules.World:
        """The compiled per-phase tables (see :func:`envs.stealth.rules.compile_world`)."""
        return rules.compile_world(self)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("world", None)  # rebuilt on demand
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def ascii(self) -> str:
        """The grid as text, one row per line."""
        rows = []
        for r in range(self.walls.shape[0]):
            row = ["#" if wall else "." for wall in self.walls[r]]
            if r == self.start[0]:
                row[self.start[1]] = "S"
            if r == self.goal[0]:
                row[self.goal[1]] = "G"
            rows.append("".join(row))
        return "\n".join(rows)

    def to_toml(self) -> str:
        """This level as a level file (``parse_level(level.to_toml())`` gives it back)."""
        lines = [f"name = {json.dumps(self.name)}"]  # a JSON string is a valid TOML basic string
        if self.description:
            lines.append(f"description = {json.dumps(self.description)}")
        if self.difficulty is not None:
            lines.append(f"difficulty = {self.difficulty:g}")
        if self.max_steps is not None:
            lines.append(f"max_steps = {self.max_steps}")
        lines += ["grid = '''", self.ascii(), "'''"]
        for g in self.guards:
            lines += ["", "[[guard]]", f'kind = "{g.kind}"']
            if g.kind == "patrol":
                lines.append("route = [" + ", ".join(f"[{r}, {c}]" for r, c in g.route) + "]")
                lines.append(f'mode = "{g.mode}"')
            else:
                assert g.at is not None  # a sentry stands somewhere
                lines.append(f"at = [{g.at[0]}, {g.at[1]}]")
                lines.append("facings = [" + ", ".join(_facing_name(f) for f in g.facings) + "]")
                lines.append(f"turn_every = {g.turn_every}")
            lines.append(f"view_range = {g.view_range:g}")
            lines.append(f"fov_deg = {g.fov_deg:g}")
        return "\n".join(lines) + "\n"


def _facing_name(deg: float) -> str:
    for name, value in rules.COMPASS.items():
        if math.isclose(value, deg):
            return f'"{name}"'
    return f"{deg:g}"


def save_level(level: Level, path: str | os.PathLike) -> Path:
    """Write ``level`` as a TOML level file, atomically (temporary file, then rename)."""
    from envs.fileio import atomic_write_text

    return atomic_write_text(path, level.to_toml())


# --------------------------------------------------------------------------------------------
# Parsing


class _Lines:
    """Finds the source line of a TOML key, for error messages."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.guard_headers = [
            i + 1 for i, s in enumerate(self.lines) if re.match(r"\s*\[\[\s*guard\s*\]\]", s)
        ]

    def key(self, key: str, start: int = 1, stop: int | None = None) -> int | None:
        stop = stop if stop is not None else len(self.lines) + 1
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        for i in range(start, min(stop, len(self.lines) + 1)):
            if pattern.match(self.lines[i - 1]):
                return i
        return None

    def guard(self, index: int, key: str | None = None) -> int | None:
        if index >= len(self.guard_headers):
            return None
        start = self.guard_headers[index]
        stop = self.guard_headers[index + 1] if index + 1 < len(self.guard_headers) else None
        if key is None:
            return start
        return self.key(key, start, stop) or start


def _cell(value, what: str, err) -> tuple[int, int]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise err(f"{what} must be a [row, col] pair of integers, got {value!r}")
    return int(value[0]), int(value[1])


def parse_level(
    text: str, *, source: str | None = None, name: str | None = None, allow_unsolvable: bool = False
) -> Level:
    """Parse the text of a level file. See the module docstring for the format."""
    src = source or "<string>"
    where = _Lines(text)

    def err(reason: str, line: int | None = None) -> LevelError:
        return LevelError(reason, src, line)

    data = parse_toml_text(text, src, LevelError, MAX_FILE_BYTES, "level text")
    for key in data:
        if key not in TOP_KEYS:
            raise err(f"unknown key {key!r}; valid keys: {', '.join(sorted(TOP_KEYS))}", where.key(key))

    # --- the grid
    if not isinstance(data.get("grid"), str):
        raise err("missing 'grid' string (one character per cell: # . S G)")
    grid_line = where.key("grid") or 1
    raw = data["grid"].split("\n")
    # TOML drops the newline right after an opening ''' : then row 0 sits on the next line
    first_row_line = (
        grid_line + 1
        if re.match(r"\s*grid\s*=\s*('''|\"\"\")\s*$", where.lines[grid_line - 1])
        else grid_line
    )
    rows = [(first_row_line + i, s.rstrip()) for i, s in enumerate(raw) if s.strip()]
    if not rows:
        raise err("the grid is empty", grid_line)
    width = len(rows[0][1])
    if len(rows) > MAX_SIDE or max(len(row) for _, row in rows) > MAX_SIDE:
        raise err(f"the grid is {len(rows)} rows x {width} columns; the limit is {MAX_SIDE} x {MAX_SIDE}",
                  grid_line)
    starts, goals = [], []
    walls = np.zeros((len(rows), width), dtype=bool)
    for r, (line_no, row) in enumerate(rows):
        if len(row) != width:
            raise err(
                f"grid row {r} has {len(row)} cells, but row 0 has {width}; rows must be equal", line_no
            )
        for c, ch in enumerate(row):
            if ch not in GRID_CHARS:
                raise err(
                    f"unknown character {ch!r} at row {r}, col {c}; valid: '#' wall, '.' floor, "
                    "'S' start, 'G' goal",
                    line_no,
                )
            walls[r, c] = ch == "#"
            if ch == "S":
                starts.append((r, c, line_no))
            elif ch == "G":
                goals.append((r, c, line_no))
    for what, found, edge in (("start 'S'", starts, "left"), ("goal 'G'", goals, "right")):
        if not found:
            raise err(f"no {what} in the grid; put exactly one on the {edge} edge", grid_line)
        if len(found) > 1:
            cells = ", ".join(f"(row {r}, col {c})" for r, c, _ in found)
            raise err(f"{len(found)} {what} cells ({cells}); a level has exactly one", found[1][2])
    (sr, sc, s_line), (gr, gc, g_line) = starts[0], goals[0]
    if sc != 0:
        raise err(f"the start 'S' must be on the left edge (col 0), found at col {sc}", s_line)
    if gc != width - 1:
        raise err(f"the goal 'G' must be on the right edge (col {width - 1}), found at col {gc}", g_line)
    height = len(rows)

    # --- guards
    raw_guards = data.get("guard", [])
    if not isinstance(raw_guards, list):
        raise err("'guard' must be an array of tables: write each guard under a [[guard]] header")
    if len(raw_guards) > MAX_GUARDS:
        raise err(f"{len(raw_guards)} guards; the limit is {MAX_GUARDS}", where.guard(MAX_GUARDS))
    guards = [_parse_guard(i, g, walls, where, err) for i, g in enumerate(raw_guards)]

    # --- top-level scalars
    max_steps = data.get("max_steps")
    if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps <= 0):
        raise err(f"max_steps must be a positive integer, got {max_steps!r}", where.key("max_steps"))
    difficulty = data.get("difficulty")
    if difficulty is not None and not (
        isinstance(difficulty, int | float) and not isinstance(difficulty, bool) and 0.0 <= difficulty <= 1.0
    ):
        raise err(f"difficulty must be a number in [0, 1], got {difficulty!r}", where.key("difficulty"))
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise err(f"{key} must be a string, got {data[key]!r}", where.key(key))
    level = Level(
        name=str(data.get("name") or name or "level"),
        walls=walls,
        start=(sr, sc),
        goal=(gr, gc),
        guards=tuple(guards),
        max_steps=max_steps,
        difficulty=None if difficulty is None else float(difficulty),
        description=str(data.get("description", "")),
        source=source,
    )
    assert level.shape == (height, width)
    check_level_limits(level, where)
    if not allow_unsolvable and rules.safe_path(level.world, level.world.start, 0) is None:
        raise err(
            "no safe path: every route from 'S' to 'G' is seen by a guard "
            "(pass allow_unsolvable=True to load it anyway)"
        )
    return level


def _parse_guard(i: int, g: dict, walls: np.ndarray, where: _Lines, err) -> Guard:
    height, width = walls.shape
    label = f"guard {i}"

    def gerr(reason: str, key: str | None = None) -> LevelError:
        return err(f"{label}: {reason}", where.guard(i, key))

    if not isinstance(g, dict):
        raise gerr("must be a table")
    kind = g.get("kind")
    if kind not in GUARD_KEYS:
        raise gerr(f"kind must be 'patrol' or 'sentry', got {kind!r}", "kind")
    for key in g:
        if key not in GUARD_KEYS[kind]:
            raise gerr(f"unknown key {key!r} for a {kind}; valid: {', '.join(sorted(GUARD_KEYS[kind]))}", key)
    for key in ("view_range", "fov_deg"):
        value = g.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise gerr(f"{key} must be a number, got {value!r}", key)
    view_range, fov = float(g["view_range"]), float(g["fov_deg"])
    if not 0 <= view_range <= MAX_VIEW_RANGE:  # also refuses NaN and inf
        raise gerr(f"view_range must be a finite number in [0, {MAX_VIEW_RANGE:g}], got {view_range:g}",
                   "view_range")
    if not 0 < fov <= 360:
        raise gerr(f"fov_deg must be in (0, 360], got {fov:g}", "fov_deg")

    def on_map(cell, key):
        r, c = cell
        if not (0 <= r < height and 0 <= c < width):
            raise gerr(f"cell (row {r}, col {c}) is off the {height}x{width} map", key)
        if walls[r, c]:
            raise gerr(f"cell (row {r}, col {c}) is a wall; a guard must stand and walk on floor", key)

    if kind == "sentry":
        at = _cell(g.get("at"), "at", lambda m: gerr(m, "at"))
        on_map(at, "at")
        facings_raw = g.get("facings")
        if not isinstance(facings_raw, list) or not facings_raw:
            raise gerr('facings must be a non-empty list such as ["N", "E"] or [90, 0]', "facings")
        facings = []
        for f in facings_raw:
            if isinstance(f, str) and f.upper() in rules.COMPASS:
                facings.append(rules.COMPASS[f.upper()])
            elif isinstance(f, int | float) and not isinstance(f, bool) and math.isfinite(f):
                facings.append(float(f) % 360.0)
            else:
                raise gerr(f"unknown facing {f!r}; valid: {', '.join(rules.COMPASS)} or finite degrees", "facings")
        turn_every = g.get("turn_every", 1)
        if not isinstance(turn_every, int) or isinstance(turn_every, bool) or turn_every < 1:
            raise gerr(f"turn_every must be a positive integer, got {turn_every!r}", "turn_every")
        period = len(facings) * turn_every
        if period > MAX_PERIOD:
            raise gerr(f"period {period} (len(facings) x turn_every) exceeds the limit of {MAX_PERIOD}",
                       "turn_every")
        return Guard("sentry", view_range, fov, at=at, facings=tuple(facings), turn_every=turn_every)

    route_raw = g.get("route")
    if not isinstance(route_raw, list) or not route_raw:
        raise gerr("route must be a non-empty list of [row, col] waypoints", "route")
    route = tuple(_cell(p, "each route waypoint", lambda m: gerr(m, "route")) for p in route_raw)
    mode = g.get("mode", "pingpong")
    if mode not in ("pingpong", "loop"):
        raise gerr(f"mode must be 'pingpong' or 'loop', got {mode!r}", "mode")
    for p in route:
        on_map(p, "route")
    period = rules.guard_period(Guard("patrol", view_range, fov, route=route, mode=mode))
    if period > MAX_PERIOD:
        raise gerr(f"period {period} (the steps of its route) exceeds the limit of {MAX_PERIOD}", "route")
    legs = list(zip(route, route[1:], strict=False)) + (
        [(route[-1], route[0])] if mode == "loop" and len(route) > 1 else []
    )
    for a, b in legs:
        if a == b or (a[0] != b[0] and a[1] != b[1]):
            raise gerr(
                f"route step from {list(a)} to {list(b)} is not a straight horizontal or vertical segment; "
                "a patrol moves one cell per step to an adjacent cell (N, S, E or W)",
                "route",
            )
        for cell in rules.patrol_cells([a, b], "pingpong"):
            if walls[cell]:
                raise gerr(
                    f"route from {list(a)} to {list(b)} goes through the wall at {list(cell)}", "route"
                )
    return Guard("patrol", view_range, fov, route=route, mode=mode)


def check_level_limits(level: Level, where: _Lines | None = None) -> None:
    """Raise :class:`LevelError` (naming the level's file and the limit) when ``level`` exceeds a limit
    of the module docstring. Computes sizes only: nothing proportional to them is allocated."""
    src = level.source or f"<level {level.name!r}>"

    def fail(reason: str, line: int | None = None):
        raise LevelError(reason, src, line)

    h, w = level.walls.shape
    if h > MAX_SIDE or w > MAX_SIDE:
        fail(f"the grid is {h} x {w}; the limit is {MAX_SIDE} x {MAX_SIDE}")
    if len(level.guards) > MAX_GUARDS:
        fail(f"{len(level.guards)} guards; the limit is {MAX_GUARDS}")
    period, vision = 1, 0
    for i, g in enumerate(level.guards):
        line = where.guard(i) if where else None
        if not (math.isfinite(g.view_range) and 0 <= g.view_range <= MAX_VIEW_RANGE):
            fail(f"guard {i}: view_range {g.view_range!r} is not a finite number in [0, {MAX_VIEW_RANGE:g}]",
                 line)
        if g.kind == "sentry" and not all(math.isfinite(f) for f in g.facings):
            fail(f"guard {i}: facings must be finite, got {list(g.facings)}", line)
        own = rules.guard_period(g)
        if own > MAX_PERIOD:
            fail(f"guard {i}: period {own} exceeds the limit of {MAX_PERIOD}", line)
        period = math.lcm(period, own)
        if period > MAX_PERIOD:
            fail(f"the world period (the lcm of the guards' periods, up to guard {i}) is {period}; the limit "
                 f"is {MAX_PERIOD}: give the guards periods with common factors (the bundled levels use "
                 "divisors of 24)", line)
        states = len(set(g.facings)) if g.kind == "sentry" else own
        side = 2 * int(g.view_range) + 1
        vision += states * min(h, side) * min(w, side) * max(1, min(int(g.view_range), max(h, w)))
    if period * h * w > MAX_TABLE:
        fail(f"period x cells = {period} x {h * w} = {period * h * w} exceeds the limit of {MAX_TABLE} "
             "(the per-phase tables): shorten the guards' periods or shrink the grid")
    if vision > MAX_VISION_WORK:
        fail(f"vision work (guard states x cells within view range x view range) is {vision}; the limit is "
             f"{MAX_VISION_WORK}: shorten view_range or use fewer guard states")


def bundled_levels() -> list[str]:
    """Names of the bundled levels, easiest first."""
    found = []
    for entry in resources.files(MAPS_PACKAGE).iterdir():
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            found.append((float(data.get("difficulty", 0.0)), entry.name[: -len(".toml")]))
    return [name for _, name in sorted(found)]


def load_level(name_or_path: str | os.PathLike, *, allow_unsolvable: bool = False) -> Level:
    """Load a bundled level by name (``"tutorial"``) or a level file by path."""
    text_path = str(name_or_path)
    bundled = resources.files(MAPS_PACKAGE) / f"{text_path}.toml"
    if (
        "/" not in text_path
        and os.sep not in text_path
        and not text_path.endswith(".toml")
        and bundled.is_file()
    ):
        return parse_level(
            bundled.read_text(encoding="utf-8"),
            source=f"{text_path}.toml",
            name=text_path,
            allow_unsolvable=allow_unsolvable,
        )
    path = Path(name_or_path)
    if not path.is_file():
        raise LevelError(
            f"no such level file or bundled level; bundled levels: {', '.join(bundled_levels())}", text_path
        )
    return parse_level(read_level_text(path), source=str(path), name=path.stem, allow_unsolvable=allow_unsolvable)


def read_level_text(path: str | os.PathLike) -> str:
    """The text of a level file: at most ``MAX_FILE_BYTES``, UTF-8; else a :class:`LevelError` naming
    the file (so does an unreadable file)."""
    return read_text_limited(path, MAX_FILE_BYTES, LevelError, "level file")


# --------------------------------------------------------------------------------------------
# Generator

_SEGMENT_LENGTHS = (1, 2, 3, 4, 6, 12)  # pingpong periods 2L and loop perimeters divide 24
_SENTRY_SCHEDULES = (
    (2, 1),
    (2, 3),
    (2, 6),
    (4, 1),
    (4, 3),
    (4, 6),
    (3, 2),
    (3, 4),
    (3, 8),
)  # facings x steps


def _connected(walls: np.ndarray, a, b) -> bool:
    h, w = walls.shape
    seen = np.zeros_like(walls)
    seen[a] = True
    queue = deque([a])
    while queue:
        r, c = queue.popleft()
        if (r, c) == b:
            return True
        for dr, dc in rules.DELTAS[1:]:
            r2, c2 = r + dr, c + dc
            if 0 <= r2 < h and 0 <= c2 < w and not walls[r2, c2] and not seen[r2, c2]:
                seen[r2, c2] = True
                queue.append((r2, c2))
    return False


def _straight_run(walls, cell, d_row, d_col, length) -> bool:
    h, w = walls.shape
    for k in range(1, length + 1):
        r, c = cell[0] + k * d_row, cell[1] + k * d_col
        if not (0 <= r < h and 0 <= c < w) or walls[r, c]:
            return False
    return True


def _random_guard(rng: np.random.Generator, walls, free, d: float) -> Guard | None:
    view_range = float(2 + round(4 * d) + int(rng.integers(0, 2)))
    fov = float(60 + 30 * int(rng.integers(0, 1 + round(3 * d))))
    cell = free[int(rng.integers(len(free)))]
    max_len = 2 + int(round(10 * d))
    lengths = [n for n in _SEGMENT_LENGTHS if n <= max_len]
    kind = rng.random()
    if kind < 0.35:  # sentry
        n_facings, turn_every = _SENTRY_SCHEDULES[int(rng.integers(len(_SENTRY_SCHEDULES)))]
        start = int(rng.integers(8))
        step = 2 if n_facings > 2 else 4  # quarter turns, or a half-turn pair
        names = list(rules.COMPASS)
        facings = tuple(rules.COMPASS[names[(start + step * k) % 8]] for k in range(n_facings))
        return Guard("sentry", view_range, fov, at=cell, facings=facings, turn_every=turn_every)
    if kind < 0.75:  # pingpong along a straight line
        n = lengths[int(rng.integers(len(lengths)))]
        d_row, d_col = rules.DELTAS[1 + int(rng.integers(4))]
        if not _straight_run(walls, cell, d_row, d_col, n):
            return None
        end = (cell[0] + n * d_row, cell[1] + n * d_col)
        return Guard("patrol", view_range, fov, route=(cell, end), mode="pingpong")
    # loop around a rectangle with a + b in _SEGMENT_LENGTHS
    total = [n for n in lengths if n >= 2]
    n = total[int(rng.integers(len(total)))]
    a = int(rng.integers(1, n))
    b = n - a
    corners = [cell, (cell[0], cell[1] + a), (cell[0] + b, cell[1] + a), (cell[0] + b, cell[1])]
    if not (
        _straight_run(walls, corners[0], 0, 1, a)
        and _straight_run(walls, corners[1], 1, 0, b)
        and _straight_run(walls, corners[2], 0, -1, a)
        and _straight_run(walls, corners[3], -1, 0, b)
    ):
        return None
    return Guard("patrol", view_range, fov, route=tuple(corners), mode="loop")


def generate_level(difficulty: float, seed: int, size: int | tuple[int, int] | None = None) -> Level:
    """A random solvable level; the same ``(difficulty, seed, size)`` always gives the same level.

    ``difficulty`` in [0, 1] sets the map size (when ``size`` is None: 8x8 up to 24x24), wall
    density, guard count, view range, field of view and patrol length. Every guard period divides 24,
    so the world's period does too. The level is checked with the safe-path planner; when the drawn
    guards leave no safe path, the generator redraws them, and after a few tries drops guards one at a
    time until a safe path exists.
    """
    if not 0.0 <= float(difficulty) <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty!r}")
    d = float(difficulty)
    rng = np.random.default_rng(seed)
    if size is None:
        height = width = 8 + int(round(16 * d))
    elif isinstance(size, int):
        height = width = size
    else:
        height, width = (int(s) for s in size)
    if not (3 <= height <= MAX_SIDE and 3 <= width <= MAX_SIDE):
        raise ValueError(f"size must be from 3x3 to {MAX_SIDE}x{MAX_SIDE}, got {height}x{width}")
    density = 0.08 + 0.17 * d
    for attempt in range(100):  # walls: random blocks, redrawn until start and goal are connected
        walls = rng.random((height, width)) < density
        start, goal = (int(rng.integers(height)), 0), (int(rng.integers(height)), width - 1)
        walls[start] = walls[goal] = False
        if _connected(walls, start, goal):
            break
        if attempt == 99:  # long thin maps: carve an L-shaped corridor from start to goal
            walls[start[0], :] = False
            lo, hi = sorted((start[0], goal[0]))
            walls[lo : hi + 1, width - 1] = False
    free = [
        (r, c)
        for r in range(height)
        for c in range(width)
        if not walls[r, c] and abs(r - start[0]) + abs(c - start[1]) > 3 and (r, c) != goal
    ]
    n_guards = int(round(1 + d * (height * width) / 48))
    base: dict[str, Any] = dict(name=f"random-d{d:.2f}-s{seed}", walls=walls, start=start, goal=goal, difficulty=d)
    base["max_steps"] = 8 * (height + width)
    for attempt in range(40):
        keep = n_guards if attempt < 10 else max(0, n_guards - (attempt - 9))
        guards: list[Guard] = []
        for _ in range(20 * max(keep, 1)):
            if len(guards) >= keep or not free:
                break
            guard = _random_guard(rng, walls, free, d)
            if guard is not None:
                guards.append(guard)
        level = Level(guards=tuple(guards), **base)
        if rules.safe_path(level.world, level.world.start, 0) is not None:
            return level
    return Level(guards=(), **base)  # pragma: no cover  (connected and unguarded: always solvable)


# --------------------------------------------------------------------------------------------
# Pools of generated levels: what ``level="random"`` and ``level="heldout"`` draw from

POOL_SIZE = 4096  # generated levels in each pool, per (difficulty, size)
POOL_SEED_BASE = {"random": 0, "heldout": 1 << 30}
"""Generator seed of pool entry ``j``: ``POOL_SEED_BASE[pool] + j``, ``0 <= j < POOL_SIZE``. The training
pool (``"random"``) uses seeds ``0..4095`` and the held-out pool (``"heldout"``) seeds ``2**30 + 0..4095``,
so no held-out level is ever trained on (a level is fixed by ``(difficulty, seed, size)``)."""
POOLS = tuple(POOL_SEED_BASE)


def pool_level(pool: str, difficulty: float, index: int, size: int = 12) -> Level:
    """Entry ``index`` of the generated-level ``pool`` (``"random"`` or ``"heldout"``) for ``difficulty``
    and ``size``: ``generate_level(difficulty, POOL_SEED_BASE[pool] + index, size)``, generated on first
    use and then cached for the process (the single env and the batched env draw from the same pool)."""
    if pool not in POOL_SEED_BASE:
        raise ValueError(f"unknown level pool {pool!r}; valid: {', '.join(POOLS)}")
    if not 0 <= int(index) < POOL_SIZE:
        raise ValueError(f"pool index must be in [0, {POOL_SIZE}), got {index!r}")
    return _pool_level(pool, float(difficulty), int(index), int(size))


@functools.lru_cache(maxsize=POOL_SIZE)
def _pool_level(pool: str, difficulty: float, index: int, size: int) -> Level:
    level = generate_level(difficulty, POOL_SEED_BASE[pool] + index, size=size)
    level.world  # noqa: B018  (compiled once, with the level)
    return level
