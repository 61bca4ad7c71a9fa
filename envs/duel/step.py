"""The duel's decision step on a :class:`rules.DuelState` value: both inputs held ``frame_skip`` ticks,
then the score, computed by the kernels (see :mod:`envs.duel.core` for the contract).

The envs step their arrays directly (:class:`envs.duel.core.DuelCore`); this function serves scripts
and tests that hold a state value. Inputs are ``(stick, button)`` pairs relative to each fighter's
facing (:func:`envs.duel.env.decode_action` turns an action into one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from envs.duel import kernels as K
from envs.duel import layout as L
from envs.duel import rules
from envs.duel.rules import DuelState

__all__ = ["DecisionResult", "decision_step"]


class DecisionResult(NamedTuple):
    """What one decision step did (fighter 0's point of view)."""

    events: list  # the events of every tick of the step, in order
    ticks: int  # ticks advanced: frame_skip, or fewer when the round ended
    reward0: float  # fighter 0's reward (fighter 1's is -reward0)
    over: bool  # the round ended in this step
    winner: int | None  # 0 or 1 when over with a winner; None for a draw or while running


def decision_step(state: DuelState, p0_input: tuple[int, int], p1_input: tuple[int, int], frame_skip: int,
                  on_tick: Callable[[DuelState, list], object] | None = None) -> DecisionResult:
    """Advance ``state`` in place by one decision; ``on_tick(state, events)`` (events so far) after every
    tick. Calling it on a finished round is an error."""
    if state.over:
        raise RuntimeError("the round is over; start a new one")
    T = rules.table(state.characters)
    F, P, G = rules.to_arrays(state)
    BH = np.zeros((1, 2), dtype=np.int64)
    EV = np.zeros((1, 1 + L.EVENTS_PER_TICK * frame_skip, 4), dtype=np.int32)
    K.begin_decision(F, BH, EV, 0)
    (s0, b0), (s1, b1) = p0_input, p1_input
    events: list[dict] = []
    ticks = 0
    for _ in range(frame_skip):
        K.tick(F, P, G, T, 0, state.round_ticks, int(s0), int(b0), int(s1), int(b1), EV)
        ticks += 1
        if on_tick is not None:
            rules.read_arrays(state, F[0], P[0], G[0])
            events[:] = rules.events_of(EV[0])
            on_tick(state, events)
        if G[0, L.G_OVER]:
            break
    rules.read_arrays(state, F[0], P[0], G[0])
    events[:] = rules.events_of(EV[0])
    reward0 = float(K.decision_reward(F, G, T, BH, 0))
    return DecisionResult(events, ticks, reward0, state.over, state.winner if state.over else None)
