"""nets.policy_gradient: return/advantage helpers against hand-worked numbers, episode ends under every
autoreset mode, seeding, checkpoints, recurrent state, spaces and errors. Learning tests are in
test_policy_gradient_learning.py (slow)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from pg_envs import MODES, Bandit, ControllerBandit, Corridor, Counter, Cue, make_env, params, same_params

from nets.policy_gradient import (
    A2C,
    Reinforce,
    discounted_returns,
    gae_advantages,
    load_learner,
    n_step_returns,
    td_errors,
)

torch.set_num_threads(1)



# --------------------------------------------------------------------------------------------------
# Helpers against hand-computed values
# --------------------------------------------------------------------------------------------------
def test_discounted_returns_hand_worked():
    # gamma 0.5, bootstrap G_3 = 4:  G2 = 3 + .5*4 = 5,  G1 = 2 + .5*5 = 4.5,  G0 = 1 + .5*4.5 = 3.25
    np.testing.assert_allclose(discounted_returns([1, 2, 3], [0, 0, 0], 0.5, bootstrap=4), [3.25, 4.5, 5.0])
    # an episode ends at t=1: G2 = 3 + .5*4 = 5,  G1 = 2 (nothing flows back),  G0 = 1 + .5*2 = 2
    np.testing.assert_allclose(discounted_returns([1, 2, 3], [0, 1, 0], 0.5, bootstrap=4), [2.0, 2.0, 5.0])
    # no bootstrap: G2 = 3, G1 = 2 + .5*3 = 3.5, G0 = 1 + .5*3.5 = 2.75
    np.testing.assert_allclose(discounted_returns([1, 2, 3], [0, 0, 0], 0.5), [2.75, 3.5, 3.0])
    # the bootstrap does not count when the last step ended an episode
    np.testing.assert_allclose(discounted_returns([1, 2, 3], [0, 0, 1], 0.5, bootstrap=100), [2.75, 3.5, 3.0])


def test_discounted_returns_per_env_columns():
    r = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])  # (T=3, K=2)
    d = np.array([[0, 0], [1, 0], [0, 0]])
    # env 0, gamma .9, bootstrap 10: G2 = 1 + 9 = 10, G1 = 1, G0 = 1.9
    # env 1, bootstrap 0:            G2 = 1, G1 = .9, G0 = .81
    out = discounted_returns(r, d, 0.9, bootstrap=[10.0, 0.0])
    np.testing.assert_allclose(out, [[1.9, 0.81], [1.0, 0.9], [10.0, 1.0]])


def test_n_step_returns_truncation_bootstraps_and_termination_does_not():
    r, nv = [1, 1, 1, 1], [10, 20, 30, 40]  # nv[t] = V(s_{t+1}); gamma 0.9
    # truncated at t=1: G3 = 1 + .9*40 = 37 (rollout end), G2 = 1 + .9*37 = 34.3,
    # G1 = 1 + .9*20 = 19 (V of the final observation), G0 = 1 + .9*19 = 18.1
    out = n_step_returns(r, nv, [0, 0, 0, 0], 0.9, ends=[0, 1, 0, 0])
    np.testing.assert_allclose(out, [18.1, 19.0, 34.3, 37.0])
    # terminated at t=1: G1 = 1, G0 = 1 + .9 = 1.9; the rest unchanged
    out = n_step_returns(r, nv, [0, 1, 0, 0], 0.9)
    np.testing.assert_allclose(out, [1.9, 1.0, 34.3, 37.0])


def test_gae_hand_worked():
    r, v, nv = [1.0, 0.0, 2.0], [0.5, 1.0, 1.5], [1.0, 1.5, 2.0]
    # gamma .9, lambda .5 (gamma*lambda = .45)
    # delta0 = 1 + .9*1 - .5 = 1.4;  delta1 = 0 + .9*1.5 - 1 = .35;  delta2 = 2 + .9*2 - 1.5 = 2.3
    # A2 = 2.3;  A1 = .35 + .45*2.3 = 1.385;  A0 = 1.4 + .45*1.385 = 2.02325
    np.testing.assert_allclose(gae_advantages(r, v, nv, [0, 0, 0], 0.9, 0.5), [2.02325, 1.385, 2.3])
    # terminated at t=1: delta1 = 0 - 1 = -1;  A1 = -1;  A0 = 1.4 + .45*(-1) = .95
    np.testing.assert_allclose(gae_advantages(r, v, nv, [0, 1, 0], 0.9, 0.5), [0.95, -1.0, 2.3])
    # truncated at t=1, V(final obs) = 3: delta1 = .9*3 - 1 = 1.7;  A1 = 1.7;  A0 = 1.4 + .45*1.7 = 2.165
    out = gae_advantages(r, v, [1.0, 3.0, 2.0], [0, 0, 0], 0.9, 0.5, ends=[0, 1, 0])
    np.testing.assert_allclose(out, [2.165, 1.7, 2.3])


def test_gae_lambda_limits():
    rng = np.random.default_rng(0)
    T, K = 12, 3
    r, v = rng.normal(size=(T, K)), rng.normal(size=(T, K))
    term = rng.random((T, K)) < 0.15
    ends = term | (rng.random((T, K)) < 0.15)
    # inside an episode V(s_{t+1}) is the next step's V(s_t); at a truncation, V of the final observation
    nv = np.where(ends, rng.normal(size=(T, K)), np.concatenate([v[1:], rng.normal(size=(1, K))]))
    # lambda = 0: the one-step TD error
    np.testing.assert_allclose(gae_advantages(r, v, nv, term, 0.97, 0.0, ends=ends), td_errors(r, v, nv, term, 0.97))
    # lambda = 1: the n-step return minus the value
    np.testing.assert_allclose(gae_advantages(r, v, nv, term, 0.97, 1.0, ends=ends),
                               n_step_returns(r, nv, term, 0.97, ends=ends) - v, atol=1e-12)


def test_helpers_reject_bad_shapes_and_lambda():
    with pytest.raises(ValueError, match="must match rewards"):
        discounted_returns([1, 2, 3], [0, 0], 0.9)
    with pytest.raises(ValueError, match="outside"):
        gae_advantages([1.0], [0.0], [0.0], [0], 0.9, 1.5)


# --------------------------------------------------------------------------------------------------
# Episode ends in every autoreset mode
# --------------------------------------------------------------------------------------------------
def value_of(learner, obs) -> float:
    with torch.no_grad():
        _, v, _ = learner.policy(torch.tensor([[obs]], dtype=torch.float32)[:, None], None, None)
    return float(v[0, 0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("truncate", [True, False])
def test_a2c_returns_at_episode_ends(mode, truncate):
    """Counter: obs 0, 1, 2 then the episode ends (obs 3 is the final one), reward 1 per step.
    With lambda = 1 and gamma = .5 the target of the last step is 1 + .5 V([3]) after a truncation,
    and 1 after a termination, whatever the autoreset mode."""
    learner = A2C(make_env(lambda: Counter(3, truncate), mode), n_steps=9, gamma=0.5, gae_lambda=1.0,
                  seed=0, device="cpu")
    b = learner.collect_rollout(learner.n_steps, learner.gae_lambda)
    obs, valid, ret = b.obs[..., 0].numpy(), b.valid, b.returns
    v3 = value_of(learner, 3.0)
    assert abs(v3) > 1e-3  # so that the test can tell the two cases apart
    last = valid & (obs == 2)
    assert last.sum() >= 2
    np.testing.assert_allclose(ret[last], 1 + 0.5 * v3 if truncate else 1.0, rtol=1e-5)
    # a step at obs 1 whose episode ends inside the rollout: 1 + .5 * (the last step's target)
    mid = valid[:-1] & (obs[:-1] == 1) & valid[1:]
    np.testing.assert_allclose(ret[:-1][mid], 1 + 0.5 * (1 + 0.5 * v3 if truncate else 1.0), rtol=1e-5)
    if mode == "NextStep":  # the reset step after an end shows the final obs and is not a transition
        assert (obs[~valid] == 3).all() and (~valid).sum() >= 2
    else:
        assert valid.all() and not (obs == 3).any()
    assert learner.num_timesteps == valid.sum()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("truncate", [True, False])
@pytest.mark.parametrize("baseline", [True, False])
def test_reinforce_segments_at_episode_ends(mode, truncate, baseline, monkeypatch):
    learner = Reinforce(make_env(lambda: Counter(3, truncate), mode), baseline=baseline, seed=0, device="cpu")
    seen = []
    monkeypatch.setattr(learner, "_update", lambda segs: seen.extend(segs) or {"loss": 0.0})
    learner.learn(12)
    assert len(seen) >= 3
    expected_boot = value_of(learner, 3.0) if (truncate and baseline) else 0.0
    for s in seen:
        assert s["rewards"] == [1.0, 1.0, 1.0] and s["first"]
        assert [float(o[0]) for o in s["obs"]] == [0.0, 1.0, 2.0]
        assert s["boot"] == pytest.approx(expected_boot, rel=1e-5)


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_reinforce_keeps_only_the_new_policys_part_of_episodes_under_way(mode, monkeypatch):
    """Episodes of 3 and 5 steps side by side: at each update (after 2 finished episodes) the 5-step
    episode under way is cut; its remainder becomes a segment that starts mid-episode (first=False)."""
    vec = gym.vector.SyncVectorEnv([lambda: Counter(3, False), lambda: Counter(5, False)],
                                   autoreset_mode=AutoresetMode(mode))
    learner = Reinforce(vec, encoder="cwrnn", hidden=(8,), seed=0, device="cpu")
    seen = []
    monkeypatch.setattr(learner, "_update", lambda segs: seen.extend(segs) or {"loss": 0.0})
    learner.learn(60)
    starts = set()
    for s in seen:
        obs = [int(o[0]) for o in s["obs"]]
        assert obs == list(range(obs[0], obs[0] + len(obs))) and len(s["rewards"]) == len(obs)
        assert obs[-1] in (2, 4)  # every segment runs to its episode's end
        assert s["first"] == (obs[0] == 0)
        if not s["first"]:  # the stored clock is the step count within the episode (first: reset anyway)
            assert s["state"][1] == obs[0]
        starts.add(obs[0])
    assert 0 in starts and starts - {0}  # some segments started mid-episode


def test_advantage_normalisation_is_masked():
    learner = A2C(Corridor(), normalize_advantage=True, device="cpu")
    adv = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    out = learner._advantage(adv, mask)
    np.testing.assert_allclose(out[0, :3].numpy(), [-1.0, 0.0, 1.0], atol=1e-6)  # mean 2, std 1
    assert out[0, 3] == 100.0


@pytest.mark.parametrize("cls", [A2C, Reinforce])
def test_single_env_matches_same_step_and_disabled_vector_envs(cls):
    """One env stepped by the learner, and K=1 vector envs in SAME_STEP and DISABLED mode, see the same
    transitions, so the same seed gives the same parameters."""
    results = []
    for mode in ["single", "SameStep", "Disabled"]:
        learner = cls(make_env(Corridor, mode, k=1), seed=3, device="cpu", lr=1e-2)
        learner.learn(150)
        results.append(params(learner))
    assert same_params(results[0], results[1]) and same_params(results[0], results[2])


def test_episode_returns_reported_to_callback():
    infos = []
    learner = A2C(make_env(lambda: Counter(3, True), "NextStep", k=2), n_steps=4, seed=0, device="cpu")
    learner.learn(40, callback=infos.append)
    returns = [r for i in infos for r in i["episode_returns"]]
    lengths = [n for i in infos for n in i["episode_lengths"]]
    assert returns and set(returns) == {3.0} and set(lengths) == {3}
    assert [i["steps"] for i in infos] == sorted(i["steps"] for i in infos)
    assert {"loss", "policy_loss", "value_loss", "entropy", "updates"} <= infos[0].keys()


@pytest.mark.parametrize("cls", [A2C, Reinforce])
def test_callback_false_stops(cls):
    learner = cls(make_env(Corridor, "SameStep"), seed=0, device="cpu")
    learner.learn(10_000, callback=lambda info: False)
    assert learner.num_updates == 1 and learner.num_timesteps < 10_000


# --------------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, encoder", [(A2C, "mlp"), (A2C, "cwrnn"), (Reinforce, "mlp"), (Reinforce, "cwrnn")])
def test_same_seed_same_parameters(cls, encoder):
    def run(seed):
        learner = cls(make_env(Cue, "NextStep", k=2), encoder=encoder, hidden=(16,), seed=seed, device="cpu")
        learner.learn(120)
        assert learner.num_updates >= 3
        return params(learner)

    a, b, c = run(5), run(5), run(6)
    assert same_params(a, b)
    assert not same_params(a, c)


def test_learner_leaves_the_global_torch_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    A2C(make_env(Corridor, "single"), seed=0, device="cpu").learn(30)
    np.testing.assert_array_equal(torch.rand(3), expected)


# --------------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, encoder, env_fn", [(A2C, "mlp", ControllerBandit), (Reinforce, "cwrnn", Cue),
                                                  (A2C, "cwrnn", Corridor)])
def test_save_load_round_trip(tmp_path, cls, encoder, env_fn):
    learner = cls(make_env(env_fn, "SameStep"), encoder=encoder, hidden=(16,), seed=1, device="cpu")
    learner.learn(60)
    path = learner.save(tmp_path / "ck" / "final.pt", metadata={"env": "test"})
    side = json.loads((tmp_path / "ck" / "final.json").read_text())
    assert side["algo"] == cls.algo and side["env"] == "test" and side["hyper"]["encoder"] == encoder
    loaded = load_learner(path)  # no env
    assert loaded.env is None and loaded.num_timesteps == learner.num_timesteps
    obs = np.stack([env_fn().observation_space.sample() for _ in range(20)])
    for det in (True, False):
        a1, s1 = learner.predict(obs, deterministic=det)
        a2, s2 = loaded.predict(obs, deterministic=det)  # the sampler's state is restored too
        np.testing.assert_array_equal(a1, a2)
        if encoder == "cwrnn":
            np.testing.assert_array_equal(s1[0], s2[0])
    for p1, p2 in zip(learner.action_probs(obs[0]), loaded.action_probs(obs[0]), strict=True):
        np.testing.assert_array_equal(p1, p2)


def test_load_ignores_a_replaced_sidecar_and_resumes(tmp_path):
    env = make_env(Corridor, "NextStep")
    learner = A2C(env, seed=0, device="cpu", lr=1e-2)
    learner.learn(100)
    path = learner.save(tmp_path / "final.pt")
    (tmp_path / "final.json").write_text(json.dumps({"algo": "a2c-pg", "env": "corridor"}))  # as `sandbox train`
    resumed = load_learner(path, env=make_env(Corridor, "NextStep"))
    assert resumed.num_timesteps == learner.num_timesteps and resumed.num_updates == learner.num_updates
    s1, s2 = learner.optimizer.state_dict(), resumed.optimizer.state_dict()
    for k in s1["state"]:
        assert torch.equal(s1["state"][k]["exp_avg_sq"], s2["state"][k]["exp_avg_sq"])
    before = params(resumed)
    resumed.learn(50)
    assert resumed.num_timesteps >= learner.num_timesteps + 50
    assert not same_params(before, params(resumed))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_learner(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a policy-gradient learner checkpoint"):
        load_learner(bad)
    learner = A2C(Corridor(), seed=0, device="cpu")
    path = learner.save(tmp_path / "c.pt")
    with pytest.raises(ValueError, match="trained on spaces"):
        load_learner(path, env=Bandit())
    with pytest.raises(ValueError, match="without an env"):
        load_learner(path).learn(10)


# --------------------------------------------------------------------------------------------------
# Recurrent state
# --------------------------------------------------------------------------------------------------
def test_predict_resets_state_on_episode_start():
    learner = A2C(Cue(), encoder="cwrnn", hidden=(16,), seed=0, device="cpu")
    obs = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]], np.float32)
    _, state = learner.predict(obs, deterministic=True)  # three rows, one step each
    for _ in range(3):
        _, state = learner.predict(obs, state=state, deterministic=True)
    fresh = learner.action_probs(obs)
    carried = learner.action_probs(obs, state=state)
    reset = learner.action_probs(obs, state=state, episode_start=np.array([True, False, True]))
    assert not np.allclose(carried[0], fresh[0])
    np.testing.assert_array_equal(reset[0][[0, 2]], fresh[0][[0, 2]])
    np.testing.assert_array_equal(reset[0][1], carried[0][1])
    assert state[1].tolist() == [4, 4, 4]  # the clock travels with the state


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_rollout_rerun_matches_collection(mode):
    """The update re-runs the RNN over each env's rollout from the stored start state with the stored
    episode starts; it must reproduce the values seen while collecting (resets happen per env)."""
    learner = A2C(make_env(lambda: Cue(delay=1), mode, k=3), encoder="cwrnn", hidden=(16,), n_steps=7,
                  gae_lambda=0.9, seed=0, device="cpu")
    learner.collect_rollout(7, 0.9)  # a first rollout, so the next one starts mid-episode from a non-zero state
    b = learner.collect_rollout(7, 0.9)
    assert b.first.any() and not b.first.all()
    obs = b.obs.transpose(0, 1)  # (K, T, 3)
    with torch.no_grad():
        _, values, _ = learner.policy(obs, b.start_state, b.first.T)
    np.testing.assert_allclose(values.numpy().T, b.returns - b.advantages, rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # without the resets the values differ: the test can fail
        _, wrong, _ = learner.policy(obs, b.start_state, None)
    assert not np.allclose(wrong.numpy().T, b.returns - b.advantages, atol=1e-4)


# --------------------------------------------------------------------------------------------------
# Spaces and errors
# --------------------------------------------------------------------------------------------------
def test_multidiscrete_controller_head_probs_and_actions():
    learner = A2C(ControllerBandit(), seed=0, device="cpu")
    obs = np.ones(3, np.float32)
    probs = learner.action_probs(obs)
    assert [p.shape for p in probs] == [(9,), (4,)]
    np.testing.assert_allclose([p.sum() for p in probs], [1.0, 1.0])
    action, state = learner.predict(obs)
    assert state is None and action.shape == (2,) and learner.action_space.contains(action)
    batch, _ = learner.predict(np.ones((5, 3), np.float32), deterministic=True)
    assert batch.shape == (5, 2)


def test_sampling_follows_the_policy():
    """Sampled actions have the policy's probabilities (chi-square-free check: 20k draws, 4 sigma)."""
    learner = A2C(ControllerBandit(), seed=0, device="cpu")
    with torch.no_grad():
        learner.policy.heads.button.bias.copy_(torch.tensor([0.0, 1.0, 2.0, -1.0]))
    obs = np.ones((20_000, 3), np.float32)
    actions, _ = learner.predict(obs)
    p = learner.action_probs(obs[0])[1]
    freq = np.bincount(actions[:, 1], minlength=4) / len(obs)
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / len(obs)))


def test_generic_multidiscrete_discrete_start_and_observation_kinds():
    class Env3(Corridor):
        def __init__(self):
            super().__init__()
            self.observation_space = gym.spaces.Box(0, 1, shape=(1, 5), dtype=np.float32)
            self.action_space = gym.spaces.MultiDiscrete([3, 2, 2], start=[-1, 0, 5])

        def reset(self, *, seed=None, options=None):
            obs, info = super().reset(seed=seed)
            return obs[None], info

        def step(self, action):
            assert self.action_space.contains(np.asarray(action, dtype=np.int64))
            obs, *rest = super().step(int(action[0] > 0))
            return obs[None], *rest

    learner = A2C(make_env(Env3, "NextStep"), seed=0, device="cpu")
    learner.learn(30)
    a, _ = learner.predict(np.zeros((1, 5), np.float32))
    assert learner.action_space.contains(a)
    # Discrete observations are one-hot encoded; Discrete actions keep their start
    lake = Reinforce(gym.make("FrozenLake-v1"), seed=0, device="cpu")
    lake.learn(50)
    assert isinstance(lake.predict(0)[0], int)
    shifted = A2C(gym.make("FrozenLake-v1"), seed=0, device="cpu", _spaces={
        "observation": {"type": "Discrete", "n": 16, "start": 0}, "action": {"type": "Discrete", "n": 4, "start": -2}})
    assert {shifted.predict(s)[0] for s in range(16) for _ in range(5)} <= {-2, -1, 0, 1}


def test_bad_input_errors():
    with pytest.raises(ValueError, match="Discrete or MultiDiscrete action space"):
        A2C(gym.make("Pendulum-v1"), device="cpu")
    dict_env = Corridor()
    dict_env.observation_space = gym.spaces.Dict({"a": gym.spaces.Discrete(2)})
    with pytest.raises(ValueError, match="FlattenObservation"):
        Reinforce(dict_env, device="cpu")
    with pytest.raises(ValueError, match="unknown encoder 'lstm'; valid: mlp, cwrnn"):
        A2C(Corridor(), encoder="lstm", device="cpu")
    with pytest.raises(ValueError, match="n_steps"):
        A2C(Corridor(), n_steps=0, device="cpu")
    with pytest.raises(ValueError, match="multiple of the number of periods"):
        A2C(Corridor(), encoder="cwrnn", hidden=(30,), device="cpu")
    with pytest.raises(ValueError, match="unknown A2C option.s. batch_size; valid: encoder, hidden, lr"):
        A2C(Corridor(), batch_size=64, device="cpu")
    with pytest.raises(ValueError, match="unknown Reinforce option.s. n_steps; valid: encoder, baseline"):
        Reinforce(Corridor(), n_steps=5, device="cpu")
    with pytest.raises(ValueError, match="observation has shape"):
        A2C(Corridor(), device="cpu").predict(np.zeros(4, np.float32))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_learner_runs_and_loads_on_cpu(tmp_path):
    learner = A2C(make_env(Corridor, "NextStep"), seed=0, device="cuda")
    learner.learn(100)
    assert next(learner.policy.parameters()).is_cuda
    loaded = load_learner(learner.save(tmp_path / "g.pt"), device="cpu")
    obs = np.eye(5, dtype=np.float32)
    np.testing.assert_array_equal(learner.predict(obs, deterministic=True)[0],
                                  loaded.predict(obs, deterministic=True)[0])
