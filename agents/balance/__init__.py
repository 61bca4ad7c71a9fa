"""The tester AI: a balance probe for the duel. ``meta``: a payoff matrix among a population of strategies
(played through the batched harness, a Wilson interval per cell), its Nash mixture by linear program, each
strategy's and the population's exploitability, dominance flags and move-usage entropy at the Nash mixture.
``combo``: a search over input strings on the batched duel for the most damaging string the defender cannot
escape, and whether it loops. ``frames``: how many steps of one frame-data value make a combo loop.
``stats``: the intervals.

Imports: ``agents``, ``nets``, ``envs``; never ``experiments``."""

from agents.balance.combo import ComboResult, find_combo, planted_infinite
from agents.balance.frames import probe_parameter
from agents.balance.meta import (
    Payoff,
    dominance,
    exploitability,
    meta_summary,
    move_entropy,
    nash,
    play_payoff,
)

__all__ = ["ComboResult", "Payoff", "dominance", "exploitability", "find_combo", "meta_summary", "move_entropy",
           "nash", "planted_infinite", "play_payoff", "probe_parameter"]
