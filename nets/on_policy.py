"""The ground of our on-policy learners (A2C and REINFORCE in :mod:`nets.policy_gradient`, PPO in
:mod:`nets.ppo`): the network, the env stepping, and :class:`OnPolicyLearner`, the public base they share.

* :class:`PolicyValueNet`: observation -> (logits of each action head, state value), MLP or CW-RNN;
  :class:`NumpyPolicy`, its logits in NumPy for a few rows (what ``predict`` uses for up to
  :data:`NUMPY_ROWS` rows of an MLP policy on the CPU).
* :class:`EnvStepper`: a single ``gym.Env`` or a Gymnasium vector env of K copies behind one interface, in
  every autoreset mode of gymnasium 1.x: ``NEXT_STEP`` (the default of ``SyncVectorEnv``: the step after an
  episode's end only resets that sub-env, so that step is not a transition and is masked out; the
  observation returned on the ending step *is* the final one), ``SAME_STEP`` (the final observation comes
  from ``info["final_obs"]``) and ``DISABLED`` (the ended sub-envs are reset with ``reset(options={"reset_mask":
  ...})``). A single env is reset as soon as an episode ends.
* :class:`OnPolicyLearner`: spaces, the network, the optimiser, seeding, the agent protocol (``predict``,
  ``logits``, ``action_probs``), checkpoints (``save``; :func:`nets.policy_gradient.load_learner` reads
  them), and the env stepping every learner shares:

  - :meth:`OnPolicyLearner.step_envs`, one step of the K envs: autoreset handled, episode returns
    tracked, and for a *truncated* episode the value of its final observation (a time limit is not a
    terminal state; a terminated step bootstraps from 0);
  - :meth:`OnPolicyLearner.collect_rollout`, the one rollout routine of A2C and PPO: ``n_steps`` steps of
    the K envs into a :class:`Rollout` (observations, actions, values on the policy's device; rewards and
    episode ends on the host), then GAE(lambda) advantages (:func:`nets.returns.gae_advantages`) with
    ``V(s_{t+1})`` bootstrapping the rollout's end and every truncation.

  A subclass gives ``learn`` and its update; it may draw the rollout's actions its own way
  (:meth:`OnPolicyLearner.draw_actions`) and ask for one more constructor option per hyperparameter
  (:meth:`OnPolicyLearner.hyperparameters` lists what rebuilds it from a checkpoint).

Seeding: ``seed`` seeds the parameter initialisation (in a forked torch RNG, so the global one is
untouched), a private numpy generator that samples every action, and the env's first reset.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, TypeAlias

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from nets.clockwork import ClockworkRNN, ClockworkState
from nets.device import inference, resolve_device
from nets.heads import ControllerHead
from nets.mlp import MLP, init_linear
from nets.returns import gae_advantages

__all__ = [
    "ENCODERS",
    "FORMAT_VERSION",
    "NUMPY_ROWS",
    "EnvStep",
    "EnvStepper",
    "NumpyPolicy",
    "OnPolicyLearner",
    "PolicyValueNet",
    "Rollout",
    "log_prob_entropy",
    "reject_unknown_options",
    "spaces_of",
]

ENCODERS = ("mlp", "cwrnn")
FORMAT_VERSION = 1  # of a learner checkpoint (.pt)

EnvLike: TypeAlias = "gym.Env | gym.vector.VectorEnv"  # one env, or a vector env of K copies
RecurrentState: TypeAlias = "tuple[np.ndarray, ...] | None"  # (hidden (B, n), clock (B,)) as numpy


# ==================================================================================================
# Spaces: what the network sees and emits
# ==================================================================================================
def _space_to_json(space: gym.Space, role: str) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if role == "action":
        if isinstance(space, gym.spaces.MultiDiscrete):
            if space.nvec.ndim != 1:
                raise ValueError(f"MultiDiscrete action spaces must be 1-D, got nvec of shape {space.nvec.shape}")
            return {"type": "MultiDiscrete", "nvec": [int(n) for n in space.nvec],
                    "start": [int(s) for s in space.start], "dtype": str(space.dtype)}
        raise ValueError(f"policy-gradient learners need a Discrete or MultiDiscrete action space, got {space}")
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "shape": [int(s) for s in space.shape], "dtype": str(space.dtype)}
    if isinstance(space, gym.spaces.MultiBinary):
        return {"type": "MultiBinary", "shape": [int(s) for s in np.atleast_1d(space.n)]}
    raise ValueError(
        f"policy-gradient learners need a Box, MultiBinary or Discrete observation space, got {space}; "
        "flatten Dict/Tuple observations with gymnasium.wrappers.FlattenObservation"
    )


def _space_from_json(spec: dict[str, Any]) -> gym.Space:
    kind = spec["type"]
    if kind == "Discrete":
        return gym.spaces.Discrete(spec["n"], start=spec.get("start", 0))
    if kind == "MultiDiscrete":
        return gym.spaces.MultiDiscrete(np.asarray(spec["nvec"]), dtype=spec.get("dtype", "int64"),
                                        start=np.asarray(spec["start"]))
    if kind == "Box":
        return gym.spaces.Box(-np.inf, np.inf, shape=tuple(spec["shape"]), dtype=spec.get("dtype", "float32"))
    if kind == "MultiBinary":
        return gym.spaces.MultiBinary(spec["shape"])
    raise ValueError(f"unknown space type {kind!r} in a learner checkpoint")


def _obs_dim(spec: dict[str, Any]) -> int:
    return int(spec["n"]) if spec["type"] == "Discrete" else int(np.prod(spec["shape"]))


def _obs_shape(spec: dict[str, Any]) -> tuple[int, ...]:
    return () if spec["type"] == "Discrete" else tuple(spec["shape"])


def _head_sizes(spec: dict[str, Any]) -> list[int]:
    return [int(spec["n"])] if spec["type"] == "Discrete" else [int(n) for n in spec["nvec"]]


# ==================================================================================================
# The network
# ==================================================================================================
class PolicyValueNet(nn.Module):
    """Observation -> (logits of each action head, state value), optionally recurrent.

    Args:
        obs_dim: size of the flattened observation.
        head_sizes: categories per action head (``[n]`` for Discrete, ``nvec`` for MultiDiscrete).
        encoder: ``"mlp"`` or ``"cwrnn"`` (see the module docstring).
        hidden: MLP widths; for ``"cwrnn"``, ``hidden[0]`` is the RNN's width and ``hidden[1:]`` the
            MLP layers after it.
        periods: the CW-RNN's clock periods.
        value: whether to have a value head (REINFORCE without a baseline has none).

    ``forward(obs, state, episode_start)`` takes obs of shape (B, T, obs_dim) and returns
    (list of logits (B, T, n_h), values (B, T) or None, new state or None).
    """

    def __init__(self, obs_dim: int, head_sizes: Sequence[int], encoder: str = "mlp",
                 hidden: Sequence[int] = (64, 64), periods: Sequence[int] = (1, 2, 4, 8),
                 value: bool = True) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; valid: {', '.join(ENCODERS)}")
        hidden = [int(h) for h in hidden]
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must be a non-empty list of positive widths, got {hidden}")
        self.encoder, self.head_sizes, self.has_value = encoder, [int(n) for n in head_sizes], bool(value)
        self.rnn: ClockworkRNN | None = None
        if encoder == "cwrnn":
            periods = [int(p) for p in periods]
            if hidden[0] % len(periods):
                raise ValueError(f"cwrnn width hidden[0] = {hidden[0]} must be a multiple of "
                                 f"the number of periods {len(periods)}")
            self.rnn = ClockworkRNN(obs_dim, hidden[0] // len(periods), periods)
            width, rest = self.rnn.hidden_size, hidden[1:]
        else:
            width, rest = obs_dim, hidden
        self.pi_body: nn.Module = MLP(width, rest, activation="tanh") if rest else nn.Identity()
        feat = rest[-1] if rest else width
        if len(self.head_sizes) == 2:  # the duel's stick x button
            self.heads: nn.Module = ControllerHead(feat, self.head_sizes[0], self.head_sizes[1], hidden=())
        else:
            self.heads = nn.Linear(feat, sum(self.head_sizes))
            init_linear(self.heads, "orthogonal", 0.01)  # near-uniform first policy
        if self.has_value:
            self.vf_body: nn.Module = MLP(width, rest, activation="tanh") if rest else nn.Identity()
            self.value = nn.Linear(feat, 1)
            init_linear(self.value, "orthogonal", 1.0)

    @property
    def recurrent(self) -> bool:
        """Whether the encoder is the CW-RNN (a state travels from step to step)."""
        return self.rnn is not None

    def initial_state(self, batch: int, device: torch.device | str | None = None) -> ClockworkState | None:
        """The zero recurrent state of ``batch`` rows (None for an MLP)."""
        return None if self.rnn is None else self.rnn.initial_state(batch, device=device)

    def forward(self, obs: torch.Tensor, state: ClockworkState | None = None,
                episode_start: np.ndarray | torch.Tensor | None = None, with_value: bool = True,
                ) -> tuple[list[torch.Tensor], torch.Tensor | None, ClockworkState | None]:
        """(B, T, obs_dim) observations -> (per head logits (B, T, n_h), values (B, T) or None, new state);
        ``episode_start`` (B, T) resets the recurrent state of a row before that step."""
        x = obs
        if self.rnn is not None:
            x, state = self.rnn(x, state, episode_start)
        z = self.pi_body(x)
        if isinstance(self.heads, ControllerHead):
            logits = list(self.heads.logits(z))
        else:
            logits = list(torch.split(self.heads(z), self.head_sizes, dim=-1))
        values = None
        if with_value and self.has_value:
            values = self.value(self.vf_body(x)).squeeze(-1)
        return logits, values, state


_NUMPY_ACTIVATIONS = {nn.Tanh: np.tanh, nn.ReLU: lambda x: np.maximum(x, 0.0, out=x),
                      nn.Sigmoid: lambda x: 1.0 / (1.0 + np.exp(-x)), nn.Identity: lambda x: x}


def _numpy_layers(module: nn.Module) -> list[tuple[Any, ...]]:
    """``module`` (an :class:`MLP`, a Sequential of Linear and activation layers, or Identity) as a list of
    NumPy steps: ``("linear", W^T, b)`` (float32) and ``("act", fn)``."""
    if isinstance(module, MLP):
        module = module.net
    children = list(module.children()) if isinstance(module, nn.Sequential) else [module]
    steps: list[tuple[Any, ...]] = []
    for m in children:
        if isinstance(m, nn.Linear):
            steps.append(("linear", np.ascontiguousarray(m.weight.detach().cpu().numpy().T, dtype=np.float32),
                          m.bias.detach().cpu().numpy().astype(np.float32)))
        elif type(m) in _NUMPY_ACTIVATIONS:
            steps.append(("act", _NUMPY_ACTIVATIONS[type(m)]))
        elif isinstance(m, MLP | nn.Sequential):
            steps += _numpy_layers(m)
        else:
            raise TypeError(f"no NumPy form for {type(m).__name__}")
    return steps


class NumpyPolicy:
    """The logits of an MLP :class:`PolicyValueNet` in NumPy (float32), for a few rows at a time.

    An agent acting in one env asks for one row per call; at that size torch's per-call overhead is most of
    the time, and its intra-op threads can only wait on each other. The weights are copied once (again
    whenever a parameter changes, read from torch's version counters) and a call is a handful of small
    matrix products, the same maths as ``PolicyValueNet.forward`` (a test checks they agree). At most
    :data:`NUMPY_ROWS` rows: OpenBLAS keeps products that small on one thread."""

    def __init__(self, net: PolicyValueNet) -> None:
        if net.recurrent:
            raise TypeError("NumpyPolicy takes MLP policies only (no recurrent state)")
        self.net = net
        self.params = list(net.parameters())
        self._load()

    def _versions(self) -> tuple[int, ...]:
        return tuple(p._version for p in self.params)

    def _load(self) -> None:
        net = self.net
        self.version = self._versions()
        self.body = _numpy_layers(net.pi_body)
        if isinstance(net.heads, ControllerHead):
            self.body += _numpy_layers(net.heads.trunk)
            w = torch.cat([net.heads.direction.weight, net.heads.button.weight])
            b = torch.cat([net.heads.direction.bias, net.heads.button.bias])
        else:
            assert isinstance(net.heads, nn.Linear)
            w, b = net.heads.weight, net.heads.bias
        self.out = (np.ascontiguousarray(w.detach().cpu().numpy().T, dtype=np.float32),
                    b.detach().cpu().numpy().astype(np.float32))
        ends = np.cumsum(net.head_sizes).tolist()
        self.heads = [slice(a, b) for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        """Per head, the logits ``(B, n_h)`` of the flat observations ``x`` ``(B, obs_dim)``."""
        if self._versions() != self.version:  # trained or loaded since: copy the weights again
            self._load()
        h = np.asarray(x, dtype=np.float32)
        for step in self.body:
            h = h @ step[1] + step[2] if step[0] == "linear" else step[1](h)
        z = h @ self.out[0] + self.out[1]
        return [z[:, k] for k in self.heads]


NUMPY_ROWS = 8  # predict() on at most this many rows of an MLP policy on the CPU runs in NumPy


def _inverse_cdf_row(logits: list[float], u: float) -> int:
    """The category of ``softmax(logits)`` that the uniform number ``u`` picks: the first ``j`` with
    ``u * sum(e) < e_0 + ... + e_j``, ``e = exp(logits - max)``."""
    m = max(logits)
    e = [math.exp(v - m) for v in logits]
    target, acc = u * sum(e), 0.0
    for j, v in enumerate(e):
        acc += v
        if target < acc:
            return j
    return len(e) - 1


def log_prob_entropy(logits: Sequence[torch.Tensor], actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum over the action heads of ``log pi(a_h)`` and of the entropy, from per-head logits (..., n_h) and
    zero-based actions (..., H): the joint log-probability and entropy of independent heads."""
    logp: torch.Tensor | None = None
    ent: torch.Tensor | None = None
    for h, z in enumerate(logits):
        lsm = torch.log_softmax(z, dim=-1)
        lp = lsm.gather(-1, actions[..., h : h + 1]).squeeze(-1)
        e = -(lsm.exp() * lsm).sum(-1)
        logp, ent = (lp, e) if logp is None or ent is None else (logp + lp, ent + e)
    if logp is None or ent is None:
        raise ValueError("log_prob_entropy needs at least one action head")
    return logp, ent


def spaces_of(env: EnvLike) -> dict[str, dict[str, Any]]:
    """The observation and action spaces of ``env`` (one env, or the single spaces of a vector env) as the
    JSON a checkpoint keeps: ``{"observation": {...}, "action": {...}}``. A ValueError for a space the
    learners do not take."""
    stepper = EnvStepper(env)
    return {"observation": _space_to_json(stepper.observation_space, "observation"),
            "action": _space_to_json(stepper.action_space, "action")}


# ==================================================================================================
# Stepping an env or a vector env the same way
# ==================================================================================================
class EnvStepper:
    """A single env or a vector env behind one interface: batched obs, and per step the rewards,
    terminations, truncations, which rows were real transitions, and final observations.

    ``mode`` is the vector env's autoreset mode (``"NextStep"``, ``"SameStep"``, ``"Disabled"``) or
    ``"single"``; ``pending`` marks, under ``NextStep``, the rows whose next step only resets them."""

    def __init__(self, env: EnvLike) -> None:
        self.env = env
        self.vector = isinstance(env, gym.vector.VectorEnv)
        if isinstance(env, gym.vector.VectorEnv):
            self.num_envs = int(env.num_envs)
            self.observation_space, self.action_space = env.single_observation_space, env.single_action_space
            mode = env.metadata.get("autoreset_mode", getattr(env, "autoreset_mode", None))
            mode = getattr(mode, "value", mode)
            if mode is None:
                mode = "NextStep"  # gymnasium 1.x's default
            if mode not in ("NextStep", "SameStep", "Disabled"):
                raise ValueError(f"unsupported vector-env autoreset mode {mode!r}; valid: NextStep, SameStep, "
                                 "Disabled")
            self.mode: str = mode
        else:
            self.num_envs = 1
            self.observation_space, self.action_space = env.observation_space, env.action_space
            self.mode = "single"
        self.pending = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP: rows whose next step is a reset

    def reset(self, seed: int | None) -> np.ndarray:
        """Reset every env (seeded); the batched first observations."""
        self.pending[:] = False
        obs, _ = self.env.reset(seed=seed)
        return obs if self.vector else np.asarray(obs)[None]

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                   dict[int, np.ndarray] | None]:
        """-> obs, rewards, terminated, truncated, valid, final_obs (rows with their own final obs) or None."""
        valid = ~self.pending
        env = self.env
        if not isinstance(env, gym.vector.VectorEnv):
            a = actions[0]
            ob, rew, ended, cut, _ = env.step(int(a) if np.ndim(a) == 0 else a)
            final = None
            if ended or cut:
                final = {0: np.asarray(ob)}
                ob, _ = env.reset()
            return (np.asarray(ob)[None], np.array([rew], float), np.array([ended]), np.array([cut]),
                    valid.copy(), final)
        obs, reward, terminated, truncated, info = env.step(actions)
        r, term, trunc = np.asarray(reward, float), np.asarray(terminated, bool), np.asarray(truncated, bool)
        done = term | trunc
        final = None
        if self.mode == "NextStep":
            self.pending = done.copy()
        elif self.mode == "SameStep":
            if done.any():
                mask = info.get("_final_obs", done)
                final = {int(i): info["final_obs"][i] for i in np.flatnonzero(mask)}
        elif done.any():  # Disabled: reset the ended rows ourselves
            final = {int(i): np.array(obs[i], copy=True) for i in np.flatnonzero(done)}
            fresh, _ = env.reset(options={"reset_mask": done.copy()})
            obs = fresh
        return obs, r, term, trunc, valid, final


@dataclass
class EnvStep:
    """One step of the K envs, as :meth:`OnPolicyLearner.step_envs` took it (arrays of K rows).

    ``valid`` is False on the rows whose step was no transition (``NEXT_STEP``'s reset step: its reward
    is 0 here, and nothing may flow back across it). ``final_values[i]`` is ``V(final observation)`` where
    ``has_final_value[i]``: truncated rows (never terminated ones, whose value is 0) whose final observation
    was asked for (see ``final_values`` of :meth:`OnPolicyLearner.step_envs`)."""

    obs: np.ndarray  # the observations the envs show now (after any reset)
    rewards: np.ndarray  # float64
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray
    final_values: np.ndarray  # float64
    has_final_value: np.ndarray
    episode_returns: list[float] = field(default_factory=list)  # of the episodes that ended at this step
    episode_lengths: list[int] = field(default_factory=list)


@dataclass
class Rollout:
    """``T`` steps of ``K`` envs, time first, as :meth:`OnPolicyLearner.collect_rollout` filled them.

    On the policy's device: ``obs`` (T, K, obs_dim) float32, flattened as the network reads them;
    ``actions`` (T, K, H) zero-based; ``logp`` (T, K), their log-probabilities (when the learner's
    :meth:`~OnPolicyLearner.draw_actions` gave them); ``values`` (T + 1, K), ``V(s_0) .. V(s_T)``.
    On the host: ``rewards``, ``terminated`` (``s_{t+1}`` is terminal, or step t was no transition),
    ``ends`` (an episode ended at t, or step t was no transition), ``valid`` (step t was a transition),
    ``first`` (``s_t`` starts an episode), ``next_values`` (``V(s_{t+1})``: the next step's value, or for a
    truncated step whose final observation was replaced by a reset one, the value of that final
    observation), and GAE's ``advantages`` and value targets ``returns = advantages + V(s_t)`` (float64).
    ``start_state`` is the recurrent state before step 0 (None for an MLP). ``episode_returns`` and
    ``episode_lengths``: the episodes that ended during the rollout."""

    obs: torch.Tensor
    actions: torch.Tensor
    logp: torch.Tensor
    values: torch.Tensor
    rewards: np.ndarray
    terminated: np.ndarray
    ends: np.ndarray
    valid: np.ndarray
    first: np.ndarray
    next_values: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    start_state: ClockworkState | None = None
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, n_steps: int, num_envs: int, obs_dim: int, heads: int, device: torch.device) -> Rollout:
        """Zeroed buffers for ``n_steps`` steps of ``num_envs`` envs."""
        T, K = n_steps, num_envs
        return cls(
            obs=torch.zeros((T, K, obs_dim), dtype=torch.float32, device=device),
            actions=torch.zeros((T, K, heads), dtype=torch.long, device=device),
            logp=torch.zeros((T, K), dtype=torch.float32, device=device),
            values=torch.zeros((T + 1, K), dtype=torch.float32, device=device),
            rewards=np.zeros((T, K)), terminated=np.zeros((T, K), bool), ends=np.zeros((T, K), bool),
            valid=np.zeros((T, K), bool), first=np.zeros((T, K), bool), next_values=np.zeros((T, K)),
            advantages=np.zeros((T, K)), returns=np.zeros((T, K)))

    @property
    def n_steps(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def num_envs(self) -> int:
        return int(self.rewards.shape[1])


# ==================================================================================================
# The base of every learner
# ==================================================================================================
def reject_unknown_options(cls: type, unknown: dict[str, Any]) -> None:
    """A one-line ValueError for options ``cls`` does not take (``sandbox train --set`` passes them on),
    listing the valid ones (its constructor's public keyword arguments)."""
    if unknown:
        import inspect

        valid = [n for n in inspect.signature(cls).parameters if n not in ("self", "env", "unknown")
                 and not n.startswith("_")]
        raise ValueError(f"unknown {cls.__name__} option(s) {', '.join(sorted(unknown))}; valid: {', '.join(valid)}")


class OnPolicyLearner:
    """What REINFORCE, A2C and PPO share: spaces, the network, sampling, the agent protocol, checkpoints,
    and stepping the envs (:meth:`step_envs`, :meth:`collect_rollout`); see the module docstring.

    Args:
        env: a ``gym.Env`` or a Gymnasium vector env of K copies (any autoreset mode); None only with
            ``spaces`` (a learner loaded to predict).
        encoder, hidden, periods: the network (:class:`PolicyValueNet`).
        lr: the optimiser's learning rate; optimizer: ``"adam"`` or ``"rmsprop"`` (stable-baselines3 A2C's).
        gamma: the discount. ent_coef, vf_coef: weights of the entropy bonus and the value loss.
        max_grad_norm: gradient-norm clip (None: none). normalize_advantage: standardise advantages.
        value: whether the network has a value head. seed: parameters, the action sampler, the first
            reset. device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (:func:`nets.device.resolve_device`).
        spaces: the spaces as :func:`spaces_of` gives them (a checkpoint's); read from ``env`` if None.
    """

    algo: ClassVar[str] = ""  # as in `sandbox train --algo`: "reinforce", "a2c-pg", "ppo-pg"

    def __init__(self, env: EnvLike | None, *, encoder: str, hidden: Sequence[int], periods: Sequence[int],
                 lr: float, gamma: float, ent_coef: float, vf_coef: float, max_grad_norm: float | None,
                 optimizer: str, normalize_advantage: bool, value: bool, seed: int,
                 device: str | torch.device, spaces: dict[str, dict[str, Any]] | None = None) -> None:
        if env is None and spaces is None:
            raise ValueError("a learner needs an env (or, when loaded, the spaces from its checkpoint)")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma = {gamma} is outside [0, 1]")
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"unknown optimizer {optimizer!r}; valid: adam, rmsprop")
        self.env = env
        self._stepper = EnvStepper(env) if env is not None else None
        if spaces is None:
            assert env is not None
            spaces = spaces_of(env)
        self.spaces = spaces
        self.observation_space = _space_from_json(spaces["observation"])
        self.action_space = _space_from_json(spaces["action"])
        self.obs_dim = _obs_dim(spaces["observation"])  # the flattened (or one-hot) observation's size
        self._obs_shape = _obs_shape(spaces["observation"])
        self._head_sizes = _head_sizes(spaces["action"])
        act = spaces["action"]
        self._act_start = np.asarray(act["start"] if act["type"] == "MultiDiscrete" else [act["start"]], np.int64)
        self.device = resolve_device(device)
        self.seed = int(seed)
        self.gamma, self.lr = float(gamma), float(lr)
        self.ent_coef, self.vf_coef = float(ent_coef), float(vf_coef)
        self.max_grad_norm = None if max_grad_norm is None else float(max_grad_norm)
        self.normalize_advantage = bool(normalize_advantage)
        self._arch = {"encoder": encoder, "hidden": [int(h) for h in hidden], "periods": [int(p) for p in periods],
                      "optimizer": optimizer}
        # parameters from a forked RNG: the seed decides them, the global RNG is left alone
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.policy = PolicyValueNet(self.obs_dim, self._head_sizes, encoder, hidden, periods, value=value)
        self.policy.to(self.device)
        self.optimizer: torch.optim.Optimizer
        if optimizer == "adam":
            self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.lr, eps=1e-5, foreach=True)
        else:  # stable-baselines3 A2C's choice
            self.optimizer = torch.optim.RMSprop(self.policy.parameters(), lr=self.lr, alpha=0.99, eps=1e-5,
                                                 foreach=True)
        self.rng = np.random.default_rng(self.seed)  # samples every action
        self.num_timesteps = 0
        self.num_updates = 0
        self.info: dict[str, Any] = {}  # what a loader knows of the checkpoint (its sidecar), for the agent specs
        self.rollout: Rollout | None = None  # the buffers of the last rollout (the next one reuses them)
        self._obs: np.ndarray | None = None  # the envs' current observations, between learn() calls
        self._state: ClockworkState | None = None  # the envs' current recurrent state
        self._first: np.ndarray | None = None  # rows whose current observation starts an episode
        self._ep_return: np.ndarray | None = None
        self._ep_len: np.ndarray | None = None

    # ------------------------------------------------------------------ config
    def hyperparameters(self) -> dict[str, Any]:
        """The constructor's keyword arguments that rebuild this learner (subclasses add theirs)."""
        return {"encoder": self._arch["encoder"], "hidden": self._arch["hidden"], "periods": self._arch["periods"],
                "lr": self.lr, "gamma": self.gamma, "ent_coef": self.ent_coef, "vf_coef": self.vf_coef,
                "max_grad_norm": self.max_grad_norm, "optimizer": self._arch["optimizer"],
                "normalize_advantage": self.normalize_advantage, "seed": self.seed}

    def config(self) -> dict[str, Any]:
        """What a checkpoint records besides the weights: format, algorithm, class, hyperparameters, spaces
        and counters."""
        return {"format_version": FORMAT_VERSION, "algo": self.algo, "class": type(self).__name__,
                "hyper": self.hyperparameters(), "spaces": self.spaces, "num_timesteps": int(self.num_timesteps),
                "num_updates": int(self.num_updates)}

    @property
    def recurrent(self) -> bool:
        """Whether the policy is the CW-RNN."""
        return self.policy.recurrent

    @property
    def num_envs(self) -> int:
        """K, the env copies this learner steps (0 when it was loaded without an env)."""
        return 0 if self._stepper is None else self._stepper.num_envs

    # ------------------------------------------------------------------ tensors
    def _flat_obs(self, obs: np.ndarray) -> torch.Tensor:
        """Batched observations (B, *obs_shape) -> float32 tensor (B, obs_dim)."""
        spec = self.spaces["observation"]
        if spec["type"] == "Discrete":
            idx = torch.as_tensor(np.asarray(obs, np.int64).reshape(-1) - spec["start"], device=self.device)
            return nn.functional.one_hot(idx, spec["n"]).float()
        arr = np.asarray(obs, dtype=np.float32)
        return torch.as_tensor(arr.reshape(arr.shape[0], -1), device=self.device)

    def _write_obs(self, dst: torch.Tensor, obs: np.ndarray | torch.Tensor) -> None:
        """Write a batch of K observations into ``dst`` (K, obs_dim) on the device: one copy, in the
        env's own dtype (a uint8 grid crosses as bytes), cast to float32 where it lands."""
        spec = self.spaces["observation"]
        if spec["type"] == "Discrete":
            idx = torch.as_tensor(np.asarray(obs, np.int64).reshape(-1) - spec["start"], device=dst.device)
            dst.zero_().scatter_(1, idx[:, None], 1.0)
        elif isinstance(obs, torch.Tensor):
            dst.copy_(obs.reshape(dst.shape))
        else:
            dst.copy_(torch.from_numpy(np.ascontiguousarray(obs)).reshape(dst.shape))

    def _env_actions(self, a: np.ndarray) -> np.ndarray:
        """Zero-based (B, H) -> what the env takes: (B,) for Discrete, (B, H) for MultiDiscrete."""
        a = a + self._act_start
        if self.spaces["action"]["type"] == "Discrete":
            return a[:, 0]
        return a.astype(self.action_space.dtype)

    def _sample(self, logits: Sequence[torch.Tensor], deterministic: bool) -> np.ndarray:
        """(B, n_h) logits per head -> zero-based actions (B, H), drawn by inverse CDF from ``self.rng``."""
        cols = []
        for z in logits:
            if deterministic:
                cols.append(z.argmax(-1).cpu().numpy())
                continue
            p = torch.softmax(z.double(), -1).cpu().numpy()
            cdf = np.cumsum(p, axis=-1)
            u = self.rng.random(len(p)) * cdf[:, -1]
            cols.append(np.minimum((u[:, None] >= cdf).sum(-1), p.shape[-1] - 1))
        return np.stack(cols, axis=-1).astype(np.int64)

    def _state_to_device(self, state: RecurrentState, batch: int) -> ClockworkState | None:
        if not self.recurrent:
            return None
        if state is None:
            return self.policy.initial_state(batch, self.device)
        hidden, step = state
        return ClockworkState(torch.as_tensor(np.asarray(hidden, np.float32), device=self.device),
                              torch.as_tensor(np.asarray(step, np.int64), device=self.device))

    # ------------------------------------------------------------------ agent protocol
    def _batch(self, observation: npt.ArrayLike) -> tuple[np.ndarray, bool]:
        obs = np.asarray(observation)
        if obs.shape == self._obs_shape:
            return obs[None], True
        if obs.shape[1:] == self._obs_shape:
            return obs, False
        raise ValueError(f"observation has shape {obs.shape}; this learner takes {self._obs_shape} "
                         f"or a batch (B, {', '.join(map(str, self._obs_shape))})")

    def _numpy_logits(self, obs: np.ndarray) -> list[np.ndarray] | None:
        """Logits from :class:`NumpyPolicy` for a few rows of an MLP policy on the CPU, else None."""
        if self.recurrent or len(obs) > NUMPY_ROWS or self.device.type != "cpu" \
                or self.spaces["observation"]["type"] == "Discrete":
            return None
        fast = self.__dict__.get("_numpy_policy")
        if fast is None or fast.net is not self.policy:
            fast = self._numpy_policy = NumpyPolicy(self.policy)
        return fast(np.asarray(obs, dtype=np.float32).reshape(len(obs), -1))

    def _policy_step(self, observation: npt.ArrayLike, state: RecurrentState,
                     episode_start: npt.ArrayLike | None) -> tuple[list[torch.Tensor], RecurrentState, bool]:
        obs, single = self._batch(observation)
        start = None
        if self.recurrent and episode_start is not None:
            start = np.asarray(episode_start, bool).reshape(-1)
            if start.size == 1 and len(obs) > 1:
                start = np.repeat(start, len(obs))
            if start.shape != (len(obs),):
                raise ValueError(f"episode_start has {start.size} entries for {len(obs)} observations")
        with inference(len(obs)):  # an agent's forward pass: no autograd, one thread for a small batch
            st = self._state_to_device(state, len(obs))
            logits, _, st = self.policy(self._flat_obs(obs)[:, None], st, start, with_value=False)
            logits = [z[:, 0] for z in logits]
            new_state = None if st is None else (st.hidden.cpu().numpy(), st.step.cpu().numpy())
        return logits, new_state, single

    def logits(self, observation: npt.ArrayLike, state: RecurrentState = None,
               episode_start: npt.ArrayLike | None = None) -> tuple[list[np.ndarray], RecurrentState]:
        """The policy's logits for a batch of observations: one float32 array ``(B, n_h)`` per action head,
        and the new recurrent state (as :meth:`predict` takes and returns it; None for MLP policies). A few
        rows of an MLP policy go through :class:`NumpyPolicy`."""
        obs, _ = self._batch(observation)
        fast = self._numpy_logits(obs)
        if fast is not None:
            return fast, None
        logits, new_state, _ = self._policy_step(obs, state, episode_start)
        return [z.cpu().numpy() for z in logits], new_state

    def _sample_numpy(self, logits: list[np.ndarray], deterministic: bool) -> np.ndarray:
        """:meth:`_sample` on NumPy logits (the same distribution; ``self.rng`` draws one number per row and
        head, head by head, as there)."""
        a = np.empty((len(logits[0]), len(logits)), dtype=np.int64)
        if deterministic:
            for h, z in enumerate(logits):
                a[:, h] = z.argmax(-1)
            return a
        u = self.rng.random((len(logits), len(logits[0])))
        if len(logits[0]) == 1:  # one row: plain floats beat a dozen tiny NumPy calls
            for h, z in enumerate(logits):
                a[0, h] = _inverse_cdf_row(z[0].tolist(), float(u[h, 0]))
            return a
        for h, z in enumerate(logits):
            c = np.cumsum(np.exp(z - z.max(-1, keepdims=True), dtype=np.float64), axis=-1)
            a[:, h] = np.minimum((u[h, :, None] * c[:, -1:] >= c).sum(-1), z.shape[-1] - 1)
        return a

    def predict(self, observation: npt.ArrayLike, state: RecurrentState = None,
                episode_start: npt.ArrayLike | None = None,
                deterministic: bool = False) -> tuple[int | np.ndarray, RecurrentState]:
        """The agent protocol: ``(action, state)`` for one observation or a batch.

        ``deterministic`` takes the most likely category of each head; otherwise actions are sampled
        from the learner's own generator. For the CW-RNN, ``state`` is ``(hidden (B, n), clock (B,))``
        numpy arrays from the previous call (None: zeros), and rows whose ``episode_start`` is true are
        reset first. MLP policies return state None.
        """
        obs, single = self._batch(observation)
        fast = self._numpy_logits(obs) if state is None else None
        new_state: RecurrentState
        if fast is not None:  # a few rows of an MLP policy: NumPy, no torch call
            actions, new_state = self._env_actions(self._sample_numpy(fast, deterministic)), None
        else:
            logits, new_state, _ = self._policy_step(obs, state, episode_start)
            actions = self._env_actions(self._sample(logits, deterministic))
        if single:
            return (int(actions[0]) if self.spaces["action"]["type"] == "Discrete" else actions[0]), new_state
        return actions, new_state

    def action_probs(self, observation: npt.ArrayLike, state: RecurrentState = None,
                     episode_start: npt.ArrayLike | None = None) -> list[np.ndarray]:
        """One probability vector per action head for one observation (duel: [stick(9), button(4)]), or
        one ``(B, n_h)`` array per head for a batch.

        Recurrent policies need the ``state`` that :meth:`predict` returned before this observation;
        without it they answer from a fresh (zero) state."""
        logits, _, single = self._policy_step(observation, state, episode_start)
        probs = [torch.softmax(z.double(), -1).cpu().numpy() for z in logits]
        return [p[0] for p in probs] if single else probs

    def reset(self) -> None:
        """Agent protocol: nothing to clear (recurrent state travels through ``predict``)."""

    # ------------------------------------------------------------------ stepping the envs
    def _start(self) -> None:
        """Reset the envs if this learner has not stepped them yet."""
        if self._stepper is None:
            raise ValueError("this learner was loaded without an env; pass env= to load_learner to train it")
        if self._obs is not None:
            return
        seed = self.seed if self.num_timesteps == 0 else int(self.rng.integers(2**31 - 1))
        self._obs = self._stepper.reset(seed)
        k = self._stepper.num_envs
        self._state = self.policy.initial_state(k, self.device)
        self._first = np.ones(k, dtype=bool)
        self._ep_return, self._ep_len = np.zeros(k), np.zeros(k, dtype=np.int64)

    @torch.no_grad()
    def _values_of(self, obs_rows: np.ndarray, state: ClockworkState | None, rows: np.ndarray) -> np.ndarray:
        """V of observations ``obs_rows`` (R, *obs_shape) for env rows ``rows``, continuing each row's
        recurrent ``state`` (the state after the previous observation) without changing it."""
        st = None
        if state is not None:
            idx = torch.as_tensor(rows, device=self.device)
            st = ClockworkState(state.hidden[idx], state.step[idx])
        _, v, _ = self.policy(self._flat_obs(obs_rows)[:, None], st, None)
        assert v is not None, "the value of an observation needs a value head"
        return v[:, 0].double().cpu().numpy()

    def step_envs(self, actions: np.ndarray,
                  final_values: Literal["replaced", "all", "none"] = "replaced") -> EnvStep:
        """Step the K envs with zero-based actions ``actions`` (K, H), taken at the current observations (after
        the policy's forward pass on them, which advanced the recurrent state), and move the learner on: its
        observations, which rows start an episode, its step count (real transitions only) and the episode
        returns and lengths.

        ``final_values`` says for which truncated rows to compute ``V(final observation)``, continuing the
        row's recurrent state: ``"replaced"``, only where the final observation is not the observation the
        env shows now (``SAME_STEP``, ``DISABLED``, a single env; under ``NEXT_STEP`` the env shows the final
        observation, so the next forward pass gives its value); ``"all"``, every truncated row; ``"none"``."""
        if self._stepper is None or self._first is None or self._ep_return is None or self._ep_len is None:
            raise RuntimeError("step_envs before the envs were reset (call collect_rollout or learn)")
        obs, r, te, tr, ok, final = self._stepper.step(self._env_actions(actions))
        k = len(r)
        out = EnvStep(obs=obs, rewards=np.where(ok, r, 0.0), terminated=te, truncated=tr, valid=ok,
                      final_values=np.zeros(k), has_final_value=np.zeros(k, bool))
        if final_values != "none":
            truncated = tr & ~te & ok
            if final_values == "replaced":
                truncated &= np.isin(np.arange(k), list(final or ()))
            rows = np.flatnonzero(truncated)
            if len(rows):
                fin = np.stack([final[int(i)] if final is not None and int(i) in final else obs[i] for i in rows])
                out.final_values[rows] = self._values_of(fin, self._state, rows)
                out.has_final_value[rows] = True
        # episode returns and lengths; a NEXT_STEP reset step is no transition and counts for nothing
        self._ep_return += out.rewards
        self._ep_len += ok
        for i in np.flatnonzero((te | tr) & ok):
            out.episode_returns.append(float(self._ep_return[i]))
            out.episode_lengths.append(int(self._ep_len[i]))
            self._ep_return[i], self._ep_len[i] = 0.0, 0
        self.num_timesteps += int(ok.sum())
        self._first = ~ok if self._stepper.mode == "NextStep" else (te | tr)
        self._obs = obs
        return out

    def draw_actions(self, logits: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The actions of a rollout step from per-head logits (K, n_h): zero-based (K, H) on the device, and
        their log-probabilities (K,) or None. This base draws from the learner's numpy generator
        (:meth:`predict`'s sampler) and gives no log-probabilities; PPO draws on the device."""
        return torch.as_tensor(self._sample(logits, deterministic=False), device=self.device), None

    def begin_rollout(self) -> None:
        """Called by :meth:`collect_rollout` before its first step (PPO seeds its device sampler here)."""

    @torch.no_grad()
    def collect_rollout(self, n_steps: int, gae_lambda: float) -> Rollout:
        """``n_steps`` steps of the K envs under the current policy, and their GAE(``gae_lambda``) advantages.

        Each step writes the K observations once into the rollout's device buffer, runs the policy on them
        (resetting the recurrent state of rows that start an episode), draws the actions
        (:meth:`draw_actions`) and steps the envs (:meth:`step_envs`). Then ``V(s_T)`` bootstraps the
        rollout's end, and the advantages follow :func:`nets.returns.gae_advantages` with ``V(s_{t+1})`` the
        next step's value, except after a truncated step whose final observation was replaced by a reset
        one: there, the value of that final observation. A terminated step bootstraps from 0, and a
        ``NEXT_STEP`` reset step (no transition) is masked out and cuts the return. The buffers
        (:attr:`rollout`) are reused by the next call."""
        self._start()
        assert self._obs is not None
        K = self.num_envs
        r = self.rollout
        if r is None or r.n_steps != n_steps or r.num_envs != K:
            r = self.rollout = Rollout.empty(n_steps, K, self.obs_dim, len(self._head_sizes), self.device)
        self.begin_rollout()
        r.episode_returns, r.episode_lengths = [], []
        own_final = np.zeros((n_steps, K), bool)
        r.start_state = None if self._state is None else ClockworkState(self._state.hidden.clone(),
                                                                        self._state.step.clone())
        for t in range(n_steps):
            self._write_obs(r.obs[t], self._obs)  # the one host -> device copy of this batch step
            r.first[t] = self._first
            start = self._first if self.recurrent else None
            logits, v, self._state = self.policy(r.obs[t][:, None], self._state, start)
            assert v is not None, "a rollout needs a value head"
            a, logp = self.draw_actions([z[:, 0] for z in logits])
            r.actions[t], r.values[t] = a, v[:, 0]
            if logp is not None:
                r.logp[t] = logp
            step = self.step_envs(a.cpu().numpy(), final_values="replaced")
            r.rewards[t], r.valid[t] = step.rewards, step.valid
            # a NEXT_STEP reset step is no transition: masked out, and nothing flows back across it
            r.terminated[t] = step.terminated | ~step.valid
            r.ends[t] = step.terminated | step.truncated | ~step.valid
            r.next_values[t], own_final[t] = step.final_values, step.has_final_value
            r.episode_returns += step.episode_returns
            r.episode_lengths += step.episode_lengths
        # V(s_T) bootstraps the rollout's end
        last = torch.empty_like(r.obs[0])
        self._write_obs(last, self._obs)
        _, v, _ = self.policy(last[:, None], self._state, self._first if self.recurrent else None)
        assert v is not None
        r.values[n_steps] = v[:, 0]
        # GAE on the host: one copy of the (T + 1, K) values back. V(s_{t+1}) is the next step's V(s_t),
        # except truncated rows whose final observation was replaced (their own value, from step_envs).
        values = r.values.double().cpu().numpy()
        r.next_values[:] = np.where(own_final, r.next_values, values[1:])
        r.advantages[:] = gae_advantages(r.rewards, values[:-1], r.next_values, r.terminated, self.gamma,
                                         gae_lambda, ends=r.ends)
        r.returns[:] = r.advantages + values[:-1]
        return r

    # ------------------------------------------------------------------ updates
    def _optimise(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.num_updates += 1

    def _advantage(self, adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``adv``, standardised over the ``mask``ed entries when ``normalize_advantage`` is set."""
        m = mask.bool()
        if self.normalize_advantage and int(m.sum()) > 1:
            return torch.where(m, (adv - adv[m].mean()) / (adv[m].std() + 1e-8), adv)
        return adv

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> Path:
        """Write ``path`` (.pt: state_dicts, config, sampler state) and ``path`` with ``.json`` (the config,
        plus ``metadata``), each atomically."""
        from envs.fileio import atomic_save, atomic_write_text

        path = Path(path)
        config = self.config()
        payload = {
            "config_json": json.dumps(config),
            "policy": {k: v.detach().cpu() for k, v in self.policy.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "rng_json": json.dumps(self.rng.bit_generator.state),
        }
        atomic_save(path, lambda tmp: torch.save(payload, tmp), suffix=".pt")
        side = {**(metadata or {}), **config}
        atomic_write_text(path.with_suffix(".json"), json.dumps(side, indent=2) + "\n")
        return path

    def learn(self, total_steps: int, callback: Callable[[dict[str, Any]], Any] | None = None) -> Self:
        """Train for ``total_steps`` more env steps; ``callback(info)`` after every update, False stops."""
        raise NotImplementedError
