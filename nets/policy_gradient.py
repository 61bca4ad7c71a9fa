"""Our own policy-gradient learners, readable and tested: REINFORCE (with or without a learned
baseline) and A2C with n-step returns and GAE(lambda).

Use them as::

    from nets.policy_gradient import A2C, Reinforce, load_learner
    learner = A2C(env, encoder="mlp", n_steps=5, gae_lambda=0.95, seed=0).learn(100_000)
    action, state = learner.predict(obs, state=state, episode_start=start, deterministic=True)
    learner.save("runs/x/final.pt")          # state_dict + config in the .pt, config also in final.json
    learner = load_learner("runs/x/final.pt")  # torch.load(weights_only=True); no env needed

The maths lives in small pure functions (numpy, arrays of shape (T,) or (T, K): time first, then env):

* :func:`discounted_returns`: ``G_t = r_t + gamma (1 - d_t) G_{t+1}``, ``G_T = bootstrap``.
* :func:`n_step_returns`: the same inside an A2C rollout, bootstrapped from ``V(s_{t+1})`` where
  the rollout ends and where an episode was *truncated* (a time limit is not a terminal state).
* :func:`gae_advantages`: ``delta_t = r_t + gamma (1 - term_t) V(s_{t+1}) - V(s_t)`` and
  ``A_t = delta_t + gamma lambda (1 - end_t) A_{t+1}`` (Schulman et al. 2016). ``lambda = 0`` gives
  the TD error, ``lambda = 1`` the n-step return minus the value.

Learners:

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
* **Envs.** A single ``gym.Env`` or a Gymnasium vector env of K copies. All three autoreset modes
  of gymnasium 1.x vector envs are handled: ``NEXT_STEP`` (the default of ``SyncVectorEnv``: the
  step after an episode's end only resets that sub-env, so that step is not a transition and is
  masked out; the observation returned on the ending step *is* the final one), ``SAME_STEP`` (the
  final observation comes from ``info["final_obs"]``) and ``DISABLED`` (the learner resets ended
  sub-envs itself with ``reset(options={"reset_mask": ...})``). A single env is reset by the learner
  as soon as an episode ends. A truncated step bootstraps from the value of its final observation; a
  terminated one from 0.
* **Seeding.** ``seed`` seeds the parameter initialisation (in a forked torch RNG, so the global one
  is untouched), a private numpy generator that samples every action, and the env's first reset.
  The same seed gives identical parameters after N updates on the CPU.
* **Checkpoints.** ``save`` writes, atomically, a ``.pt`` holding the network's and the optimiser's
  state_dicts, the config and the action-sampler state, and a JSON sidecar with the config.
  :func:`load_learner` reads only the ``.pt`` (``weights_only=True``): ``sandbox train`` may replace the
  sidecar with its own run metadata.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from nets.clockwork import ClockworkRNN, ClockworkState
from nets.device import inference, resolve_device
from nets.heads import ControllerHead
from nets.mlp import MLP, init_linear

__all__ = [
    "discounted_returns",
    "n_step_returns",
    "gae_advantages",
    "td_errors",
    "PolicyValueNet",
    "Reinforce",
    "A2C",
    "load_learner",
    "ENCODERS",
]

ENCODERS = ("mlp", "cwrnn")
FORMAT_VERSION = 1


# ==================================================================================================
# Pure return and advantage helpers
# ==================================================================================================
def _as_float(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (T,) or (T, K), got {a.shape}")
    return a


def _matching(x, like: np.ndarray, name: str, dtype=np.float64) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.shape != like.shape:
        try:
            a = np.broadcast_to(a, like.shape)
        except ValueError:
            raise ValueError(f"{name} has shape {a.shape}; it must match rewards {like.shape}") from None
    return a


def discounted_returns(rewards, dones, gamma: float, bootstrap=None) -> np.ndarray:
    """Discounted returns with episode boundaries: ``G_t = r_t + gamma (1 - d_t) G_{t+1}``.

    Args:
        rewards: r_t, shape (T,) or (T, K).
        dones: d_t = 1 where an episode ended *at* step t (after r_t); nothing flows back across it.
        gamma: the discount.
        bootstrap: G_T, the value of the state after the last step (a scalar or (K,)); 0 if None. It
            counts only when the last step did not end an episode.
    """
    r = _as_float(rewards, "rewards")
    d = _matching(dones, r, "dones", bool)
    out = np.empty_like(r)
    g = np.zeros(r.shape[1:]) if bootstrap is None else np.broadcast_to(np.asarray(bootstrap, float), r.shape[1:])
    for t in range(len(r) - 1, -1, -1):
        g = r[t] + gamma * np.where(d[t], 0.0, g)
        out[t] = g
    return out


def n_step_returns(rewards, next_values, terminated, gamma: float, ends=None) -> np.ndarray:
    """The targets of n-step A2C over a rollout of T steps:

        G_t = r_t + gamma (1 - term_t) [ c_t V(s_{t+1}) + (1 - c_t) G_{t+1} ],

    where ``c_t = 1`` if the episode ended at t (``ends``) or t = T-1 (the rollout's end). So each
    step sums the rewards up to the end of its episode or rollout, whichever is first, and
    bootstraps there: from 0 after a termination, from ``V(final observation)`` after a truncation,
    from ``V(s_T)`` at the rollout's end.

    Args:
        rewards: r_t, (T,) or (T, K).
        next_values: V(s_{t+1}) for each step: the value of the observation that followed step t
            (for a truncated step, of its final observation, not of the reset one).
        terminated: 1 where s_{t+1} is terminal (value 0).
        gamma: the discount.
        ends: 1 where the episode ended at t, by termination or truncation; defaults to ``terminated``.
    """
    r = _as_float(rewards, "rewards")
    nv = _matching(next_values, r, "next_values")
    term = _matching(terminated, r, "terminated", bool)
    end = term if ends is None else (_matching(ends, r, "ends", bool) | term)
    out = np.empty_like(r)
    g = np.zeros(r.shape[1:])
    for t in range(len(r) - 1, -1, -1):
        cut = end[t] | (t == len(r) - 1)
        g = r[t] + gamma * np.where(term[t], 0.0, np.where(cut, nv[t], g))
        out[t] = g
    return out


def td_errors(rewards, values, next_values, terminated, gamma: float) -> np.ndarray:
    """One-step TD errors ``delta_t = r_t + gamma (1 - term_t) V(s_{t+1}) - V(s_t)``."""
    r = _as_float(rewards, "rewards")
    v = _matching(values, r, "values")
    nv = _matching(next_values, r, "next_values")
    term = _matching(terminated, r, "terminated", bool)
    return r + gamma * np.where(term, 0.0, nv) - v


def gae_advantages(rewards, values, next_values, terminated, gamma: float, lam: float, ends=None) -> np.ndarray:
    """Generalised advantage estimation (Schulman et al. 2016), with episode boundaries:

        delta_t = r_t + gamma (1 - term_t) V(s_{t+1}) - V(s_t)
        A_t     = delta_t + gamma lambda (1 - end_t) A_{t+1},   A_T = 0.

    ``lambda = 0``: A_t = delta_t. ``lambda = 1``: A_t = :func:`n_step_returns` - V(s_t). The
    targets of the value function are ``A_t + V(s_t)``. Arguments as in :func:`n_step_returns`,
    plus ``values`` = V(s_t).
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"gae lambda = {lam} is outside [0, 1]")
    delta = td_errors(rewards, values, next_values, terminated, gamma)
    term = _matching(terminated, delta, "terminated", bool)
    end = term if ends is None else (_matching(ends, delta, "ends", bool) | term)
    out = np.empty_like(delta)
    a = np.zeros(delta.shape[1:])
    for t in range(len(delta) - 1, -1, -1):
        a = delta[t] + gamma * lam * np.where(end[t], 0.0, a)
        out[t] = a
    return out


# ==================================================================================================
# Spaces: what the network sees and emits
# ==================================================================================================
def _space_to_json(space: gym.Space, role: str) -> dict:
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


def _space_from_json(spec: dict) -> gym.Space:
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


def _obs_dim(spec: dict) -> int:
    return int(spec["n"]) if spec["type"] == "Discrete" else int(np.prod(spec["shape"]))


def _obs_shape(spec: dict) -> tuple[int, ...]:
    return () if spec["type"] == "Discrete" else tuple(spec["shape"])


def _head_sizes(spec: dict) -> list[int]:
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
                 hidden: Sequence[int] = (64, 64), periods: Sequence[int] = (1, 2, 4, 8), value: bool = True):
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
        return self.rnn is not None

    def initial_state(self, batch: int, device=None) -> ClockworkState | None:
        return None if self.rnn is None else self.rnn.initial_state(batch, device=device)

    def forward(self, obs: torch.Tensor, state=None, episode_start=None, with_value: bool = True):
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


def _numpy_layers(module: nn.Module) -> list:
    """``module`` (an :class:`MLP`, a Sequential of Linear and activation layers, or Identity) as a list of
    NumPy steps: ``("linear", W^T, b)`` (float32) and ``("act", fn)``."""
    if isinstance(module, MLP):
        module = module.net
    children = list(module.children()) if isinstance(module, nn.Sequential) else [module]
    steps: list = []
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

    def __init__(self, net: PolicyValueNet):
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


def _log_prob_entropy(logits: list[torch.Tensor], actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum over heads of log pi(a_h) and of the entropy; ``actions`` (..., H) zero-based."""
    logp, ent = 0.0, 0.0
    for h, z in enumerate(logits):
        lsm = torch.log_softmax(z, dim=-1)
        logp = logp + lsm.gather(-1, actions[..., h : h + 1]).squeeze(-1)
        ent = ent - (lsm.exp() * lsm).sum(-1)
    return logp, ent


# ==================================================================================================
# Stepping an env or a vector env the same way
# ==================================================================================================
class _Stepper:
    """A single env or a vector env behind one interface: batched obs, and per step the rewards,
    terminations, truncations, which rows were real transitions, and final observations."""

    def __init__(self, env):
        self.env = env
        self.vector = isinstance(env, gym.vector.VectorEnv)
        if self.vector:
            self.num_envs = int(env.num_envs)
            self.observation_space, self.action_space = env.single_observation_space, env.single_action_space
            mode = env.metadata.get("autoreset_mode", getattr(env, "autoreset_mode", None))
            mode = getattr(mode, "value", mode)
            if mode is None:
                mode = "NextStep"  # gymnasium 1.x's default
            if mode not in ("NextStep", "SameStep", "Disabled"):
                raise ValueError(f"unsupported vector-env autoreset mode {mode!r}; valid: NextStep, SameStep, "
                                 "Disabled")
            self.mode = mode
        else:
            self.num_envs = 1
            self.observation_space, self.action_space = env.observation_space, env.action_space
            self.mode = "single"
        self.pending = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP: rows whose next step is a reset

    def reset(self, seed: int | None) -> np.ndarray:
        self.pending[:] = False
        if self.vector:
            obs, _ = self.env.reset(seed=seed)
            return obs
        obs, _ = self.env.reset(seed=seed)
        return np.asarray(obs)[None]

    def step(self, actions: np.ndarray):
        """-> obs, rewards, terminated, truncated, valid, final_obs (rows with their own final obs) or None."""
        valid = ~self.pending
        if not self.vector:
            a = actions[0]
            obs, r, term, trunc, _ = self.env.step(int(a) if np.ndim(a) == 0 else a)
            final = None
            if term or trunc:
                final = {0: np.asarray(obs)}
                obs, _ = self.env.reset()
            return (np.asarray(obs)[None], np.array([r], float), np.array([term]), np.array([trunc]),
                    valid.copy(), final)
        obs, r, term, trunc, info = self.env.step(actions)
        r, term, trunc = np.asarray(r, float), np.asarray(term, bool), np.asarray(trunc, bool)
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
            fresh, _ = self.env.reset(options={"reset_mask": done.copy()})
            obs = fresh
        return obs, r, term, trunc, valid, final


# ==================================================================================================
# Learners
# ==================================================================================================
def _reject_unknown(cls: type, unknown: dict) -> None:
    """A one-line error for options the learner does not have (``sandbox train --set`` passes them on)."""
    if unknown:
        import inspect

        valid = [n for n in inspect.signature(cls.__init__).parameters if n not in ("self", "env", "unknown")
                 and not n.startswith("_")]
        raise ValueError(f"unknown {cls.__name__} option(s) {', '.join(sorted(unknown))}; valid: {', '.join(valid)}")


class _PolicyGradient:
    """What REINFORCE and A2C share: spaces, the network, sampling, predict, save."""

    algo = ""  # "reinforce" or "a2c-pg", as in `sandbox train --algo`

    def __init__(self, env, *, encoder: str, hidden: Sequence[int], periods: Sequence[int], lr: float,
                 gamma: float, ent_coef: float, vf_coef: float, max_grad_norm: float | None, optimizer: str,
                 normalize_advantage: bool, value: bool, seed: int, device, spaces: dict | None = None):
        if env is None and spaces is None:
            raise ValueError("a learner needs an env (or, when loaded, the spaces from its checkpoint)")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma = {gamma} is outside [0, 1]")
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"unknown optimizer {optimizer!r}; valid: adam, rmsprop")
        self.env = env
        self._stepper = _Stepper(env) if env is not None else None
        if spaces is None:
            spaces = {"observation": _space_to_json(self._stepper.observation_space, "observation"),
                      "action": _space_to_json(self._stepper.action_space, "action")}
        self.spaces = spaces
        self.observation_space = _space_from_json(spaces["observation"])
        self.action_space = _space_from_json(spaces["action"])
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
            self.policy = PolicyValueNet(_obs_dim(spaces["observation"]), self._head_sizes, encoder, hidden,
                                         periods, value=value)
        self.policy.to(self.device)
        if optimizer == "adam":
            self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=self.lr, eps=1e-5, foreach=True)
        else:  # stable-baselines3 A2C's choice
            self.optimizer = torch.optim.RMSprop(self.policy.parameters(), lr=self.lr, alpha=0.99, eps=1e-5,
                                                 foreach=True)
        self.rng = np.random.default_rng(self.seed)  # samples every action
        self.num_timesteps = 0
        self.num_updates = 0
        self._obs: np.ndarray | None = None  # the envs' current observations, between learn() calls
        self._state = None  # the envs' current recurrent state
        self._first: np.ndarray | None = None  # rows whose current observation starts an episode
        self._ep_return: np.ndarray | None = None
        self._ep_len: np.ndarray | None = None

    # ------------------------------------------------------------------ config
    def _hyper(self) -> dict:
        """Constructor arguments that rebuild this learner (subclasses add theirs)."""
        return {"encoder": self._arch["encoder"], "hidden": self._arch["hidden"], "periods": self._arch["periods"],
                "lr": self.lr, "gamma": self.gamma, "ent_coef": self.ent_coef, "vf_coef": self.vf_coef,
                "max_grad_norm": self.max_grad_norm, "optimizer": self._arch["optimizer"],
                "normalize_advantage": self.normalize_advantage, "seed": self.seed}

    def config(self) -> dict:
        return {"format_version": FORMAT_VERSION, "algo": self.algo, "class": type(self).__name__,
                "hyper": self._hyper(), "spaces": self.spaces, "num_timesteps": int(self.num_timesteps),
                "num_updates": int(self.num_updates)}

    @property
    def recurrent(self) -> bool:
        return self.policy.recurrent

    # ------------------------------------------------------------------ tensors
    def _flat_obs(self, obs: np.ndarray) -> torch.Tensor:
        """Batched observations (B, *obs_shape) -> float32 tensor (B, obs_dim)."""
        spec = self.spaces["observation"]
        if spec["type"] == "Discrete":
            idx = torch.as_tensor(np.asarray(obs, np.int64).reshape(-1) - spec["start"], device=self.device)
            return nn.functional.one_hot(idx, spec["n"]).float()
        arr = np.asarray(obs, dtype=np.float32)
        return torch.as_tensor(arr.reshape(arr.shape[0], -1), device=self.device)

    def _env_actions(self, a: np.ndarray):
        """Zero-based (B, H) -> what the env takes: (B,) for Discrete, (B, H) for MultiDiscrete."""
        a = a + self._act_start
        if self.spaces["action"]["type"] == "Discrete":
            return a[:, 0]
        return a.astype(self.action_space.dtype)

    def _sample(self, logits: list[torch.Tensor], deterministic: bool) -> np.ndarray:
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

    def _state_to_device(self, state, batch: int):
        if not self.recurrent:
            return None
        if state is None:
            return self.policy.initial_state(batch, self.device)
        hidden, step = state
        return ClockworkState(torch.as_tensor(np.asarray(hidden, np.float32), device=self.device),
                              torch.as_tensor(np.asarray(step, np.int64), device=self.device))

    # ------------------------------------------------------------------ agent protocol
    def _batch(self, observation) -> tuple[np.ndarray, bool]:
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

    def _policy_step(self, observation, state, episode_start):
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

    def logits(self, observation, state=None, episode_start=None) -> tuple[list[np.ndarray], Any]:
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

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """The agent protocol: ``(action, state)`` for one observation or a batch.

        ``deterministic`` takes the most likely category of each head; otherwise actions are sampled
        from the learner's own generator. For the CW-RNN, ``state`` is ``(hidden (B, n), clock (B,))``
        numpy arrays from the previous call (None: zeros), and rows whose ``episode_start`` is true are
        reset first. MLP policies return state None.
        """
        obs, single = self._batch(observation)
        fast = self._numpy_logits(obs) if state is None else None
        if fast is not None:  # a few rows of an MLP policy: NumPy, no torch call
            actions, new_state = self._env_actions(self._sample_numpy(fast, deterministic)), None
        else:
            logits, new_state, _ = self._policy_step(obs, state, episode_start)
            actions = self._env_actions(self._sample(logits, deterministic))
        if single:
            actions = int(actions[0]) if self.spaces["action"]["type"] == "Discrete" else actions[0]
        return actions, new_state

    def action_probs(self, observation, state=None, episode_start=None) -> list[np.ndarray]:
        """One probability vector per action head for one observation (duel: [stick(9), button(4)]).

        Recurrent policies need the ``state`` that :meth:`predict` returned before this observation;
        without it they answer from a fresh (zero) state."""
        logits, _, single = self._policy_step(observation, state, episode_start)
        probs = [torch.softmax(z.double(), -1).cpu().numpy() for z in logits]
        return [p[0] for p in probs] if single else probs

    def reset(self) -> None:
        """Agent protocol: nothing to clear (recurrent state travels through ``predict``)."""

    # ------------------------------------------------------------------ rollouts
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

    def _track(self, rewards, ends, valid, finished: list, lengths: list) -> None:
        self._ep_return += np.where(valid, rewards, 0.0)
        self._ep_len += valid
        for i in np.flatnonzero(ends & valid):
            finished.append(float(self._ep_return[i]))
            lengths.append(int(self._ep_len[i]))
            self._ep_return[i], self._ep_len[i] = 0.0, 0

    @torch.no_grad()
    def _values_of(self, obs_rows: np.ndarray, state: ClockworkState | None, rows: np.ndarray) -> np.ndarray:
        """V of observations ``obs_rows`` (R, *obs_shape) for env rows ``rows``, continuing each row's
        recurrent ``state`` (the state after the previous observation) without changing it."""
        st = None
        if state is not None:
            idx = torch.as_tensor(rows, device=self.device)
            st = ClockworkState(state.hidden[idx], state.step[idx])
        _, v, _ = self.policy(self._flat_obs(obs_rows)[:, None], st, None)
        return v[:, 0].double().cpu().numpy()

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
    def save(self, path: str | os.PathLike, metadata: dict | None = None) -> Path:
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

    def learn(self, total_steps: int, callback: Callable[[dict], Any] | None = None):  # pragma: no cover
        raise NotImplementedError


class A2C(_PolicyGradient):
    """Advantage actor-critic (Mnih et al. 2016, synchronous), with n-step returns and GAE(lambda).

    Each update collects ``n_steps`` steps from each of the K envs, computes GAE advantages and the
    value targets ``A + V`` (see :func:`gae_advantages`; ``gae_lambda=1`` is plain n-step A2C), and takes
    one gradient step on

        L = -mean(log pi(a|s) A) + vf_coef mean((V(s) - target)^2) - ent_coef mean(H(pi(.|s))).

    Defaults follow stable-baselines3's A2C (lr 7e-4, n_steps 5, vf_coef 0.5, max_grad_norm 0.5) except
    ``ent_coef`` (0.01; SB3: 0.0), ``gae_lambda`` (0.95; SB3: 1.0) and the optimiser: Adam
    (``optimizer="rmsprop"`` gives SB3's RMSprop, alpha 0.99, eps 1e-5).
    """

    algo = "a2c-pg"

    def __init__(self, env, encoder: str = "mlp", hidden: Sequence[int] = (64, 64), lr: float = 7e-4,
                 gamma: float = 0.99, gae_lambda: float = 0.95, n_steps: int = 5, ent_coef: float = 0.01,
                 vf_coef: float = 0.5, max_grad_norm: float | None = 0.5, seed: int = 0, device="auto",
                 periods: Sequence[int] = (1, 2, 4, 8), optimizer: str = "adam",
                 normalize_advantage: bool = False, _spaces: dict | None = None, **unknown):
        _reject_unknown(type(self), unknown)
        if int(n_steps) < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        if not 0.0 <= gae_lambda <= 1.0:
            raise ValueError(f"gae_lambda = {gae_lambda} is outside [0, 1]")
        self.n_steps, self.gae_lambda = int(n_steps), float(gae_lambda)
        super().__init__(env, encoder=encoder, hidden=hidden, periods=periods, lr=lr, gamma=gamma,
                         ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm, optimizer=optimizer,
                         normalize_advantage=normalize_advantage, value=True, seed=seed, device=device,
                         spaces=_spaces)

    def _hyper(self) -> dict:
        return {**super()._hyper(), "n_steps": self.n_steps, "gae_lambda": self.gae_lambda}

    def learn(self, total_steps: int, callback: Callable[[dict], Any] | None = None) -> A2C:
        """Train for ``total_steps`` more env steps (rounded up to whole rollouts). ``callback(info)``
        runs after every update; returning False stops. ``info``: steps, updates, episode_returns and
        episode_lengths (episodes finished since the last call), loss, policy_loss, value_loss, entropy."""
        self._start()
        target = self.num_timesteps + int(total_steps)
        finished: list[float] = []
        lengths: list[int] = []
        while self.num_timesteps < target:
            batch = self._collect(finished, lengths)
            info = self._update(batch)
            info.update(steps=int(self.num_timesteps), updates=int(self.num_updates),
                        episode_returns=finished, episode_lengths=lengths)
            finished, lengths = [], []
            if callback is not None and callback(info) is False:
                break
        return self

    @torch.no_grad()
    def _collect(self, finished: list, lengths: list) -> dict:
        T, K = self.n_steps, self._stepper.num_envs
        obs_buf = np.empty((T, K, *self._obs.shape[1:]), dtype=self._obs.dtype)
        actions = np.empty((T, K, len(self._head_sizes)), np.int64)
        rewards, values, next_values = np.zeros((T, K)), np.zeros((T, K)), np.zeros((T, K))
        term, ends, valid, first, truncated_final = (np.zeros((T, K), bool) for _ in range(5))
        start_state = self._state
        for t in range(T):
            obs_buf[t], first[t] = self._obs, self._first
            start = self._first if self.recurrent else None
            logits, v, self._state = self.policy(self._flat_obs(self._obs)[:, None], self._state, start)
            a = self._sample([z[:, 0] for z in logits], deterministic=False)
            obs, r, te, tr, ok, final = self._stepper.step(self._env_actions(a))
            actions[t], values[t] = a, v[:, 0].double().cpu().numpy()
            rewards[t], valid[t] = np.where(ok, r, 0.0), ok
            # a NEXT_STEP reset step is no transition: it is masked out and cuts the return
            term[t], ends[t] = te | ~ok, te | tr | ~ok
            if final is not None:  # truncated rows whose final observation is not the next `obs`
                rows = np.array([i for i in final if tr[i] and not te[i]], dtype=np.int64)
                if len(rows):
                    own = self._values_of(np.stack([final[i] for i in rows]), self._state, rows)
                    next_values[t, rows], truncated_final[t, rows] = own, True
            self._track(r, te | tr, ok, finished, lengths)
            self.num_timesteps += int(ok.sum())
            self._first = ~ok if self._stepper.mode == "NextStep" else (te | tr)
            self._obs = obs
        # V(s_{t+1}) is the next step's V(s_t), or V(s_T) after the last step, except for truncated rows
        # whose final observation was replaced by a reset one (SAME_STEP, DISABLED, single env). Under
        # NEXT_STEP the observation after a truncated step is its final one, so no exception is needed.
        _, v, _ = self.policy(self._flat_obs(self._obs)[:, None], self._state,
                              self._first if self.recurrent else None)
        boot = v[:, 0].double().cpu().numpy()
        next_values = np.where(truncated_final, next_values, np.concatenate([values[1:], boot[None]], axis=0))
        adv = gae_advantages(rewards, values, next_values, term, self.gamma, self.gae_lambda, ends=ends)
        return {"obs": obs_buf, "actions": actions, "adv": adv, "returns": adv + values, "valid": valid,
                "first": first, "start_state": start_state}

    def _update(self, b: dict) -> dict:
        T, K = b["adv"].shape
        # (K, T, ...) so that a recurrent encoder runs over each env's rollout from its stored start state
        obs = self._flat_obs(b["obs"].swapaxes(0, 1).reshape(K * T, *b["obs"].shape[2:])).reshape(K, T, -1)
        first = b["first"].T if self.recurrent else None
        logits, values, _ = self.policy(obs, b["start_state"], first)
        dev = self.device
        actions = torch.as_tensor(b["actions"].swapaxes(0, 1), device=dev)
        mask = torch.as_tensor(b["valid"].T, device=dev, dtype=torch.float32)
        n = mask.sum().clamp(min=1.0)
        adv = self._advantage(torch.as_tensor(b["adv"].T, device=dev, dtype=torch.float32), mask)
        ret = torch.as_tensor(b["returns"].T, device=dev, dtype=torch.float32)
        logp, ent = _log_prob_entropy(logits, actions)
        policy_loss = -(logp * adv * mask).sum() / n
        value_loss = (((values - ret) ** 2) * mask).sum() / n
        entropy = (ent * mask).sum() / n
        loss = policy_loss + self.vf_coef * value_loss - self.ent_coef * entropy
        self._optimise(loss)
        return {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                "entropy": entropy.item()}


class Reinforce(_PolicyGradient):
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

    def __init__(self, env, encoder: str = "mlp", baseline: bool = True, hidden: Sequence[int] = (64, 64),
                 lr: float = 1e-3, gamma: float = 0.99, n_episodes: int | None = None, ent_coef: float = 0.0,
                 vf_coef: float = 0.5, max_grad_norm: float | None = 0.5, seed: int = 0, device="auto",
                 periods: Sequence[int] = (1, 2, 4, 8), optimizer: str = "adam",
                 normalize_advantage: bool = False, _spaces: dict | None = None, **unknown):
        _reject_unknown(type(self), unknown)
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
        if self._n_episodes is not None:
            return self._n_episodes
        return self._stepper.num_envs if self._stepper is not None else 1

    def _hyper(self) -> dict:
        return {**super()._hyper(), "baseline": self.baseline, "n_episodes": self._n_episodes}

    def _new_segment(self, i: int) -> dict:
        """An empty segment for env row ``i``, starting at its next real observation: with the recurrent
        state after the row's previous observation, and whether that next observation starts an episode
        (a NEXT_STEP row that has just ended will be reset by its next step)."""
        st = None
        if self.recurrent:
            st = (self._state.hidden[i].clone(), int(self._state.step[i]))
        first = bool(self._first[i] or self._stepper.pending[i])
        return {"obs": [], "actions": [], "rewards": [], "first": first, "state": st, "boot": 0.0}

    def learn(self, total_steps: int, callback: Callable[[dict], Any] | None = None) -> Reinforce:
        """Train for ``total_steps`` more env steps; episodes not finished by then do not count.
        ``callback(info)`` as in :meth:`A2C.learn`, plus ``episodes`` (in the update)."""
        self._start()
        target = self.num_timesteps + int(total_steps)
        K = self._stepper.num_envs
        finished: list[float] = []
        lengths: list[int] = []
        segments = [self._new_segment(i) for i in range(K)]  # the episode under way in each env
        complete: list[dict] = []  # segments that reached their episode's end
        while self.num_timesteps < target:
            with torch.no_grad():
                start = self._first if self.recurrent else None
                logits, _, self._state = self.policy(self._flat_obs(self._obs)[:, None], self._state, start,
                                                     with_value=False)
                a = self._sample([z[:, 0] for z in logits], deterministic=False)
                obs, r, te, tr, ok, final = self._stepper.step(self._env_actions(a))
            for i in np.flatnonzero(ok):
                seg = segments[i]
                seg["obs"].append(self._obs[i])
                seg["actions"].append(a[i])
                seg["rewards"].append(float(r[i]))
                if te[i] or tr[i]:
                    if tr[i] and not te[i] and self.baseline:  # a time limit: bootstrap from V(final obs)
                        fin = final[i] if final is not None and i in final else obs[i]
                        seg["boot"] = float(self._values_of(np.asarray(fin)[None], self._state, np.array([i]))[0])
                    complete.append(seg)
            self._track(r, te | tr, ok, finished, lengths)
            self.num_timesteps += int(ok.sum())
            self._first = ~ok if self._stepper.mode == "NextStep" else (te | tr)
            self._obs = obs
            for i in np.flatnonzero(ok & (te | tr)):
                segments[i] = self._new_segment(i)
            if len(complete) >= self.n_episodes:
                info = self._update(complete)
                info.update(steps=int(self.num_timesteps), updates=int(self.num_updates),
                            episode_returns=finished, episode_lengths=lengths)
                finished, lengths, complete = [], [], []
                # the episodes under way were partly played by the old policy: keep only their future
                segments = [self._new_segment(i) for i in range(K)]
                if callback is not None and callback(info) is False:
                    break
        return self

    def _update(self, segments: list[dict]) -> dict:
        dev = self.device
        lens = [len(s["rewards"]) for s in segments]
        S, L = len(segments), max(lens)
        returns = np.zeros((S, L))
        mask = np.zeros((S, L), dtype=bool)
        obs = np.zeros((S, L, *self._obs_shape), dtype=np.asarray(segments[0]["obs"][0]).dtype)
        actions = np.zeros((S, L, len(self._head_sizes)), np.int64)
        for j, s in enumerate(segments):
            n = lens[j]  # a segment runs to its episode's end: G_T = V(final obs) if truncated, else 0
            returns[j, :n] = discounted_returns(s["rewards"], np.zeros(n, bool), self.gamma, bootstrap=s["boot"])
            mask[j, :n] = True
            obs[j, :n] = np.stack(s["obs"])
            actions[j, :n] = np.stack(s["actions"])
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
        adv = self._advantage(ret - values.detach() if self.baseline else ret, m)
        logp, ent = _log_prob_entropy(logits, torch.as_tensor(actions, device=dev))
        policy_loss = -(logp * adv * m).sum() / n
        entropy = (ent * m).sum() / n
        loss = policy_loss - self.ent_coef * entropy
        value_loss = torch.zeros(())
        if self.baseline:
            value_loss = (((values - ret) ** 2) * m).sum() / n
            loss = loss + self.vf_coef * value_loss
        self._optimise(loss)
        return {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                "entropy": entropy.item(), "episodes": S}


LEARNERS: dict[str, type[_PolicyGradient]] = {"A2C": A2C, "Reinforce": Reinforce}
MAX_CHECKPOINT_BYTES = 512 * 2**20  # a learner checkpoint file (.pt)


def _learner_class(name: str) -> type[_PolicyGradient]:
    """The learner class a checkpoint names; PPO lives in :mod:`nets.ppo` (imported only when needed)."""
    if name == "PPO":
        from nets.ppo import PPO

        return PPO
    return LEARNERS[name]


def load_learner(path: str | os.PathLike, env=None, device="auto") -> _PolicyGradient:
    """Rebuild a learner saved by ``save``. Without ``env`` it predicts; with ``env`` (spaces must
    match) it can continue ``learn()``, with its step count, optimiser state and sampler restored."""
    path = Path(path)
    if not path.is_file() and path.with_suffix(".pt").is_file():
        path = path.with_suffix(".pt")
    if not path.is_file():
        raise FileNotFoundError(f"learner checkpoint {str(path)!r} not found (expected a .pt written by save())")
    from nets.torchfile import load_tensors

    try:
        payload = load_tensors(path, max_bytes=MAX_CHECKPOINT_BYTES)  # weights_only, sizes checked first
        config = json.loads(payload["config_json"])
        cls = _learner_class(config["class"])
    except Exception as exc:
        raise ValueError(f"{path}: not a policy-gradient learner checkpoint ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())})") from None
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: checkpoint format {config.get('format_version')}; this code reads "
                         f"{FORMAT_VERSION}")
    hyper = dict(config["hyper"])
    if env is not None:
        stepper = _Stepper(env)
        have = {"observation": _space_to_json(stepper.observation_space, "observation"),
                "action": _space_to_json(stepper.action_space, "action")}
        if have != config["spaces"]:
            raise ValueError(f"{path}: the learner was trained on spaces {config['spaces']}, "
                             f"but the env given has {have}")
    learner = cls(env, device=device, _spaces=config["spaces"], **hyper)
    learner.policy.load_state_dict({k: v.to(learner.device) for k, v in payload["policy"].items()})
    learner.optimizer.load_state_dict(payload["optimizer"])
    learner.rng.bit_generator.state = json.loads(payload["rng_json"])
    learner.num_timesteps = int(config["num_timesteps"])
    learner.num_updates = int(config["num_updates"])
    return learner
