"""sandbox/Duel-v0 and its PettingZoo twin: API checks, determinism, pickling, rendering, features."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401  (registers sandbox/*)
from agents.opponents import make_duel_env
from envs.duel import env as E
from envs.duel import parallel_env, rules
from envs.duel.env import OBS_SIZE, decode_action, observe
from envs.duel.rules import MAX_HEALTH


def rollout(env, seed, steps, actions_seed=0):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(actions_seed)
    trace = [obs.copy()]
    for _ in range(steps):
        action = int(rng.integers(36)) if env.flat_actions else np.array([rng.integers(9), rng.integers(4)])
        obs, reward, terminated, truncated, info = env.step(action)
        trace.append((obs.copy(), reward, terminated, info["agent_health"], info["opponent_health"]))
        if terminated:
            obs, _ = env.reset()
    return trace


@pytest.mark.parametrize("flat", [False, True])
def test_gymnasium_and_sb3_check_env(flat):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(gym.make("sandbox/Duel-v0", flat_actions=flat).unwrapped, skip_render_check=False)
        sb3_check_env(make_duel_env(flat_actions=flat), warn=True)
    space = make_duel_env(flat_actions=flat).action_space
    assert space == (gym.spaces.Discrete(36) if flat else gym.spaces.MultiDiscrete([9, 4]))


@pytest.mark.parametrize("opponent", ["random", "scripted:easy", "scripted:hard", "scripted:zoner"])
def test_seeded_rollouts_are_deterministic(opponent):
    a = rollout(make_duel_env(opponent=opponent), seed=11, steps=300)
    b = rollout(make_duel_env(opponent=opponent), seed=11, steps=300)
    for x, y in zip(a[1:], b[1:], strict=True):
        np.testing.assert_array_equal(x[0], y[0])
        assert x[1:] == y[1:]
    c = rollout(make_duel_env(opponent=opponent), seed=12, steps=300)
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a[1:], c[1:], strict=True))


def test_reseeding_the_same_env_repeats_the_episode():
    env = make_duel_env(opponent="scripted:normal")
    a = rollout(env, seed=5, steps=200)
    b = rollout(env, seed=5, steps=200)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a[1:], b[1:], strict=True))


def test_env_pickles_mid_episode():
    env = make_duel_env(opponent="scripted:normal", render_mode="rgb_array")
    env.reset(seed=3)
    for _ in range(50):
        env.step(np.array([3, 1]))
    env.render()
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(100):
        o1, r1, t1, _, _ = env.step(np.array([5, 1]))
        o2, r2, t2, _, _ = clone.step(np.array([5, 1]))
        np.testing.assert_array_equal(o1, o2)
        assert (r1, t1) == (r2, t2)
        if t1:
            break


def test_render_mode_none_never_initialises_a_display():
    code = (
        "import sys, numpy as np, envs, gymnasium as gym\n"
        "env = gym.make('sandbox/Duel-v0', opponent='scripted:normal')\n"
        "env.reset(seed=0)\n"
        "for _ in range(200):\n"
        "    env.step(env.action_space.sample())\n"
        "env.close()\n"
        "assert 'pygame' not in sys.modules, 'pygame was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_rgb_array_frame():
    env = make_duel_env(opponent="scripted:normal", render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(30):
        env.step(np.array([3, 1]))
    frame = env.render()
    assert frame.shape == (450, 800, 3) and frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 5  # fighters, bars, floor are drawn
    env.close()


def test_human_mode_draws_headless_with_dummy_driver():
    # tests/conftest.py sets SDL_VIDEODRIVER=dummy, so this exercises the window code without a screen
    env = make_duel_env(opponent="scripted:normal", render_mode="human", frame_skip=1)
    env.reset(seed=0)
    env.renderer.show_hitboxes = True
    for _ in range(5):
        env.step(np.array([0, 1]))
    env.close()


def test_observation_layout_and_bounds():
    assert OBS_SIZE == 76 and E.OPP == 32 and E.OBS_ADVANTAGE == 75
    env = make_duel_env(opponent="random")
    obs, _ = env.reset(seed=1)
    assert obs.dtype == np.float32 and obs.shape == (76,)
    assert obs[E.SELF + E.F_HEALTH] == 1.0 and obs[E.OPP + E.F_HEALTH] == 1.0
    assert obs[E.SELF + E.F_STATE + rules.FState.STAND] == 1.0
    assert obs[E.OBS_DX] == pytest.approx(rules.START_GAP / rules.STAGE_WIDTH)
    assert obs[E.OBS_TIME] == 1.0
    rng = np.random.default_rng(0)
    for _ in range(2000):
        obs, _, terminated, _, _ = env.step(np.array([rng.integers(9), rng.integers(4)]))
        assert env.observation_space.contains(obs)
        for block in (E.SELF, E.OPP):  # one-hots stay one-hot
            assert obs[block + E.F_STATE: block + E.F_STATE + 9].sum() == 1.0
            assert obs[block + E.F_MOVE: block + E.F_MOVE + 9].sum() == 1.0
        if terminated:
            env.reset()


def test_observation_is_mirror_invariant_and_views_are_symmetric():
    rng = np.random.default_rng(4)
    s = rules.initial_state()
    for _ in range(400):
        pair = ((int(rng.integers(9)), int(rng.integers(4))), (int(rng.integers(9)), int(rng.integers(4))))
        s, _ = rules.step(s, pair)
        if s.over:
            break
        m = rules.mirror(s)
        for me in (0, 1):
            a, b = observe(s, me), observe(m, me)
            keep = np.arange(OBS_SIZE) != E.OBS_ABS_FACING
            np.testing.assert_array_equal(a[keep], b[keep])
        # player 1's view of the swapped state is player 0's view of the original
        np.testing.assert_array_equal(observe(rules.swap(s), 1), observe(s, 0))


def test_decode_action_forms():
    for a in range(36):
        assert decode_action(a) == (a // 4, a % 4) == decode_action(np.array([a // 4, a % 4]))
    for bad in (36, -1, np.array([9, 0]), np.array([1, 2, 3])):
        with pytest.raises(ValueError):
            decode_action(bad)


def test_rewards_sum_to_health_difference_plus_outcome():
    env = make_duel_env(opponent="scripted:hard", round_seconds=20)
    env.reset(seed=2)
    total, terminated, info = 0.0, False, {}
    while not terminated:
        _, reward, terminated, truncated, info = env.step(np.array([0, 0]))  # stand still: lose
        assert not truncated
        total += reward
        assert info["winner"] is None or terminated
    diff = (info["agent_health"] - info["opponent_health"]) / MAX_HEALTH
    outcome = {"agent": 1.0, "opponent": -1.0, "draw": 0.0}[info["winner"]]
    assert info["winner"] == "opponent"
    assert total == pytest.approx(diff + outcome)
    with pytest.raises(RuntimeError):
        env.step(np.array([0, 0]))


def test_info_events_name_the_roles():
    env = make_duel_env(opponent="scripted:hard", side="right")
    env.reset(seed=0)
    assert env.me == 1
    seen = []
    for _ in range(300):
        _, _, terminated, _, info = env.step(np.array([0, 0]))
        seen += info["events"]
        if terminated:
            break
    assert any(e["type"] in ("hit", "throw") and e["by"] == "opponent" for e in seen)
    assert all(e["by"] in ("agent", "opponent", None) for e in seen)


def test_side_random_uses_the_seed():
    sides = {make_duel_env(side="random").reset(seed=k)[0][E.OBS_ABS_FACING] for k in range(20)}
    assert sides == {1.0, -1.0}


def test_difficulty_attribute_setter_and_reset_option():
    env = make_duel_env(opponent="scripted:normal")  # the batched fighter of one round: params[0] is its knobs
    env.reset(seed=0)
    base = env.opponent.params[0]
    env.set_difficulty(0.0)
    env.reset(seed=0)
    weak = env.opponent.params[0]
    assert weak.reaction_ticks > base.reaction_ticks and weak.error_rate > base.error_rate
    env.reset(seed=0, options={"difficulty": 1.0})
    assert env.opponent.params[0].guard_prob > base.guard_prob and env.episode_difficulty == 1.0
    env.reset(seed=0)  # the override lasted one episode
    assert env.opponent.params[0] == weak
    env.set_difficulty(None)
    env.reset()
    assert env.opponent.params[0] == base
    for bad in (-0.1, 1.5, "hard"):
        with pytest.raises(ValueError):
            env.set_difficulty(bad)
    with pytest.raises(ValueError, match="difficulty"):
        make_duel_env(difficulty=2)


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match="valid: .*scripted"):
        make_duel_env(opponent="grandmaster")
    with pytest.raises(ValueError, match="human"):
        make_duel_env(opponent="human")
    with pytest.raises(ValueError, match="easy, normal, hard"):
        make_duel_env(opponent="scripted:godlike")
    with pytest.raises(ValueError):
        make_duel_env(frame_skip=0)
    with pytest.raises(ValueError):
        make_duel_env(side="middle")


def test_agent_object_as_opponent_and_frame_skip():
    class Jabber:
        def predict(self, observation, state=None, episode_start=None, deterministic=False):
            return np.array([0, 1]), state

    env = make_duel_env(opponent=Jabber(), frame_skip=1)
    env.reset(seed=0)
    assert env.opponent_spec == "Jabber"
    for _ in range(60):  # walk into the jabs
        _, _, _, _, info = env.step(np.array([3, 0]))
    assert info["agent_health"] < MAX_HEALTH
    env4 = make_duel_env(opponent="random", frame_skip=4)
    env4.reset(seed=0)
    _, _, _, _, info = env4.step(np.array([0, 0]))
    assert info["tick"] == 4


def test_pettingzoo_parallel_api():
    from pettingzoo.test import parallel_api_test

    parallel_api_test(parallel_env(), num_cycles=300)
    parallel_api_test(parallel_env(flat_actions=True), num_cycles=300)


def test_pettingzoo_views_are_symmetric_and_rewards_zero_sum():
    env = parallel_env(round_seconds=10)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["player_0"][:E.OBS_ABS_FACING], obs["player_1"][:E.OBS_ABS_FACING])
    rng = np.random.default_rng(0)
    while env.agents:
        actions = {a: np.array([rng.integers(9), rng.integers(4)]) for a in env.agents}
        obs, rewards, terms, truncs, infos = env.step(actions)
        assert rewards["player_0"] == -rewards["player_1"]
    assert terms["player_0"] and infos["player_0"]["winner"] in ("player_0", "player_1", "draw")
    frame = parallel_env(render_mode="rgb_array")
    frame.reset(seed=0)
    assert frame.render().shape == (450, 800, 3)


def test_a_predict_opponent_gets_its_recurrent_state_back():
    """An agent object with only ``predict`` (the single-env protocol) is given back the state it returned,
    with ``episode_start`` on the first decision of each round only."""

    class Counter:
        def __init__(self):
            self.seen = []

        def predict(self, observation, state=None, episode_start=None, deterministic=False):
            self.seen.append((state, bool(episode_start[0])))
            return np.array([0, 0]), (0 if state is None else state + 1)

    agent = Counter()
    env = make_duel_env(opponent=agent, round_seconds=1)
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.array([0, 0]))
    env.reset()
    env.step(np.array([0, 0]))
    assert agent.seen == [(None, True), (0, False), (1, False), (None, True)]
