"""Inference that does not stall: the one place threads are decided for an agent's forward pass
(nets.device.inference), and the NumPy logits of a few rows of an MLP learner (nets.policy_gradient.NumpyPolicy)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import nets.device as device
from nets.on_policy import NUMPY_ROWS, NumpyPolicy, PolicyValueNet


@pytest.fixture()
def threads_state():
    """Save and restore torch's thread count and the module's decision."""
    saved = torch.get_num_threads(), device._decided, device._TORCH_DEFAULT
    yield
    torch.set_num_threads(saved[0])
    device._decided, device._TORCH_DEFAULT = saved[1], saved[2]


def test_an_undecided_process_runs_agents_on_one_thread(threads_state):
    torch.set_num_threads(2)
    device._decided, device._TORCH_DEFAULT = False, 2  # as a fresh process on two cores
    with device.inference(1):
        assert torch.get_num_threads() == 1 and torch.is_inference_mode_enabled()
    assert torch.get_num_threads() == 1 and device._decided  # decided once, for good


def test_a_process_that_chose_more_threads_keeps_them_outside_small_passes(threads_state):
    device.set_threads(2)  # training's choice
    with device.inference(device.SMALL_BATCH):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with device.inference(device.SMALL_BATCH + 1):  # a large batch keeps the process's count
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("heads", [[9, 4], [5], [3, 3, 2]])
def test_numpy_logits_match_the_torch_forward(heads):
    torch.manual_seed(0)
    net = PolicyValueNet(20, heads, hidden=(32, 16))
    x = np.random.default_rng(0).normal(size=(NUMPY_ROWS, 20)).astype(np.float32)
    fast = NumpyPolicy(net)(x)
    with torch.no_grad():
        ref, _, _ = net(torch.from_numpy(x)[:, None], with_value=False)
    assert len(fast) == len(heads)
    for a, b in zip(fast, ref, strict=True):
        np.testing.assert_allclose(a, b[:, 0].numpy(), rtol=1e-5, atol=1e-5)


def test_numpy_logits_follow_the_weights_as_they_train():
    """A live learner (the league's main agent) predicts with its current weights, not a stale copy."""
    torch.manual_seed(0)
    net = PolicyValueNet(6, [4], hidden=(8,))
    fast = NumpyPolicy(net)
    x = np.ones((1, 6), np.float32)
    before = fast(x)[0].copy()
    opt = torch.optim.Adam(net.parameters(), lr=0.5, foreach=True)
    logits, _, _ = net(torch.from_numpy(x)[:, None], with_value=False)
    opt.zero_grad()
    (logits[0] ** 2).sum().backward()
    opt.step()
    after = fast(x)[0]
    with torch.no_grad():
        ref = net(torch.from_numpy(x)[:, None], with_value=False)[0][0][:, 0].numpy()
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, ref, rtol=1e-5, atol=1e-5)


def test_predict_on_a_few_rows_equals_the_torch_path():
    """The learner's predict: NumPy for a few rows, torch beyond; greedy actions agree, and sampling draws
    the learner's generator in the same order (the same seed, the same actions on the NumPy path)."""
    import envs  # noqa: F401
    import nets.on_policy as pg
    from nets.ppo import PPO

    vec = gym.make_vec("sandbox/Duel-v0", num_envs=2, opponent="random")
    learner = PPO(vec, hidden=(16, 16), seed=1, device="cpu")
    obs = np.random.default_rng(0).uniform(-1, 1, size=(NUMPY_ROWS, 76)).astype(np.float32)
    fast, _ = learner.predict(obs, deterministic=True)
    saved = pg.NUMPY_ROWS
    try:
        pg.NUMPY_ROWS = 0
        slow, _ = learner.predict(obs, deterministic=True)
    finally:
        pg.NUMPY_ROWS = saved
    np.testing.assert_array_equal(fast, slow)
    learner.rng = np.random.default_rng(3)
    a = [learner.predict(o)[0] for o in obs]
    learner.rng = np.random.default_rng(3)
    b = [learner.predict(o)[0] for o in obs]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
