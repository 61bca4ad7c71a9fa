"""Intervals for rates measured over a finite number of episodes or rounds (they live in
:mod:`agents.balance.stats`, where the balance probe's payoff matrix uses them; re-exported here)."""

from __future__ import annotations

from agents.balance.stats import Z95, difference_interval, wilson_interval

__all__ = ["Z95", "difference_interval", "wilson_interval"]
