"""Frame-data probes: how far is a character from breaking? One parameter at a time, for now.

:func:`probe_parameter` steps one frame-data value (``"jab.hitstun"``, ``"body.walk_forward_speed"``) away from the
character's by one unit per step, within its limits (:data:`envs.duel.character.MOVE_LIMITS` and ``BODY_LIMITS``),
and runs the combo search (:func:`agents.balance.combo.find_combo`) on each table, stopping at the first one whose
best combo loops. The number of steps is the **adversarial distance** along that parameter. The multi-parameter
searches of the issue (adversarial, corrective, MAP-Elites over designer bounds) are not built yet.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agents.balance.combo import find_combo
from envs.duel.character import BODY_LIMITS, MOVE_KEYS, MOVE_LIMITS, Character


def parse_parameter(name: str) -> tuple[str, str]:
    """``"jab.hitstun"`` -> ``("jab", "hitstun")``; ``"body.KEY"`` for the body. A one-line ValueError names the
    valid forms."""
    table, _, key = name.strip().partition(".")
    if table == "body" and key in BODY_LIMITS:
        return table, key
    if table in MOVE_KEYS and key in MOVE_LIMITS:
        return table, key
    raise ValueError(f"unknown frame-data parameter {name!r}; valid: MOVE.KEY (MOVE one of {', '.join(MOVE_KEYS)}; "
                     f"KEY one of {', '.join(MOVE_LIMITS)}) or body.KEY ({', '.join(BODY_LIMITS)})")


def with_value(character: Character, table: str, key: str, value: int) -> Character:
    """``character`` with one value changed (validated: a value past a limit raises ``CharacterError``)."""
    change: dict[str, Any] = {key: value}
    if table == "body":
        return dataclasses.replace(character, **change).validate()
    i = list(MOVE_KEYS).index(table)
    moves = list(character.moves)
    moves[i] = moves[i]._replace(**change)
    return dataclasses.replace(character, moves=tuple(moves)).validate()


def value_of(character: Character, table: str, key: str) -> int:
    if table == "body":
        return int(getattr(character, key))
    return int(getattr(character.moves[list(MOVE_KEYS).index(table)], key))


def probe_parameter(character: Character, name: str, *, steps: int = 6, direction: int = 1, seed: int = 0,
                    beam: int = 1, depth: int = 8) -> dict[str, Any]:
    """Step ``name`` by ``direction`` (+1 or -1) up to ``steps`` times from ``character``'s value, searching combos
    at each value; stop at the first loop. Returns ``{"parameter", "shipped", "trail": [{value, damage, loops,
    string}], "breaks_at": value or None, "distance": steps to the loop or None, "evaluations"}``."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1; got {direction}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    table, key = parse_parameter(name)
    lo, hi = BODY_LIMITS[key] if table == "body" else MOVE_LIMITS[key]
    start = value_of(character, table, key)
    trail: list[dict[str, Any]] = []
    breaks_at = None
    evaluations = 0
    for k in range(steps + 1):
        value = start + direction * k
        if not lo <= value <= hi:
            break
        try:
            ch = with_value(character, table, key, value)
        except ValueError:  # another rule of the table (chip <= damage, ...) forbids this value
            break
        result = find_combo(ch, seed=seed, beam=beam, depth=depth)
        evaluations += result.evaluations
        trail.append({"value": value, "damage": result.damage, "loops": result.loops, "string": result.string})
        if result.loops:
            breaks_at = value
            break
    return {"parameter": f"{table}.{key}", "shipped": start, "trail": trail, "breaks_at": breaks_at,
            "distance": None if breaks_at is None else abs(breaks_at - start), "evaluations": evaluations}
