"""Potential-based goal shaping (the env's ``shaping_gamma=`` keyword): the potential's known values and the
telescoping identity that makes shaping leave optimal policies unchanged."""

import numpy as np
import pytest

from agents.navigation import plan_safe_path
from envs.stealth.env import StealthEnv
from envs.stealth.features import goal_potential
from envs.stealth.level import load_level
from envs.stealth.rules import DELTAS


def test_potential_on_the_tutorial_by_hand():
    # S at (3, 0), G at (3, 10), a pillar at (3, 4): the walk from S is 10 steps east plus 2 to step
    # around the pillar, d(start) = 12. From (3, 3), west of the pillar: 1 up, 7 east, 1 down = 9.
    level = load_level("tutorial")
    phi = goal_potential(level)
    assert phi[3, 10] == 0.0
    assert phi[3, 0] == pytest.approx(-1.0)
    assert phi[3, 9] == pytest.approx(-1 / 12)
    assert phi[3, 3] == pytest.approx(-9 / 12)
    assert phi[1, 1] == pytest.approx(-(2 + 9) / 12)  # 2 down, 9 east


@pytest.mark.parametrize("level_name, gamma", [("tutorial", 0.99), ("crossing", 0.9), ("courtyard", 1.0)])
def test_shaped_return_telescopes_to_unshaped_plus_minus_phi_start(level_name, gamma):
    env = StealthEnv(level=level_name, shaping_gamma=gamma)
    env.reset(seed=0)
    path = plan_safe_path(env.unwrapped.level)
    shaped = unshaped = 0.0
    for t, (a, b) in enumerate(zip(path, path[1:], strict=False)):
        action = DELTAS.index((b[0] - a[0], b[1] - a[1]))
        _, reward, terminated, truncated, info = env.step(action)
        shaped += gamma**t * reward
        unshaped += gamma**t * info["unshaped_reward"]
        if terminated or truncated:
            break
    assert info["at_goal"] and terminated
    # sum_t gamma^t (gamma Phi(s_t+1) - Phi(s_t)) = gamma^T Phi(s_T) - Phi(s_0) = 0 - (-1)
    assert shaped == pytest.approx(unshaped + 1.0)


def test_shaping_rejects_other_envs_and_bad_discounts():
    import gymnasium as gym

    from agents.navigation.shaping import GoalShaping

    with pytest.raises(ValueError, match="Stealth"):
        GoalShaping(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match=r"shaping_gamma must be in \[0, 1\]"):
        StealthEnv(shaping_gamma=1.5)
    assert np.isfinite(goal_potential(load_level("fortress"))).all()


def test_sb3_monitor_records_the_games_returns_while_the_learner_gets_shaped_rewards():
    """Shaping is the env's keyword, inside any wrapper: SB3's Monitor, put on by the trainer, must still
    record the game's own episode return, and the learner above it the shaped rewards."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor

    import envs  # noqa: F401
    from experiments.train.envs import monitored_unshaped

    env = monitored_unshaped(gym.make("sandbox/Stealth-v0", level="tutorial", shaping_gamma=0.99), Monitor)
    env.reset(seed=0)
    shaped_total, game_total, done = 0.0, 0.0, False
    while not done:
        _, reward, terminated, truncated, info = env.step(3)  # east, toward the goal
        shaped_total += reward
        game_total += info["unshaped_reward"]
        done = terminated or truncated
    assert info["episode"]["r"] == pytest.approx(game_total, abs=1e-5)  # the monitor: the game's return
    assert shaped_total != pytest.approx(game_total)  # the learner: shaped rewards
