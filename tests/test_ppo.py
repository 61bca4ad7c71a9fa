"""nets.ppo: the clipped objective, value clipping and advantage normalisation against hand-worked numbers;
bootstrapping at episode ends in every autoreset mode; the update re-computing what the rollout stored;
seeding, checkpoints, errors, CUDA. Learning tests (slow): the bandits, the corridor to value iteration's
V*(start), the cue (CW-RNN), and the stealth tutorial level."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from pg_envs import MODES, Bandit, ControllerBandit, Corridor, Counter, Cue, corridor_mdp, make_env, params, same_params

from nets.bellman import policy_evaluation, value_iteration
from nets.on_policy import log_prob_entropy
from nets.policy_gradient import load_learner
from nets.ppo import PPO, clipped_policy_loss, clipped_value_loss, masked_mean, normalize_advantages

torch.set_num_threads(1)



# --------------------------------------------------------------------------------------------------
# The objective, by hand
# --------------------------------------------------------------------------------------------------
def test_clipped_policy_loss_hand_worked():
    # r = .5, 1, 1.5, 1.5 with A = 1, -1, 1, -1 and eps = .2:
    #   max(-.5, -.8) = -.5;  max(1, 1) = 1;  max(-1.5, -1.2) = -1.2;  max(1.5, 1.2) = 1.5;  mean .2
    ratio = torch.tensor([0.5, 1.0, 1.5, 1.5])
    old = torch.tensor([-1.0, -2.0, -0.5, -3.0])
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    loss, r = clipped_policy_loss(old + torch.log(ratio), old, adv, 0.2)
    np.testing.assert_allclose(loss.numpy(), [-0.5, 1.0, -1.2, 1.5], rtol=1e-6)
    assert float(loss.mean()) == pytest.approx(0.2, rel=1e-6)
    np.testing.assert_allclose(r.numpy(), ratio.numpy(), rtol=1e-6)
    # the gradient flows only through unclipped terms: d/dlogp of -A r is -A r, zero where clipped
    logp = (old + torch.log(ratio)).requires_grad_()
    clipped_policy_loss(logp, old, adv, 0.2)[0].sum().backward()
    np.testing.assert_allclose(logp.grad.numpy(), [-0.5, 1.0, 0.0, 1.5], rtol=1e-6)


def test_clipped_value_loss_hand_worked():
    v, old, target = torch.tensor([1.0, -0.1]), torch.tensor([0.0, 0.0]), torch.tensor([2.0, 1.0])
    # unclipped: (1 - 2)^2 = 1 and 1.21; clipped to .2: (.2 - 2)^2 = 3.24; -.1 is inside the range: 1.21
    np.testing.assert_allclose(clipped_value_loss(v, old, target, None).numpy(), [1.0, 1.21], rtol=1e-6)
    np.testing.assert_allclose(clipped_value_loss(v, old, target, 0.2).numpy(), [3.24, 1.21], rtol=1e-6)


def test_advantage_normalisation_hand_worked_and_masked():
    # mean 2.5, std (Bessel) sqrt(5/3) = 1.290994
    out = normalize_advantages(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(out.numpy(), [-1.161895, -0.387298, 0.387298, 1.161895], rtol=1e-5)
    out = normalize_advantages(torch.tensor([[1.0, 2.0, 3.0, 100.0]]), torch.tensor([[True, True, True, False]]))
    np.testing.assert_allclose(out[0, :3].numpy(), [-1.0, 0.0, 1.0], atol=1e-6)  # mean 2, std 1
    assert out[0, 3] == 100.0
    assert masked_mean(torch.tensor([1.0, 2.0, 9.0]), torch.tensor([True, True, False])) == 1.5
    one = torch.tensor([5.0])
    assert normalize_advantages(one) is one  # a single entry has no spread


# --------------------------------------------------------------------------------------------------
# Episode ends and bootstrapping, in every autoreset mode
# --------------------------------------------------------------------------------------------------
def value_of(learner, obs) -> float:
    with torch.no_grad():
        _, v, _ = learner.policy(torch.tensor([[obs]], dtype=torch.float32)[:, None], None, None)
    return float(v[0, 0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("truncate", [True, False])
def test_targets_bootstrap_on_truncation_only(mode, truncate):
    """Counter: obs 0, 1, 2, then the episode ends with final obs 3; reward 1 per step. With lambda = 1
    and gamma = .5 the last step's target is 1 + .5 V([3]) after a truncation and 1 after a termination;
    the step before it 1 + .5 (that)."""
    learner = PPO(make_env(lambda: Counter(3, truncate), mode), n_steps=9, gamma=0.5, gae_lambda=1.0,
                  seed=0, device="cpu")
    r = learner.collect_rollout(learner.n_steps, learner.gae_lambda)
    obs = r.obs[..., 0].numpy()
    valid, ret = r.valid, r.returns
    v3 = value_of(learner, 3.0)
    assert abs(v3) > 1e-3  # so that the test can tell the two cases apart
    last = valid & (obs == 2)
    assert last.sum() >= 2
    np.testing.assert_allclose(ret[last], 1 + 0.5 * v3 if truncate else 1.0, rtol=1e-5)
    mid = valid[:-1] & (obs[:-1] == 1) & valid[1:]
    np.testing.assert_allclose(ret[:-1][mid], 1 + 0.5 * (1 + 0.5 * v3 if truncate else 1.0), rtol=1e-5)
    if mode == "NextStep":  # the reset step shows the final obs, is no transition, and is not counted
        assert (obs[~valid] == 3).all() and (~valid).sum() >= 2
    else:
        assert valid.all() and not (obs == 3).any()
    assert learner.num_timesteps == valid.sum()


@pytest.mark.parametrize("encoder", ["mlp", "cwrnn"])
@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_update_recomputes_what_the_rollout_stored(encoder, mode):
    """The first minibatch re-runs the network over stored observations (the CW-RNN over each env's
    rollout from the stored start state with the stored episode starts): it must reproduce the stored
    log-probabilities and values, so the first ratio is exactly 1."""
    learner = PPO(make_env(lambda: Cue(delay=1), mode, k=3), encoder=encoder, hidden=(16,), n_steps=7, seed=0,
                  device="cpu")
    learner.collect_rollout(7, learner.gae_lambda)  # a first rollout: the next starts mid-episode, non-zero state
    b = learner.collect_rollout(7, learner.gae_lambda)
    assert b.first.any() and not b.first.all()
    with torch.no_grad():
        logits, values, _ = learner.policy(b.obs.transpose(0, 1), b.start_state, b.first.T)
        logp, _ = log_prob_entropy(logits, b.actions.transpose(0, 1))
    np.testing.assert_allclose(values.T.numpy(), b.values[:-1].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logp.T.numpy(), b.logp.numpy(), rtol=1e-5, atol=1e-6)
    if encoder == "cwrnn":  # without the resets the values differ: the test can fail
        with torch.no_grad():
            _, wrong, _ = learner.policy(b.obs.transpose(0, 1), b.start_state, None)
        assert not np.allclose(wrong.T.numpy(), b.values[:-1].numpy(), atol=1e-4)
    info = learner._update(b)
    assert info["approx_kl"] >= 0 and 0 <= info["clip_fraction"] <= 1


def test_minibatches_leave_out_next_step_reset_steps(monkeypatch):
    learner = PPO(make_env(lambda: Counter(2, True), "NextStep", k=2), n_steps=6, n_epochs=1, n_minibatches=1,
                  seed=0, device="cpu")
    seen = []
    original = learner._losses

    def spy(logits, values, actions, *rest):
        seen.append(len(values))
        return original(logits, values, actions, *rest)

    monkeypatch.setattr(learner, "_losses", spy)
    learner.learn(1)
    assert seen == [int(learner.rollout.valid.sum())] and seen[0] < 12


def test_callback_reports_and_false_stops():
    infos = []
    learner = PPO(make_env(lambda: Counter(3, True), "NextStep"), n_steps=4, seed=0, device="cpu")
    learner.learn(40, callback=infos.append)
    returns = [r for i in infos for r in i["episode_returns"]]
    assert returns and set(returns) == {3.0}
    assert {"loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
            "explained_variance", "steps", "updates"} <= infos[0].keys()
    learner = PPO(make_env(Corridor, "SameStep"), seed=0, device="cpu", n_steps=8)
    learner.learn(10_000, callback=lambda info: False)
    assert learner.num_timesteps == 16


def test_target_kl_stops_the_epochs():
    kw = dict(n_steps=16, n_epochs=10, n_minibatches=4, lr=0.05, seed=0, device="cpu")
    free = PPO(make_env(Corridor, "SameStep"), **kw)
    free.learn(1)
    stopped = PPO(make_env(Corridor, "SameStep"), target_kl=1e-6, **kw)
    stopped.learn(1)
    assert free.num_updates == 40 and stopped.num_updates < 40


# --------------------------------------------------------------------------------------------------
# Seeding, checkpoints, errors
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["mlp", "cwrnn"])
def test_same_seed_same_parameters_and_global_rng_untouched(encoder):
    def run(seed):
        learner = PPO(make_env(Cue, "NextStep"), encoder=encoder, hidden=(16,), n_steps=8, seed=seed, device="cpu")
        learner.learn(50)
        return params(learner)

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = run(5)
    np.testing.assert_array_equal(torch.rand(3), expected)
    assert same_params(a, run(5)) and not same_params(a, run(6))


@pytest.mark.parametrize("encoder, env_fn", [("mlp", ControllerBandit), ("cwrnn", Cue)])
def test_save_load_round_trip_and_resume(tmp_path, encoder, env_fn):
    learner = PPO(make_env(env_fn, "NextStep"), encoder=encoder, hidden=(16,), n_steps=8, clip_vf=0.3, seed=1,
                  device="cpu")
    learner.learn(40)
    path = learner.save(tmp_path / "final.pt", metadata={"env": "test"})
    side = json.loads((tmp_path / "final.json").read_text())
    assert side["algo"] == "ppo-pg" and side["hyper"]["clip_vf"] == 0.3 and side["hyper"]["n_steps"] == 8
    loaded = load_learner(path)
    assert isinstance(loaded, PPO) and loaded.num_timesteps == learner.num_timesteps
    obs = np.stack([env_fn().observation_space.sample() for _ in range(10)])
    for det in (True, False):
        np.testing.assert_array_equal(learner.predict(obs, deterministic=det)[0],
                                      loaded.predict(obs, deterministic=det)[0])
    from agents import make_agent

    agent = make_agent(f"pg:{path}", device="cpu")  # the agent spec of such a checkpoint, sidecar kept
    assert agent.info["env"] == "test" and agent.info["algo"] == "ppo-pg"
    np.testing.assert_array_equal(agent.predict(obs, deterministic=True)[0],
                                  learner.predict(obs, deterministic=True)[0])
    with pytest.raises(ValueError, match="needs a path: pg:"):
        make_agent("pg:")
    resumed = load_learner(path, env=make_env(env_fn, "NextStep"))
    before = params(resumed)
    resumed.learn(20)
    assert resumed.num_timesteps >= learner.num_timesteps + 20 and not same_params(before, params(resumed))


def test_bad_options_give_one_line():
    env = make_env(Corridor, "NextStep")
    for kwargs, match in [({"n_steps": 0}, "n_steps"), ({"n_minibatches": 0}, "n_minibatches"),
                          ({"clip_coef": 0}, "clip_coef"), ({"clip_vf": -1}, "clip_vf"),
                          ({"target_kl": 0}, "target_kl"), ({"gae_lambda": 2}, "gae_lambda"),
                          ({"batch_size": 64}, "unknown PPO option")]:
        with pytest.raises(ValueError, match=match):
            PPO(env, device="cpu", **kwargs)


def test_discrete_observations_are_one_hot():
    class Chain(gym.Env):
        observation_space, action_space = gym.spaces.Discrete(4, start=1), gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return 1, {}

        def step(self, action):
            return 2 + int(action), 1.0, True, False, {}

    learner = PPO(make_env(Chain, "NextStep"), n_steps=4, seed=0, device="cpu")
    learner.learn(4)
    obs = learner.rollout.obs.numpy()
    assert set(np.unique(obs.sum(-1))) == {1.0} and obs[0, :, 0].all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("encoder", ["mlp", "cwrnn"])
def test_cuda_buffers_live_on_the_gpu_and_load_on_cpu(tmp_path, encoder):
    learner = PPO(make_env(Corridor, "NextStep"), encoder=encoder, hidden=(16,), n_steps=16, seed=0, device="cuda")
    learner.learn(200)
    assert next(learner.policy.parameters()).is_cuda
    r = learner.rollout
    assert all(v.is_cuda for v in (r.obs, r.actions, r.logp, r.values))
    loaded = load_learner(learner.save(tmp_path / "g.pt"), device="cpu")
    obs = np.eye(5, dtype=np.float32)
    np.testing.assert_array_equal(learner.predict(obs, deterministic=True)[0],
                                  loaded.predict(obs, deterministic=True)[0])


# --------------------------------------------------------------------------------------------------
# Learning (slow)
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_bandit_finds_the_best_arm():
    learner = PPO(make_env(Bandit, "NextStep", k=8), n_steps=8, lr=3e-3, seed=0, device="cpu")
    learner.learn(3000)
    obs = np.ones(1, np.float32)
    assert learner.predict(obs, deterministic=True)[0] == 2
    assert learner.action_probs(obs)[0][2] > 0.9


@pytest.mark.slow
def test_controller_bandit_finds_the_paying_pair():
    learner = PPO(make_env(ControllerBandit, "NextStep", k=16), n_steps=8, lr=3e-3, seed=0, device="cpu")
    learner.learn(4000)
    assert tuple(learner.predict(np.ones(3, np.float32), deterministic=True)[0]) == (6, 2)
    stick, button = learner.action_probs(np.ones(3, np.float32))
    assert stick[6] > 0.8 and button[2] > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["mlp", "cwrnn"])
def test_corridor_reaches_the_value_iteration_optimum(encoder):
    gamma = 0.99
    mdp = corridor_mdp(gamma=gamma)
    optimum = value_iteration(mdp, tol=1e-10)
    assert optimum.V[0] == pytest.approx(0.673289, abs=1e-6)  # -.1 - .099 - .09801 + .99^3
    learner = PPO(make_env(Corridor, "NextStep", k=4), n_steps=32, lr=3e-3, gamma=gamma, seed=1, device="cpu",
                  **({"encoder": "cwrnn", "hidden": (32,)} if encoder == "cwrnn" else {}))
    learner.learn(4000)
    eye = np.eye(mdp.n_states, dtype=np.float32)
    policy = np.array([int(learner.predict(eye[s], deterministic=True)[0]) for s in range(mdp.n_states)])
    assert policy_evaluation(mdp, policy, method="exact")[0] == pytest.approx(optimum.V[0], abs=1e-9)


@pytest.mark.slow
def test_cwrnn_learns_to_remember_the_cue():
    learner = PPO(make_env(Cue, "NextStep", k=8), encoder="cwrnn", hidden=(32,), n_steps=16, lr=3e-3, seed=0,
                  device="cpu")
    learner.learn(6000)
    env, total = Cue(), 0.0
    for i in range(40):
        obs, _ = env.reset(seed=10_000 + i)
        state, start, done = None, np.ones(1, bool), False
        while not done:
            action, state = learner.predict(obs, state=state, episode_start=start, deterministic=True)
            start = np.zeros(1, bool)
            obs, r, term, trunc, _ = env.step(action)
            total, done = total + r, term or trunc
    assert total / 40 == 1.0


def stealth_training_env(level: str):
    """The stealth env as `sandbox train stealth` trains on it: half the episodes start on a random safe
    cell (exploring starts), and potential-based shaping toward the goal (which keeps the optimal policies)."""
    import envs  # noqa: F401  (registers sandbox/Stealth-v0)

    return gym.make("sandbox/Stealth-v0", level=level, obs_mode="grid", exploring_starts=0.5, shaping_gamma=0.99)


@pytest.mark.slow
def test_stealth_tutorial_is_solved_from_the_real_start():
    """Trained with the training aids, evaluated without them: the greedy policy reaches the goal from the
    level's own start every time (the tutorial's guards move, so each seed meets them at another phase)."""
    import envs  # noqa: F401

    vec = gym.vector.SyncVectorEnv([lambda: stealth_training_env("tutorial")] * 8)
    learner = PPO(vec, n_steps=64, lr=5e-4, ent_coef=0.01, seed=0, device="cpu")
    learner.learn(60_000)
    env = gym.make("sandbox/Stealth-v0", level="tutorial", obs_mode="grid")
    successes = []
    for i in range(20):
        obs, _ = env.reset(seed=1_000_000 + i)
        done = False
        while not done:
            obs, _, term, trunc, info = env.step(learner.predict(obs, deterministic=True)[0])
            done = term or trunc
        successes.append(bool(info["at_goal"]))
    assert np.mean(successes) == 1.0


@pytest.mark.slow
def test_stealth_tutorial_is_solved_on_the_batched_env():
    """The fast path: the natively batched stealth env (its own exploring starts and goal shaping), 64 envs
    stepped in one call."""
    pytest.importorskip("envs.stealth.vector", reason="needs the natively batched stealth env")
    vec = gym.make_vec("sandbox/Stealth-v0", num_envs=64, level="tutorial", obs_mode="grid", exploring_starts=0.5,
                       shaping_gamma=0.99)
    learner = PPO(vec, n_steps=32, lr=5e-4, ent_coef=0.01, seed=0, device="cpu")
    learner.learn(200_000)
    env = gym.make("sandbox/Stealth-v0", level="tutorial", obs_mode="grid")
    successes = []
    for i in range(20):
        obs, _ = env.reset(seed=1_000_000 + i)
        done = False
        while not done:
            obs, _, term, trunc, info = env.step(learner.predict(obs, deterministic=True)[0])
            done = term or trunc
        successes.append(bool(info["at_goal"]))
    assert np.mean(successes) == 1.0
