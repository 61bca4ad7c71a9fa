"""REINFORCE and A2C learn tiny envs with known optima (slow).

* a 3-armed bandit (means .2, .5, .8): the greedy arm must be arm 2, with probability > .9;
* the duel-shaped MultiDiscrete([9, 4]) bandit that pays for stick 6 and button 2;
* a 5-cell corridor: the learned greedy policy, evaluated exactly on the corridor's MDP, must reach
  V*(start) from value iteration (nets.bellman);
* a cue-recall task that needs memory: the CW-RNN encoder must score +1 every time (any memoryless
  policy scores 0 on average, since the query observation is the same for both cues).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from pg_envs import Bandit, ControllerBandit, Corridor, Cue, corridor_mdp

from nets.bellman import policy_evaluation, value_iteration
from nets.policy_gradient import A2C, Reinforce

pytestmark = pytest.mark.slow
torch.set_num_threads(1)


def vec(fn, k: int, mode: str = "NextStep"):
    return gym.vector.SyncVectorEnv([fn] * k, autoreset_mode=AutoresetMode(mode))


LEARNERS = {
    "a2c": lambda env, **kw: A2C(env, lr=3e-3, device="cpu", **kw),
    "reinforce": lambda env, **kw: Reinforce(env, lr=3e-3, device="cpu", **kw),
    "reinforce-no-baseline": lambda env, **kw: Reinforce(env, baseline=False, lr=3e-3, device="cpu", **kw),
}


@pytest.mark.parametrize("name", list(LEARNERS))
def test_bandit_finds_the_best_arm(name):
    learner = LEARNERS[name](vec(Bandit, 8), seed=0, **({"n_steps": 1} if name == "a2c" else {}))
    learner.learn(2500)
    obs = np.ones(1, np.float32)
    assert learner.predict(obs, deterministic=True)[0] == 2
    assert learner.action_probs(obs)[0][2] > 0.9


@pytest.mark.parametrize("name", ["a2c", "reinforce"])
def test_controller_bandit_finds_the_paying_pair(name):
    learner = LEARNERS[name](vec(ControllerBandit, 16), seed=0, **({"n_steps": 1} if name == "a2c" else {}))
    learner.learn(4000)
    action, _ = learner.predict(np.ones(3, np.float32), deterministic=True)
    assert tuple(action) == (6, 2)
    stick, button = learner.action_probs(np.ones(3, np.float32))
    assert stick[6] > 0.8 and button[2] > 0.8


@pytest.mark.parametrize("name, encoder", [("a2c", "mlp"), ("reinforce", "mlp"), ("reinforce-no-baseline", "mlp"),
                                           ("a2c", "cwrnn")])
def test_corridor_reaches_the_value_iteration_optimum(name, encoder):
    gamma = 0.99
    mdp = corridor_mdp(gamma=gamma)
    optimum = value_iteration(mdp, tol=1e-10)
    # V*(start) = -.1 - .99*.1 - .99^2*.1 + .99^3 = 0.673289
    assert optimum.V[0] == pytest.approx(-0.1 - 0.099 - 0.09801 + 0.99**3, abs=1e-9)
    learner = LEARNERS[name](vec(Corridor, 4), seed=1, gamma=gamma,
                             **({"encoder": "cwrnn", "hidden": (32,)} if encoder == "cwrnn" else {}))
    learner.learn(4000)
    # the greedy policy, read off state by state (a fresh recurrent state at each cell: a policy of the
    # cell alone), evaluated exactly on the MDP
    eye = np.eye(mdp.n_states, dtype=np.float32)
    policy = np.array([int(learner.predict(eye[s], deterministic=True)[0]) for s in range(mdp.n_states)])
    V = policy_evaluation(mdp, policy, method="exact")
    assert V[0] == pytest.approx(optimum.V[0], abs=1e-9)
    if encoder == "mlp":
        # and its deterministic rollout in the env (with its time limit) scores the same
        env, ret, disc = Corridor(), 0.0, 1.0
        obs, _ = env.reset(seed=0)
        done = False
        while not done:
            obs, r, term, trunc, _ = env.step(learner.predict(obs, deterministic=True)[0])
            ret, disc, done = ret + disc * r, disc * gamma, term or trunc
        assert ret == pytest.approx(optimum.V[0], abs=1e-9)


def recall_score(learner, episodes: int = 40) -> float:
    env, total = Cue(), 0.0
    for i in range(episodes):
        obs, _ = env.reset(seed=10_000 + i)
        state, start, done = None, np.ones(1, bool), False
        while not done:
            action, state = learner.predict(obs, state=state, episode_start=start, deterministic=True)
            start = np.zeros(1, bool)
            obs, r, term, trunc, _ = env.step(action)
            total, done = total + r, term or trunc
    return total / episodes


@pytest.mark.parametrize("name", ["a2c", "reinforce"])
def test_cwrnn_learns_to_remember_the_cue(name):
    kw = {"n_steps": 6} if name == "a2c" else {}
    learner = LEARNERS[name](vec(Cue, 8, "SameStep"), encoder="cwrnn", hidden=(32,), seed=0, **kw)
    learner.learn(6000)
    assert recall_score(learner) == 1.0
