"""The learned director learns (slow): PPO in sandbox/Director-v0 for 30k meta-steps keeps simulated
players of low, middle and high skill in the flow channel, at the known optimal difficulty."""

from __future__ import annotations

import numpy as np
import pytest

from agents.meta import FixedDirector, LearnedDirector, SyntheticPlayer, in_band_fraction


def session(director, skill: float, seed: int) -> tuple[list[float], list[bool]]:
    rng = np.random.default_rng(seed)
    player = SyntheticPlayer(skill=skill, slope=8.0)
    played, outcomes = [], []
    for _ in range(200):
        played.append(director.difficulty)
        won = player.play(director.difficulty, rng)
        outcomes.append(won)
        director.observe(won)
    return played, outcomes


@pytest.mark.slow
def test_ppo_director_learns_to_hold_the_channel(tmp_path):
    from experiments.train.director import TrainConfig, train_director

    model = train_director(TrainConfig(steps=30_000, seed=1, out=str(tmp_path / "run")), verbose=False)
    assert (tmp_path / "run" / "checkpoints" / "final.zip").is_file()
    director = LearnedDirector(model)
    for skill in (0.2, 0.5, 0.8):
        fractions, centres = [], []
        for seed in range(3):
            director.reset()
            played, outcomes = session(director, skill, seed)
            fractions.append(in_band_fraction(outcomes))
            centres.append(np.mean(played[50:]))
        # the known optimum: P(win) = 0.5 at d* = skill
        assert np.mean(fractions) >= 0.8, (skill, fractions)
        assert abs(np.mean(centres) - skill) < 0.1, (skill, centres)
        if skill != 0.5:  # the baseline fails where the skill is far from 0.5
            _, outcomes = session(FixedDirector(0.5), skill, 0)
            assert in_band_fraction(outcomes) < 0.2
