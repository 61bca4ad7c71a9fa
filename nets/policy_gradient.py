"""Our own policy-gradient learners, readable and tested: REINFORCE (with or without a learned
baseline) and A2C with n-step returns and GAE(lambda); and :func:`load_learner`, which reads the
checkpoint of any of our on-policy learners (these two and :class:`nets.ppo.PPO`).

Use them as::

    from nets.policy_gradient import A2C, Reinforce, load_learner
    learner = A2C(env, encoder="mlp", n_steps=5, gae_lambda=0.95, seed=0).learn(100_000)
    action, state = learner.predict(obs, state=state, episode_start=start, deterministic=True)
    learner.save("runs/x/final.pt")          # state_dict + config in the .pt, config also in final.json
    learner = load_learner("runs/x/final.pt")  # torch.load(weights_only=True); no env needed

The maths lives in small pure functions (:mod:`nets.returns`, re-exported here): :func:`discounted_returns`,
:func:`n_step_returns`, :func:`td_errors` and :func:`gae_advantages` (numpy, arrays of shape (T,) or (T, K):
time first, then env). What A2C, REINFORCE and PPO share, the network, the agent protocol, checkpoints and
stepping the envs, is their public base :class:`nets.on_policy.OnPolicyLearner`:

* **Action spaces.** ``Discrete(n)`` (one categorical), ``MultiDiscrete([a, b])`` (the duel's stick x
  button) through :class:`nets.heads.ControllerHead`, and any other ``MultiDiscrete`` through
  independent linear softmax heads. The joint log-probability is the sum over heads; so is the
  entropy.
* **Observations.** ``Box`` of any shape (flattened; e.g. the stealth grid's (C, H, W)),
  ``MultiBinary`` (flattened) and ``Discrete`` (one-hot).
* **Encoders.** ``"mlp"``: separate tanh MLPs for the policy and the value (as stable-baselines3's
  A2C). ``"cwrnn"``: one :class:`nets.clockwork.ClockworkRNN` of ``hidden[0]`` units (split into
  ``len(periods)`` modules) shared by policy and value, then optional MLP layers ``hidden[1:]`` for
  each. The recurrent state is carried across steps per env and reset at each episode start; an
  update re-runs the RNN over the rollout (A2C) or the episode (REINFORCE) from the stored start
  state, so gradients flow through time.
* **Envs.** A single ``gym.Env`` or a Gymnasium vector env of K copies, in all three autoreset modes of
  gymnasium 1.x (:class:`nets.on_policy.EnvStepper`). A2C's rollouts are
  :meth:`~nets.on_policy.OnPolicyLearner.collect_rollout`, PPO's too; REINFORCE steps the envs with the same
  :meth:`~nets.on_policy.OnPolicyLearner.step_envs`. A truncated step bootstraps from the value of its final
  observation; a terminated one from 0.
* **Seeding.** ``seed`` seeds the parameter initialisation (in a forked torch RNG, so the global one
  is untouched), a private numpy generator that samples every action, and the env's first reset.
  The same seed gives identical parameters after N updates on the CPU.
* **Checkpoints.** ``save`` writes, atomically, a ``.pt`` holding the network's and the optimiser's
  state_dicts, the config and the action-sampler state, and a JSON sidecar with the config.
  :func:`load_learner` reads only the ``.pt`` (``weights_only=True``): ``sandbox train`` may replace the
  sidecar with its own run metadata.
* **Predicting on a few rows.** ``predict`` on at most ``NUMPY_ROWS`` rows of an MLP policy on the CPU runs
  in NumPy (:class:`NumpyPolicy`). The threshold is read in :mod:`nets.on_policy`; assigning
  ``nets.policy_gradient.NUMPY_ROWS`` sets it there (the benchmarks switch the NumPy path off that way).
"""

from __future__ import annotations

import json
import os
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch

from nets import on_policy
from nets.clockwork import ClockworkState
from nets.on_policy import (
    ENCODERS,
    FORMAT_VERSION,
    EnvLike,
    NumpyPolicy,
    OnPolicyLearner,
    PolicyValueNet,
    Rollout,
    log_prob_entropy,
    reject_unknown_options,
    spaces_of,
)
from nets.ppo import PPO
from nets.returns import discounted_returns, gae_advantages, n_step_returns, td_errors

__all__ = [
    "discounted_returns",
    "n_step_returns",
    "gae_advantages",
    "td_errors",
    "PolicyValueNet",
    "NumpyPolicy",
    "OnPolicyLearner",
    "Reinforce",
    "A2C",
    "load_learner",
    "ENCODERS",
    "LEARNERS",
]


class A2C(OnPolicyLearner):
    """Advantage actor-critic (Mnih et al. 2016, synchronous), with n-step returns and GAE(lambda).

    Each update collects ``n_steps`` steps from each of the K envs
    (:meth:`~nets.on_policy.OnPolicyLearner.collect_rollout`: GAE advantages and the value targets ``A + V``,
    see :func:`gae_advantages`; ``gae_lambda=1`` is plain n-step A2C), and takes one gradient step on

        L = -mean(log pi(a|s) A) + vf_coef mean((V(s) - target)^2) - ent_coef mean(H(pi(.|s))).

    Defaults follow stable-baselines3's A2C (lr 7e-4, n_steps 5, vf_coef 0.5, max_grad_norm 0.5) except
    ``ent_coef`` (0.01; SB3: 0.0), ``gae_lambda`` (0.95; SB3: 1.0) and the optimiser: Adam
    (``optimizer="rmsprop"`` gives SB3's RMSprop, alpha 0.99, eps 1e-5).
    """

    algo = "a2c-pg"

    def __init__(self, env: EnvLike | None, encoder: str = "mlp", hidden: Sequence[int] = (64, 64), lr: float = 7e-4,
                 gamma: float = 0.99, gae_lambda: float = 0.95, n_steps: int = 5, ent_coef: float = 0.01,
                 vf_coef: float = 0.5, max_grad_norm: float | None = 0.5, seed: int = 0,
                 device: str | torch.device = "auto", periods: Sequence[int] = (1, 2, 4, 8), optimizer: str = "adam",
                 normalize_advantage: bool = False, _spaces: dict[str, dict[str, Any]] | None = None,
                 **unknown: Any) -> None:
        reject_unknown_options(type(self), unknown)
        if int(n_steps) < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        if not 0.0 <= gae_lambda <= 1.0:
            raise ValueError(f"gae_lambda = {gae_lambda} is outside [0, 1]")
        self.n_steps, self.gae_lambda = int(n_steps), float(gae_lambda)
        super().__init__(env, encoder=encoder, hidden=hidden, periods=periods, lr=lr, gamma=gamma,
                         ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm, optimizer=optimizer,
                         normalize_advantage=normalize_advantage, value=True, seed=seed, device=device,
                         spaces=_spaces)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "n_steps": self.n_steps, "gae_lambda": self.gae_lambda}

    def learn(self, total_steps: int, callback: Callable[[dict[str, Any]], Any] | None = None) -> Self:
        """Train for ``total_steps`` more env steps (rounded up to whole rollouts). ``callback(info)``
        runs after every update; returning False stops. ``info``: steps, updates, episode_returns and
        episode_lengths (episodes finished since the last call), loss, policy_loss, value_loss, entropy."""
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

    def _update(self, r: Rollout) -> dict[str, float]:
        dev = self.device
        # (K, T, ...) so that a recurrent encoder runs over each env's rollout from its stored start state
        first = r.first.T if self.recurrent else None
        logits, values, _ = self.policy(r.obs.transpose(0, 1), r.start_state, first)
        assert values is not None
        mask = torch.as_tensor(r.valid.T, device=dev, dtype=torch.float32)
        n = mask.sum().clamp(min=1.0)
        adv = self._advantage(torch.as_tensor(r.advantages.T, device=dev, dtype=torch.float32), mask)
        ret = torch.as_tensor(r.returns.T, device=dev, dtype=torch.float32)
        logp, ent = log_prob_entropy(logits, r.actions.transpose(0, 1))
        policy_loss = -(logp * adv * mask).sum() / n
        value_loss = (((values - ret) ** 2) * mask).sum() / n
        entropy = (ent * mask).sum() / n
        loss = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy
        self._optimise(loss)
        return {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                "entropy": entropy.item()}


class Reinforce(OnPolicyLearner):
    """REINFORCE (Williams 1992) with return-to-go and, optionally, a learned baseline.

    Each update uses ``n_episodes`` complete episodes (default: one per env) played by the current
    policy, and one gradient step on

        L = -mean_t(log pi(a_t|s_t) (G_t - b(s_t))) + vf_coef mean_t((V(s_t) - G_t)^2) - ent_coef mean_t H

    with ``b = V`` (detached) when ``baseline`` is true and ``b = 0`` (and no value net) otherwise.
    ``G_t`` is the discounted return-to-go; a truncated episode adds ``gamma^k V(final obs)`` with the
    baseline (and nothing without one). With K envs, the part of an episode already under way when an
    update happens was played by the old policy: it is dropped, and its tail, played by the new
    policy, is used as a segment starting mid-episode (the return-to-go needs only future rewards).
    """

    algo = "reinforce"

    def __init__(self, env: EnvLike | None, encoder: str = "mlp", baseline: bool = True,
                 hidden: Sequence[int] = (64, 64), lr: float = 1e-3, gamma: float = 0.99,
                 n_episodes: int | None = None, ent_coef: float = 0.0, vf_coef: float = 0.5,
                 max_grad_norm: float | None = 0.5, seed: int = 0, device: str | torch.device = "auto",
                 periods: Sequence[int] = (1, 2, 4, 8), optimizer: str = "adam",
                 normalize_advantage: bool = False, _spaces: dict[str, dict[str, Any]] | None = None,
                 **unknown: Any) -> None:
        reject_unknown_options(type(self), unknown)
        if n_episodes is not None and int(n_episodes) < 1:
            raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
        self.baseline = bool(baseline)
        self._n_episodes = None if n_episodes is None else int(n_episodes)
        super().__init__(env, encoder=encoder, hidden=hidden, periods=periods, lr=lr, gamma=gamma,
                         ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm, optimizer=optimizer,
                         normalize_advantage=normalize_advantage, value=self.baseline, seed=seed, device=device,
                         spaces=_spaces)

    @property
    def n_episodes(self) -> int:
        """Complete episodes per update (by default one per env)."""
        if self._n_episodes is not None:
            return self._n_episodes
        return max(self.num_envs, 1)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "baseline": self.baseline, "n_episodes": self._n_episodes}

    def _new_segment(self, i: int) -> dict[str, Any]:
        """An empty segment for env row ``i``, starting at its next real observation: with the recurrent
        state after the row's previous observation, and whether that next observation starts an episode
        (a NEXT_STEP row that has just ended will be reset by its next step)."""
        assert self._first is not None and self._stepper is not None
        st = None
        if self._state is not None:
            st = (self._state.hidden[i].clone(), int(self._state.step[i]))
        first = bool(self._first[i] or self._stepper.pending[i])
        return {"obs": [], "actions": [], "rewards": [], "first": first, "state": st, "boot": 0.0}

    def learn(self, total_steps: int, callback: Callable[[dict[str, Any]], Any] | None = None) -> Self:
        """Train for ``total_steps`` more env steps; episodes not finished by then do not count.
        ``callback(info)`` as in :meth:`A2C.learn`, plus ``episodes`` (in the update)."""
        self._start()
        target = self.num_timesteps + int(total_steps)
        K = self.num_envs
        finished: list[float] = []
        lengths: list[int] = []
        segments = [self._new_segment(i) for i in range(K)]  # the episode under way in each env
        complete: list[dict[str, Any]] = []  # segments that reached their episode's end
        while self.num_timesteps < target:
            obs = self._obs
            assert obs is not None
            with torch.no_grad():
                start = self._first if self.recurrent else None
                logits, _, self._state = self.policy(self._flat_obs(obs)[:, None], self._state, start,
                                                     with_value=False)
                a = self._sample([z[:, 0] for z in logits], deterministic=False)
            # a time limit bootstraps from V(final obs) with a baseline; without one there is no value
            step = self.step_envs(a, final_values="all" if self.baseline else "none")
            for i in np.flatnonzero(step.valid):
                seg = segments[i]
                seg["obs"].append(obs[i])
                seg["actions"].append(a[i])
                seg["rewards"].append(float(step.rewards[i]))
                if step.terminated[i] or step.truncated[i]:
                    seg["boot"] = float(step.final_values[i])  # 0 unless truncated (and a baseline)
                    complete.append(seg)
            finished += step.episode_returns
            lengths += step.episode_lengths
            for i in np.flatnonzero(step.valid & (step.terminated | step.truncated)):
                segments[i] = self._new_segment(int(i))
            if len(complete) >= self.n_episodes:
                info: dict[str, Any] = self._update(complete)
                info.update(steps=int(self.num_timesteps), updates=int(self.num_updates),
                            episode_returns=finished, episode_lengths=lengths)
                finished, lengths, complete = [], [], []
                # the episodes under way were partly played by the old policy: keep only their future
                segments = [self._new_segment(i) for i in range(K)]
                if callback is not None and callback(info) is False:
                    break
        return self

    def _update(self, segments: list[dict[str, Any]]) -> dict[str, float]:
        dev = self.device
        lens = [len(s["rewards"]) for s in segments]
        S, L = len(segments), max(lens)
        returns = np.zeros((S, L))
        mask = np.zeros((S, L), dtype=bool)
        obs = np.zeros((S, L, *self._obs_shape), dtype=np.asarray(segments[0]["obs"][0]).dtype)
        actions = np.zeros((S, L, len(self._head_sizes)), np.int64)
        for j, s in enumerate(segments):
            t = lens[j]  # a segment runs to its episode's end: G_T = V(final obs) if truncated, else 0
            returns[j, :t] = discounted_returns(s["rewards"], np.zeros(t, bool), self.gamma, bootstrap=s["boot"])
            mask[j, :t] = True
            obs[j, :t] = np.stack(s["obs"])
            actions[j, :t] = np.stack(s["actions"])
        x = self._flat_obs(obs.reshape(S * L, *self._obs_shape)).reshape(S, L, -1)
        state, first = None, None
        if self.recurrent:
            state = ClockworkState(torch.stack([s["state"][0] for s in segments]).to(dev),
                                   torch.as_tensor([s["state"][1] for s in segments], device=dev))
            first = np.array([s["first"] for s in segments])
        logits, values, _ = self.policy(x, state, first)
        m = torch.as_tensor(mask, device=dev, dtype=torch.float32)
        n = m.sum()
        ret = torch.as_tensor(returns, device=dev, dtype=torch.float32)
        adv = self._advantage(ret - values.detach() if values is not None else ret, m)
        logp, ent = log_prob_entropy(logits, torch.as_tensor(actions, device=dev))
        policy_loss = -(logp * adv * m).sum() / n
        entropy = (ent * m).sum() / n
        loss = policy_loss - self.ent_coef * entropy
        value_loss = torch.zeros(())
        if values is not None:
            value_loss = (((values - ret) ** 2) * m).sum() / n
            loss = loss + self.vf_coef * value_loss
        self._optimise(loss)
        return {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                "entropy": entropy.item(), "episodes": S}


# The learners a checkpoint may name (its config's "class")
LEARNERS: dict[str, type[OnPolicyLearner]] = {"A2C": A2C, "Reinforce": Reinforce, "PPO": PPO}
MAX_CHECKPOINT_BYTES = 512 * 2**20  # a learner checkpoint file (.pt)


def load_learner(path: str | os.PathLike[str], env: EnvLike | None = None,
                 device: str | torch.device = "auto") -> OnPolicyLearner:
    """Rebuild a learner saved by ``save`` (A2C, Reinforce or PPO). Without ``env`` it predicts; with ``env``
    (spaces must match) it can continue ``learn()``, with its step count, optimiser state and sampler
    restored."""
    path = Path(path)
    if not path.is_file() and path.with_suffix(".pt").is_file():
        path = path.with_suffix(".pt")
    if not path.is_file():
        raise FileNotFoundError(f"learner checkpoint {str(path)!r} not found (expected a .pt written by save())")
    from nets.torchfile import load_tensors

    try:
        payload = load_tensors(path, max_bytes=MAX_CHECKPOINT_BYTES)  # weights_only, sizes checked first
        config = json.loads(payload["config_json"])
        cls = LEARNERS[config["class"]]
    except Exception as exc:
        raise ValueError(f"{path}: not a policy-gradient learner checkpoint ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())})") from None
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: checkpoint format {config.get('format_version')}; this code reads "
                         f"{FORMAT_VERSION}")
    hyper = dict(config["hyper"])
    if env is not None:
        have = spaces_of(env)
        if have != config["spaces"]:
            raise ValueError(f"{path}: the learner was trained on spaces {config['spaces']}, "
                             f"but the env given has {have}")
    learner = cls(env, device=device, _spaces=config["spaces"], **hyper)  # type: ignore[call-arg]
    learner.policy.load_state_dict({k: v.to(learner.device) for k, v in payload["policy"].items()})
    learner.optimizer.load_state_dict(payload["optimizer"])
    learner.rng.bit_generator.state = json.loads(payload["rng_json"])
    learner.num_timesteps = int(config["num_timesteps"])
    learner.num_updates = int(config["num_updates"])
    return learner


class _ThresholdForwarding(types.ModuleType):
    """This module, forwarding ``NUMPY_ROWS`` to :mod:`nets.on_policy`, where ``predict`` reads it: reading
    ``nets.policy_gradient.NUMPY_ROWS`` gives the threshold in force, and assigning it sets it there."""

    def __getattr__(self, name: str) -> Any:
        if name == "NUMPY_ROWS":
            return on_policy.NUMPY_ROWS
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "NUMPY_ROWS":
            on_policy.NUMPY_ROWS = value
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ThresholdForwarding
