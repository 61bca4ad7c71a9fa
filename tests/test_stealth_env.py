"""sandbox/Stealth-v0: API checks, observation layout, determinism, pickling, rendering, errors."""

import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import envs
from agents.navigation import plan_safe_path
from envs.stealth.env import OBS_MODES, StealthEnv
from envs.stealth.rules import DELTAS, Action


@pytest.mark.parametrize("obs_mode", OBS_MODES)
def test_check_env_gymnasium_and_sb3(obs_mode):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(
        "sandbox/Stealth-v0", level="crossing", obs_mode=obs_mode, slip=0.1, render_mode="rgb_array"
    )
    gym_check_env(env.unwrapped)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SB3 notes that a float (C, H, W) Box is not an image
        sb3_check_env(StealthEnv(level="crossing", obs_mode=obs_mode, slip=0.1), warn=False)


def test_registered_through_the_registry_list():
    assert ("sandbox/Stealth-v0", "envs.stealth.env:StealthEnv",
            {"vector_entry_point": "envs.stealth.vector:StealthVectorEnv"}) in envs.SANDBOX_ENVS
    assert isinstance(gym.make("sandbox/Stealth-v0").unwrapped, StealthEnv)


def test_grid_observation_layout():
    env = StealthEnv(level="tutorial")
    obs, info = env.reset(seed=0)
    world, level = env.world, env.level
    h, w = level.shape
    assert obs.shape == (6, h, w) and obs.dtype == np.float32
    assert np.array_equal(obs[0], level.walls)
    assert np.argwhere(obs[1]).tolist() == [list(level.start)]
    assert np.argwhere(obs[2]).tolist() == [list(level.goal)]
    assert np.argwhere(obs[3]).tolist() == [[1, 6]]  # the patrol's first waypoint
    assert np.array_equal(obs[4].reshape(-1), world.watched[0])
    assert np.array_equal(obs[5].reshape(-1), world.watched[1])
    assert info == {"cell": (3, 0), "phase": 0, "caught": False, "at_goal": False, "slipped": False}
    obs, *_ = env.step(Action.EAST)
    assert np.argwhere(obs[1]).tolist() == [[3, 1]]
    assert np.array_equal(obs[4].reshape(-1), world.watched[1])
    vec = StealthEnv(level="tutorial", obs_mode="vector")
    vec.reset(seed=0)
    assert np.array_equal(vec.step(Action.EAST)[0], obs.reshape(-1))


def test_local_observation_is_egocentric():
    env = StealthEnv(level="tutorial", obs_mode="local", local_size=5)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6, 5, 5)
    assert obs[1, 2, 2] == 1 and obs[1].sum() == 1
    # the start is on the left edge (col 0): the two columns to its left are outside, read as wall
    assert (obs[0, :, :2] == 1).all()
    assert obs[0, 2, 2] == 0  # the start cell itself is floor


def test_local_observation_points_a_compass_at_an_out_of_view_goal():
    env = StealthEnv(level="tutorial", obs_mode="local", local_size=5)
    env.reset(seed=0)
    h, w = env.level.shape
    for cell in range(h * w):
        env.unwrapped.cell = cell
        r, c = divmod(cell, w)
        gr, gc = env.level.goal
        obs = env.unwrapped._obs()
        assert obs[2].sum() == 1  # always exactly one goal mark
        dr, dc = gr - r, gc - c
        if max(abs(dr), abs(dc)) <= 2:
            assert obs[2, 2 + dr, 2 + dc] == 1  # in view: the goal itself
        else:  # out of view: the clamped offset, on the window's edge
            mr, mc = np.argwhere(obs[2])[0]
            assert (mr - 2, mc - 2) == (max(-2, min(2, dr)), max(-2, min(2, dc)))
            assert 2 in (abs(mr - 2), abs(mc - 2))


def play(env, actions):
    rewards = []
    for a in actions:
        obs, r, terminated, truncated, info = env.step(a)
        rewards.append(r)
        if terminated or truncated:
            break
    return obs, rewards, terminated, truncated, info


def path_actions(path):
    return [DELTAS.index((b[0] - a[0], b[1] - a[1])) for a, b in zip(path, path[1:], strict=False)]


def test_rewards_goal_caught_step_and_custom():
    env = StealthEnv(level="tutorial")
    env.reset(seed=0)
    path = plan_safe_path(env.level)
    _, rewards, terminated, truncated, info = play(env, path_actions(path))
    assert terminated and not truncated and info["at_goal"] and len(rewards) == len(path) - 1
    assert rewards[:-1] == [-0.01] * (len(rewards) - 1) and rewards[-1] == pytest.approx(0.99)

    env = StealthEnv(level="tutorial", rewards={"goal": 5.0, "caught": -3.0, "step": -0.5})
    env.reset(seed=0)
    # walk straight east along row 3: the pillar at (3,4) stops us; go round by row 2 into the guard's cone
    _, rewards, terminated, _, info = play(env, [Action.EAST] * 3 + [Action.NORTH] + [Action.EAST] * 6)
    assert terminated and info["caught"] and not info["at_goal"]
    assert rewards[-1] == pytest.approx(-3.5) and all(r == -0.5 for r in rewards[:-1])
    with pytest.raises(ValueError, match="unknown reward keys"):
        StealthEnv(rewards={"win": 1.0})


def test_truncated_at_max_steps():
    env = StealthEnv(level="tutorial", max_steps=5)
    env.reset(seed=0)
    _, rewards, terminated, truncated, _ = play(env, [Action.STAY] * 10)
    assert truncated and not terminated and len(rewards) == 5


def test_out_of_range_action_raises_clear_error():
    env = StealthEnv()
    env.reset(seed=0)
    for bad in (5, -1, 2.5, "north"):
        with pytest.raises(ValueError, match=r"invalid action .*valid: integers 0\.\.4"):
            env.step(bad)
    env.step(np.int64(3))  # numpy integers are fine


def rollout(env, seed, n=200):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    rng = np.random.default_rng(seed)
    for _ in range(n):
        obs, r, terminated, truncated, info = env.step(int(rng.integers(5)))
        out += [obs, r, info["cell"], info["slipped"]]
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return out


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=False))


def test_same_seed_same_rollout_random_levels_and_slip():
    make = lambda: gym.make("sandbox/Stealth-v0", level="random", difficulty=0.5, slip=0.3, size=10)  # noqa: E731
    a, b = rollout(make(), seed=7), rollout(make(), seed=7)
    assert same(a, b)
    assert not same(a, rollout(make(), seed=8))


def test_difficulty_option_and_setter_change_random_levels():
    env = StealthEnv(level="random", size=12, difficulty=0.1)
    env.reset(seed=1)
    assert env.level.difficulty == pytest.approx(0.1)
    env.reset(seed=1, options={"difficulty": 0.9})  # this episode only
    assert env.level.difficulty == pytest.approx(0.9) and env.difficulty == 0.1
    env.reset(seed=1)
    assert env.level.difficulty == pytest.approx(0.1)
    env.set_difficulty(0.4)
    env.reset()
    assert env.level.difficulty == pytest.approx(0.4) and env.level.shape == (12, 12)
    with pytest.raises(ValueError, match=r"difficulty must be in \[0, 1\]"):
        env.set_difficulty(2)


def test_pickles_mid_episode():
    env = gym.make("sandbox/Stealth-v0", level="courtyard", slip=0.2)
    env.reset(seed=3)
    for a in (3, 3, 1):
        env.step(a)
    clone = pickle.loads(pickle.dumps(env))
    for a in (3, 3, 2, 2, 3, 0, 4):
        x, y = env.step(a), clone.step(a)
        assert np.array_equal(x[0], y[0]) and x[1:4] == y[1:4]


def test_render_mode_none_never_imports_pygame():
    code = (
        "import sys, gymnasium as gym, envs, agents.navigation\n"
        "env = gym.make('sandbox/Stealth-v0', level='courtyard')\n"
        "env.reset(seed=0)\n"
        "for _ in range(50):\n"
        "    if any(env.step(env.action_space.sample())[2:4]): env.reset()\n"
        "assert 'pygame' not in sys.modules, 'pygame was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rgb_array_and_ansi():
    env = gym.make("sandbox/Stealth-v0", level="tutorial", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    h, w = env.unwrapped.level.shape
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] * w == frame.shape[1] * h  # square cells
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 5
    env.close()
    text = gym.make("sandbox/Stealth-v0", level="tutorial", render_mode="ansi")
    text.reset(seed=0)
    lines = text.render().splitlines()
    assert lines[3] == "@...#****.G" and lines[1] == "#.....v...#"
    with pytest.raises(ValueError, match="render_mode"):
        StealthEnv(render_mode="window")


def test_bad_arguments():
    with pytest.raises(ValueError, match="obs_mode"):
        StealthEnv(obs_mode="pixels")
    with pytest.raises(ValueError, match="slip"):
        StealthEnv(slip=1.5)
    with pytest.raises(ValueError, match="bundled levels"):
        StealthEnv(level="atlantis")


def test_human_mode_draws_to_a_window_and_overlays_show_in_rgb():
    # conftest sets SDL_VIDEODRIVER=dummy, so the "window" is off-screen
    env = gym.make("sandbox/Stealth-v0", level="tutorial", render_mode="human")
    env.reset(seed=0)
    env.step(Action.EAST)
    assert env.unwrapped._renderer.window is not None
    env.close()
    from agents.navigation import threat_map

    env = StealthEnv(level="tutorial", render_mode="rgb_array")
    env.reset(seed=0)
    plain = env.render()
    env.overlays["threat"] = threat_map(env.level)
    assert not np.array_equal(plain, env.render())
