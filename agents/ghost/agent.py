"""The ghost as an agent: a behaviour-cloned :class:`nets.imitation.GhostPolicy` behind the agent protocol.

Spec: ``ghost:PATH`` where PATH is a ghost run folder (``runs/NAME``, using ``checkpoints/ghost.pt``) or
the checkpoint file, optionally followed by ``@T`` (sampling temperature T > 0, default 1.0) or
``@greedy`` (always the most likely stick and button): ``ghost:runs/me@0.5``, ``ghost:runs/me@greedy``.
The keyword arguments ``temperature=`` and ``greedy=`` do the same.

The recurrent state lives in the agent and runs through a round; ``reset()`` (the env calls it at
every reset) or ``episode_start`` starts a new round. Sampling draws from ``rng`` (the env hands its
``np_random`` to an opponent at every reset), so a seeded round repeats exactly. If the env runs at a
finer ``frame_skip`` than the demos (``sandbox play`` steps every tick), the ghost decides every
``demo_frame_skip / frame_skip`` calls and holds its input in between, as the demonstrator did.

:class:`BatchedGhost` is the same policy speaking the batched agent protocol (:mod:`agents.protocol`): one
recurrent state per row, zeroed at the row's reset and advanced only when the row acts, and each row's
draws from its own numbers (:class:`agents.protocol.RowDraws`). It is what
``make_batched_agent("ghost:PATH")`` builds, and it decides as :class:`GhostAgent` does: the stick from
``softmax(stick / T)``, then the button given it (``@greedy`` or ``deterministic``: the most likely of
each), holding its input for ``repeat`` env calls when the env steps finer than the demos.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.protocol import RowDraws, inverse_cdf, softmax
from envs.duel.config import DuelConfig

if TYPE_CHECKING:
    from gymnasium import spaces

    from nets.imitation import GhostModel, GhostState

__all__ = ["BatchedGhost", "GhostAgent", "make_ghost", "parse_ghost_arg"]


class GhostAgent:
    """A ghost checkpoint speaking ``predict(observation, state, episode_start, deterministic)``.

    Args:
        model: a :class:`nets.imitation.GhostPolicy` (eval mode); meta: its JSON config.
        temperature: softmax temperature of the sampling (1.0: the learned distribution).
        greedy: act with the most likely stick and button (also ``predict(..., deterministic=True)``).
        rng: numpy Generator for the sampling. frame_skip: the env's ticks per call.
        flat: return ``Discrete(36)`` actions (``stick * 4 + button``) instead of ``[stick, button]``.
    """

    def __init__(self, model: GhostModel, meta: dict[str, Any], *, temperature: float = 1.0, greedy: bool = False,
                 rng: np.random.Generator | None = None, frame_skip: int | None = None, flat: bool = False):
        if not temperature > 0:
            raise ValueError(f"ghost temperature must be > 0; got {temperature}")
        self.model = model
        self.meta = meta
        self.temperature = float(temperature)
        self.greedy = bool(greedy)
        self._inv_t = 1.0 / self.temperature
        self.rng = rng if rng is not None else np.random.default_rng()
        self.flat = flat
        demo_skip = int(meta.get("frame_skip", DuelConfig.frame_skip))
        env_skip = int(frame_skip) if frame_skip else demo_skip
        self.repeat = max(1, round(demo_skip / env_skip))  # env calls per ghost decision
        self._device = next(model.parameters()).device
        from nets.imitation import GhostStepper

        self._stepper = GhostStepper(model)  # single observations: NumPy steps, no torch call overhead
        self.reset()

    # ---- protocol ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new round: zero recurrent state, clock 0."""
        self._state: GhostState | None = None
        self._stepper.reset()
        self._calls = 0
        self._held: np.ndarray | int | None = None
        self._last_obs: np.ndarray | None = None
        self._last_probs: list[np.ndarray] | None = None
        self._last_logits: tuple[np.ndarray, np.ndarray] | None = None

    def _forward(self, obs: np.ndarray, state: GhostState | None, commit: bool) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (rows, 9) and (rows, 4) at ``obs``; with ``commit`` the state advances."""
        t = 1.0 if self.greedy else self.temperature
        if obs.ndim == 1:
            stick, button, new = self._stepper.step(obs)
            if commit:
                self._stepper.state = new
            return _softmax(stick[None] / t), _softmax(button[None] / t)  # button: (1, 4) or (1, 9, 4)
        import torch

        with torch.inference_mode():
            x = torch.as_tensor(obs, device=self._device)[:, None, :]
            stick_z, button_z, new_state = self.model(x, self._state)
        if commit:
            self._state = new_state
        return (_softmax(stick_z[:, 0].cpu().numpy().astype(np.float64) / t),
                _softmax(button_z[:, 0].cpu().numpy().astype(np.float64) / t))

    @staticmethod
    def _marginal(ps: np.ndarray, pb: np.ndarray) -> np.ndarray:
        """p(button): as it is (independent head) or sum over sticks of p(stick) p(button | stick)."""
        return np.einsum("ns,nsb->nb", ps, pb) if pb.ndim == 3 else pb

    def _choose(self, p: np.ndarray, greedy: bool) -> np.ndarray:
        if greedy:
            return p.argmax(-1)
        c = np.cumsum(p, -1)
        u = self.rng.random(len(p))[:, None] * c[:, -1:]
        return np.minimum((u >= c).sum(-1), p.shape[-1] - 1)

    def predict(self, observation: np.ndarray, state: tuple[np.ndarray, ...] | None = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray | int, tuple[np.ndarray, ...] | None]:
        if episode_start is not None and np.any(episode_start):
            self.reset()
        obs = observation if type(observation) is np.ndarray and observation.dtype == np.float32 else \
            np.asarray(observation, dtype=np.float32)
        if obs.shape[-1] != self.model.obs_size or obs.ndim not in (1, 2):
            raise ValueError(f"ghost expects observations of shape ({self.model.obs_size},) or "
                             f"(n, {self.model.obs_size}); got {obs.shape}")
        if self._held is not None and self._calls % self.repeat != 0:  # between decisions: hold the input
            self._calls += 1
            return self._held, state
        greedy = self.greedy or bool(deterministic)
        self._last_obs = obs.copy()
        stick: int | np.ndarray
        button: int | np.ndarray
        action: np.ndarray | int
        if obs.ndim == 1:  # the game loop's case: plain-float sampling, no array round trips
            stick_z, button_z, self._stepper.state = self._stepper.step(obs)
            self._last_probs = None
            self._last_logits = (stick_z, button_z)
            u = (None, None) if greedy else self.rng.random(2).tolist()
            stick = _sample(stick_z.tolist(), self._inv_t, u[0])
            button = _sample((button_z[stick] if button_z.ndim == 2 else button_z).tolist(), self._inv_t, u[1])
            action = stick * 4 + button if self.flat else np.array([stick, button], dtype=np.int64)
        else:
            ps, pb = self._forward(obs, self._state, commit=True)
            self._last_probs = [ps, pb]
            stick = self._choose(ps, greedy)
            button = self._choose(pb[np.arange(len(stick)), stick] if pb.ndim == 3 else pb, greedy)
            action = stick * 4 + button if self.flat else np.stack([stick, button], -1).astype(np.int64)
        self._held = action
        self._calls += 1
        return action, state

    def action_probs(self, observation: np.ndarray) -> list[np.ndarray]:
        """``[p(stick) (9), p(button) (4)]`` the ghost samples from at ``observation`` (for the conditional
        head the button's marginal, sum over sticks of p(stick) p(button | stick)): the last decision's if it
        was made on this observation, else a look-ahead that leaves the state alone."""
        obs = np.asarray(observation, dtype=np.float32)
        if self._last_obs is not None and np.array_equal(obs, self._last_obs) and (
                self._last_probs is not None or self._last_logits is not None):
            if self._last_probs is not None:
                ps, pb = self._last_probs
            else:
                assert self._last_logits is not None  # (one of the two is set)
                t = 1.0 if self.greedy else self.temperature
                ps, pb = (_softmax(z[None] / t) for z in self._last_logits)
        else:
            ps, pb = self._forward(obs, self._state, commit=False)
        pb = self._marginal(ps, pb)
        if obs.ndim == 1:
            return [ps[0], pb[0]]
        return [ps, pb]


def _sample(logits: list[float], inv_t: float, u: float | None) -> int:
    """Index drawn from softmax(logits * inv_t) with the uniform number ``u``; argmax when ``u`` is None."""
    m = max(logits)
    if u is None:
        return logits.index(m)
    e = [math.exp((v - m) * inv_t) for v in logits]
    target = u * sum(e)
    acc = 0.0
    for i, v in enumerate(e):
        acc += v
        if target < acc:
            return i
    return len(e) - 1


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def parse_ghost_arg(arg: str) -> tuple[str, float | None, bool]:
    """``PATH[@T|@greedy]`` -> (path, temperature or None, greedy)."""
    path, sep, opt = arg.rpartition("@")
    if sep and opt:
        if opt.strip().lower() == "greedy":
            return path, None, True
        try:
            t = float(opt)
        except ValueError:
            return arg, None, False  # an '@' that is part of the path
        if not t > 0:
            raise ValueError(f"ghost temperature must be > 0 (ghost:PATH@T); got {opt!r}")
        return path, t, False
    return arg, None, False


def make_ghost(arg: str | None, *, action_space: spaces.Space | None = None, rng: np.random.Generator | None = None,
               frame_skip: int | None = None, temperature: float | None = None, greedy: bool | None = None,
               device: str = "cpu", **_: Any) -> GhostAgent:
    """Factory for ``ghost:PATH[@T|@greedy]`` (see the module docstring)."""
    from agents.ghost.checkpoint import load_ghost

    if not arg:
        raise ValueError("agent spec 'ghost' needs a path: ghost:runs/NAME (a run folder or checkpoints/ghost.pt), "
                         "optionally @T (temperature) or @greedy")
    path, t, g = parse_ghost_arg(arg)
    model, meta = load_ghost(Path(path), device=device)
    flat = action_space is not None and not hasattr(action_space, "nvec")
    return GhostAgent(model, meta, temperature=temperature if temperature is not None else (t or 1.0),
                      greedy=bool(greedy) if greedy is not None else g, rng=rng, frame_skip=frame_skip, flat=flat)


class BatchedGhost:
    """A ghost policy deciding for N rows per call (the batched agent protocol).

    Args: model: a :class:`nets.imitation.GhostPolicy`; temperature: softmax temperature (1: as learned);
    greedy: the most likely stick, then the most likely button given it; repeat: env calls per decision
    (the input is held in between, as ``GhostAgent`` does when the env steps finer than the demos)."""

    def __init__(self, model: GhostModel, *, temperature: float = 1.0, greedy: bool = False, repeat: int = 1,
                 spec: str = "ghost"):
        if not temperature > 0:
            raise ValueError(f"ghost temperature must be > 0; got {temperature}")
        self.model = model.eval()
        self.temperature, self.greedy = float(temperature), bool(greedy)
        self.repeat = max(1, int(repeat))
        self.spec = spec
        self.num_envs = 0
        self.draws = RowDraws(0)

    @classmethod
    def from_agent(cls, agent: GhostAgent, *, deterministic: bool = False, spec: str = "ghost") -> BatchedGhost:
        """The batched form of a :class:`agents.ghost.agent.GhostAgent` (its model, temperature, greedy
        flag and hold); ``deterministic`` makes it greedy, as ``predict(deterministic=True)`` does."""
        return cls(agent.model, temperature=agent.temperature, greedy=agent.greedy or deterministic,
                   repeat=agent.repeat, spec=spec)

    # ---- per-row state (a tuple of tensors, the batch on dim 1 for the LSTM, 0 otherwise)
    def _batch_dim(self) -> int:
        return 1 if self.model.encoder_kind == "lstm" else 0

    def _take(self, rows):
        from nets.clockwork import ClockworkState

        if isinstance(self.state, ClockworkState):
            return ClockworkState(self.state.hidden[rows], self.state.step[rows])
        d = self._batch_dim()
        return tuple(s[:, rows] if d else s[rows] for s in self.state)

    def _put(self, rows, part) -> None:
        d = self._batch_dim()
        for s, p in zip(self.state, part, strict=True):
            if d:
                s[:, rows] = p
            else:
                s[rows] = p

    def bind(self, num_envs: int) -> None:
        from nets.device import inference

        self.num_envs = n = int(num_envs)
        with inference(n):
            self.state = self.model.initial_state(n)
        self.draws = RowDraws(n)
        self.calls = np.zeros(n, dtype=np.int64)
        self.held = np.zeros((n, 2), dtype=np.int64)

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        import torch

        from nets.device import inference

        idx = np.asarray(idx, dtype=np.int64)
        self.draws.reset(idx, seeds)
        self.calls[idx] = 0
        with inference(len(idx)):
            rows = torch.from_numpy(idx)
            self._put(rows, tuple(p.zero_() for p in self._take(rows)))

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        rows = np.flatnonzero(active)
        if not rows.size:
            return
        deciding = rows[self.calls[rows] % self.repeat == 0]
        if deciding.size:
            x = obs if deciding.size == len(obs) else obs[deciding]
            self.held[deciding] = self._decide(np.ascontiguousarray(x, dtype=np.float32), deciding)
        self.calls[rows] += 1
        if out.ndim == 1:
            out[rows] = self.held[rows, 0] * self.model.buttons + self.held[rows, 1]
        else:
            out[rows] = self.held[rows]

    def _decide(self, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        import torch

        from nets.device import inference

        with inference(len(rows)):
            r = torch.from_numpy(rows)
            stick_t, button_t, new = self.model(torch.from_numpy(x)[:, None], self._take(r))
            self._put(r, new)
            stick_z = stick_t[:, 0].double().numpy()
            button_z = button_t[:, 0].double().numpy()
        if self.greedy:
            stick = stick_z.argmax(-1)
            if button_z.ndim == 3:  # conditional head: the buttons of the chosen stick
                button_z = button_z[np.arange(len(stick)), stick]
            return np.stack([stick, button_z.argmax(-1)], -1)
        u = self.draws.uniform(rows, 2)
        stick = inverse_cdf(softmax(stick_z / self.temperature), u[:, 0])
        if button_z.ndim == 3:
            button_z = button_z[np.arange(len(stick)), stick]
        return np.stack([stick, inverse_cdf(softmax(button_z / self.temperature), u[:, 1])], -1)
