"""nets.sb3: SB3's PPO, A2C and DQN run on nets.MLP features; PPO learns and round-trips save/load."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from nets.mlp import MLP
from nets.sb3 import MLPExtractor, load_sb3_zip, mlp_policy_kwargs


def test_policy_kwargs_shapes_and_errors():
    kw = mlp_policy_kwargs("ppo", hidden=(32, 16))
    assert kw["features_extractor_class"] is MLPExtractor
    assert kw["features_extractor_kwargs"]["hidden"] == (32, 16)
    assert kw["net_arch"] == {"pi": [], "vf": []}
    assert mlp_policy_kwargs("dqn", head_arch=(8,))["net_arch"] == [8]
    with pytest.raises(ValueError, match="valid: ppo, a2c, dqn"):
        mlp_policy_kwargs("sac")


def test_extractor_flattens_and_uses_our_mlp():
    space = gym.spaces.Box(-1.0, 1.0, shape=(2, 3), dtype=np.float32)
    ext = MLPExtractor(space, hidden=(8, 5))
    assert isinstance(ext.mlp, MLP) and ext.features_dim == 5
    assert ext(torch.zeros(4, 2, 3)).shape == (4, 5)


@pytest.mark.parametrize("algo", ["a2c", "dqn"])
def test_a2c_and_dqn_build_and_step_with_nets_mlp(algo):
    from stable_baselines3 import A2C, DQN

    cls = {"a2c": A2C, "dqn": DQN}[algo]
    extra = {"learning_starts": 50, "buffer_size": 1000} if algo == "dqn" else {"n_steps": 16}
    model = cls("MlpPolicy", "CartPole-v1", policy_kwargs=mlp_policy_kwargs(algo, hidden=(16,)),
                seed=0, device="cpu", **extra)
    assert any(isinstance(m, MLP) for m in model.policy.modules())
    model.learn(200)
    action, _ = model.predict(np.zeros(4, dtype=np.float32), deterministic=True)
    assert model.action_space.contains(int(action))


def _mean_return(model, episodes=10, seed=100):
    env = gym.make("CartPole-v1")
    total = 0.0
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, term, trunc, _ = env.step(int(action))
            total += reward
            done = term or trunc
    return total / episodes


@pytest.mark.slow
def test_ppo_learns_cartpole_and_save_load_round_trips(tmp_path):
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs=mlp_policy_kwargs("ppo", hidden=(64, 64)),
                n_steps=512, batch_size=64, n_epochs=10, learning_rate=1e-3, seed=0, device="cpu")
    before = _mean_return(model)
    model.learn(12_288)
    after = _mean_return(model)
    # A random/untrained CartPole policy lasts ~10-40 steps (here 9); 100+ means it learned to balance.
    assert after >= 100 and after > 3 * before, (before, after)

    path = tmp_path / "ppo_mlp.zip"
    model.save(path)
    loaded = load_sb3_zip(path, device="cpu")  # our loader: never unpickles the zip
    assert isinstance(loaded.policy.features_extractor, MLPExtractor)
    obs = np.random.default_rng(0).uniform(-0.2, 0.2, size=(64, 4)).astype(np.float32)
    a1, _ = model.predict(obs, deterministic=True)
    a2, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    with torch.no_grad():
        v1 = model.policy.predict_values(torch.as_tensor(obs))
        v2 = loaded.policy.predict_values(torch.as_tensor(obs))
    torch.testing.assert_close(v1, v2)
