"""The one duel decision step: both players' inputs held for ``frame_skip`` ticks, then the score.

Every user of the duel steps through :func:`decision_step`: the single-agent env
(:class:`envs.duel.env.DuelEnv`), the PettingZoo view (:class:`envs.duel.pz.DuelParallelEnv`), the arena
(:func:`agents.character.arena.play_round`) and the watcher, which draws each tick through ``on_tick``.
The batched duel is checked against it, env by env, bit for bit.

Contract (what a batched or ported implementation must reproduce exactly):

1. ``before = h0 - h1``, the health difference (fighter 0 minus fighter 1) at the call.
2. For ``k = 1 .. frame_skip``: :func:`envs.duel.rules.advance` the state one tick with the *same*
   inputs ``(p0_input, p1_input)``, appending that tick's events to ``events`` in the order ``advance``
   emits them; then call ``on_tick(state, events)`` if given (``events`` is the decision's list so far;
   the hook only reads); stop after this tick if ``state.over`` (KO or time-out). ``ticks = k``.
3. ``reward0 = (h0 - h1 - before) / MAX_HEALTH`` in float64, computed on Python ints then divided once;
   if the round ended with a winner, ``reward0 += 1.0`` when fighter 0 won, ``-= 1.0`` when fighter 1
   won; a draw adds nothing. Fighter 1's reward is ``-reward0`` (exactly: integer health, one division).
4. The state is changed in place (``rules.advance`` mutates it); nothing else is read or written: no
   generator, no clock, no agent. Calling it on a state with ``over`` set is an error.

Inputs are ``(stick, button)`` pairs of ints relative to each fighter's facing (see
:func:`envs.duel.env.decode_action` for turning an action into one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from envs.duel import rules
from envs.duel.rules import MAX_HEALTH, DuelState

__all__ = ["DecisionResult", "decision_step", "outcome_reward"]


class DecisionResult(NamedTuple):
    """What one decision step did (fighter 0's point of view)."""

    events: list  # the events of every tick of the step, in order (dicts from rules.advance)
    ticks: int  # ticks advanced: frame_skip, or fewer when the round ended
    reward0: float  # fighter 0's reward (fighter 1's is -reward0)
    over: bool  # the round ended in this step
    winner: int | None  # 0 or 1 when over with a winner; None for a draw or while running


def outcome_reward(health_before: int, state: DuelState) -> float:
    """Fighter 0's reward for a step that started at health difference ``health_before`` (h0 - h1):
    the change of the health difference / MAX_HEALTH, plus +-1 if the round has been won (point 3 of
    the contract)."""
    f0, f1 = state.fighters
    reward = (f0.health - f1.health - health_before) / MAX_HEALTH
    if state.over and state.winner is not None:
        reward += 1.0 if state.winner == 0 else -1.0
    return reward


def decision_step(state: DuelState, p0_input: tuple[int, int], p1_input: tuple[int, int], frame_skip: int,
                  on_tick: Callable[[DuelState, list], object] | None = None) -> DecisionResult:
    """Advance ``state`` in place by one decision: see the module docstring for the exact contract."""
    if state.over:
        raise RuntimeError("the round is over; start a new one")
    f0, f1 = state.fighters
    before = f0.health - f1.health
    inputs = (p0_input, p1_input)
    events: list[dict] = []
    ticks = 0
    for _ in range(frame_skip):
        rules.advance(state, inputs, events)
        ticks += 1
        if on_tick is not None:
            on_tick(state, events)
        if state.over:
            break
    return DecisionResult(events, ticks, outcome_reward(before, state), state.over,
                          state.winner if state.over else None)
