"""Characters: a fighter's frame data and body physics as a validated table, loaded from TOML.

A character is data the rules read (:mod:`envs.duel.kernels` takes it as arrays, one row per
character), so a designer retunes a move by editing a file, and one batch can run several rule sets
side by side (``character=`` of the envs: one for both fighters, a ``(left, right)`` pair, or, in the
batched env, one per round). The shipped fighter is ``envs/duel/characters/default.toml``.

File format (TOML, every number an integer; see the shipped file for every key with a comment):

- ``name``: a short text;
- ``[body]``: ``max_health``, ``half_width``, ``stand_height``, ``crouch_height``, ``walk_forward_speed``,
  ``walk_back_speed``, ``jump_speed``, ``jump_drift``, ``gravity``, ``air_hit_speed``,
  ``projectile_speed``, ``projectile_half_width``, ``tech_window``, ``tech_pushback``;
- ``[moves.NAME]`` for NAME in jab, heavy, low, overhead, anti_air, air_kick, throw, projectile:
  ``startup``, ``active``, ``recovery``, ``damage``, ``chip``, ``hitstun``, ``blockstun``, ``knockback``,
  ``reach``, ``box_low``, ``box_high`` and ``level`` (``"high"``, ``"mid"`` or ``"low"``; not for the throw).

A key left out keeps the shipped fighter's value, so a file may hold only what it changes. Every
value is checked against :data:`BODY_LIMITS` and :data:`MOVE_LIMITS` (and ``chip <= damage``,
``box_low < box_high``, ``crouch_height <= stand_height``, a move at most :data:`MAX_MOVE_TICKS` long);
a bad file raises :class:`CharacterError` naming the file, the line and what is valid. The file is
read as text of at most :data:`MAX_FILE_BYTES`; nothing in it is executed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from envs.duel import layout as L
from envs.duel.layout import Level, Move
from envs.fileio import FileFormatError, parse_toml_text, read_text_limited, toml_line

MAX_FILE_BYTES = 64 * 1024
MAX_MOVE_TICKS = 300  # a move lasts at most 5 seconds
# [lo, hi] of each body value. Speeds stay within OBS_VX_SCALE (8) so that observations stay in [-1, 1].
BODY_LIMITS: dict[str, tuple[int, int]] = {
    "max_health": (1, 10_000), "half_width": (1, 100), "stand_height": (1, 400), "crouch_height": (1, 400),
    "walk_forward_speed": (0, 8), "walk_back_speed": (0, 8), "jump_speed": (1, 64), "jump_drift": (0, 8),
    "gravity": (1, 16), "air_hit_speed": (0, 8), "projectile_speed": (1, 64), "projectile_half_width": (1, 100),
    "tech_window": (0, 120), "tech_pushback": (0, 400),
}
MOVE_LIMITS: dict[str, tuple[int, int]] = {
    "startup": (1, 120), "active": (1, 60), "recovery": (0, 240), "damage": (0, 10_000), "chip": (0, 10_000),
    "hitstun": (0, 240), "blockstun": (0, 240), "knockback": (0, 800), "reach": (0, 800), "box_low": (-400, 800),
    "box_high": (-400, 800),
}
LEVELS = {"high": Level.HIGH, "mid": Level.MID, "low": Level.LOW}
MOVE_KEYS = {m.name.lower(): m for m in Move if m != Move.NONE}
SHIPPED = Path(__file__).with_name("characters")


class CharacterError(FileFormatError):
    """A character that cannot be used: ``file:line: reason`` (the line when it is known)."""

    WHAT = "character"


class FrameData(NamedTuple):
    """One row of the frame-data table. Boxes are relative to the attacker: x from the front edge of
    its body outwards (``reach``), y from its feet (``box_low`` .. ``box_high``)."""

    name: str
    startup: int  # ticks before the first active tick (the move hits on tick startup + 1)
    active: int  # ticks the hitbox is out
    recovery: int  # ticks after the last active tick before the fighter can act again
    damage: int
    chip: int  # damage through guard
    hitstun: int  # ticks the defender cannot act after a hit
    blockstun: int  # ticks the defender cannot act after guarding
    knockback: int  # units the defender is pushed (the attacker instead, if the defender is cornered)
    reach: int
    box_low: int
    box_high: int
    level: Level

    @property
    def total(self) -> int:
        return self.startup + self.active + self.recovery


@dataclass(frozen=True)
class Character:
    """A fighter: its body physics (one field each, see :data:`BODY_LIMITS`) and its moves' frame data
    (``moves[m - 1]`` for :class:`Move` ``m``). Build one with :func:`load_character` or
    :func:`parse_character`, or ``dataclasses.replace`` a loaded one and :meth:`validate` it."""

    name: str
    max_health: int
    half_width: int
    stand_height: int
    crouch_height: int
    walk_forward_speed: int
    walk_back_speed: int
    jump_speed: int
    jump_drift: int
    gravity: int
    air_hit_speed: int
    projectile_speed: int
    projectile_half_width: int
    tech_window: int
    tech_pushback: int
    moves: tuple[FrameData, ...]

    @property
    def frame_data(self) -> dict[Move, FrameData]:
        """The moves by :class:`Move` (no entry for ``Move.NONE``)."""
        return {Move(i + 1): fd for i, fd in enumerate(self.moves)}

    def move(self, m: int) -> FrameData:
        return self.moves[int(m) - 1]

    @property
    def max_jump_height(self) -> int:
        """The apex of a jump: ``jump_speed + (jump_speed - gravity) + ...`` while the speed is positive."""
        k = -(-self.jump_speed // self.gravity)  # ticks of rising: the speeds js, js - g, ... that are > 0
        return k * self.jump_speed - self.gravity * k * (k - 1) // 2

    @property
    def max_stun(self) -> int:
        return max(max(fd.hitstun, fd.blockstun) for fd in self.moves)

    def validate(self, source: str | None = None, text: str | None = None) -> Character:
        """Check every limit (see the module docstring); returns ``self`` or raises :class:`CharacterError`."""
        def fail(reason: str, table: str | None, key: str | None) -> CharacterError:
            line = toml_line(text, table, key) if text is not None else None
            return CharacterError(reason, source or f"character {self.name!r}", line)

        if not isinstance(self.name, str) or not 0 < len(self.name) <= 64:
            raise fail(f"name must be a text of 1 to 64 characters; got {self.name!r}", None, "name")
        for key, (lo, hi) in BODY_LIMITS.items():
            _check_int(getattr(self, key), lo, hi, lambda r, k=key: fail(f"body.{k} {r}", "body", k))
        if self.crouch_height > self.stand_height:
            raise fail(f"body.crouch_height ({self.crouch_height}) must be at most stand_height "
                       f"({self.stand_height})", "body", "crouch_height")
        if len(self.moves) != len(MOVE_KEYS):
            raise fail(f"a character has {len(MOVE_KEYS)} moves; got {len(self.moves)}", None, None)
        for m, fd in zip(MOVE_KEYS.values(), self.moves, strict=True):
            table = f"moves.{m.name.lower()}"
            for key, (lo, hi) in MOVE_LIMITS.items():
                _check_int(getattr(fd, key), lo, hi, lambda r, k=key, t=table: fail(f"{t}.{k} {r}", t, k))
            if fd.chip > fd.damage:
                raise fail(f"{table}.chip ({fd.chip}) must be at most its damage ({fd.damage})", table, "chip")
            if fd.box_low >= fd.box_high:
                raise fail(f"{table}.box_low ({fd.box_low}) must be below box_high ({fd.box_high})", table, "box_low")
            if fd.total > MAX_MOVE_TICKS:
                raise fail(f"{table} lasts {fd.total} ticks (startup + active + recovery); the limit is "
                           f"{MAX_MOVE_TICKS}", table, None)
            want = (Level.THROW,) if m == Move.THROW else tuple(LEVELS.values())
            if fd.level not in want:
                raise fail(f"{table}.level must be one of {', '.join(LEVELS)}; got {fd.level!r}", table, "level")
        return self


def _check_int(value: Any, lo: int, hi: int, fail) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise fail(f"must be an integer in [{lo}, {hi}]; got {value!r}")
    if not lo <= value <= hi:
        raise fail(f"must be in [{lo}, {hi}]; got {value}")


def parse_character(text: str, *, source: str | None = None, base: Character | None = None) -> Character:
    """The character of a TOML text (see the module docstring); keys left out keep ``base``'s values
    (the shipped default when None)."""
    src = source or "<string>"
    data = parse_toml_text(text, src, CharacterError, MAX_FILE_BYTES)

    def fail(reason: str, table: str | None = None, key: str | None = None) -> CharacterError:
        return CharacterError(reason, src, toml_line(text, table, key))

    base = base if base is not None else default_character()
    for key in data:
        if key not in ("name", "body", "moves"):
            raise fail(f"unknown key {key!r}; valid: name, [body], [moves.NAME]", None, key)
    fields: dict[str, Any] = {"name": data.get("name", base.name)}
    body = data.get("body", {})
    if not isinstance(body, dict):
        raise fail("body must be a table: [body]", None, "body")
    for key, value in body.items():
        if key not in BODY_LIMITS:
            raise fail(f"unknown body key {key!r}; valid: {', '.join(BODY_LIMITS)}", "body", key)
        fields[key] = value
    moves = data.get("moves", {})
    if not isinstance(moves, dict):
        raise fail("moves must be tables: [moves.jab], [moves.heavy], ...", None, "moves")
    frame_data = list(base.moves)
    for name, table in moves.items():
        if name not in MOVE_KEYS:
            raise fail(f"unknown move {name!r}; valid: {', '.join(MOVE_KEYS)}", f"moves.{name}")
        where = f"moves.{name}"
        if not isinstance(table, dict):
            raise fail(f"{where} must be a table", "moves", name)
        m = MOVE_KEYS[name]
        values = frame_data[m - 1]._asdict()
        for key, value in table.items():
            if key == "level" and m != Move.THROW:
                if value not in LEVELS:
                    raise fail(f"{where}.level must be one of {', '.join(LEVELS)}; got {value!r}", where, key)
                values["level"] = LEVELS[value]
            elif key in MOVE_LIMITS:
                values[key] = value
            else:
                valid = [*MOVE_LIMITS, *(("level",) if m != Move.THROW else ())]
                raise fail(f"unknown key {key!r} in [{where}]; valid: {', '.join(valid)}", where, key)
        frame_data[m - 1] = FrameData(**values)
    character = dataclasses.replace(base, **fields, moves=tuple(frame_data))
    return character.validate(src, text)


def load_character(spec: str | os.PathLike | Character) -> Character:
    """A character from a shipped name (``"default"``), a path to a TOML file, or a :class:`Character`
    (validated and passed through)."""
    if isinstance(spec, Character):
        return spec.validate()
    if isinstance(spec, str) and spec in shipped_characters():
        return _shipped(spec)
    if not isinstance(spec, str | os.PathLike):
        raise CharacterError(f"a character is a shipped name ({', '.join(shipped_characters())}), a TOML file "
                             f"or a Character; got {type(spec).__name__}")
    path = Path(spec)
    if not path.is_file():
        raise CharacterError(f"no such character file or shipped character; shipped: "
                             f"{', '.join(shipped_characters())}", str(spec))
    text = read_text_limited(path, MAX_FILE_BYTES, CharacterError, "character file")
    return parse_character(text, source=str(path))


def shipped_characters() -> list[str]:
    """The names of the characters shipped in ``envs/duel/characters``."""
    return sorted(p.stem for p in SHIPPED.glob("*.toml"))


@cache
def _shipped(name: str) -> Character:
    path = SHIPPED / f"{name}.toml"
    text = read_text_limited(path, MAX_FILE_BYTES, CharacterError, "character file")
    return parse_character(text, source=str(path), base=_EMPTY if name == "default" else default_character())


def default_character() -> Character:
    """The shipped fighter (``characters/default.toml``): the rules of ``sandbox/Duel-v0``."""
    return _shipped("default")


# ``parse_character`` needs a base; the shipped default file spells out every key, so its base is only
# a frame to fill (invalid on its own, never used elsewhere).
_EMPTY = Character("empty", **dict.fromkeys(BODY_LIMITS, 0),
                   moves=tuple(FrameData(m.name.lower(), **dict.fromkeys(MOVE_LIMITS, 0),
                                         level=Level.THROW if m == Move.THROW else Level.MID)
                               for m in MOVE_KEYS.values()))


# ---- the arrays the kernels read ---------------------------------------------------------------------
def character_arrays(characters: Sequence[Character]) -> tuple[np.ndarray, np.ndarray]:
    """``(C, D)``: the body table ``C[n, NC]`` and the frame-data table ``D[n, N_MOVES, ND]`` (int64) of
    ``characters``, with their derived columns (layout ``C_*`` and ``D_*`` in :mod:`envs.duel.layout`)."""
    n = len(characters)
    C = np.zeros((n, L.NC), dtype=np.int64)
    D = np.zeros((n, L.N_MOVES, L.ND), dtype=np.int64)
    for i, ch in enumerate(characters):
        C[i, : len(L.BODY_FIELDS)] = [getattr(ch, key) for key in L.BODY_FIELDS]
        C[i, L.C_MAX_JUMP] = ch.max_jump_height
        C[i, L.C_VY_SCALE] = ch.jump_speed + ch.gravity
        C[i, L.C_MAX_STUN] = max(ch.max_stun, 1)
        for m, fd in ch.frame_data.items():
            D[i, m, : len(L.MOVE_FIELDS)] = [getattr(fd, key) for key in L.MOVE_FIELDS]
            D[i, m, L.D_LEVEL] = int(fd.level)
            D[i, m, L.D_TOTAL] = fd.total
            D[i, m, L.D_CROUCH] = int(m in L.CROUCH_MOVES)
    return C, D


def check_character_spec(spec: Any) -> None:
    """Load every character a ``character=`` argument names (see :func:`character_set`), so that a bad one
    is refused when the settings are made, with its one-line error."""
    character_set(spec, len(spec) if isinstance(spec, list) else 1)


def character_table(characters: Sequence[Character]) -> np.ndarray:
    """``T[n, NT]`` (int64): each character's body, then its moves' frame data, one row each (the layout's
    ``T_MOVES``), the table the kernels read."""
    C, D = character_arrays(characters)
    return np.concatenate([C, D.reshape(len(characters), -1)], axis=1)


def character_set(spec: Any, num_envs: int) -> tuple[list[Character], np.ndarray]:
    """The distinct characters of a ``character=`` argument and ``who[N, 2]``, each round's fighters'
    rows. ``spec`` is one character (a shipped name, a file, a :class:`Character`) for both fighters,
    a ``(left, right)`` pair, or a list of ``num_envs`` such items (one per round)."""
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise ValueError("character: the list of characters is empty")
    if len(items) not in (1, num_envs):
        raise ValueError(f"character: one character, a (left, right) pair, or a list of {num_envs} (one per "
                         f"round); got a list of {len(items)}")
    table: list[Character] = []
    rows: dict[Any, int] = {}

    def row(one: Any) -> int:
        key = one if isinstance(one, Character) else os.fspath(one) if isinstance(one, os.PathLike) else one
        if not isinstance(key, str | Character):
            raise ValueError(f"character must be a shipped name ({', '.join(shipped_characters())}), a TOML file, "
                             f"a Character or a (left, right) pair; got {one!r}")
        if key not in rows:
            rows[key] = len(table)
            table.append(load_character(one))
        return rows[key]

    who = np.zeros((len(items), 2), dtype=np.int64)
    for i, item in enumerate(items):
        pair = item if isinstance(item, tuple) else (item, item)
        if len(pair) != 2:
            raise ValueError(f"character: a (left, right) pair has two items; got {len(pair)}")
        who[i] = row(pair[0]), row(pair[1])
    if len(items) == 1 and num_envs > 1:
        who = np.repeat(who, num_envs, axis=0)
    return table, who


def describe(character: Character) -> Mapping[str, Any]:
    """The character as plain data (for JSON sidecars and reports)."""
    out: dict[str, Any] = {"name": character.name, "body": {k: getattr(character, k) for k in BODY_LIMITS}}
    out["moves"] = {fd.name: {**{k: getattr(fd, k) for k in MOVE_LIMITS}, "level": fd.level.name.lower()}
                    for fd in character.moves}
    return out
