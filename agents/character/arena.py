"""Head-to-head rounds of two duel agents, for strength tables and tests.

:func:`match` plays many seeded rounds at once through the batched harness
(:func:`agents.harness.play_duel`); :func:`play_round` plays one round of two single agents on the pure
rules (no env, no rendering), a readable reference."""

from __future__ import annotations

from typing import Any

from envs.duel import rules
from envs.duel.config import DuelConfig
from envs.duel.env import decode_action, observe
from envs.duel.step import decision_step
from envs.protocols import Agent, BatchedAgent


def play_round(agent0: Agent, agent1: Agent, *, frame_skip: int = DuelConfig.frame_skip,
               round_seconds: float = 60) -> tuple[int | None, int]:
    """Play one round, fighter 0 against fighter 1, each holding its action ``frame_skip`` ticks.
    Returns ``(winner, ticks)``: winner 0, 1 or None (draw)."""
    s = rules.initial_state(int(round(round_seconds * rules.TICKS_PER_SECOND)))
    for a in (agent0, agent1):
        if hasattr(a, "reset"):
            a.reset()
    while not s.over:
        a0, _ = agent0.predict(observe(s, 0))
        a1, _ = agent1.predict(observe(s, 1))
        decision_step(s, decode_action(a0), decode_action(a1), frame_skip)
    return s.winner, s.tick


def match(agent_a: str | Agent | BatchedAgent, agent_b: str | Agent | BatchedAgent, rounds: int, seed: int = 0, *,
          frame_skip: int = DuelConfig.frame_skip, round_seconds: float = 60, chunk: int = 1000) -> dict[str, Any]:
    """``rounds`` rounds of A against B (each a spec, an agent object or a batched agent; specs sample,
    objects act as they are built), sides alternating (A left in even rounds) so neither has the left or
    right start; round ``i`` seeded ``seed + i`` (:func:`agents.harness.play_duel`). Returns A's wins,
    losses and draws and the mean round length in ticks."""
    from agents.harness import duel_summary, play_duel

    return duel_summary(play_duel(agent_a, agent_b, rounds, seed=seed, sides="alternate", frame_skip=frame_skip,
                                  round_seconds=round_seconds, chunk=chunk))
