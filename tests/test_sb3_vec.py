"""nets.sb3.GymnasiumVecEnv: a gymnasium VectorEnv as SB3's VecEnv. Same-step autoreset with the final
observation in ``terminal_observation`` from every Gymnasium autoreset mode, no extra steps, SB3's
truncation bootstrap on a tiny env with a known answer, and SB3 PPO learning through it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from pg_envs import Corridor, Counter, corridor_mdp
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

from nets.bellman import policy_evaluation, value_iteration
from nets.sb3 import GymnasiumVecEnv, supports_same_step_reset

torch.set_num_threads(1)
MODES = ["NextStep", "SameStep", "Disabled"]


class InfoCounter(Counter):
    """Counter that says at the episode's end whether it was a success (SB3's ``is_success``)."""

    def step(self, action):
        obs, r, term, trunc, info = super().step(action)
        if term or trunc:
            info = {"is_success": True}
        return obs, r, term, trunc, info


def vec(fn, mode: str, k: int = 2):
    return gym.vector.SyncVectorEnv([fn] * k, autoreset_mode=AutoresetMode(mode))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("truncate", [True, False])
def test_same_step_reset_with_terminal_observation(mode, truncate):
    env = GymnasiumVecEnv(vec(lambda: InfoCounter(3, truncate), mode))
    env.seed(7)
    obs = env.reset()
    assert obs[:, 0].tolist() == [0.0, 0.0]
    seen = []
    for t in range(7):  # 0 1 2 | 0 1 2 | 0: every step is a transition, none is a bare reset
        obs, rewards, dones, infos = env.step(np.zeros(2, np.int64))
        seen.append(obs[0, 0])
        assert rewards.tolist() == [1.0, 1.0]
        if t % 3 == 2:
            assert dones.all() and obs[:, 0].tolist() == [0.0, 0.0]
            for info in infos:
                assert info["terminal_observation"].tolist() == [3.0]
                assert info["TimeLimit.truncated"] == truncate and info["is_success"]
        else:
            assert not dones.any() and all("terminal_observation" not in i for i in infos)
    assert seen == [1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0]


def test_attributes_and_seeding():
    env = GymnasiumVecEnv(vec(lambda: Counter(3), "NextStep", k=3))
    assert env.num_envs == 3 and env.observation_space.shape == (1,) and env.action_space.n == 2
    assert env.get_attr("length") == [3, 3, 3] and env.get_attr("length", indices=[1]) == [3]
    env.set_attr("length", 5)
    assert env.get_attr("length") == [5, 5, 5]
    assert env.env_is_wrapped(gym.Wrapper) == [False] * 3
    assert env.seed(4) == [4, 5, 6]
    env.reset()
    with pytest.raises(TypeError, match="VectorEnv"):
        GymnasiumVecEnv(Counter())


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_sb3_bootstraps_truncation_from_the_final_observation(mode):
    """SB3 adds gamma V(terminal_observation) to a truncated step's reward. With lr 0 the value net stays
    what it was while collecting, so the buffer's reward at obs 2 must be 1 + .5 V([3]) if truncated, 1 if
    terminated."""
    for truncate in (True, False):
        venv = GymnasiumVecEnv(vec(lambda truncate=truncate: Counter(3, truncate), mode))
        model = PPO("MlpPolicy", venv, n_steps=6, batch_size=12, n_epochs=1, gamma=0.5, learning_rate=0.0,
                    seed=0, device="cpu")
        model.learn(12)
        buf = model.rollout_buffer
        rewards = buf.rewards  # (n_steps, n_envs); the observations were flattened env by env for training
        obs = buf.observations[:, 0].reshape(buf.n_envs, buf.buffer_size).T
        with torch.no_grad():
            v3 = float(model.policy.predict_values(torch.tensor([[3.0]]))[0, 0])
        assert abs(v3) > 1e-3
        np.testing.assert_allclose(rewards[obs == 2], 1 + 0.5 * v3 if truncate else 1.0, rtol=1e-5)
        np.testing.assert_allclose(rewards[obs != 2], 1.0)


@pytest.mark.slow
def test_sb3_ppo_learns_the_corridor_through_the_adapter():
    gamma = 0.99
    venv = VecMonitor(GymnasiumVecEnv(vec(Corridor, "NextStep", k=4)))
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, learning_rate=3e-3, gamma=gamma, seed=0, device="cpu")
    model.learn(4000)
    mdp = corridor_mdp(gamma=gamma)
    policy = np.array([int(model.predict(np.eye(5, dtype=np.float32)[s], deterministic=True)[0]) for s in range(5)])
    assert policy_evaluation(mdp, policy, method="exact")[0] == pytest.approx(value_iteration(mdp).V[0], abs=1e-6)


class CountersVec(gym.vector.VectorEnv):
    """A natively batched Counter (length 3, truncated), next-step autoreset; ``reset`` resets every env
    whatever the options, unless ``honours_mask``."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 2, honours_mask: bool = False):
        self.num_envs, self.honours_mask = num_envs, honours_mask
        self.single_observation_space = gym.spaces.Box(0.0, 100.0, shape=(1,), dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        if honours_mask:
            self.metadata = {**self.metadata, "reset_mask": True}
        self.t = np.zeros(num_envs)
        self.pending = np.zeros(num_envs, bool)

    def reset(self, *, seed=None, options=None):
        mask = (options or {}).get("reset_mask") if self.honours_mask else None
        rows = np.ones(self.num_envs, bool) if mask is None else mask
        self.t[rows], self.pending[rows] = 0, False
        return self.t[:, None].astype(np.float32), {}

    def step(self, actions):
        reward = np.where(self.pending, 0.0, 1.0)
        self.t = np.where(self.pending, 0, self.t + 1)
        trunc = ~self.pending & (self.t >= 3)
        self.pending = trunc.copy()
        return self.t[:, None].astype(np.float32), reward, np.zeros(self.num_envs, bool), trunc, {}


def test_native_env_with_reset_mask_works_and_one_without_is_refused():
    assert supports_same_step_reset(vec(Corridor, "NextStep")) and supports_same_step_reset(vec(Corridor, "SameStep"))
    assert not supports_same_step_reset(CountersVec()) and supports_same_step_reset(CountersVec(honours_mask=True))
    env = GymnasiumVecEnv(CountersVec(3, honours_mask=True))
    env.reset()
    env.step(np.zeros(3, np.int64))
    env.env.t[1] = 0  # env 1 falls a step behind, so the others end first
    env.step(np.zeros(3, np.int64))
    obs, rewards, dones, infos = env.step(np.zeros(3, np.int64))
    assert dones.tolist() == [True, False, True] and obs[:, 0].tolist() == [0.0, 2.0, 0.0]
    assert rewards.tolist() == [1.0, 1.0, 1.0]
    assert [i.get("terminal_observation", [None])[0] for i in infos] == [3.0, None, 3.0]
    obs, rewards, dones, infos = env.step(np.zeros(3, np.int64))  # no bare reset step follows
    assert dones.tolist() == [False, True, False] and obs[:, 0].tolist() == [1.0, 0.0, 1.0]
    assert rewards.tolist() == [1.0, 1.0, 1.0] and infos[1]["TimeLimit.truncated"]
    bad = GymnasiumVecEnv(CountersVec(2))
    bad.reset()
    bad.step(np.zeros(2, np.int64))
    bad.env.t[1] = 0  # env 1 is mid-episode when env 0 ends: resetting it too would be wrong
    bad.step(np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="reset envs outside reset_mask"):
        bad.step(np.zeros(2, np.int64))
