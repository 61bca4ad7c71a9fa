"""API tests driven by the registry: every env in envs.SANDBOX_ENVS is tested by being registered.

For each registered id: Gymnasium's env checker, seeded determinism, pickling mid-episode,
difficulty set from outside, rgb_array rendering, and that render_mode=None never imports pygame.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs

IDS = [env_id for env_id, _, _ in envs.SANDBOX_ENVS if not env_id.startswith("sandbox/Director")]
ALL_IDS = [env_id for env_id, _, _ in envs.SANDBOX_ENVS]


def rollout(env: gym.Env, seed: int, steps: int = 120) -> list:
    """Observations, rewards and flags of a seeded random rollout (actions from a seeded space)."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace = [np.asarray(obs).copy()]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        trace.append((np.asarray(obs).copy(), float(reward), terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            trace.append(np.asarray(obs).copy())
    return trace


def same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(a, b))


def test_every_registered_id_is_makeable():
    for env_id in ALL_IDS:
        assert env_id in gym.registry
        gym.make(env_id).close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_env_checker(env_id):
    env = gym.make(env_id).unwrapped
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_rollout(env_id):
    a, b = gym.make(env_id), gym.make(env_id)
    ta, tb = rollout(a, seed=7), rollout(b, seed=7)
    assert len(ta) == len(tb)
    assert all(same(x, y) for x, y in zip(ta, tb, strict=True))
    tc = rollout(gym.make(env_id), seed=8)
    assert not all(same(x, y) for x, y in zip(ta, tc, strict=False)), "a different seed should differ"


@pytest.mark.parametrize("env_id", IDS)
def test_pickle_mid_episode_continues_identically(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=3)
    env.action_space.seed(3)
    for _ in range(10):
        env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    actions = [env.action_space.sample() for _ in range(30)]
    for action in actions:
        out_a, out_b = env.step(action), clone.step(action)
        assert same(np.asarray(out_a[0]), np.asarray(out_b[0])) and out_a[1:4] == out_b[1:4]
        if out_a[2] or out_a[3]:
            break


@pytest.mark.parametrize("env_id", IDS)
def test_difficulty_is_set_from_outside(env_id):
    env = gym.make(env_id).unwrapped
    env.set_difficulty(0.8)  # persists: vector envs reset without options
    env.reset(seed=0)
    assert env.episode_difficulty == pytest.approx(0.8)
    env.reset(seed=0, options={"difficulty": 0.2})  # this episode only
    assert env.episode_difficulty == pytest.approx(0.2)
    env.reset(seed=0)
    assert env.episode_difficulty == pytest.approx(0.8)
    for bad in (1.5, -0.1, float("nan"), "hard"):
        with pytest.raises(ValueError, match=r"difficulty must be .*\[0, 1\]"):
            env.set_difficulty(bad)
        with pytest.raises(ValueError, match=r"difficulty must be .*\[0, 1\]"):
            env.reset(options={"difficulty": bad})


@pytest.mark.parametrize("env_id", IDS)
def test_rgb_array_frame(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.std() > 0, "a blank frame"
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_render_mode_none_never_imports_pygame(env_id):
    code = (
        "import sys, gymnasium as gym, envs\n"
        f"env = gym.make({env_id!r})\n"
        "env.reset(seed=0)\n"
        "for _ in range(50):\n"
        "    if any(env.step(env.action_space.sample())[2:4]): env.reset()\n"
        "env.render()\n"
        "print('pygame' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


VECTOR_IDS = [env_id for env_id, _, kwargs in envs.SANDBOX_ENVS if kwargs.get("vector_entry_point")]


def test_batched_envs_are_registered_as_vector_entry_points():
    assert "sandbox/Stealth-v0" in VECTOR_IDS
    for env_id in VECTOR_IDS:
        assert gym.spec(env_id).vector_entry_point is not None


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_make_vec_gives_the_native_batch_with_the_single_envs_spaces(env_id):
    """``gym.make_vec(id, num_envs=N)`` picks the registered batched env (not Sync/AsyncVectorEnv), whose
    spaces batch the single env's, with next-step autoreset declared and seeded rollouts reproducible."""
    from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

    vec = gym.make_vec(env_id, num_envs=3)
    ref = gym.make(env_id)
    assert isinstance(vec, VectorEnv) and not isinstance(vec, SyncVectorEnv | AsyncVectorEnv)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert vec.single_observation_space == ref.observation_space
    assert vec.single_action_space == ref.action_space
    assert vec.observation_space.shape[0] == vec.num_envs == 3

    def trace(seed):
        obs, _ = vec.reset(seed=seed)
        vec.action_space.seed(seed)
        out = [obs.copy()]
        for _ in range(50):
            obs, reward, terminated, truncated, _ = vec.step(vec.action_space.sample())
            assert obs in vec.observation_space
            out += [obs.copy(), reward.copy(), terminated.copy(), truncated.copy()]
        return out

    a, b = trace(4), trace(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    first, _ = vec.reset(seed=4)
    single_first, _ = ref.reset(seed=5)  # env 1 of the batch is the single env seeded 4 + 1
    assert np.array_equal(first[1], single_first)
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec(env_id, num_envs=0)
