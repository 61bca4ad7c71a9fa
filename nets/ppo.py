"""Proximal policy optimisation (Schulman et al. 2017), ``sandbox train --algo ppo-pg``: one file, read
top to bottom like CleanRL's ``ppo.py``, on :class:`nets.on_policy.OnPolicyLearner`, the base it shares with
A2C and REINFORCE (:mod:`nets.policy_gradient`).

Use it as::

    import gymnasium as gym
    from nets.ppo import PPO
    env = gym.make_vec("CartPole-v1", num_envs=64)        # any gymnasium.vector.VectorEnv (or one env)
    learner = PPO(env, n_steps=64, seed=0, device="auto").learn(500_000)
    action, state = learner.predict(obs, deterministic=True)    # the agent protocol
    learner.save("runs/x/final.pt")                             # state_dict + config; load_learner reads it

One update, as :meth:`PPO.learn` runs it:

1. **Rollout.** ``n_steps`` steps of all K envs at once (:meth:`nets.on_policy.OnPolicyLearner.collect_rollout`,
   A2C's rollout too), straight into tensors preallocated on the policy's device (observations, actions,
   log-probabilities, values). Each batch step copies the K observations once, as one array, to the device
   (never env by env), and the K actions once back to the env. Actions are sampled on the device
   (:meth:`PPO.draw_actions`) from a generator seeded from the learner's seed. Rewards and episode ends
   stay on the host, where the env writes them.
2. **Advantages.** :func:`nets.returns.gae_advantages` (GAE(lambda)) over the (T, K) rollout, and
   the value targets ``A + V``. A terminated step bootstraps from 0; a *truncated* one from the value of
   its final observation (a time limit is not a terminal state); the rollout's last step from ``V(s_T)``.
3. **Optimisation.** ``n_epochs`` passes over the rollout in ``n_minibatches`` shuffled minibatches, each a
   gradient step (Adam, gradient norm clipped at ``max_grad_norm``) on

       L = mean(max(-A r, -A clip(r, 1 - eps, 1 + eps)))          clipped surrogate, r = pi/pi_old
         + vf_coef mean((V - target)^2)                            (clipped around V_old if clip_vf)
         - ent_coef mean(H(pi))

   with ``A`` standardised per minibatch (:func:`normalize_advantages`). ``target_kl`` stops the epochs
   early once the approximate KL(pi_old || pi) of a minibatch exceeds it.

Autoreset: all three modes of gymnasium 1.x vector envs work, through the same stepper as A2C
(:class:`nets.on_policy.EnvStepper`). Under ``NEXT_STEP`` (Gymnasium's default) the step after an
episode's end only resets that env: it is stored but masked out of every loss and mean, and the
observation it shows is the final one, so ``V`` of it bootstraps a truncation.

Encoders (as A2C): ``"mlp"``, separate tanh MLPs for policy and value (stable-baselines3's default
``MlpPolicy`` shape), or ``"cwrnn"``, a clockwork RNN shared by both. The recurrent state is passed
explicitly, reset at each episode start, and stored at the start of each rollout; the update re-runs the
RNN over each env's whole rollout from that state, so recurrent minibatches are groups of envs
(CleanRL's ``ppo_atari_lstm.py``). Actions: ``Discrete`` and ``MultiDiscrete`` (two heads go through
:class:`nets.heads.ControllerHead`). Devices: ``device`` goes through :func:`nets.device.resolve_device`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Self

import torch

from nets.clockwork import ClockworkState
from nets.on_policy import EnvLike, OnPolicyLearner, Rollout, log_prob_entropy, reject_unknown_options

__all__ = ["PPO", "ppo_objective", "normalize_advantages", "clipped_policy_loss", "clipped_value_loss", "masked_mean"]


# ==================================================================================================
# The objective, as small pure functions (tensors of any shape; ``mask`` marks the entries that count)
# ==================================================================================================
def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The mean of ``x`` over the entries where ``mask`` is true (all entries if None)."""
    if mask is None:
        return x.mean()
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1.0)


def normalize_advantages(adv: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-8) -> torch.Tensor:
    """``(A - mean A) / (std A + eps)`` over the masked entries (std with Bessel's correction, as SB3 and
    CleanRL); entries outside the mask are returned unchanged. Fewer than two entries: unchanged."""
    if mask is None:
        return adv if adv.numel() < 2 else (adv - adv.mean()) / (adv.std() + eps)
    m = mask.bool()
    if int(m.sum()) < 2:
        return adv
    sel = adv[m]
    return torch.where(m, (adv - sel.mean()) / (sel.std() + eps), adv)


def clipped_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor,
                        clip_coef: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The clipped surrogate per sample, to be minimised: ``max(-A r, -A clip(r, 1-eps, 1+eps))`` with
    ``r = exp(logp - old_logp)``; and ``r`` itself (for the KL estimate and the clip fraction)."""
    ratio = torch.exp(logp - old_logp)
    return torch.max(-adv * ratio, -adv * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)), ratio


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                       clip_vf: float | None) -> torch.Tensor:
    """The value loss per sample: ``(V - target)^2``, or with ``clip_vf``
    ``max((V - target)^2, (V_old + clip(V - V_old, -c, c) - target)^2)`` (PPO2's value clipping)."""
    loss = (values - returns) ** 2
    if clip_vf is None:
        return loss
    clipped = old_values + (values - old_values).clamp(-clip_vf, clip_vf)
    return torch.max(loss, (clipped - returns) ** 2)


def ppo_objective(logp: torch.Tensor, ent: torch.Tensor, values: torch.Tensor, old_logp: torch.Tensor,
                  old_values: torch.Tensor, adv: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor | None,
                  *, clip_coef: float, clip_vf: float | None, vf_coef: float, ent_coef: float,
                  normalize_advantage: bool = True) -> dict[str, torch.Tensor]:
    """PPO's loss on one minibatch, from the log-probabilities ``logp`` of the taken actions and the
    entropies ``ent`` under the current policy (the module docstring's ``L``), and what to log:
    ``loss``, ``policy_loss``, ``value_loss``, ``entropy``, ``approx_kl`` (k3 estimate of
    KL(pi_old || pi)) and ``clip_fraction``."""
    if normalize_advantage:
        adv = normalize_advantages(adv, mask)
    pg, ratio = clipped_policy_loss(logp, old_logp, adv, clip_coef)
    policy_loss = masked_mean(pg, mask)
    value_loss = masked_mean(clipped_value_loss(values, old_values, returns, clip_vf), mask)
    entropy = masked_mean(ent, mask)
    with torch.no_grad():
        log_ratio = logp - old_logp
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)  # Schulman's k3 estimator
        clip_fraction = masked_mean(((ratio - 1.0).abs() > clip_coef).float(), mask)
    loss = policy_loss + vf_coef * value_loss - ent_coef * entropy
    return {"loss": loss, "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
            "approx_kl": approx_kl, "clip_fraction": clip_fraction}


# ==================================================================================================
# The learner
# ==================================================================================================
class PPO(OnPolicyLearner):
    """PPO with the clipped objective, GAE and advantage normalisation; see the module docstring.

    Args (defaults as stable-baselines3's PPO where it has them, except ``n_steps``):
        env: a ``gymnasium.vector.VectorEnv`` of K envs (any autoreset mode) or one ``gym.Env``.
        encoder, hidden, periods: the network (:class:`nets.on_policy.PolicyValueNet`).
        lr: Adam's learning rate. gamma: the discount. gae_lambda: GAE's lambda.
        n_steps: steps per env per rollout (a rollout holds n_steps x K transitions).
        n_epochs: passes over each rollout. n_minibatches: minibatches per pass (recurrent: groups of envs).
        clip_coef: the surrogate's epsilon. clip_vf: value clipping range around the old values (None: off).
        ent_coef, vf_coef: weights of the entropy bonus and the value loss. max_grad_norm: None for no clip.
        target_kl: stop an update's epochs once a minibatch's approximate KL exceeds it (None: never).
        normalize_advantage: standardise advantages per minibatch.
        seed: parameters, the action sampler and the first env reset. device: auto, cpu, cuda, cuda:N.
    """

    algo = "ppo-pg"

    def __init__(self, env: EnvLike | None, encoder: str = "mlp", hidden: Sequence[int] = (64, 64),
                 lr: float = 3e-4, gamma: float = 0.99, gae_lambda: float = 0.95, n_steps: int = 128,
                 n_epochs: int = 4, n_minibatches: int = 4, clip_coef: float = 0.2, clip_vf: float | None = None,
                 ent_coef: float = 0.0, vf_coef: float = 0.5, max_grad_norm: float | None = 0.5,
                 target_kl: float | None = None, normalize_advantage: bool = True, seed: int = 0,
                 device: str | torch.device = "auto", periods: Sequence[int] = (1, 2, 4, 8), optimizer: str = "adam",
                 _spaces: dict[str, dict[str, Any]] | None = None, **unknown: Any) -> None:
        reject_unknown_options(type(self), unknown)
        for name, value in (("n_steps", n_steps), ("n_epochs", n_epochs), ("n_minibatches", n_minibatches)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not 0.0 <= gae_lambda <= 1.0:
            raise ValueError(f"gae_lambda = {gae_lambda} is outside [0, 1]")
        if clip_coef <= 0:
            raise ValueError(f"clip_coef must be > 0, got {clip_coef}")
        if clip_vf is not None and clip_vf <= 0:
            raise ValueError(f"clip_vf must be > 0 or None, got {clip_vf}")
        if target_kl is not None and target_kl <= 0:
            raise ValueError(f"target_kl must be > 0 or None, got {target_kl}")
        self.n_steps, self.n_epochs, self.n_minibatches = int(n_steps), int(n_epochs), int(n_minibatches)
        self.gae_lambda, self.clip_coef = float(gae_lambda), float(clip_coef)
        self.clip_vf = None if clip_vf is None else float(clip_vf)
        self.target_kl = None if target_kl is None else float(target_kl)
        super().__init__(env, encoder=encoder, hidden=hidden, periods=periods, lr=lr, gamma=gamma,
                         ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm, optimizer=optimizer,
                         normalize_advantage=normalize_advantage, value=True, seed=seed, device=device,
                         spaces=_spaces)
        self._gen: torch.Generator | None = None  # the device-side action sampler

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "gae_lambda": self.gae_lambda, "n_steps": self.n_steps,
                "n_epochs": self.n_epochs, "n_minibatches": self.n_minibatches, "clip_coef": self.clip_coef,
                "clip_vf": self.clip_vf, "target_kl": self.target_kl}

    # ------------------------------------------------------------------ the loop
    def learn(self, total_steps: int, callback: Callable[[dict[str, Any]], Any] | None = None) -> Self:
        """Train for ``total_steps`` more env steps (rounded up to whole rollouts; the reset steps of
        ``NEXT_STEP`` autoreset are not counted). ``callback(info)`` runs after every update; returning
        False stops. ``info``: steps, updates (gradient steps so far), episode_returns and episode_lengths
        (episodes finished in the rollout), loss, policy_loss, value_loss, entropy, approx_kl,
        clip_fraction, explained_variance."""
        self._start()
        target = self.num_timesteps + int(total_steps)
        while self.num_timesteps < target:
            rollout = self.collect_rollout(self.n_steps, self.gae_lambda)
            info: dict[str, Any] = self._update(rollout)
            info.update(steps=int(self.num_timesteps), updates=int(self.num_updates),
                        episode_returns=rollout.episode_returns, episode_lengths=rollout.episode_lengths)
            if callback is not None and callback(info) is False:
                break
        return self

    def begin_rollout(self) -> None:
        """Seed the device sampler for this rollout, from the learner's numpy generator (which checkpoints
        keep)."""
        if self._gen is None:
            self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(int(self.rng.integers(2**62)))

    def draw_actions(self, logits: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample every head on the device: zero-based actions (K, H) and their joint log-probability (K,)."""
        cols = []
        logp = torch.zeros((), device=self.device)
        for z in logits:
            lsm = torch.log_softmax(z, dim=-1)
            a = torch.multinomial(lsm.exp(), 1, generator=self._gen)
            cols.append(a)
            logp = logp + lsm.gather(-1, a)[:, 0]
        return torch.cat(cols, dim=-1), logp

    # ------------------------------------------------------------------ the update
    def _losses(self, logits: Sequence[torch.Tensor], values: torch.Tensor, actions: torch.Tensor,
                old_logp: torch.Tensor, old_values: torch.Tensor, adv: torch.Tensor, returns: torch.Tensor,
                mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The PPO loss of one minibatch and what to log about it (``mask``: None, or the entries that
        count)."""
        logp, ent = log_prob_entropy(logits, actions)
        return ppo_objective(logp, ent, values, old_logp, old_values, adv, returns, mask,
                             clip_coef=self.clip_coef, clip_vf=self.clip_vf, vf_coef=self.vf_coef,
                             ent_coef=self.ent_coef, normalize_advantage=self.normalize_advantage)

    def _update(self, r: Rollout) -> dict[str, float]:
        T, K = r.n_steps, r.num_envs
        old_values = r.values[:T]
        adv = torch.as_tensor(r.advantages, dtype=torch.float32, device=self.device)
        returns = adv + old_values
        valid = torch.as_tensor(r.valid, device=self.device)
        logs: list[dict[str, torch.Tensor]] = []

        def take(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            """One minibatch of a (T, K, ...) rollout tensor."""
            if self.recurrent:
                return x.index_select(1, idx).transpose(0, 1)  # (B, T, ...): whole env rollouts
            return x.reshape(T * K, *x.shape[2:]).index_select(0, idx)  # (B, ...): single transitions

        stop = False
        for _ in range(self.n_epochs):
            if self.recurrent:  # minibatches of whole env rollouts, re-run from the stored start state
                envs = torch.randperm(K, generator=self._gen, device=self.device)
                groups = envs.chunk(min(self.n_minibatches, K))
            else:  # minibatches of single transitions; NEXT_STEP reset steps are left out
                rows = torch.nonzero(valid.reshape(-1))[:, 0]
                rows = rows[torch.randperm(len(rows), generator=self._gen, device=self.device)]
                groups = rows.chunk(min(self.n_minibatches, max(len(rows), 1)))
            for idx in groups:
                mask: torch.Tensor | None
                if self.recurrent:
                    st = r.start_state
                    assert st is not None
                    first = r.first[:, idx.cpu().numpy()].T
                    state = ClockworkState(st.hidden[idx], st.step[idx])
                    logits, values, _ = self.policy(take(r.obs, idx), state, first)
                    mask = take(valid, idx)
                else:
                    logits, values, _ = self.policy(take(r.obs, idx)[:, None])
                    assert values is not None
                    logits, values, mask = [z[:, 0] for z in logits], values[:, 0], None
                assert values is not None
                out = self._losses(logits, values, take(r.actions, idx), take(r.logp, idx),
                                   take(old_values, idx), take(adv, idx), take(returns, idx), mask)
                self._optimise(out["loss"])
                logs.append({k: v.detach() for k, v in out.items()})
                if self.target_kl is not None and float(out["approx_kl"]) > self.target_kl:
                    stop = True
                    break
            if stop:
                break
        info = {k: float(torch.stack([d[k] for d in logs]).mean()) for k in logs[0]}
        y, pred = returns[valid], old_values[valid]
        var = float(y.var()) if len(y) > 1 else float("nan")
        info["explained_variance"] = float(1.0 - (y - pred).var() / var) if var > 0 else float("nan")
        return info
