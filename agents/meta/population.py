"""Simulated players: the cheap inner game the learned director trains on, and the tracking test.

A :class:`SyntheticPlayer` wins an episode at difficulty ``d`` with probability
``sigmoid(slope * (skill - d))``, so it wins half its games at ``d = skill``; ``improve`` is added to
its skill after every episode (a learner), and ``jump_at``/``jump`` give a sudden step change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from agents.meta.director import check_difficulty, sigmoid


@dataclass
class SyntheticPlayer:
    """A player whose win probability is a known logistic function of the difficulty (one line each)."""

    skill: float = 0.5  # difficulty at which it wins half its games
    slope: float = 8.0  # steepness of P(win) in the difficulty
    improve: float = 0.0  # skill gained per episode played
    jump_at: int = -1  # episode index at which the skill jumps (-1: never)
    jump: float = 0.0  # size of that jump
    episodes: int = 0  # episodes played so far

    def win_probability(self, difficulty: float) -> float:
        """``sigmoid(slope * (skill - difficulty))`` for the current skill."""
        return sigmoid(self.slope * (self.skill - check_difficulty(difficulty)))

    def play(self, difficulty: float, rng: np.random.Generator) -> bool:
        """Play one episode at ``difficulty``; returns whether the player won. Then it learns."""
        won = bool(rng.random() < self.win_probability(difficulty))
        self.episodes += 1
        self.skill += self.improve
        if self.episodes == self.jump_at:
            self.skill += self.jump
        return won

    def to_dict(self) -> dict:
        return asdict(self)


def sample_player(rng: np.random.Generator, *, skill_range: tuple[float, float] = (0.05, 0.95),
                  slope_range: tuple[float, float] = (3.0, 16.0),
                  improve_prob: float = 0.3, jump_prob: float = 0.2, horizon: int = 200) -> SyntheticPlayer:
    """A player from the training population: skill and slope uniform in their ranges; with
    probability ``improve_prob`` it learns (up to +0.5 skill over ``horizon`` episodes), with
    probability ``jump_prob`` its skill jumps by up to +-0.4 at a random episode."""
    skill = float(rng.uniform(*skill_range))
    slope = float(rng.uniform(*slope_range))
    improve = float(rng.uniform(0.0, 0.5) / horizon) if rng.random() < improve_prob else 0.0
    jump_at, jump = -1, 0.0
    if rng.random() < jump_prob:
        jump_at, jump = int(rng.integers(horizon // 4, 3 * horizon // 4)), float(rng.uniform(-0.4, 0.4))
    return SyntheticPlayer(skill=skill, slope=slope, improve=improve, jump_at=jump_at, jump=jump)
