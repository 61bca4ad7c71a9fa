"""The one rollout harness (agents/rollout.py) and the one definition of success per env (is_success)."""

from __future__ import annotations

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import envs  # noqa: F401
from agents.rollout import Episode, evaluate, run_episode


class Count(gym.Env):
    """Three steps; reward = action; the seed sets the first observation; success iff all actions were 1."""

    observation_space = spaces.Discrete(1000)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.ok = 0, True
        return (seed or 0), {}

    def step(self, action):
        self.t += 1
        self.ok &= action == 1
        done = self.t == 3
        info = {"is_success": self.ok} if done else {}
        return self.t, float(action), done, False, info


class Recorder:
    """Acts 1 except on observation 7; records the calls it receives."""

    def __init__(self):
        self.calls, self.resets = [], 0

    def reset(self):
        self.resets += 1

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        self.calls.append((observation, state, bool(episode_start[0]), deterministic))
        return (0 if observation == 7 else 1), (state or 0) + 1


def test_one_episode_by_hand():
    agent, steps = Recorder(), []
    ep = run_episode(agent, Count(), seed=7, on_step=steps.append)
    # obs 7 -> action 0 (reward 0), then obs 1, 2 -> action 1: return 2, three steps, not all ones
    assert (ep.ret, ep.length, ep.success, ep.terminated, ep.seed) == (2.0, 3, False, True, 7)
    assert agent.resets == 1
    # the recurrent state is passed back in; episode_start only on the first step
    assert agent.calls == [(7, None, True, True), (1, 1, False, True), (2, 2, False, True)]
    assert [(s.t, s.observation, s.action, s.reward, s.next_observation) for s in steps] == [
        (0, 7, 0, 0.0, 1), (1, 1, 1, 1.0, 2), (2, 2, 1, 1.0, 3)]


def test_evaluate_seeds_records_and_rates():
    ev = evaluate(Recorder(), Count(), 3, seed=6)
    assert [e.seed for e in ev.episodes] == [6, 7, 8]
    assert list(ev.returns) == [3.0, 2.0, 3.0] and list(ev.lengths) == [3, 3, 3]
    assert list(ev.successes) == [1.0, 0.0, 1.0] and ev.success_rate == pytest.approx(2 / 3)
    assert ev.episodes[1].as_dict() == {"seed": 7, "return": 2.0, "length": 3, "success": False, "terminated": True}
    ev = evaluate(Recorder(), [Count(), Count()], 2, seeds=[7, None])
    assert [e.seed for e in ev.episodes] == [7, None]


def test_an_env_without_is_success_gives_nan():
    class Quiet(Count):
        def step(self, action):
            obs, r, term, trunc, _ = super().step(action)
            return obs, r, term, trunc, {}

    ev = evaluate(Recorder(), Quiet(), 2)
    assert ev.episodes[0].success is None and math.isnan(ev.success_rate)


def test_max_steps_truncates():
    ep = run_episode(Recorder(), Count(), seed=1, max_steps=2)
    assert isinstance(ep, Episode) and ep.length == 2 and not ep.terminated


def test_stealth_success_is_the_goal():
    from agents.navigation import PlannerAgent

    env = gym.make("sandbox/Stealth-v0", level="tutorial")
    ev = evaluate(PlannerAgent(env), env, 2, seed=0)
    assert ev.success_rate == 1.0 and all(e.info["at_goal"] for e in ev.episodes)
    ep = run_episode(make_still(), env, seed=0, max_steps=None)  # standing still: truncated, no goal
    assert ep.success is False and not ep.terminated


def make_still():
    class Still:
        def predict(self, observation, state=None, episode_start=None, deterministic=False):
            return 0, state

    return Still()


def test_duel_success_is_the_round_won():
    class Jab:
        def predict(self, observation, state=None, episode_start=None, deterministic=False):
            return np.array([0, 1]), state

    env = gym.make("sandbox/Duel-v0", opponent="random", round_seconds=5)
    ep = run_episode(Jab(), env, seed=0)
    assert ep.success is not None and ep.success == (ep.info["winner"] == "agent")


def test_director_env_success_is_the_flow_channel():
    env = gym.make("sandbox/Director-v0", horizon=30, player={"skill": 0.5, "slope": 8.0})

    class Hold:
        def predict(self, observation, state=None, episode_start=None, deterministic=False):
            return np.zeros(1, np.float32), state

    ep = run_episode(Hold(), env, seed=0)
    rate = ep.info["rolling_win_rate"]
    assert ep.length == 30 and ep.success == (abs(rate - 0.5) <= 0.1 + 1e-9)


def test_duel_make_resolves_the_spec_and_pickles():
    env = gym.make("sandbox/Duel-v0", opponent="scripted:hard")
    assert env.unwrapped.opponent_spec == "scripted:hard"
    assert type(env.unwrapped.opponent).__name__ == "BatchedScripted"  # the batched fighter, one round
    obs, _ = env.reset(seed=3)
    copy = pickle.loads(pickle.dumps(env.unwrapped))
    a = [env.unwrapped.step([0, 1])[1] for _ in range(20)]
    b = [copy.step([0, 1])[1] for _ in range(20)]
    assert a == b


def test_duel_env_refuses_a_spec_string_with_the_way_out():
    from envs.duel.env import DuelEnv

    with pytest.raises(TypeError, match="gym.make"):
        DuelEnv(opponent="scripted:hard")
