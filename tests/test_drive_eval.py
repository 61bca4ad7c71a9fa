"""The measures of what a character with drives does differently (agents.drive_eval), by hand, and recorded
from a seeded stealth run."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from agents.drive_eval import action_entropy, band_fraction, conditioned_difference, record_episodes


def test_measures_by_hand() -> None:
    levels = np.array([[0.0, 1.0], [0.1, 0.5], [0.3, 0.0], [0.2, 0.25]])
    # band 0.2 of range 1 around set points 0 and 0: drive 0 in band at 0, 0.1, 0.2; drive 1 at 0 only
    np.testing.assert_allclose(band_fraction(levels, [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]), [0.75, 0.25])
    # stay (0) in 2 of 2 high-fear rows, in 1 of 3 low-fear rows: 1 - 1/3
    fear, actions = [0.9, 0.8, 0.1, 0.2, 0.0], [0, 0, 0, 3, 4]
    assert conditioned_difference(fear, actions, 0, 0.5) == pytest.approx(2 / 3)
    assert math.isnan(conditioned_difference([0.1, 0.2], [0, 0], 0, 0.5))
    assert action_entropy([0, 1, 2, 3], 4) == pytest.approx(2.0)
    assert action_entropy([5, 5, 5], 36) == 0.0
    assert action_entropy([0, 0, 1, 1], 4) == pytest.approx(1.0)


class Still:
    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        return 0, None


def test_a_recorded_run_of_a_player_who_stays_still() -> None:
    env = gym.make("sandbox/Stealth-v0", level="tutorial", drives="default", max_steps=30)
    run = record_episodes(env, Still(), episodes=2, seed=0)
    assert run.names == ("fear", "fatigue") and run.levels.shape == (60, 2) and run.success == [False, False]
    assert action_entropy(run.actions, 5) == 0.0  # always stay
    # fatigue never rises while still; the first row of each episode is the start, 0
    assert np.all(run.levels[:, 1] == 0.0)
    assert band_fraction(run.levels, [0, 0], [0, 0], [1, 1])[1] == 1.0
    with pytest.raises(ValueError, match="drives="):
        record_episodes(gym.make("sandbox/Stealth-v0", level="tutorial"), Still(), episodes=1)
