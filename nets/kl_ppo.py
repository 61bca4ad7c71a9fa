"""KL-regularised PPO: fine-tune a policy for reward while a penalty holds it near a reference policy.

In the spirit of piKL (Jacob et al. 2022, "Modeling strong and human-like gameplay with KL-regularized
search"): maximise ``E[return] - lambda * E_s[KL(pi(.|s) || pi_ref(.|s))]``, where ``pi_ref`` is a frozen
copy of the policy at the start (for a ghost: the behaviour-cloned policy). The loss minimised on a
minibatch is PPO's (:func:`nets.ppo.ppo_objective`) with the KL term added and the two rescaled so that
every ``lambda`` in ``[0, inf]`` is well defined::

    L_lambda = (L_clip - c_H H(pi)) / (1 + lambda)  +  lambda / (1 + lambda) * KL(pi || pi_ref)  +  c_V L_V

* ``lambda = 0``: exactly PPO's loss (the same number as :func:`nets.ppo.ppo_objective`, and the same
  update, on the same batch);
* ``lambda = inf``: the policy's part is the KL alone, minimised by ``pi = pi_ref``: the policy is not
  stepped at all and stays the reference;
* in between: the same minimiser as ``L_clip + lambda KL`` (one positive factor apart), with gradients
  that stay bounded as lambda grows.

The KL is exact per state, over the whole (flattened) action set: ``sum_a pi(a|s) (log pi(a|s) -
log pi_ref(a|s))`` (:func:`categorical_kl`). The value function is a separate module, so its loss never
moves the policy.

This module knows no game. The policy is any torch module; the caller gives ``log_probs(module, obs)``
returning log-probabilities over the flattened action set, shape (B, T, A), for sequences ``obs`` of
shape (B, T, D) that start at a zero recurrent state (whole episodes, as recurrent PPO re-runs them).
The value function maps (B, T, D) to (B, T). :meth:`KLRegularisedPPO.update` takes one batch of whole
episodes (observations, actions, rewards, a mask for their lengths; each ends terminally) and runs
``n_epochs`` passes of ``n_minibatches`` minibatches of episodes.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch

from nets.ppo import masked_mean, ppo_objective
from nets.returns import gae_advantages

__all__ = ["KLRegularisedPPO", "categorical_kl", "kl_regularised_objective", "kl_weights"]


def categorical_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """``KL(p || q) = sum_a p(a) (log p(a) - log q(a))`` over the last axis, from log-probabilities
    (natural log, nats). Entries where ``p(a) = 0`` contribute 0."""
    p = logp.exp()
    return torch.where(p > 0, p * (logp - ref_logp), torch.zeros_like(p)).sum(-1)


def kl_weights(lam: float) -> tuple[float, float]:
    """``(w_ppo, w_kl) = (1 / (1 + lambda), lambda / (1 + lambda))``; ``(0, 1)`` at lambda = inf."""
    if not lam >= 0:
        raise ValueError(f"the KL weight lambda must be >= 0 (inf allowed); got {lam}")
    if math.isinf(lam):
        return 0.0, 1.0
    return 1.0 / (1.0 + lam), lam / (1.0 + lam)


def kl_regularised_objective(logp: torch.Tensor, ent: torch.Tensor, values: torch.Tensor, old_logp: torch.Tensor,
                             old_values: torch.Tensor, adv: torch.Tensor, returns: torch.Tensor,
                             mask: torch.Tensor | None, kl: torch.Tensor, *, lam: float, clip_coef: float,
                             clip_vf: float | None, vf_coef: float, ent_coef: float,
                             normalize_advantage: bool = True) -> dict[str, torch.Tensor]:
    """``L_lambda`` of the module docstring on one minibatch: :func:`nets.ppo.ppo_objective` of the same
    arguments, plus the per-sample ``kl`` (to the reference) weighted as :func:`kl_weights`. Returns
    PPO's entries (``loss`` replaced by ``L_lambda``) and ``kl`` (its masked mean). At ``lam = 0`` the
    loss is PPO's own tensor."""
    out = ppo_objective(logp, ent, values, old_logp, old_values, adv, returns, mask, clip_coef=clip_coef,
                        clip_vf=clip_vf, vf_coef=vf_coef, ent_coef=ent_coef, normalize_advantage=normalize_advantage)
    mean_kl = masked_mean(kl, mask)
    if lam != 0:
        w_ppo, w_kl = kl_weights(lam)
        policy_part = out["policy_loss"] - ent_coef * out["entropy"]
        out["loss"] = w_ppo * policy_part + w_kl * mean_kl + vf_coef * out["value_loss"]
    out["kl"] = mean_kl.detach()
    return out


class KLRegularisedPPO:
    """PPO fine-tuning of ``policy`` under a KL penalty to a frozen copy of it (see the module docstring).

    Args:
        policy: the torch module to fine-tune (its parameters at construction are the reference).
        value_fn: a torch module, (B, T, D) observations -> (B, T) values, trained beside the policy.
        log_probs: ``log_probs(module, obs) -> (B, T, A)`` log-probabilities over the flattened actions.
        lam: the KL weight lambda in [0, inf]. lr, value_lr: Adam learning rates of policy and value.
        gamma, gae_lambda: discount and GAE's lambda. n_epochs, n_minibatches: passes over a batch and
        minibatches (groups of episodes) per pass. clip_coef, clip_vf, ent_coef, vf_coef,
        max_grad_norm, normalize_advantage: as :class:`nets.ppo.PPO`. seed: the minibatch shuffling.
    """

    def __init__(self, policy: torch.nn.Module, value_fn: torch.nn.Module,
                 log_probs: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor], *, lam: float = 1.0,
                 lr: float = 1e-4, value_lr: float = 1e-3, gamma: float = 0.99, gae_lambda: float = 0.95,
                 n_epochs: int = 4, n_minibatches: int = 4, clip_coef: float = 0.2, clip_vf: float | None = None,
                 ent_coef: float = 0.0, vf_coef: float = 0.5, max_grad_norm: float | None = 0.5,
                 normalize_advantage: bool = True, seed: int = 0):
        kl_weights(lam)  # validates lambda
        if n_epochs < 1 or n_minibatches < 1:
            raise ValueError(f"n_epochs and n_minibatches must be >= 1; got {n_epochs}, {n_minibatches}")
        self.policy, self.value_fn, self.log_probs = policy, value_fn, log_probs
        self.reference = copy.deepcopy(policy).eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.lam = float(lam)
        self.gamma, self.gae_lambda = float(gamma), float(gae_lambda)
        self.n_epochs, self.n_minibatches = int(n_epochs), int(n_minibatches)
        self.clip_coef, self.clip_vf = float(clip_coef), clip_vf
        self.ent_coef, self.vf_coef = float(ent_coef), float(vf_coef)
        self.max_grad_norm, self.normalize_advantage = max_grad_norm, bool(normalize_advantage)
        self.policy_opt = torch.optim.Adam(policy.parameters(), lr=lr)
        self.value_opt = torch.optim.Adam(value_fn.parameters(), lr=value_lr)
        self.gen = torch.Generator().manual_seed(int(seed))
        self.updates = 0

    @property
    def policy_frozen(self) -> bool:
        """lambda = inf: the policy is the reference and is never stepped."""
        return math.isinf(self.lam)

    def advantages(self, rewards: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """GAE over (B, T) episodes that end terminally at their last unmasked step (then 0 beyond)."""
        r, v, m = rewards.T.astype(np.float64), values.T.astype(np.float64), mask.T
        nxt = np.concatenate([v[1:], np.zeros_like(v[:1])])
        last = m & ~np.concatenate([m[1:], np.zeros_like(m[:1])])  # each episode's final step
        adv = gae_advantages(np.where(m, r, 0.0), np.where(m, v, 0.0), np.where(last | ~m, 0.0, nxt), last | ~m,
                             self.gamma, self.gae_lambda)
        return np.where(m, adv, 0.0).T

    def losses(self, obs: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor, old_logp: torch.Tensor,
               old_values: torch.Tensor, adv: torch.Tensor, returns: torch.Tensor) -> dict[str, torch.Tensor]:
        """:func:`kl_regularised_objective` of the current policy on one minibatch of episodes."""
        lp_all = self.log_probs(self.policy, obs)
        with torch.no_grad():
            ref = self.log_probs(self.reference, obs)
        logp = lp_all.gather(-1, actions[..., None]).squeeze(-1)
        ent = -(lp_all.exp() * lp_all).sum(-1)
        values = self.value_fn(obs)
        return kl_regularised_objective(logp, ent, values, old_logp, old_values, adv, returns, mask,
                                        categorical_kl(lp_all, ref), lam=self.lam, clip_coef=self.clip_coef,
                                        clip_vf=self.clip_vf, vf_coef=self.vf_coef, ent_coef=self.ent_coef,
                                        normalize_advantage=self.normalize_advantage)

    def update(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
               mask: np.ndarray) -> dict[str, float]:
        """One PPO update on B whole episodes: ``obs`` (B, T, D), ``actions`` (B, T) indices into the
        flattened action set, ``rewards`` (B, T), ``mask`` (B, T) True on each episode's steps. Returns
        the means over minibatches of ``loss``, ``policy_loss``, ``value_loss``, ``entropy``, ``kl``
        (to the reference), ``approx_kl`` and ``clip_fraction``."""
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        act_t = torch.as_tensor(actions, dtype=torch.long)
        mask_t = torch.as_tensor(mask, dtype=torch.bool)
        with torch.no_grad():
            old_logp = self.log_probs(self.policy, obs_t).gather(-1, act_t[..., None]).squeeze(-1)
            old_values = self.value_fn(obs_t)
        adv = self.advantages(np.asarray(rewards), old_values.numpy(), np.asarray(mask, bool))
        adv_t = torch.as_tensor(adv, dtype=torch.float32)
        returns = adv_t + old_values
        logs = []
        n = obs_t.shape[0]
        for _ in range(self.n_epochs):
            for idx in torch.randperm(n, generator=self.gen).chunk(min(self.n_minibatches, n)):
                out = self.losses(obs_t[idx], act_t[idx], mask_t[idx], old_logp[idx], old_values[idx], adv_t[idx],
                                  returns[idx])
                self.policy_opt.zero_grad(set_to_none=True)
                self.value_opt.zero_grad(set_to_none=True)
                out["loss"].backward()
                if self.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                    torch.nn.utils.clip_grad_norm_(self.value_fn.parameters(), self.max_grad_norm)
                if not self.policy_frozen:
                    self.policy_opt.step()
                self.value_opt.step()
                self.updates += 1
                logs.append({k: float(v.detach()) for k, v in out.items()})
        return {k: float(np.mean([d[k] for d in logs])) for k in logs[0]}
