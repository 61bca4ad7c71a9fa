"""Intervals for rates measured over a finite number of episodes or rounds (they live in
:mod:`agents.balance.stats`, where the balance probe's payoff matrix uses them; re-exported here)."""

from __future__ import annotations

from agents.balance.stats import Z95, difference_interval, wilson_interval

__all__ = ["Z95", "check_game", "difference_interval", "wilson_interval"]


def check_game(specs: list[str], game: str) -> None:
    """Refuse, before anything is played or printed, an agent trained for another game (one line)."""
    from agents.specs import trained_for

    for spec in specs:
        other = trained_for(spec)
        if other is not None and other != game:
            raise ValueError(f"{spec} acts in the {other} env, not in the {game} env: give a {game} agent "
                             "(sandbox list bundled shows which is which)")
