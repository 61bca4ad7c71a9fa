"""The exact MDP agrees with the env, and value iteration agrees with the safe-path planner."""

import numpy as np
import pytest

from agents.navigation import plan_safe_path
from agents.navigation.mdp import build_mdp, greedy_path
from envs.stealth import rules
from envs.stealth.env import StealthEnv
from envs.stealth.level import bundled_levels, generate_level, load_level
from envs.stealth.rules import Rewards
from nets.bellman import value_iteration

GAMMA = 0.95  # any gamma < 1 ranks a shorter safe path above a longer one; 0.95 converges fast


def mdp_state_of(env, index):
    if env.caught:
        return index.caught
    if env.at_goal:
        return index.goal
    return index.state(env.cell, env.phase)


@pytest.mark.parametrize(
    "name,states", [("tutorial", "all"), ("crossing", "reachable"), ("courtyard", "reachable")]
)
def test_every_transition_matches_the_env(name, states):
    """Slip 0: from every (cell, phase) and action, the env's step is the MDP's unique successor."""
    rewards = Rewards(goal=2.0, caught=-3.0, step=-0.1)
    env = StealthEnv(level=name, rewards=rewards)
    env.reset(seed=0)
    mdp, index = build_mdp(env.level, rewards=rewards, gamma=GAMMA, states=states)
    floor_pairs = int((~env.world.walls).sum()) * env.world.period
    assert mdp.n_states == floor_pairs + 2 if states == "all" else mdp.n_states < floor_pairs + 2
    P = mdp.P  # CSR (S*A, S), row s*A + a
    assert (np.diff(P.indptr) == 1).all() and np.allclose(P.data, 1.0)
    successor = P.indices[P.indptr[:-1]]
    for s in range(index.caught):
        cell, phase = index.cell_phase(s)
        assert index.state(cell, phase) == s
        for a in range(5):
            env.cell, env.phase, env.caught, env.at_goal, env.steps = cell, phase, False, False, 0
            _, reward, terminated, _, _ = env.step(a)
            s2 = successor[s * 5 + a]
            assert s2 == mdp_state_of(env, index), (cell, phase, a)
            assert reward == pytest.approx(mdp.R[s, a])
            assert terminated == (s2 in (index.caught, index.goal))


def test_random_rollouts_with_slip_follow_the_mdp():
    """Slip 0.3: every observed transition has positive probability, and frequencies match T."""
    env = StealthEnv(level="courtyard", slip=0.3)
    mdp, index = build_mdp(env.level, slip=0.3, gamma=GAMMA)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    s = index.start_state
    for _ in range(3000):
        a = int(rng.integers(5))
        _, reward, terminated, truncated, _ = env.step(a)
        s2 = mdp_state_of(env, index)
        assert mdp.P[s * 5 + a, s2] > 0
        if terminated or truncated:
            env.reset()
            s2 = index.start_state
        s = s2
    # empirical outcome frequencies of one slippery move against the MDP's row
    cell, phase, a = env.world.flat((5, 2)), 3, rules.Action.NORTH
    s = index.state(cell, phase)
    counts = {}
    for _ in range(4000):
        env.cell, env.phase, env.caught, env.at_goal, env.steps = cell, phase, False, False, 0
        env.step(a)
        s2 = mdp_state_of(env, index)
        counts[s2] = counts.get(s2, 0) + 1
    row = mdp.P[s * 5 + a]
    assert set(counts) == set(row.indices)
    for s2, p in zip(row.indices, row.data, strict=False):
        assert counts[s2] / 4000 == pytest.approx(p, abs=0.03)


def test_known_value_of_the_tutorial():
    """V*(start) of a 15-step safe path: sum_{t<15} gamma^t * step + gamma^14 * goal."""
    level = load_level("tutorial")
    mdp, index = build_mdp(level, gamma=GAMMA)
    sol = value_iteration(mdp, tol=1e-10)
    n = len(plan_safe_path(level)) - 1
    assert n == 15
    expected = -0.01 * (1 - GAMMA**n) / (1 - GAMMA) + GAMMA ** (n - 1) * 1.0
    assert sol.V[index.start_state] == pytest.approx(expected, abs=1e-8)
    assert sol.V[index.caught] == 0 and sol.V[index.goal] == 0


def vi_path_length(level):
    mdp, index = build_mdp(level, gamma=GAMMA)
    sol = value_iteration(mdp, tol=1e-8)
    path = greedy_path(mdp, index, sol.policy)
    return None if path is None else len(path) - 1


@pytest.mark.parametrize("name", bundled_levels())
def test_planner_and_value_iteration_agree_on_bundled_levels(name):
    level = load_level(name)
    assert vi_path_length(level) == len(plan_safe_path(level)) - 1


def test_planner_and_value_iteration_agree_on_50_generated_levels():
    for seed in range(50):
        level = generate_level((seed % 10) / 9, 1000 + seed)
        assert vi_path_length(level) == len(plan_safe_path(level)) - 1, seed


def test_unsolvable_level_has_no_optimal_path():
    from envs.stealth.level import Guard, Level

    walls = np.zeros((1, 5), bool)
    level = Level("blocked", walls, (0, 0), (0, 4), (Guard("sentry", 4, 360, at=(0, 2), facings=(0.0,)),))
    assert plan_safe_path(level) is None and vi_path_length(level) is None


def test_sandbox_solve_stealth_cli(tmp_path, capsys):
    from experiments.cli import main

    out = tmp_path / "policy.png"
    assert (
        main(["solve", "stealth", "--level", "tutorial", "--gamma", "0.95", "--show", "--out", str(out)]) == 0
    )
    text = capsys.readouterr().out
    expected = -0.01 * (1 - GAMMA**15) / (1 - GAMMA) + GAMMA**14
    assert f"V*(start) = {expected:.6f}" in text
    assert "optimal path length: 15 steps" in text
    assert "MDP: 300 states = 298 (cell, phase) pairs reachable from the start (of 46 floor cells x 8" in text
    assert out.stat().st_size > 1000
    assert main(["solve", "stealth", "--level", "nowhere"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bundled levels: tutorial" in err[0]


@pytest.mark.slow
def test_q_learning_reaches_the_value_iteration_optimum_on_the_tutorial():
    """Tabular Q-learning on the env (state = (cell, phase) via the MDP's index) learns a policy whose
    return equals V*(start) from value iteration: the comparison the exact MDP exists for."""
    env = StealthEnv(level="tutorial", max_steps=60)
    mdp, index = build_mdp(env.level, gamma=GAMMA)
    v_star = value_iteration(mdp, tol=1e-10).V[index.start_state]
    rng = np.random.default_rng(0)
    q = np.ones((mdp.n_states, 5))  # optimistic: every true value is below the goal reward, 1
    q[[index.caught, index.goal]] = 0.0  # absorbing: never updated, value 0
    for episode in range(1500):
        env.reset(seed=episode)
        s = index.start_state
        while True:
            a = int(rng.integers(5)) if rng.random() < 0.3 else int(np.argmax(q[s]))
            _, reward, terminated, truncated, _ = env.step(a)
            s2 = mdp_state_of(env, index)
            target = reward + (0.0 if terminated else GAMMA * q[s2].max())
            q[s, a] += 0.5 * (target - q[s, a])  # deterministic env: any step size in (0, 1] converges
            s = s2
            if terminated or truncated:
                break
    env.reset(seed=0)
    discounted, t = 0.0, 0
    while True:
        _, reward, terminated, truncated, _ = env.step(int(np.argmax(q[mdp_state_of(env, index)])))
        discounted += GAMMA**t * reward
        t += 1
        if terminated or truncated:
            break
    assert discounted == pytest.approx(v_star, abs=1e-9)
