"""The exact optimum as a teacher: expert tables, and DAgger learning a level from them."""

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from agents.navigation.expert import ExpertTables
from agents.navigation.mdp import build_mdp
from agents.navigation.planner import OptimalAgent
from agents.rollout import evaluate
from envs.stealth.env import StealthEnv
from envs.stealth.level import load_level
from nets.bellman import value_iteration


@pytest.mark.parametrize("name", ["tutorial", "courtyard"])
def test_expert_tables_are_the_optimal_policy_and_value(name):
    """Along the optimal agent's own rollout, the tables give its actions, and at the start V*(start)."""
    level = load_level(name)
    mdp, index = build_mdp(level)
    v_start = value_iteration(mdp, tol=1e-8).V[index.start_state]
    expert = ExpertTables()
    action, value = expert.tables(level)
    assert value[level.world.start] == pytest.approx(v_start, abs=1e-6)
    # following the tables crosses the level, as fast as the optimal agent, with V*(start) as its return
    env = StealthEnv(level=level)
    env.reset(seed=0)
    n, ret, discount, steps = level.world.n_cells, 0.0, 1.0, 0
    terminated = truncated = False
    while not (terminated or truncated):
        _, reward, terminated, truncated, info = env.step(int(action[env.phase * n + env.cell]))
        ret, discount, steps = ret + discount * reward, discount * 0.99, steps + 1
    assert info["is_success"] and ret == pytest.approx(v_start, abs=1e-6)
    optimal_env = StealthEnv(level=level)
    assert evaluate(OptimalAgent(optimal_env), optimal_env, 1).episodes[0].length == steps
    assert expert.tables(level)[0] is action and expert.solved == 1  # solved once, then cached


def test_expert_act_reads_every_env_of_the_batch():
    vec = gym.make_vec("sandbox/Stealth-v0", num_envs=4, level=["tutorial", "crossing"], obs_mode="local")
    vec.reset(seed=0)
    expert = ExpertTables()
    actions, values = expert.act(vec)
    for i in range(4):
        level = vec.level(i)
        a, v = expert.tables(level)
        assert actions[i] == a[level.world.start] and values[i] == v[level.world.start]
    assert expert.act(vec, rows=np.array([3]))[0].tolist() == [actions[3]]


@pytest.mark.slow
def test_dagger_learns_the_optimal_crossing_of_its_levels():
    """DAgger on two bundled levels: the learner's greedy policy then crosses both, as fast as the optimum."""
    from experiments.train.dagger import dagger
    from nets.ppo import PPO

    kwargs = {"obs_mode": "local", "local_size": 7, "nav_features": "all"}
    vec = gym.make_vec("sandbox/Stealth-v0", num_envs=16, level=["tutorial", "sentry_hall"], **kwargs)
    learner = PPO(vec, hidden=(64, 64), seed=0, device="cpu")
    rows = []
    last = dagger(learner, vec, rounds=4, steps=64, epochs=8, seed=0, log=rows.append)
    assert [r["round"] for r in rows] == [0, 1, 2, 3] and rows[0]["success"] == 1.0  # round 0: the expert
    assert last["labels"] == sum(r["new_labels"] for r in rows) and last["accuracy"] > 0.5
    for name in ("tutorial", "sentry_hall"):
        optimal_env = StealthEnv(level=name)
        optimal = evaluate(OptimalAgent(optimal_env), optimal_env, 1)
        result = evaluate(learner, StealthEnv(level=name, **kwargs), 1, deterministic=True)
        assert result.success_rate == 1.0
        assert result.episodes[0].length == optimal.episodes[0].length  # as short as the optimum's crossing
