"""Drive tables: what a character wants, as a validated TOML table, and the rewards its body gives.

A drive is an internal level ``h`` (a "chemical", as in *Creatures*) with a set point, a half-life, bounds
and a weight; the game's events add doses to it. Per step every drive decays towards its set point with its
half-life, takes the doses of the step's events, and is clipped to its bounds:

    h' = clip(s + (h - s) * 0.5 ** (1 / half_life) + sum_e x_e * dose[e], low, high)

The reward comes from the body (:class:`DriveTable` ``mode``):

* ``"homeostatic"`` (Keramati & Gutkin): ``D(h) - D(h')`` with ``D(h) = (sum_i w_i |s_i - h_i| ** n) ** (1 / m)``;
* ``"creatures"``: per drive, ``w_i * (max(h_i, 0) - max(h'_i, 0))``: a decrease is rewarded, an increase
  punished, and lowering a drive already at (or below) zero gives nothing;
* ``"mix"``: ``lam * task + (1 - lam) * drive``, the drive reward being ``mix``'s (homeostatic or creatures).

File format (TOML; see ``envs/drives/tables/*/default.toml``):

- top level: ``name`` (a text), ``game`` (``"stealth"`` or ``"duel"``), ``mode``, ``m``, ``n`` (both > 0),
  ``lam`` (in [0, 1]) and ``mix`` (``"homeostatic"`` or ``"creatures"``); all but ``game`` optional;
- ``[drives.NAME]``, at most :data:`MAX_DRIVES` of them: ``set_point``, ``start`` (the level at an
  episode's start; the set point when left out), ``half_life`` (steps, > 0; ``inf`` never decays), ``low``
  and ``high`` (``low < high``; set point and start within them), ``weight`` (>= 0) and a table ``doses``
  of ``event = amount`` over the game's events (:data:`EVENTS`).

A bad table raises :class:`DriveError` in one line naming the file, the line and what is valid. The file is
read as text of at most :data:`MAX_FILE_BYTES`; nothing in it is executed. This module knows no game: the
games compute their events (columns in the order of :data:`EVENTS`), and the update is
:class:`envs.drives.state.DriveState`, vectorised over N envs.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from envs.fileio import FileFormatError, parse_toml_text, read_text_limited, toml_line

MAX_FILE_BYTES = 16 * 1024
MAX_DRIVES = 8
MAX_DOSE = 1e6  # |dose|, |level| and |bound| at most this
GAMES = ("stealth", "duel")
MODES = ("homeostatic", "creatures", "mix")
MIX_OF = ("homeostatic", "creatures")
#: The events each game reports per step, in the column order of its event matrix (x_e: 1 or 0, except the
#: duel's damages, fractions of max health).
EVENTS: dict[str, tuple[str, ...]] = {
    # time: every step; moved/still: the cell changed or not; new_cell: first visit this episode;
    # near_cone: the cell or a 4-neighbour is watched now; seen: caught; goal: the goal reached
    "stealth": ("time", "moved", "still", "new_cell", "near_cone", "seen", "goal"),
    # damage_taken/damage_dealt: health lost by the agent/the opponent this step over max health;
    # hit_taken/hit_landed: that damage > 0; blocking: the agent ends the step in blockstun;
    # move_repeated/new_move: the agent's action equals the previous step's or not (the first is new)
    "duel": ("time", "damage_taken", "damage_dealt", "hit_taken", "hit_landed", "blocking", "move_repeated",
             "new_move"),
}
TOP_KEYS = ("name", "game", "mode", "m", "n", "lam", "mix", "drives")
DRIVE_KEYS = ("set_point", "start", "half_life", "low", "high", "weight", "doses")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
SHIPPED = Path(__file__).with_name("tables")


class DriveError(FileFormatError):
    """A drive table that cannot be used: ``file:line: reason`` (the line when it is known)."""

    WHAT = "drive table"


@dataclass(frozen=True)
class Drive:
    """One drive: its levels, half-life (steps), bounds, weight and the doses of the game's events."""

    name: str
    set_point: float
    start: float
    half_life: float
    low: float
    high: float
    weight: float
    doses: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class DriveTable:
    """A character's drives and its reward mode (see the module docstring). Build one with
    :func:`load_drives` or :func:`parse_drives`."""

    name: str
    game: str
    drives: tuple[Drive, ...]
    mode: str = "homeostatic"
    m: float = 1.0
    n: float = 1.0
    lam: float = 0.5
    mix: str = "homeostatic"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.drives)

    def arrays(self) -> dict[str, np.ndarray]:
        """The table as float64 arrays over drives (D,): ``set_point``, ``start``, ``decay`` (the factor
        per step, ``0.5 ** (1 / half_life)``), ``low``, ``high``, ``weight``, and ``dose`` (E, D) over the
        game's events."""
        events = EVENTS[self.game]
        dose = np.zeros((len(events), len(self.drives)))
        for j, d in enumerate(self.drives):
            for event, amount in d.doses:
                dose[events.index(event), j] = amount
        col = {key: np.array([getattr(d, key) for d in self.drives], dtype=np.float64)
               for key in ("set_point", "start", "low", "high", "weight")}
        col["decay"] = np.array([0.5 ** (1.0 / d.half_life) for d in self.drives], dtype=np.float64)
        col["dose"] = dose
        return col


def drive_value(h: np.ndarray, set_point: np.ndarray, weight: np.ndarray, m: float, n: float) -> np.ndarray:
    """Keramati & Gutkin's drive ``D(h) = (sum_i w_i |s_i - h_i| ** n) ** (1 / m)`` over the last axis."""
    return (np.abs(set_point - h) ** n @ weight) ** (1.0 / m)


def creatures_reward(h: np.ndarray, h_next: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``sum_i w_i (max(h_i, 0) - max(h'_i, 0))`` over the last axis: a drive's fall is rewarded, its rise
    punished, and nothing is given for lowering a drive that is already at or below zero."""
    return (np.maximum(h, 0.0) - np.maximum(h_next, 0.0)) @ weight


# ---- reading and checking ----------------------------------------------------------------------------
def parse_drives(text: str, *, source: str | None = None, game: str | None = None) -> DriveTable:
    """The drive table of a TOML text (see the module docstring); ``game``, when given, must be the table's."""
    src = source or "<string>"
    data = parse_toml_text(text, src, DriveError, MAX_FILE_BYTES)

    def fail(reason: str, table: str | None = None, key: str | None = None) -> DriveError:
        return DriveError(reason, src, toml_line(text, table, key))

    for key in data:
        if key not in TOP_KEYS:
            raise fail(f"unknown key {key!r}; valid: {', '.join(TOP_KEYS)}", None, key)
    name = data.get("name", Path(src).stem)
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        raise fail(f"name must be a text of 1 to 64 characters; got {name!r}", None, "name")
    table_game = data.get("game")
    if table_game not in GAMES:
        raise fail(f"game must be one of {', '.join(GAMES)}; got {table_game!r}", None, "game")
    if game is not None and table_game != game:
        raise fail(f"this table is for the {table_game} game; the {game} env needs game = {game!r}", None, "game")
    mode = data.get("mode", "homeostatic")
    if mode not in MODES:
        raise fail(f"mode must be one of {', '.join(MODES)}; got {mode!r}", None, "mode")
    mix = data.get("mix", "homeostatic")
    if mix not in MIX_OF:
        raise fail(f"mix must be one of {', '.join(MIX_OF)}; got {mix!r}", None, "mix")
    m = _number(data.get("m", 1.0), lambda r: fail(f"m {r}", None, "m"), lo=0.0, open_lo=True)
    n = _number(data.get("n", 1.0), lambda r: fail(f"n {r}", None, "n"), lo=0.0, open_lo=True)
    lam = _number(data.get("lam", 0.5), lambda r: fail(f"lam {r}", None, "lam"), lo=0.0, hi=1.0)
    drives_data = data.get("drives", {})
    if not isinstance(drives_data, dict) or not drives_data:
        raise fail("a table needs at least one drive: [drives.NAME]", None, "drives")
    if len(drives_data) > MAX_DRIVES:
        raise fail(f"{len(drives_data)} drives; the limit is {MAX_DRIVES}", None, None)
    drives = tuple(_parse_drive(dname, d, table_game, fail) for dname, d in drives_data.items())
    return DriveTable(name, table_game, drives, mode, m, n, lam, mix)


def _parse_drive(dname: str, d: Any, game: str, fail: Any) -> Drive:
    """One ``[drives.NAME]`` table, checked (``fail(reason, table, key)`` makes the error)."""
    where = f"drives.{dname}"
    if not _NAME.match(dname):
        raise fail(f"drive name {dname!r} must be a letter or _ then letters, digits or _ (at most 32)", where)
    if not isinstance(d, dict):
        raise fail(f"{where} must be a table", "drives", dname)
    for key in d:
        if key not in DRIVE_KEYS:
            raise fail(f"unknown key {key!r} in [{where}]; valid: {', '.join(DRIVE_KEYS)}", where, key)

    def num(key: str, default: Any, **limits: Any) -> float:
        return _number(d.get(key, default), lambda r: fail(f"{where}.{key} {r}", where, key), **limits)

    low, high = num("low", 0.0), num("high", 1.0)
    if not low < high:
        raise fail(f"{where}: low ({low}) must be below high ({high})", where, "low" if "low" in d else "high")
    set_point = num("set_point", low, lo=low, hi=high)
    start = num("start", set_point, lo=low, hi=high)
    half_life = num("half_life", math.inf, lo=0.0, open_lo=True, allow_inf=True)
    weight = num("weight", 1.0, lo=0.0)
    doses_data = d.get("doses", {})
    if not isinstance(doses_data, dict):
        raise fail(f"{where}.doses must be a table of event = amount", where, "doses")
    events = EVENTS[game]
    doses = []
    for event, amount in doses_data.items():
        if event not in events:
            raise fail(f"unknown event {event!r} in [{where}.doses]; the {game} game's events: "
                       f"{', '.join(events)}", f"{where}.doses", event)
        doses.append((event, _number(amount, lambda r, e=event: fail(f"{where}.doses.{e} {r}",
                                                                    f"{where}.doses", e))))
    return Drive(dname, set_point, start, half_life, low, high, weight, tuple(doses))


def _number(value: Any, fail: Any, lo: float = -MAX_DOSE, hi: float = MAX_DOSE, open_lo: bool = False,
            allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"must be a number; got {value!r}")
    x = float(value)
    if math.isnan(x):
        raise fail("must be a number; got nan")
    if allow_inf and x == math.inf:
        return x
    if x < lo or (open_lo and x == lo) or x > hi:
        raise fail(f"must be in {'(' if open_lo else '['}{lo}, {hi}]; got {x}")
    return x


def load_drives(spec: str | os.PathLike | DriveTable, game: str) -> DriveTable:
    """The drive table of ``spec`` for ``game``: the name of a table shipped for that game (every game ships
    ``"default"``), a path to a TOML file, or a :class:`DriveTable` (passed through, its game checked)."""
    if game not in GAMES:
        raise ValueError(f"game must be one of {', '.join(GAMES)}; got {game!r}")
    if isinstance(spec, DriveTable):
        if spec.game != game:
            raise DriveError(f"this table is for the {spec.game} game, not the {game} game", f"drives {spec.name!r}")
        return spec
    if isinstance(spec, str) and spec in shipped_drives(game):
        return _shipped(game, spec)
    if not isinstance(spec, str | os.PathLike):
        raise DriveError(f"drives= is a shipped name ({', '.join(shipped_drives(game))}), a TOML file or a "
                         f"DriveTable; got {type(spec).__name__}")
    path = Path(spec)
    if not path.is_file():
        raise DriveError(f"no such drive table file or shipped {game} table; shipped: "
                         f"{', '.join(shipped_drives(game))}", str(spec))
    text = read_text_limited(path, MAX_FILE_BYTES, DriveError, "drive table")
    return parse_drives(text, source=str(path), game=game)


def shipped_drives(game: str) -> list[str]:
    """The names of the drive tables shipped for ``game`` (``envs/drives/tables/GAME/*.toml``)."""
    return sorted(p.stem for p in (SHIPPED / game).glob("*.toml"))


@cache
def _shipped(game: str, name: str) -> DriveTable:
    path = SHIPPED / game / f"{name}.toml"
    text = read_text_limited(path, MAX_FILE_BYTES, DriveError, "drive table")
    return parse_drives(text, source=str(path), game=game)
