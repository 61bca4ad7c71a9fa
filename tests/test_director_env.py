"""sandbox/Director-v0, LearnedDirector's view of it, and DirectedEnv inside an SB3 DummyVecEnv."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the sandbox ids)
from agents.meta import DirectedEnv, DirectorEnv, LearnedDirector, RuleDirector, history_observation
from agents.meta.wrapper import near_miss


def test_director_env_passes_check_env():
    check_env(gym.make("sandbox/Director-v0").unwrapped, skip_render_check=True)


def test_history_observation_layout():
    obs = history_observation([True, False, True], [0.2, 0.4, 0.6], 0.7, history=4)
    np.testing.assert_allclose(obs, [0, 1, -1, 1, 0, 0.2, 0.4, 0.6, 0.7], atol=1e-7)
    assert obs.dtype == np.float32


def test_director_env_reward_is_minus_distance_of_rolling_win_rate():
    env = DirectorEnv(player={"skill": 2.0, "slope": 50.0}, window=4, horizon=6)  # always wins
    env.reset(seed=0)
    rewards, truncs = [], []
    for _ in range(6):
        _, r, term, trunc, info = env.step(np.array([0.0], dtype=np.float32))
        assert info["won"] and not term
        rewards.append(r)
        truncs.append(trunc)
    assert rewards == pytest.approx([-0.5] * 6)  # win rate 1.0, target 0.5
    assert truncs == [False] * 5 + [True]
    env = DirectorEnv(player={"skill": -2.0, "slope": 50.0})  # always loses; action -1 lowers by 0.2
    env.reset(seed=0)
    obs, *_ = env.step(np.array([-1.0], dtype=np.float32))
    assert env.difficulty == pytest.approx(0.3) and obs[-1] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="finite number"):
        env.step(np.array([np.nan], dtype=np.float32))


def test_director_env_bad_difficulty_is_a_clear_error():
    env = DirectorEnv()
    for bad in (1.5, -0.1, float("nan"), "hard"):
        with pytest.raises(ValueError, match=r"difficulty must be .*\[0, 1\]"):
            env.set_difficulty(bad)
    with pytest.raises(ValueError, match=r"start_difficulty must be .*\[0, 1\]"):
        DirectorEnv(start_difficulty=2)


def test_learned_director_sees_what_the_meta_env_shows():
    """Driving the meta env with a policy, and a LearnedDirector with the same policy fed the same
    outcomes, give the same difficulties: the director's observation is the env's observation."""

    class Policy:
        def predict(self, obs, state=None, episode_start=None, deterministic=False):
            return np.array([np.tanh(obs[:20].sum() / 4.0)], dtype=np.float32), state

    env = DirectorEnv(player={"skill": 0.35, "slope": 8.0})
    obs, _ = env.reset(seed=1)
    director = LearnedDirector(Policy())
    obs, *_ = env.step(Policy().predict(obs)[0])
    director._difficulty = env.difficulty  # both start from the first chosen difficulty
    director.played.clear()
    for _ in range(60):
        won = bool(env.outcomes[-1])
        director.observe(won)
        obs, *_ = env.step(Policy().predict(obs)[0])
        assert director.difficulty == pytest.approx(env.played[-1], abs=1e-6)


def stealth_env():
    return gym.make("sandbox/Stealth-v0", level="random", size=8, max_steps=12)


def test_directed_env_reaches_both_envs_of_a_dummy_vec_env():
    from stable_baselines3.common.vec_env import DummyVecEnv

    director = RuleDirector()
    history = [director.difficulty]  # every difficulty the director ever held
    observe = director.observe

    def logged(won, **details):
        observe(won, **details)
        history.append(director.difficulty)

    director.observe = logged
    vec = DummyVecEnv([lambda: DirectedEnv(stealth_env(), director) for _ in range(2)])
    vec.seed(0)
    vec.reset()
    finished = [0, 0]
    rng = np.random.default_rng(0)
    while min(finished) < 4:
        _, _, dones, infos = vec.step(rng.integers(5, size=2))
        for i, (done, info) in enumerate(zip(dones, infos, strict=True)):
            if done:
                finished[i] += 1
                assert "director" in info and info["director"]["steps"] >= 1
                assert "near_misses" in info["director"]
    for wrapper in vec.envs:
        applied = wrapper.applied
        assert len(applied) >= 5  # the first reset and one per finished episode (auto-resets, no options)
        assert all(any(d == h for h in history) for d in applied), "a difficulty the director never chose"
        assert len(set(applied)) >= 3, "the director's changes did not reach this env"
        assert wrapper.unwrapped.difficulty == applied[-1]
    assert len(history) == sum(finished) + 1


def test_directed_env_feeds_the_duel_outcome_and_pickles():
    director = RuleDirector()
    env = DirectedEnv(gym.make("sandbox/Duel-v0", opponent="scripted:hard", round_seconds=3), director)
    env.reset(seed=0)
    assert env.unwrapped.difficulty == 0.5
    done, info = False, {}
    while not done:
        _, _, term, trunc, info = env.step(env.action_space.sample())
        done = term or trunc
    record = info["director"]
    assert record["won"] == (info["winner"] == "agent")
    assert record["health_diff"] == info["agent_health"] - info["opponent_health"]
    assert director.episodes == 1 and record["next_difficulty"] == director.difficulty
    clone = pickle.loads(pickle.dumps(env))
    clone.reset()
    assert clone.unwrapped.difficulty == director.difficulty


def test_directed_env_rejects_envs_without_difficulty():
    with pytest.raises(TypeError, match="set_difficulty"):
        DirectedEnv(gym.make("CartPole-v1"), RuleDirector())


def test_near_miss_counts_a_step_beside_a_watched_cell():
    env = stealth_env().unwrapped
    env.reset(seed=3)
    world = env.world
    for phase in range(world.period):
        for cell in range(world.n_cells):
            if world.walls[cell] or world.watched[phase, cell]:
                continue
            env.cell, env.phase, env.caught = cell, phase, False
            expected = any(world.watched[phase, n] for n in world.move[cell, 1:])
            assert near_miss(env) == expected


def test_stealth_pacing_reads_near_misses_through_the_wrapper():
    """Random play on random stealth levels: near-misses and losses raise the intensity, the paced
    director visits build-up, peak and relax, and every episode is played at the director's choice."""
    from agents.meta import Phase

    director = RuleDirector(pacing=True)
    env = DirectedEnv(gym.make("sandbox/Stealth-v0", level="random", size=8, max_steps=20), director)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    phases, near = set(), []
    for _ in range(40):
        chosen = director.difficulty
        done, info = False, {}
        while not done:
            _, _, term, trunc, info = env.step(int(rng.integers(5)))
            done = term or trunc
        assert info["director"]["difficulty"] == chosen == env.unwrapped.difficulty
        near.append(info["director"]["near_misses"])
        phases.add(director.phase)
        env.reset()
    assert max(near) > 0
    assert phases == {Phase.BUILD_UP, Phase.PEAK, Phase.RELAX}
