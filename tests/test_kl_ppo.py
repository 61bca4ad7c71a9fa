"""KL-regularised PPO (nets.kl_ppo): the KL and its weights against hand-worked numbers, lambda = 0 is
nets.ppo's PPO on the same batch, lambda = inf leaves the reference policy unchanged."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from nets.kl_ppo import KLRegularisedPPO, categorical_kl, kl_regularised_objective, kl_weights
from nets.ppo import PPO, ppo_objective


def test_categorical_kl_hand_worked():
    # KL([1/2, 1/2] || [1/4, 3/4]) = 1/2 ln 2 + 1/2 ln(2/3) = 0.143841 nats
    p = torch.log(torch.tensor([0.5, 0.5]))
    q = torch.log(torch.tensor([0.25, 0.75]))
    assert float(categorical_kl(p, q)) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3), abs=1e-6)
    assert float(categorical_kl(p, q)) == pytest.approx(0.143841, abs=1e-6)
    # zero where p = 0, and 0 for identical distributions
    p0 = torch.log(torch.tensor([1.0, 0.0]))
    assert float(categorical_kl(p0, q)) == pytest.approx(math.log(4), abs=1e-6)
    assert float(categorical_kl(q, q)) == 0.0


def test_kl_weights():
    assert kl_weights(0.0) == (1.0, 0.0)
    assert kl_weights(1.0) == (0.5, 0.5)
    assert kl_weights(3.0) == (0.25, 0.75)
    assert kl_weights(math.inf) == (0.0, 1.0)
    with pytest.raises(ValueError, match="lambda"):
        kl_weights(-1.0)


def _batch(B=6, T=5, A=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"old_logp": torch.log_softmax(torch.randn(B, T, A, generator=g), -1),
            "actions": torch.randint(0, A, (B, T), generator=g), "adv": torch.randn(B, T, generator=g),
            "returns": torch.randn(B, T, generator=g), "old_values": torch.randn(B, T, generator=g),
            "mask": torch.rand(B, T, generator=g) > 0.2}


def test_objective_adds_the_weighted_kl():
    b = _batch()
    lp_all = torch.log_softmax(torch.randn(6, 5, 3), -1)
    ref = torch.log_softmax(torch.randn(6, 5, 3), -1)
    logp = lp_all.gather(-1, b["actions"][..., None]).squeeze(-1)
    old_logp = b["old_logp"].gather(-1, b["actions"][..., None]).squeeze(-1)
    ent = -(lp_all.exp() * lp_all).sum(-1)
    values = torch.randn(6, 5)
    kw = dict(clip_coef=0.2, clip_vf=None, vf_coef=0.5, ent_coef=0.01)
    args = (logp, ent, values, old_logp, b["old_values"], b["adv"], b["returns"], b["mask"])
    base = ppo_objective(*args, **kw)
    kl = categorical_kl(lp_all, ref)
    mean_kl = (kl * b["mask"]).sum() / b["mask"].sum()
    out = kl_regularised_objective(*args, kl, lam=3.0, **kw)
    expect = 0.25 * (base["policy_loss"] - 0.01 * base["entropy"]) + 0.75 * mean_kl + 0.5 * base["value_loss"]
    assert float(out["loss"]) == pytest.approx(float(expect), rel=1e-6)
    assert float(out["kl"]) == pytest.approx(float(mean_kl), rel=1e-6)
    assert kl_regularised_objective(*args, kl, lam=0.0, **kw)["loss"].item() == base["loss"].item()


def test_lambda_zero_is_ppo_on_the_same_batch():
    """The same minibatch through nets.ppo.PPO._losses and through KLRegularisedPPO.losses at lambda = 0:
    the same loss and the same gradient on every parameter."""
    env = gym.make("CartPole-v1")
    ppo = PPO(env, n_steps=8, seed=0, device="cpu", ent_coef=0.01, clip_vf=0.3)
    B, T = 4, 7
    g = torch.Generator().manual_seed(1)
    obs = torch.randn(B, T, 4, generator=g)
    actions = torch.randint(0, 2, (B, T), generator=g)
    old_logp, old_values = -torch.rand(B, T, generator=g), torch.randn(B, T, generator=g)
    adv, returns = torch.randn(B, T, generator=g), torch.randn(B, T, generator=g)
    mask = torch.rand(B, T, generator=g) > 0.1

    def grads():
        out = [p.grad.clone() for p in ppo.policy.parameters()]
        ppo.policy.zero_grad(set_to_none=True)
        return out

    logits, values, _ = ppo.policy(obs)
    want = ppo._losses(logits, values, actions[..., None], old_logp, old_values, adv, returns, mask)
    want["loss"].backward()
    g_ppo = grads()

    learner = KLRegularisedPPO(ppo.policy, _Head(ppo.policy, 1),
                               lambda m, o: torch.log_softmax(m(o)[0][0], -1), lam=0.0, clip_vf=0.3,
                               ent_coef=0.01)
    got = learner.losses(obs, actions, mask, old_logp, old_values, adv, returns)
    got["loss"].backward()
    g_kl = grads()
    assert got["loss"].item() == pytest.approx(want["loss"].item(), rel=1e-6, abs=1e-7)
    for a, b in zip(g_ppo, g_kl, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


class _Head(torch.nn.Module):
    """Output ``k`` of a module that returns a tuple (the value of PPO's policy-value net)."""

    def __init__(self, net, k):
        super().__init__()
        self.net, self.k = net, k

    def forward(self, x):
        return self.net(x)[self.k]


class _Tiny(torch.nn.Module):
    def __init__(self, d=3, a=4, squeeze=False):
        super().__init__()
        self.lin = torch.nn.Linear(d, a)
        self.squeeze = squeeze

    def forward(self, x):
        y = self.lin(x)
        return y[..., 0] if self.squeeze else y


def _episodes(B=8, T=6, D=3, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(B, T, D)).astype(np.float32)
    actions = rng.integers(0, 4, (B, T))
    rewards = (actions == 2).astype(np.float32)  # action 2 pays
    mask = np.ones((B, T), bool)
    mask[: B // 2, T - 2:] = False  # shorter episodes
    return obs, actions, rewards, mask


def _learner(lam, seed=0):
    torch.manual_seed(seed)
    policy, value = _Tiny(), _Tiny(a=1, squeeze=True)
    return KLRegularisedPPO(policy, value, lambda m, o: torch.log_softmax(m(o), -1),
                            lam=lam, lr=1e-2, n_epochs=4, n_minibatches=2, seed=seed), value


def test_lambda_inf_leaves_the_cloned_policy_unchanged():
    learner, value = _learner(math.inf)
    before = {k: v.clone() for k, v in learner.policy.state_dict().items()}
    v_before = [p.clone() for p in value.parameters()]
    info = learner.update(*_episodes())
    for k, v in learner.policy.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(a, b) for a, b in zip(v_before, value.parameters(), strict=True))  # value learns
    assert info["kl"] == 0.0


def test_kl_shrinks_as_lambda_grows():
    """Same batches, same seed: lambda = 0 is pulled furthest from the reference, a large lambda least."""
    kls = {}
    for lam in (0.0, 1.0, 1e3):
        learner, _ = _learner(lam)
        for k in range(5):
            learner.update(*_episodes(seed=k))
        obs = torch.as_tensor(_episodes(seed=99)[0])
        with torch.no_grad():
            kls[lam] = float(categorical_kl(learner.log_probs(learner.policy, obs),
                                            learner.log_probs(learner.reference, obs)).mean())
    assert kls[0.0] > kls[1.0] > kls[1e3]
    assert kls[1e3] < 0.05 * kls[0.0]


def test_advantages_stop_at_each_episodes_end():
    learner, _ = _learner(0.0)
    learner.gamma, learner.gae_lambda = 0.5, 1.0
    rewards = np.array([[1.0, 0.0, 2.0, 9.0]])
    mask = np.array([[True, True, True, False]])
    adv = learner.advantages(rewards, np.zeros((1, 4)), mask)
    # returns with gamma 1/2, ending at step 2 (the masked reward 9 never counts): 1.5, 1, 2, 0
    np.testing.assert_allclose(adv, [[1.5, 1.0, 2.0, 0.0]])
