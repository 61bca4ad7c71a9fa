"""The batched duel's built-in opponents.

:class:`BatchedScripted` (from :mod:`agents.character.fighter`, the scripted fighter's one body) plays
every ``scripted:`` spec for N rounds (``random`` is :class:`agents.protocol.UniformAgent`;
:func:`make_batched_opponent` is defined beside ``make_scripted`` in :mod:`agents.character.scripted`). Round i of
``gym.make_vec(..., num_envs=N)`` reset with seed s plays exactly like ``gym.make`` reset with seed s + i
against a scripted opponent, episode after episode: both draw the round's key from the same generator and
run the same kernel.
"""

from __future__ import annotations

from typing import Any

from agents.character.fighter import BatchedScripted
from agents.character.scripted import make_batched_opponent

__all__ = ["BatchedScripted", "make_batched_opponent", "match_batched"]


def match_batched(spec_a: Any, spec_b: Any, rounds: int, seed: int = 0, **kwargs: Any) -> dict[str, Any]:
    """``rounds`` rounds of A against B, sides alternating: :func:`agents.character.arena.match` (the batched
    harness), under the name it had before the harness. ``kwargs``: ``frame_skip``, ``round_seconds``."""
    from agents.character.arena import match

    return match(spec_a, spec_b, rounds, seed, **kwargs)


