"""The batched duel's built-in opponents.

:class:`BatchedScripted` (from :mod:`agents.character.fighter`, the scripted fighter's one body) plays
every ``scripted:`` spec for N rounds (``random`` is :class:`agents.batched.UniformAgent`). Round i of
``gym.make_vec(..., num_envs=N)`` reset with seed s plays exactly like ``gym.make`` reset with seed s + i
against a scripted opponent, episode after episode: both draw the round's key from the same generator and
run the same kernel.
"""

from __future__ import annotations

from typing import Any

from agents.character.fighter import BatchedScripted
from agents.character.scripted import PRESETS, STYLES, scripted_params
from envs.duel.config import DuelConfig
from envs.duel.vector import TWO_PLAYER
from envs.protocols import BatchedAgent


def make_batched_opponent(spec: str | BatchedAgent | None,
                          frame_skip: int = DuelConfig.frame_skip) -> BatchedAgent | None:
    """A batched opponent from a spec: ``scripted:NAME`` (every form ``make_scripted`` takes),
    ``random``, or an object already speaking the batched interface. ``None``/``"external"`` (the
    two-player form) return None. Anything else raises a one-line ValueError."""
    if spec is None or (isinstance(spec, str) and spec in TWO_PLAYER):
        return None
    if not isinstance(spec, str):
        if all(hasattr(spec, a) for a in ("bind", "reset_envs", "act")):
            return spec
        raise ValueError(f"the batched duel needs a batched opponent (bind, reset_envs, act) or a spec; "
                         f"got {type(spec).__name__}; valid specs: {_VALID}")
    prefix, _, arg = spec.partition(":")
    if prefix == "scripted":
        return BatchedScripted(scripted_params(arg or None), spec=spec, frame_skip=frame_skip)
    if prefix == "random" and not arg:
        from agents.batched import UniformAgent
        from envs.duel.env import duel_spaces

        return UniformAgent(duel_spaces()[0], spec="random")
    raise ValueError(f"unknown batched duel opponent {spec!r}; valid: {_VALID}")


_VALID = (f"scripted:{'|'.join(PRESETS)}|{'|'.join(STYLES[1:])}|STYLE-PRESET|0..1, random, "
          "external (two-player), or a batched opponent object")


def match_batched(spec_a: Any, spec_b: Any, rounds: int, seed: int = 0, **kwargs: Any) -> dict[str, Any]:
    """``rounds`` rounds of A against B, sides alternating: :func:`agents.character.arena.match` (the batched
    harness), under the name it had before the harness. ``kwargs``: ``frame_skip``, ``round_seconds``."""
    from agents.character.arena import match

    return match(spec_a, spec_b, rounds, seed, **kwargs)


