"""Head-to-head rounds of two duel agents on the pure rules (no env, no rendering), for strength
tables and tests. Both agents draw from one generator seeded per round, so results are reproducible."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from envs.duel import rules
from envs.duel.env import decode_action, observe
from envs.duel.step import decision_step


def play_round(agent0, agent1, *, frame_skip: int = 4, round_seconds: float = 60) -> tuple[int | None, int]:
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


def match(make0: Callable, make1: Callable, rounds: int, seed: int = 0, **kwargs) -> dict:
    """``rounds`` rounds of ``make0(rng)`` against ``make1(rng)``, alternating sides each round so
    neither has the left/right start. Returns wins of each maker, draws and the mean round length."""
    wins, draws, ticks = [0, 0], 0, 0
    for k in range(rounds):
        rng = np.random.default_rng([seed, k])
        a, b = make0(rng), make1(rng)
        flip = k % 2 == 1
        winner, t = play_round(b, a, **kwargs) if flip else play_round(a, b, **kwargs)
        ticks += t
        if winner is None:
            draws += 1
        else:
            wins[(1 - winner) if flip else winner] += 1
    return {"wins": wins[0], "losses": wins[1], "draws": draws, "mean_ticks": ticks / max(rounds, 1)}
