"""``drives=`` on both games, single and batched: the levels appended to the observation and reported in info,
the reward the table's, the events by hand, and env i of a batch equal to the single env seeded s + i."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers the ids)
from envs.drives.table import DriveError, load_drives
from envs.duel.layout import OBS_SIZE

FEAR_ONLY = """
game = "stealth"
mode = "creatures"
[drives.fear]
half_life = inf
high = 10.0
[drives.fear.doses]
moved = 1.0
new_cell = 0.5
time = 0.25
"""


def first_episodes_equal(single_env, vec, actions_of, seed: int, steps: int) -> int:
    """Step a batch and its single envs (seeds seed + i) with the same actions until each first episode ends;
    every observation, reward, flag and the drives' info must agree. Returns the steps compared."""
    n = vec.num_envs
    singles = [single_env() for _ in range(n)]
    vobs, vinfo = vec.reset(seed=seed)
    live = np.ones(n, dtype=bool)
    compared = 0
    for i, env in enumerate(singles):
        obs, info = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs, vobs[i])
        np.testing.assert_array_equal(info["drives"], vinfo["drives"][i])
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        actions = actions_of(rng, n)
        vobs, vrew, vterm, vtrunc, vinfo = vec.step(actions)
        for i in np.flatnonzero(live):
            obs, rew, term, trunc, info = singles[i].step(actions[i])
            np.testing.assert_array_equal(obs, vobs[i])
            assert rew == vrew[i] and term == vterm[i] and trunc == vtrunc[i]
            np.testing.assert_array_equal(info["drives"], vinfo["drives"][i])
            assert info["drive_reward"] == vinfo["drive_reward"][i]
            assert info["unshaped_reward"] == vinfo["unshaped_reward"][i]
            compared += 1
            if term or trunc:
                live[i] = False
        if not live.any():
            break
    return compared


@pytest.mark.parametrize("obs_mode", ["grid", "vector", "local"])
def test_stealth_batch_equals_single_with_drives(obs_mode: str) -> None:
    kwargs = {"level": "random", "difficulty": 0.6, "size": 8, "obs_mode": obs_mode, "drives": "default"}
    vec = gym.make_vec("sandbox/Stealth-v0", num_envs=6, **kwargs)
    compared = first_episodes_equal(lambda: gym.make("sandbox/Stealth-v0", **kwargs).unwrapped, vec,
                                     lambda rng, n: rng.integers(0, 5, size=n), seed=11, steps=200)
    assert compared > 30
    assert vec.single_observation_space.shape[0] in (6 + 2, 6 * 8 * 8 + 2, 6 + 2)


def test_duel_batch_equals_single_with_drives() -> None:
    kwargs = {"opponent": "scripted:hard", "drives": "default", "round_seconds": 8}
    vec = gym.make_vec("sandbox/Duel-v0", num_envs=4, **kwargs)
    compared = first_episodes_equal(lambda: gym.make("sandbox/Duel-v0", **kwargs).unwrapped, vec,
                                    lambda rng, n: np.stack([rng.integers(0, 9, n), rng.integers(0, 4, n)], axis=1),
                                    seed=5, steps=200)
    assert compared == 4 * 120  # 8 s at 60 ticks, 4 ticks a decision: every round to its end
    assert vec.single_observation_space.shape == (OBS_SIZE + 2,)


def test_stealth_events_and_reward_by_hand(tmp_path) -> None:
    path = tmp_path / "fear.toml"
    path.write_text(FEAR_ONLY)
    env = gym.make("sandbox/Stealth-v0", level="tutorial", obs_mode="vector", drives=path).unwrapped
    plain = gym.make("sandbox/Stealth-v0", level="tutorial", obs_mode="vector").unwrapped
    obs, info = env.reset(seed=0)
    base, _ = plain.reset(seed=0)
    assert obs.shape == (base.size + 1,) and obs[-1] == 0.0 and info["drives"].tolist() == [0.0]
    np.testing.assert_array_equal(obs[:-1], base)
    obs, reward, *_, info = env.step(0)  # stay: only time passes (+0.25)
    assert info["drives"].tolist() == [0.25] and reward == -0.25 and info["unshaped_reward"] == -0.01
    assert obs[-1] == np.float32(0.025)  # the level over its bounds [0, 10]
    r, c = info["cell"]
    move = next(a for a, (dr, dc) in ((1, (-1, 0)), (2, (1, 0)), (3, (0, 1)), (4, (0, -1)))
                if not env.world.walls[(r + dr) * env.world.width + c + dc])
    _, reward, *_, info = env.step(move)  # a move to a new cell: 1 + 0.5 + 0.25
    assert info["drives"].tolist() == [2.0] and reward == -1.75
    _, reward, *_, info = env.step({1: 2, 2: 1, 3: 4, 4: 3}[move])  # back to the start: visited before
    assert info["drives"].tolist() == [3.25] and reward == -1.25


def test_drives_off_changes_nothing_and_bad_tables_are_refused(tmp_path) -> None:
    env = gym.make("sandbox/Stealth-v0", level="tutorial").unwrapped
    env.reset(seed=0)
    *_, info = env.step(0)
    assert env.drives is None and "drives" not in info and "unshaped_reward" not in info
    bad = tmp_path / "bad.toml"
    bad.write_text(FEAR_ONLY.replace("new_cell", "new_move"))
    with pytest.raises(DriveError, match=rf"^{bad}:9: unknown event 'new_move'"):
        gym.make("sandbox/Stealth-v0", drives=bad)
    with pytest.raises(DriveError, match="for the stealth game, not the duel game"):
        gym.make_vec("sandbox/Duel-v0", num_envs=2, drives=load_drives("default", "stealth"))
    with pytest.raises(ValueError, match="uint8"):
        gym.make_vec("sandbox/Stealth-v0", num_envs=2, obs_dtype="uint8", drives="default")
    with pytest.raises(ValueError, match="one-player"):
        gym.make_vec("sandbox/Duel-v0", num_envs=2, opponent=None, drives="default")


def test_duel_events_by_hand() -> None:
    env = gym.make("sandbox/Duel-v0", opponent="scripted:hard", drives="default").unwrapped
    obs, info = env.reset(seed=3)
    assert obs.shape == (OBS_SIZE + 2,) and info["drives"].tolist() == [0.0, 0.0]
    _, reward, _, _, info = env.step(np.array([0, 0]))  # the first input is new: boredom would fall, at 0 stays
    assert info["drives"][1] == 0.0
    for _ in range(3):
        _, reward, _, _, info = env.step(np.array([0, 0]))  # repeated: +0.03 each after decay
    decay = 0.5 ** (1 / 60)
    expected = ((0.03 * decay) + 0.03) * decay + 0.03
    assert info["drives"][1] == pytest.approx(expected)
    pain, health = info["drives"][0], info["agent_health"]
    levels = info["drives"]
    for _ in range(400):
        _, reward, terminated, _, info = env.step(np.array([0, 0]))  # standing: the hard fighter hits
        d_before, d_after = (float(h[0] ** 2 + 0.5 * h[1] ** 2) for h in (levels, info["drives"]))  # m=1, n=2
        assert info["drive_reward"] == pytest.approx(d_before - d_after, abs=1e-15)
        assert reward == pytest.approx(0.5 * info["unshaped_reward"] + 0.5 * info["drive_reward"], abs=1e-15)
        levels = info["drives"]
        lost = (health - info["agent_health"]) / 200  # the default fighter's max health
        expected = pain * 0.5 ** (1 / 30) + 2.0 * lost + 0.05 * (lost > 0)
        assert info["drives"][0] == pytest.approx(min(expected, 1.0), rel=1e-12, abs=1e-15)
        pain, health = info["drives"][0], info["agent_health"]
        if terminated:
            break
    assert pain > 0.1  # it was hit


@pytest.mark.parametrize("env_id, kwargs, action", [
    ("sandbox/Stealth-v0", {"level": "courtyard"}, 3),
    ("sandbox/Duel-v0", {"opponent": "scripted:normal"}, np.array([3, 1])),
])
def test_envs_with_drives_pickle_and_go_on_alike(env_id: str, kwargs: dict, action) -> None:
    import pickle

    env = gym.make(env_id, drives="default", **kwargs).unwrapped
    env.reset(seed=1)
    for _ in range(3):
        env.step(action)
    copy = pickle.loads(pickle.dumps(env))
    a, b = env.step(action), copy.step(action)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    np.testing.assert_array_equal(a[4]["drives"], b[4]["drives"])
    assert env.observation_space.contains(a[0])


def test_the_fear_map_is_where_the_near_cone_event_fires() -> None:
    from envs.stealth.drives import fear_map, near_watched

    env = gym.make("sandbox/Stealth-v0", level="courtyard", drives="default").unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    near = env.drives.state.events[:, 1 + 3]  # the near_cone column (time, moved, still, new_cell, near_cone)
    fired = 0
    for _ in range(60):
        *_, terminated, truncated, info = env.step(int(rng.integers(5)))
        assert near[0] == near_watched(env.world, env.phase)[env.cell]
        fired += int(near[0])
        if terminated or truncated:
            break
    assert fired > 0
    fear = fear_map(env.world, env.phase, env.drives.state.table)
    watched = env.world.watched[env.phase].reshape(fear.shape)
    # default fear: near_cone 0.25, seen 1.0 (weight 1): a watched cell 1.25/1.25, a cell beside one 0.25/1.25
    assert np.all(fear[watched] == 1.0)
    beside = near_watched(env.world, env.phase).reshape(fear.shape) & ~watched & ~env.world.walls.reshape(fear.shape)
    assert beside.any() and np.allclose(fear[beside], 0.2)
    assert np.all(fear[~beside & ~watched] == 0.0)
