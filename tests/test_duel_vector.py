"""The batched duel (``gym.make_vec("sandbox/Duel-v0")``) against the single env (the rules against the
oracle: tests/test_duel_kernels.py).

Exactness: with a scripted opponent, round i reset with seed s plays exactly
like the single env reset with seed s + i, across autoresets; scripted fighters win against each other
at the single env's rates. Then autoreset, seeding, spaces, info and one-line errors.
"""

from __future__ import annotations

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs  # noqa: F401  (registers the ids)
from agents.character.arena import play_round
from agents.character.batched import BatchedScripted, match_batched
from agents.character.scripted import make_scripted
from envs.duel import rules
from envs.duel.env import observe
from envs.duel.vector import DuelVectorEnv


def bits(x) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


def test_flat_actions_play_the_same_inputs():
    a = gym.make_vec("sandbox/Duel-v0", num_envs=8, opponent="external")
    b = gym.make_vec("sandbox/Duel-v0", num_envs=8, opponent="external", flat_actions=True)
    assert b.single_action_space == gym.spaces.MultiDiscrete([36, 36])
    a.reset(seed=0)
    b.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(100):
        act = np.stack([rng.integers(0, 9, (8, 2)), rng.integers(0, 4, (8, 2))], axis=2)
        oa, ra, ta, _, _ = a.step(act)
        ob, rb, tb, _, _ = b.step(act[..., 0] * 4 + act[..., 1])
        assert np.array_equal(oa, ob) and np.array_equal(ra, rb) and np.array_equal(ta, tb)


# ---- scripted opponents, round for round ---------------------------------------------------------------
OPPONENTS = [
    ("random", {}), ("scripted:easy", {}), ("scripted:normal", {}), ("scripted:hard", {}),
    ("scripted:rushdown", {}), ("scripted:zoner", {}), ("scripted:turtle", {}),
    ("scripted:zoner-hard", {}), ("scripted:rushdown-easy", {}), ("scripted:turtle-hard", {}),
    ("scripted:0.05", {}), ("scripted:0.7", {}),
    ("scripted:normal", {"difficulty": 0.3}), ("scripted:hard", {"side": "random"}),
    ("scripted:zoner", {"side": "right", "flat_actions": True}),
    ("scripted:normal", {"frame_skip": 1, "round_seconds": 4}),
]


@pytest.mark.parametrize(("spec", "kwargs"), OPPONENTS, ids=[f"{s}{k or ''}" for s, k in OPPONENTS])
def test_round_i_plays_like_the_single_env_seeded_s_plus_i(spec, kwargs):
    n, seed, steps = 4, 11, 300
    kwargs = {"round_seconds": 12, **kwargs}
    vec = gym.make_vec("sandbox/Duel-v0", num_envs=n, opponent=spec, **kwargs)
    singles = [gym.make("sandbox/Duel-v0", opponent=spec, **kwargs).unwrapped for _ in range(n)]
    obs, _ = vec.reset(seed=seed)
    for i, e in enumerate(singles):
        assert obs[i].tobytes() == e.reset(seed=seed + i)[0].tobytes()
    rng = np.random.default_rng(seed)
    done = np.zeros(n, dtype=bool)
    ends = 0
    for _ in range(steps):
        actions = vec.action_space.sample() if rng.random() < 0.5 else np.zeros(vec.action_space.shape, np.int64)
        obs, rewards, terminated, _, info = vec.step(actions)
        for i, e in enumerate(singles):
            if done[i]:
                o, r, t = e.reset()[0], 0.0, False
            else:
                o, r, t, _, inf = e.step(actions[i])
                if t:
                    assert info["_winner"][i] and info["winner"][i] == inf["winner"]
                    assert info["is_success"][i] == (inf["winner"] == "agent")
            same_reward = bits(r) == bits(rewards[i])  # fighter 1's reward is -reward0, -0.0 included
            assert o.tobytes() == obs[i].tobytes() and same_reward and t == terminated[i]
        ends += int(terminated.sum())
        done = terminated
    assert ends >= 2  # the comparison went through autoresets


def _single_match(make0, make1, rounds: int, seed: int) -> dict:
    """Rounds of single agents on the pure rules (``play_round``), sides alternating, both drawing from one
    generator per round: the single-env reference (``arena.match`` plays in the batched harness)."""
    wins = [0, 0]
    for k in range(rounds):
        rng = np.random.default_rng([seed, k])
        a, b = make0(rng), make1(rng)
        flip = k % 2 == 1
        winner, _ = play_round(b, a) if flip else play_round(a, b)
        if winner is not None:
            wins[(1 - winner) if flip else winner] += 1
    return {"wins": wins[0], "losses": wins[1]}


@pytest.mark.slow
@pytest.mark.parametrize(("spec_a", "spec_b"), [("scripted:normal", "scripted:turtle"),
                                                ("scripted:zoner-hard", "scripted:rushdown")])
def test_scripted_win_rates_match_the_single_env(spec_a, spec_b):
    rounds = 200
    single = _single_match(lambda rng: make_scripted(spec_a.partition(":")[2], rng=rng),
                           lambda rng: make_scripted(spec_b.partition(":")[2], rng=rng), rounds, seed=5)
    batched = match_batched(spec_a, spec_b, 1000, seed=5)
    assert batched["wins"] + batched["losses"] + batched["draws"] == 1000
    p = batched["wins"] / 1000
    # the single env's 200-round count lies in the 99.9% binomial interval around the batched rate
    half = 3.29 * math.sqrt(rounds * p * (1 - p)) + 1
    assert abs(single["wins"] - rounds * p) <= half, (single, batched)


# ---- autoreset, seeding, spaces, info ---------------------------------------------------------------------
def test_next_step_autoreset_starts_a_fresh_round_and_ignores_the_action():
    env = gym.make_vec("sandbox/Duel-v0", num_envs=3, opponent="scripted:hard", round_seconds=1)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    env.reset(seed=0)
    terminated = np.zeros(3, dtype=bool)
    for _ in range(15):  # 60 ticks = 15 decisions: all time out together
        _, _, terminated, _, info = env.step(np.zeros((3, 2), np.int64))
    assert terminated.all() and info["_is_success"].all()
    obs, rewards, terminated, _, _ = env.step(np.full((3, 2), 3, np.int64))
    start = rules.initial_state(60)
    assert np.array_equal(obs, np.stack([observe(start, 0)] * 3))
    assert not rewards.any() and not terminated.any()
    assert all(env.round_state(i) == start for i in range(3))


def test_seeding_repeats_and_accepts_one_seed_per_round():
    def rollout(env, seed):
        out = [env.reset(seed=seed)[0]]
        env.action_space.seed(0)
        for _ in range(50):
            out.append(env.step(env.action_space.sample())[0])
        return np.stack(out)

    a = gym.make_vec("sandbox/Duel-v0", num_envs=4, opponent="scripted:normal")
    b = gym.make_vec("sandbox/Duel-v0", num_envs=4, opponent="scripted:normal")
    assert np.array_equal(rollout(a, 3), rollout(b, 3))
    assert np.array_equal(rollout(a, 3), rollout(b, [3, 4, 5, 6]))
    assert not np.array_equal(rollout(a, 3), rollout(b, 4))


def test_spaces_and_make_vec_picks_the_batched_env():
    env = gym.make_vec("sandbox/Duel-v0", num_envs=5)
    assert isinstance(env, DuelVectorEnv) and env.opponent_spec == "scripted:normal"
    assert env.single_observation_space == gym.spaces.Box(-1.0, 1.0, (76,), np.float32)
    assert env.observation_space.shape == (5, 76) and env.action_space.shape == (5, 2)
    assert env.single_action_space == gym.spaces.MultiDiscrete([9, 4])
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    for _ in range(30):
        obs, *_ = env.step(env.action_space.sample())
        assert obs in env.observation_space
    two = gym.make_vec("sandbox/Duel-v0", num_envs=5, opponent=None)
    assert two.observation_space.shape == (5, 2, 76) and two.action_space.shape == (5, 2, 2)
    flat = gym.make_vec("sandbox/Duel-v0", num_envs=5, flat_actions=True)
    assert flat.action_space == gym.spaces.MultiDiscrete([36] * 5)
    sync = gym.make_vec("sandbox/Duel-v0", num_envs=2, vectorization_mode="sync")
    assert sync.single_observation_space == env.single_observation_space


def test_difficulty_per_round_and_set_from_outside():
    env = gym.make_vec("sandbox/Duel-v0", num_envs=3, opponent="scripted:normal")
    env.set_difficulty([0.0, None, 1.0])
    env.reset(seed=0)
    delays = env.opponent._delay.tolist()
    assert delays == [7, 4, 1]  # reaction ticks 28, 16 (the normal preset), 4, in decisions of 4 ticks
    env.reset(options={"difficulty": 0.15})  # this episode only: 24 ticks
    assert env.opponent._delay.tolist() == [6, 6, 6]
    env.reset()
    assert env.opponent._delay.tolist() == [7, 4, 1]


def test_pickled_env_continues_identically():
    env = gym.make_vec("sandbox/Duel-v0", num_envs=4, opponent="scripted:hard")
    env.reset(seed=1)
    env.action_space.seed(1)
    for _ in range(20):
        env.step(env.action_space.sample())
    twin = pickle.loads(pickle.dumps(env))
    for _ in range(30):
        a = env.action_space.sample()
        assert np.array_equal(env.step(a)[0], twin.step(a)[0])


# ---- bad input: one clear line each ---------------------------------------------------------------------
@pytest.mark.parametrize(("make", "words"), [
    (lambda: gym.make_vec("sandbox/Duel-v0", num_envs=0), "num_envs must be an integer >= 1"),
    (lambda: gym.make_vec("sandbox/Duel-v0", num_envs=2, opponent="scripted:godlike"), "unknown scripted"),
    (lambda: gym.make_vec("sandbox/Duel-v0", num_envs=2, opponent="ghostly:run"), "unknown agent spec"),
    (lambda: gym.make_vec("sandbox/Duel-v0", num_envs=2, opponent="human"), "plays one env"),
    (lambda: DuelVectorEnv(num_envs=2, opponent="scripted:hard"), "spec strings are resolved by"),
])
def test_bad_construction_says_one_line(make, words):
    with pytest.raises(ValueError) as err:
        make()
    assert words in str(err.value) and "\n" not in str(err.value)


def test_two_player_form_without_opponent_actions_says_one_line():
    env = gym.make_vec("sandbox/Duel-v0", num_envs=3, opponent="external")
    env.reset(seed=0)
    with pytest.raises(ValueError) as err:
        env.step(np.zeros((3, 2), np.int64))  # one player's actions only
    assert "needs both players' actions, shape (3, 2, 2)" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"must be in \[0,9\)x\[0,4\)"):
        env.step(np.full((3, 2, 2), 9))


def test_scripted_opponent_object_and_single_fighter_agree_on_intents():
    # gym.make's opponent is the batched fighter bound to one round: both forms record the same intents
    spec = "scripted:hard"
    vec = gym.make_vec("sandbox/Duel-v0", num_envs=1, opponent=spec)
    single = gym.make("sandbox/Duel-v0", opponent=spec).unwrapped
    vec.reset(seed=4)
    single.reset(seed=4)
    assert isinstance(vec.opponent, BatchedScripted) and isinstance(single.opponent, BatchedScripted)
    for _ in range(120):
        vec.step(np.array([[3, 0]]))
        single.step(np.array([3, 0]))
        assert int(vec.opponent.last_intent[0]) == int(single.opponent.last_intent[0])
