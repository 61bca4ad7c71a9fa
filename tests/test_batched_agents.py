"""The batched agent protocol (agents.batched): ``make_batched_agent`` for every spec kind acts as ``make_agent``
does (deterministic: the same actions; sampling: the same distribution), recurrent agents keep one state per
row, ``gym.make_vec("sandbox/Duel-v0", opponent=SPEC)`` takes every spec, and what cannot be batched says
why in one line."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the ids)
from agents import make_agent, make_batched_agent
from agents.batched import Mixture, RowDraws, SingleAgent, is_batched
from agents.stream import mix64
from envs.duel.env import duel_spaces

ACT, OBS = duel_spaces()
SB3_DUEL = "tests/data/sb3/duel-ppo.zip"


def duel_observations(n: int = 60, seed: int = 0) -> np.ndarray:
    """Observations a fighter really sees: a random player's view of rounds against scripted:hard."""
    env = gym.make("sandbox/Duel-v0", opponent="scripted:hard", round_seconds=3)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    out = []
    while len(out) < n:
        out.append(obs)
        obs, _, term, trunc, _ = env.step(np.array([rng.integers(9), rng.integers(4)]))
        if term or trunc:
            obs, _ = env.reset()
    return np.stack(out).astype(np.float32)


def act_all(agent, obs: np.ndarray, seeds=None) -> np.ndarray:
    """One call of a fresh batched agent on every row of ``obs``."""
    n = len(obs)
    agent.bind(n)
    agent.reset_envs(np.arange(n), np.arange(n) if seeds is None else np.asarray(seeds), np.full(n, np.nan))
    out = np.full((n, 2), -1, dtype=np.int64)
    agent.act(obs, np.ones(n, bool), out)
    return out


def frequencies(actions: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(actions, minlength=n) / len(actions)


# ---- fixtures: tiny checkpoints -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_paths(tmp_path_factory):
    """Two tiny learners trained briefly on the batched duel, saved as pg:PATH: an MLP and a CW-RNN."""
    from nets.policy_gradient import A2C
    from nets.ppo import PPO

    folder = tmp_path_factory.mktemp("pg")
    torch.set_num_threads(1)
    mlp = PPO(gym.make_vec("sandbox/Duel-v0", num_envs=8, opponent="random", round_seconds=2), hidden=(16, 16),
              n_steps=16, n_epochs=1, seed=0, device="cpu", ent_coef=0.0)
    mlp.learn(256)
    rnn = A2C(gym.make_vec("sandbox/Duel-v0", num_envs=4, opponent="random", round_seconds=2), encoder="cwrnn",
              hidden=(16,), periods=(1, 2), n_steps=8, seed=0, device="cpu")
    rnn.learn(64)
    return {"mlp": str(mlp.save(folder / "mlp.pt")), "cwrnn": str(rnn.save(folder / "cwrnn.pt"))}


@pytest.fixture(scope="module")
def ghost_path(tmp_path_factory):
    """A ghost checkpoint with sharp heads (so actions differ by observation)."""
    from agents.ghost import save_ghost
    from nets.imitation import make_policy

    torch.manual_seed(0)
    model = make_policy(obs_size=76, hidden=24, periods=(1, 2, 4), fc=16)
    with torch.no_grad():
        model.head.direction.weight.mul_(50)
        model.head.button.weight.mul_(50)
    path = tmp_path_factory.mktemp("ghost") / "ghost.pt"
    save_ghost(model.eval(), path, frame_skip=4)
    return str(path)


# ---- per spec kind: the batched agent acts as make_agent's ------------------------------------------------------
def test_scripted_batched_plays_the_single_fighter_bit_for_bit():
    obs = duel_observations(80)
    for spec in ("scripted:hard", "scripted:zoner-easy", "scripted:0.3"):
        batched = make_batched_agent(spec, action_space=ACT)
        batched.bind(3)
        seeds = [5, 6, 7]
        batched.reset_envs(np.arange(3), np.array(seeds), np.full(3, np.nan))
        singles = []
        for s in seeds:  # the single fighter draws its seed from its generator at reset: give it that seed
            fighter = make_agent(spec, action_space=ACT, rng=np.random.default_rng(0))
            fighter.rng = _SeedOnce(s)
            fighter.reset()
            singles.append(fighter)
        out = np.zeros((3, 2), np.int64)
        for t in range(len(obs)):
            batched.act(np.stack([obs[t]] * 3), np.ones(3, bool), out)
            for j, f in enumerate(singles):
                assert out[j].tolist() == list(f.predict(obs[t])[0]), (spec, t, j)


class _SeedOnce:
    """A stand-in generator whose first ``integers(2**63)`` is ``seed`` (what a fighter's reset draws)."""

    def __init__(self, seed):
        self.seed = seed

    def integers(self, high):
        return self.seed


def test_random_is_uniform_seeded_and_independent_of_the_batch():
    agent = make_batched_agent("random", action_space=ACT)
    obs = np.zeros((4000, 76), np.float32)
    a = act_all(agent, obs)
    assert ((a[:, 0] >= 0) & (a[:, 0] < 9) & (a[:, 1] >= 0) & (a[:, 1] < 4)).all()
    # uniform: each category within 5 standard errors of 1/n
    for col, n in ((0, 9), (1, 4)):
        f = frequencies(a[:, col], n)
        assert np.all(np.abs(f - 1 / n) < 5 * np.sqrt((1 / n) * (1 - 1 / n) / len(a))), f
    # row i's draws depend on its seed only: the same seeds in a batch of 3 give the same actions
    assert np.array_equal(act_all(make_batched_agent("random", action_space=ACT), obs[:3], seeds=[1, 2, 3]),
                          act_all(agent, obs[:3], seeds=[1, 2, 3]))
    b = make_batched_agent("random", action_space=gym.spaces.Discrete(5))
    b.bind(2)
    b.reset_envs(np.arange(2), np.array([0, 1]))
    out = np.full(2, -1)
    b.act(np.zeros((2, 3)), np.array([True, False]), out)
    assert 0 <= out[0] < 5 and out[1] == -1  # inactive rows untouched


def _single_actions(agent, obs: np.ndarray, deterministic: bool, starts=()) -> np.ndarray:
    """The single agent's actions along ``obs``, its state threaded, a new episode at each index in ``starts``."""
    out, state = [], None
    for t, o in enumerate(obs):
        first = t == 0 or t in starts
        if first and hasattr(agent, "reset"):
            agent.reset()
        action, state = agent.predict(o, state=None if first else state, episode_start=np.array([first]),
                                      deterministic=deterministic)
        out.append(np.asarray(action).reshape(-1))
    return np.stack(out)


def _batched_actions(batched, obs: np.ndarray, starts=()) -> np.ndarray:
    """The batched agent as a batch of 3 rows playing the same sequence (rows must agree with each other)."""
    n = 3
    batched.bind(n)
    out, got = np.zeros((n, 2), np.int64), []
    for t, o in enumerate(obs):
        if t == 0 or t in starts:
            batched.reset_envs(np.arange(n), np.array([11, 12, 13]), np.full(n, np.nan))
        batched.act(np.stack([o] * n), np.ones(n, bool), out)
        assert (out == out[0]).all()
        got.append(out[0].copy())
    return np.stack(got)


@pytest.mark.parametrize("kind", ["pg-mlp", "pg-cwrnn", "bundled", "sb3", "ghost"])
def test_deterministic_batched_agents_act_as_make_agent(kind, pg_paths, ghost_path):
    """Greedy actions are the single agent's, along a sequence with episode starts (recurrent agents: the
    state runs through the episode and is cleared at each start)."""
    spec = {"pg-mlp": f"pg:{pg_paths['mlp']}", "pg-cwrnn": f"pg:{pg_paths['cwrnn']}", "bundled": "bundled:duel-ppo",
            "sb3": f"sb3:{SB3_DUEL}", "ghost": f"ghost:{ghost_path}"}[kind]
    obs = duel_observations(50)
    starts = (17, 35)
    single = make_agent(spec, action_space=ACT, observation_space=OBS, device="cpu")
    batched = make_batched_agent(spec, action_space=ACT, observation_space=OBS, deterministic=True, device="cpu")
    assert is_batched(batched) and not isinstance(batched, SingleAgent)
    want = _single_actions(single, obs, True, starts)
    got = _batched_actions(batched, obs, starts)
    np.testing.assert_array_equal(got, want)


def _probs(agent, o: np.ndarray) -> list[np.ndarray]:
    p = agent.action_probs(o)
    if len(p[1]) == 4:  # the marginal of the button is what a fresh row's draws show
        return [np.asarray(p[0]), np.asarray(p[1])]
    return [np.asarray(x) for x in p]


@pytest.mark.parametrize("kind", ["pg-mlp", "bundled", "sb3", "ghost"])
def test_sampling_batched_agents_draw_from_make_agents_distribution(kind, pg_paths, ghost_path):
    """4,000 rows on one observation: the stick's and the button's frequencies match the single agent's
    probabilities within 5 standard errors."""
    spec = {"pg-mlp": f"pg:{pg_paths['mlp']}", "bundled": "bundled:duel-ppo", "sb3": f"sb3:{SB3_DUEL}",
            "ghost": f"ghost:{ghost_path}@2.0"}[kind]
    o = duel_observations(30)[-1]
    single = make_agent(spec, action_space=ACT, observation_space=OBS, device="cpu")
    batched = make_batched_agent(spec, action_space=ACT, observation_space=OBS, device="cpu")
    n = 4000
    a = act_all(batched, np.stack([o] * n))
    p_stick, p_button = _probs(single, o)
    for col, p in ((0, p_stick), (1, p_button)):
        f = frequencies(a[:, col], len(p))
        se = np.sqrt(p * (1 - p) / n) + 1e-3
        assert np.all(np.abs(f - p) < 5 * se), (kind, col, f, p)
    assert len(np.unique(a[:, 0])) > 1  # it samples
    # seeded: the same seeds draw the same actions
    np.testing.assert_array_equal(act_all(batched, np.stack([o] * 5), seeds=[1, 2, 3, 4, 5]),
                                  act_all(batched, np.stack([o] * 5), seeds=[1, 2, 3, 4, 5]))


def test_sb3_dqn_batched_is_greedy_or_epsilon_greedy(tmp_path):
    from stable_baselines3 import DQN

    model = DQN("MlpPolicy", "CartPole-v1", seed=0, device="cpu", policy_kwargs={"net_arch": [8]}, buffer_size=100)
    model.exploration_rate = 0.2
    model.save(tmp_path / "dqn.zip")
    spec = f"sb3:{tmp_path / 'dqn.zip'}"
    single = make_agent(spec, device="cpu")
    obs = np.random.default_rng(0).normal(size=(400, 4)).astype(np.float32)
    greedy = make_batched_agent(spec, deterministic=True, device="cpu")
    greedy.bind(400)
    greedy.reset_envs(np.arange(400), np.arange(400))
    out = np.zeros(400, np.int64)
    greedy.act(obs, np.ones(400, bool), out)
    np.testing.assert_array_equal(out, single.predict(obs, deterministic=True)[0])
    sampled = make_batched_agent(spec, device="cpu")
    sampled.bind(400)
    sampled.reset_envs(np.arange(400), np.arange(400))
    sampled.act(obs, np.ones(400, bool), out)
    differs = np.mean(out != single.predict(obs, deterministic=True)[0])
    assert 0.03 < differs < 0.2  # epsilon 0.2 picks uniformly among 2 actions: about 10% differ


def test_cwrnn_rows_keep_their_own_state(pg_paths):
    """Rows started at different times act as single agents started at those times (per-row recurrent
    state, advanced only when the row is active)."""
    spec = f"pg:{pg_paths['cwrnn']}"
    obs = duel_observations(40)
    single = make_agent(spec, device="cpu")
    batched = make_batched_agent(spec, action_space=ACT, deterministic=True, device="cpu")
    batched.bind(2)
    batched.reset_envs(np.arange(2), np.array([0, 1]))
    out = np.zeros((2, 2), np.int64)
    got0, got1 = [], []
    for t, o in enumerate(obs):
        if t == 10:
            batched.reset_envs(np.array([1]), np.array([3]))
        active = np.array([True, t >= 10])
        batched.act(np.stack([o, o]), active, out)
        got0.append(out[0].copy())
        if t >= 10:
            got1.append(out[1].copy())
    np.testing.assert_array_equal(np.stack(got0), _single_actions(single, obs, True))
    np.testing.assert_array_equal(np.stack(got1), _single_actions(single, obs[10:], True))
    # the state matters: restarting every step would have acted otherwise
    assert not np.array_equal(_single_actions(single, obs, True), _single_actions(single, obs, True, range(40)))


def test_ghost_holds_its_input_when_the_env_steps_finer(ghost_path):
    single = make_agent(f"ghost:{ghost_path}@greedy", frame_skip=1)  # demos at frame_skip 4: decide every 4th call
    batched = make_batched_agent(f"ghost:{ghost_path}@greedy", action_space=ACT, frame_skip=1)
    obs = duel_observations(24)
    np.testing.assert_array_equal(_batched_actions(batched, obs), _single_actions(single, obs, False))


def test_stealth_planner_and_optimal_act_as_the_single_agents():
    from envs.stealth.env import StealthEnv

    for spec in ("planner", "optimal", "optimal:0.9"):
        vec = gym.make_vec("sandbox/Stealth-v0", num_envs=3, level=["tutorial", "courtyard", "crossing"],
                           obs_mode="local")
        batched = make_batched_agent(spec, env=vec)
        obs, _ = vec.reset(seed=4)
        batched.bind(3)
        batched.reset_envs(np.arange(3), np.arange(3))
        singles = []
        for i, name in enumerate(["tutorial", "courtyard", "crossing"]):
            env = StealthEnv(level=name, obs_mode="local")
            env.reset(seed=4 + i)
            singles.append((env, make_agent(spec, env=env)))
        out = np.zeros(3, np.int64)
        live = np.ones(3, bool)
        while live.any():
            batched.act(obs, live, out)
            for i, (env, agent) in enumerate(singles):
                if live[i]:
                    a, _ = agent.predict(None)
                    assert out[i] == a, (spec, i)
                    _, _, term, trunc, _ = env.step(a)
                    live[i] = not (term or trunc)
            obs, *_ = vec.step(out)


# ---- objects, lists, mixtures -----------------------------------------------------------------------------------
class Constant:
    def __init__(self, action):
        self.action = action

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.array(self.action), state


def test_objects_pass_through_or_play_a_batch_of_one():
    batched = make_batched_agent("scripted:hard")
    assert make_batched_agent(batched) is batched
    one = make_batched_agent(Constant([3, 1]), action_space=ACT)
    one.bind(1)
    one.reset_envs(np.array([0]), np.array([7]))
    out = np.zeros((1, 2), np.int64)
    one.act(np.zeros((1, 76), np.float32), np.ones(1, bool), out)
    assert out.tolist() == [[3, 1]]
    with pytest.raises(ValueError) as err:
        one.bind(4)
    assert "acts for one env" in str(err.value) and "BatchedAgent" in str(err.value) and "\n" not in str(err.value)


def test_known_agent_objects_are_batched_as_their_specs(pg_paths):
    from agents.pg_agent import BatchedLearner, load_pg

    learner = load_pg(pg_paths["mlp"], device="cpu")
    assert isinstance(make_batched_agent(learner), BatchedLearner)
    assert not isinstance(make_batched_agent(make_agent(f"sb3:{SB3_DUEL}")), SingleAgent)


def test_a_list_plays_each_row_with_its_item():
    agent = make_batched_agent("random,scripted:hard", action_space=ACT)
    assert [type(m).__name__ for m in agent.members] == ["UniformAgent", "BatchedScripted"]
    agent.bind(4)
    assert agent.assigned.tolist() == [0, 1, 0, 1]


def test_mixture_draws_each_row_from_its_members():
    mix = Mixture(_Const(1), _Const(2), p=0.3)
    mix.bind(5000)
    mix.reset_envs(np.arange(5000), np.arange(5000))
    out = np.zeros(5000, np.int64)
    mix.act(np.zeros((5000, 1)), np.ones(5000, bool), out)
    assert set(out.tolist()) == {1, 2} and abs(np.mean(out == 2) - 0.3) < 0.03


class _Const:
    def __init__(self, value):
        self.value = value

    def bind(self, n):
        pass

    def reset_envs(self, idx, seeds, difficulty=None):
        pass

    def act(self, obs, active, out):
        out[active] = self.value


def test_row_draws_are_splitmix64():
    # SplitMix64 seeded 0: first output 0xE220A8397B1DCDAF (Vigna's reference implementation)
    assert int(mix64(np.uint64(0x9E3779B97F4A7C15))) == 0xE220A8397B1DCDAF
    d = RowDraws(3)
    d.reset(np.arange(3), np.array([0, 0, 5]))
    u = d.uniform(np.arange(3), 2)
    assert u[0, 0] == (0xE220A8397B1DCDAF >> 11) / 2**53
    assert np.array_equal(u[0], u[1]) and not np.array_equal(u[0], u[2])
    assert (u >= 0).all() and (u < 1).all()


# ---- make_vec takes every spec; what cannot be batched says why in one line ---------------------------------------
@pytest.mark.parametrize("kind", ["random", "scripted", "pg", "bundled", "sb3", "ghost", "list"])
def test_make_vec_duel_takes_every_spec(kind, pg_paths, ghost_path):
    spec = {"random": "random", "scripted": "scripted:zoner-hard", "pg": f"pg:{pg_paths['mlp']}",
            "bundled": "bundled:duel-ppo", "sb3": f"sb3:{SB3_DUEL}", "ghost": f"ghost:{ghost_path}",
            "list": f"random,pg:{pg_paths['cwrnn']}"}[kind]
    env = gym.make_vec("sandbox/Duel-v0", num_envs=4, opponent=spec, round_seconds=1)
    assert env.opponent_spec == spec
    obs, _ = env.reset(seed=0)
    ends = 0
    for _ in range(40):
        obs, _, term, _, _ = env.step(np.zeros((4, 2), np.int64))
        ends += int(term.sum())
    assert ends >= 4 and obs in env.observation_space
    # seeded: the same seed, the same rounds
    again = gym.make_vec("sandbox/Duel-v0", num_envs=4, opponent=spec, round_seconds=1)
    a, _ = again.reset(seed=0)
    env.reset(seed=0)
    for _ in range(10):
        x = env.step(np.full((4, 2), 3, np.int64))[0]
        y = again.step(np.full((4, 2), 3, np.int64))[0]
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(("make", "words"), [
    (lambda: gym.make_vec("sandbox/Duel-v0", num_envs=2, opponent="human"), "plays one env"),
    (lambda: gym.make_vec("sandbox/Duel-v0", num_envs=2, opponent=Constant([0, 0])), "acts for one env"),
    (lambda: gym.make_vec("sandbox/Duel-v0", num_envs=2, opponent="nobody:1"), "unknown agent spec"),
    (lambda: make_batched_agent("planner"), "need env="),
    (lambda: make_batched_agent("random"), "needs the env's action_space"),
])
def test_what_cannot_be_batched_says_why_in_one_line(make, words):
    with pytest.raises(ValueError) as err:
        make()
    assert words in str(err.value) and "\n" not in str(err.value)


def test_training_envs_never_fall_back_to_single_envs_silently():
    from experiments.train.envs import make_vector_env

    vec = make_vector_env("duel", {"opponent": "random,scripted:hard", "round_seconds": 2}, 4, seed=0)
    assert type(vec.unwrapped).__name__ == "DuelVectorEnv"
    with pytest.raises(ValueError) as err:
        make_vector_env("duel", {"opponent": "random", "colour": "red"}, 2, seed=0)
    assert "colour" in str(err.value) and "\n" not in str(err.value)  # the one line names the option
