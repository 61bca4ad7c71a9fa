"""agents.navigation.shaping.VectorGoalShaping: on the batched stealth env it pays exactly what GoalShaping
pays on single envs, episode after episode (the batch's next-step reset steps are unshaped)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("envs.stealth.vector", reason="needs the natively batched stealth env")

import envs  # noqa: E402,F401
from agents.navigation.shaping import GoalShaping, VectorGoalShaping  # noqa: E402


@pytest.mark.parametrize("level", ["tutorial", ["tutorial", "crossing"]])
def test_vector_shaping_matches_the_single_wrapper(level):
    k = 4
    levels = level if isinstance(level, list) else [level]
    vec = VectorGoalShaping(gym.make_vec("sandbox/Stealth-v0", num_envs=k, level=level, obs_mode="local"), gamma=0.9)
    singles = [GoalShaping(gym.make("sandbox/Stealth-v0", level=levels[i % len(levels)], obs_mode="local"), gamma=0.9)
               for i in range(k)]
    vec.reset(seed=5)
    for i, s in enumerate(singles):
        s.reset(seed=5 + i)
    rng = np.random.default_rng(0)
    resetting = np.zeros(k, bool)
    compared, episodes = 0, 0
    for _ in range(150):
        actions = rng.integers(0, 5, k)
        obs, reward, term, trunc, info = vec.step(actions)
        for i, s in enumerate(singles):
            if resetting[i]:  # the batch's reset step: no transition, no shaping
                assert reward[i] == 0.0 and info["unshaped_reward"][i] == 0.0
                np.testing.assert_array_equal(obs[i], s.reset()[0])
                continue
            o, r, te, tr, _ = s.step(int(actions[i]))
            assert r == pytest.approx(reward[i], abs=1e-12) and (te, tr) == (term[i], trunc[i])
            np.testing.assert_array_equal(o, obs[i])
            compared += 1
            episodes += te or tr
        resetting = term | trunc
    assert compared > 400 and episodes >= 4
    assert np.any(np.asarray(info["unshaped_reward"]) != reward)  # the shaping is not zero
