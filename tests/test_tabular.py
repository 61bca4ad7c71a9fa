"""Tabular Q-learning: the update rule by hand, and learning to the value-iteration optimum."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stealth_levels import ALCOVE  # the corridor where the optimum waits in the alcove

from agents.navigation.mdp import TabularAgent, build_mdp, greedy_path, policy_evaluator
from envs.stealth.env import StealthEnv
from envs.stealth.level import parse_level
from envs.stealth.mdp import stealth_state_fn
from nets.bellman import policy_evaluation, value_iteration
from nets.tabular import greedy, q_learning

GAMMA = 0.99


class TwoStep(gym.Env):
    """State 0 --a--> state 1 --any--> end. Action 1 in state 0 pays 1, action 0 pays 0; every action
    in state 1 pays 2 and terminates. Q*(0, 1) = 1 + gamma * 2, Q*(0, 0) = gamma * 2, Q*(1, .) = 2."""

    action_space = spaces.Discrete(2)
    observation_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = 0
        return self.s, {}

    def step(self, action):
        if self.s == 0:
            self.s = 1
            return 1, float(action), False, False, {}
        return 1, 2.0, True, False, {}


def test_one_update_by_hand():
    """One step from an all-zero table: Q(0, a) = alpha * (r + gamma * 0); the terminal step does not
    bootstrap: Q(1, a) = alpha * 2."""
    env = TwoStep()
    res = q_learning(env, 2, lambda e: e.s, steps=2, alpha=0.5, gamma=0.9, epsilon_start=1.0, epsilon_end=1.0,
                     seed=3)
    (a0,) = np.flatnonzero(res.visits[0])
    (a1,) = np.flatnonzero(res.visits[1])
    assert res.Q[0, a0] == pytest.approx(0.5 * float(a0))
    assert res.Q[1, a1] == pytest.approx(0.5 * 2.0)
    assert res.visits.sum() == 2 and res.steps == 2


def test_learns_q_star_on_the_two_step_env():
    res = q_learning(TwoStep(), 2, lambda e: e.s, steps=4000, alpha=0.2, gamma=0.9, epsilon_start=1.0,
                     epsilon_end=1.0, seed=0, evaluate=policy_evaluator(env := TwoStep(), lambda e: e.s))
    assert res.Q[1] == pytest.approx([2.0, 2.0], abs=1e-6)
    assert res.Q[0] == pytest.approx([0.9 * 2.0, 1.0 + 0.9 * 2.0], abs=1e-6)
    assert list(res.policy) == [1, 0]
    assert res.curve[-1]["eval_return"] == pytest.approx(3.0)
    assert np.isnan(res.curve[-1]["eval_success"])  # TwoStep reports no is_success
    assert env.s == 1  # the evaluation ran in its own env


def test_seed_reproduces_and_changes_the_run():
    level = parse_level(ALCOVE)
    mdp, index = build_mdp(level, gamma=GAMMA)
    runs = [q_learning(StealthEnv(level=level), mdp.n_states, stealth_state_fn(index), 1500, seed=s).Q
            for s in (1, 1, 2)]
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_greedy_breaks_ties_low():
    assert list(greedy(np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 3.0]]))) == [0, 1, 0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        q_learning(TwoStep(), 2, lambda e: e.s, steps=0)
    with pytest.raises(ValueError, match="alpha"):
        q_learning(TwoStep(), 2, lambda e: e.s, steps=5, alpha=0.0)


def _check_optimal(level, steps, seed=0):
    """Q-learning's greedy policy is optimal: its exact value at the start equals V*(start)."""
    mdp, index = build_mdp(level, gamma=GAMMA)
    star = value_iteration(mdp, tol=1e-10)
    env = StealthEnv(level=level)
    state_fn = stealth_state_fn(index)
    res = q_learning(env, mdp.n_states, state_fn, steps, gamma=GAMMA, seed=seed, eval_every=steps // 10,
                     evaluate=policy_evaluator(StealthEnv(level=level), state_fn))
    v_learned = policy_evaluation(mdp, res.policy)
    start = index.start_state
    assert v_learned[start] == pytest.approx(star.V[start], abs=1e-6)
    # the same in the real env: the learned path is as short as the optimal one
    opt_path = greedy_path(mdp, index, star.policy)
    ret, succ = policy_evaluator(env, state_fn, episodes=2, seed=0)(res.policy)
    assert succ == 1.0
    assert ret == pytest.approx(1.0 - 0.01 * (len(opt_path) - 1))
    assert res.curve[-1]["eval_success"] == 1.0 and res.curve[-1]["steps"] == steps
    assert [c["steps"] for c in res.curve] == list(range(steps // 10, steps + 1, steps // 10))
    return res, star, index


def test_alcove_needs_waiting_and_q_learning_finds_it():
    level = parse_level(ALCOVE)
    res, star, index = _check_optimal(level, 6000)
    mdp, _ = build_mdp(level, gamma=GAMMA)
    path = greedy_path(mdp, index, star.policy)
    assert len(path) - 1 > 6  # 6 moves east would be caught: the optimum waits
    agent = TabularAgent(res.policy, env := StealthEnv(level=level), stealth_state_fn(index))
    env.reset(seed=0)
    action, state = agent.predict(None)
    assert action == int(res.policy[index.start_state]) and state is None


def test_tutorial_level_to_the_optimum():
    from envs.stealth.level import load_level

    _check_optimal(load_level("tutorial"), 40_000)
