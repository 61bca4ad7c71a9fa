"""The two agent protocols and the generic batched agents built on them.

* :class:`Agent`: one agent acting in one env, SB3's ``predict(observation, state=None, episode_start=None,
  deterministic=False) -> (action, state)``, plus an optional ``reset()``.
* :class:`BatchedAgent`: one agent acting for N envs at once. In the order an env calls it:

  - ``bind(num_envs)``: size per-env memory for ``num_envs`` envs; called before anything else (calling it
    again starts over with a new batch).
  - ``reset_envs(idx, seeds, difficulty=None)``: envs ``idx`` (int64) start a new episode. ``seeds[j]``
    (an int in [0, 2**63), drawn by the env from env ``idx[j]``'s generator) keys every random draw the
    agent makes for that env in that episode, so seeded rollouts repeat exactly. ``difficulty[j]`` is a
    float in [0, 1], or NaN for the agent's own preset (agents without a difficulty ignore it).
    Recurrent state of those envs is cleared here.
  - ``act(obs, active, out)``: write the action of every env with ``active[i]`` into ``out[i]`` (int64;
    shape ``(N, 2)`` for the duel's ``[stick, button]``, ``(N,)`` for discrete actions), reading ``obs[i]``,
    that env's observation as the agent sees it. Rows that are not active are left untouched, and their
    recurrent state does not advance.

The building blocks: :class:`RowDraws` (per-row random numbers), :class:`PolicyRows` (a categorical policy
acting for N rows; our learners, SB3 and RLlib checkpoints are one), :class:`UniformAgent` (``random``),
:class:`SingleAgent` (an agent with only ``predict`` as a batch of one), :class:`RowsAgent` (several agents
sharing a batch) and :class:`Mixture` (two agents mixed row by row). :func:`agents.batched.make_batched_agent`
builds a batched agent from any spec; it and the agents of each kind import from here, never the reverse.

**Randomness.** A sampling agent draws row ``i``'s numbers from :class:`RowDraws`, a SplitMix64 stream keyed
by that row's episode seed: a row plays the same whatever the batch around it, so round ``k`` of a seeded
evaluation is the same in a batch of 1 or of 1,000. The single agents draw from the env's generator
instead, so a sampling agent and its batched form play the same distribution, not the same draws; with
``deterministic=True`` they play the same actions.

The two protocols are defined once, as types, on the ground floor (:mod:`envs.protocols`, where the envs that
host an opponent can name them too) and re-exported here.

Imports: numpy, ``envs.protocols`` and ``agents.stream`` (numba, imported on first use) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from envs.protocols import Agent, BatchedAgent, RecurrentState

if TYPE_CHECKING:
    from gymnasium import spaces
    from typing_extensions import TypeIs  # typing.TypeIs from Python 3.13

__all__ = ["ActionWriter", "Agent", "BatchedAgent", "Mixture", "PolicyRows", "RowDraws", "RowsAgent", "SingleAgent",
           "UniformAgent", "inverse_cdf", "is_batched", "softmax"]


def is_batched(agent: object) -> TypeIs[BatchedAgent]:
    """Whether ``agent`` speaks the batched protocol (``bind``, ``reset_envs``, ``act``)."""
    return all(callable(getattr(agent, name, None)) for name in ("bind", "reset_envs", "act"))


# ==================================================================================================
# Per-row random numbers
# ==================================================================================================
class RowDraws:
    """Uniform numbers in [0, 1) per row, from the row's own counter-based stream (:mod:`agents.stream`):
    row ``r``'s ``k``-th draw of an episode is SplitMix64's ``k``-th output from the row's seed (its 53 high
    bits / 2**53), a function of the row's seed and of how many numbers it drew, never of the other rows.
    Rows never reset draw from fresh entropy."""

    def __init__(self, num_envs: int):
        from agents import stream

        self.stream = stream.new_streams(num_envs)
        entropy = np.random.SeedSequence().generate_state(2 * num_envs, dtype=np.uint32).astype(np.uint64)
        self.stream[:, stream.KEY] = (entropy[0::2] << np.uint64(32)) | entropy[1::2]

    def reset(self, idx: np.ndarray, seeds: np.ndarray) -> None:
        """Rows ``idx`` start an episode keyed by ``seeds`` (ints in [0, 2**63))."""
        from agents import stream

        stream.seed_streams(self.stream, np.asarray(idx, dtype=np.int64), np.asarray(seeds, dtype=np.int64))

    def uniform(self, rows: np.ndarray, k: int = 1) -> np.ndarray:
        """The next ``k`` numbers of each of ``rows``: shape ``(len(rows), k)``, float64 in [0, 1)."""
        from agents import stream

        out = np.empty((len(rows), k), dtype=np.float64)
        stream.uniform_rows(self.stream, np.asarray(rows, dtype=np.int64), out)
        return out


def inverse_cdf(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Category of each row of ``p`` (rows of probabilities, summing to ~1) for the uniform numbers ``u``:
    the first ``j`` with ``u * sum(p) < cumsum(p)[j]``."""
    c = np.cumsum(p, axis=-1)
    return np.minimum((u[:, None] * c[:, -1:] >= c).sum(-1), p.shape[-1] - 1)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ==================================================================================================
# Actions in the form the caller's buffer has
# ==================================================================================================
def _heads_of(space: spaces.Space) -> tuple[list[int], np.ndarray]:
    """Category counts of each head and their first values: ``Discrete(n, start)`` -> ``[n], [start]``,
    ``MultiDiscrete(nvec)`` -> ``nvec, start``."""
    if hasattr(space, "nvec"):
        nvec = np.asarray(space.nvec).reshape(-1)
        start = np.asarray(getattr(space, "start", np.zeros_like(nvec))).reshape(-1)
        return [int(n) for n in nvec], start.astype(np.int64)
    if hasattr(space, "n"):
        return [int(space.n)], np.array([int(getattr(space, "start", 0))], dtype=np.int64)
    raise ValueError(f"a batched agent needs a Discrete or MultiDiscrete action space; got {space}")


class ActionWriter:
    """Writes zero-based per-head actions ``(rows, H)`` of an agent whose space is ``space`` into a buffer
    shaped ``(N,)`` (one discrete action) or ``(N, H)`` (one column per head). When the buffer has the
    other form than the agent (a ``Discrete(prod(nvec))`` agent in a ``MultiDiscrete(nvec)`` buffer, or the
    reverse), ``target`` (the buffer's space) says how to convert (``np.unravel_index`` order, the
    duel's ``stick * 4 + button``)."""

    def __init__(self, space: spaces.Space, target: spaces.Space | None = None):
        self.heads, self.start = _heads_of(space)
        self.target_heads = _heads_of(target)[0] if target is not None else None

    def write(self, a: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
        h = len(self.heads)
        if out.ndim == 1:
            if h == 1:
                out[rows] = a[:, 0] + self.start[0]
            else:  # several heads into one discrete action
                out[rows] = np.ravel_multi_index(tuple((a + self.start).T), self.heads)
            return
        if out.shape[1] == h:
            out[rows] = a + self.start
            return
        if h == 1 and self.target_heads is not None and len(self.target_heads) == out.shape[1] \
                and int(np.prod(self.target_heads)) == self.heads[0]:
            out[rows] = np.stack(np.unravel_index(a[:, 0] + self.start[0], self.target_heads), axis=-1)
            return
        raise ValueError(f"an agent with {h} action head(s) {self.heads} cannot write into a buffer of shape "
                         f"{out.shape}; pass the env's action_space to make_batched_agent")


# ==================================================================================================
# The generic agents
# ==================================================================================================
class PolicyRows:
    """A categorical policy acting for N rows: one forward pass (:meth:`scores`) over the active rows per
    call, then the arg-max of each head (``deterministic``) or a draw from it with each row's own numbers
    (:class:`RowDraws`). Subclasses give :meth:`scores` and, if recurrent, :meth:`bind_state` and
    :meth:`reset_state`; ``probs`` says whether the scores are probabilities (else logits)."""

    probs = False

    def __init__(self, space: spaces.Space, *, deterministic: bool = False, target: spaces.Space | None = None,
                 spec: str = "policy"):
        self.action_space = space
        self.writer = ActionWriter(space, target)
        self.deterministic = bool(deterministic)
        self.spec = spec
        self.num_envs = 0
        self.draws = RowDraws(0)

    def scores(self, obs: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
        """Per head, the ``(len(rows), n_h)`` logits (or probabilities) at ``obs`` (the rows' observations);
        recurrent policies advance the state of ``rows``."""
        raise NotImplementedError

    def bind_state(self, num_envs: int) -> None:
        """Size per-row memory (recurrent policies)."""

    def reset_state(self, idx: np.ndarray) -> None:
        """Clear rows ``idx``'s memory (recurrent policies)."""

    # ---- the protocol
    def bind(self, num_envs: int) -> None:
        self.num_envs = int(num_envs)
        self.draws = RowDraws(self.num_envs)
        self.bind_state(self.num_envs)

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        idx = np.asarray(idx, dtype=np.int64)
        self.draws.reset(idx, seeds)
        self.reset_state(idx)

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        rows = np.flatnonzero(active)
        if not rows.size:
            return
        scores = self.scores(obs if rows.size == len(obs) else obs[rows], rows)
        self.writer.write(self.choose(scores, rows), rows, out)

    def choose(self, scores: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
        """Zero-based actions ``(len(rows), heads)`` from per-head scores."""
        a = np.empty((len(rows), len(scores)), dtype=np.int64)
        if self.deterministic:
            for h, s in enumerate(scores):
                a[:, h] = np.asarray(s).argmax(-1)
            return a
        u = self.draws.uniform(rows, len(scores))
        for h, s in enumerate(scores):
            p = np.asarray(s, dtype=np.float64) if self.probs else softmax(s)
            a[:, h] = inverse_cdf(p, u[:, h])
        return a


class UniformAgent:
    """``random``: every head uniform over its categories, each row drawing from its own numbers
    (:class:`RowDraws`). Same distribution as :class:`agents.RandomAgent`."""

    def __init__(self, space: spaces.Space, target: spaces.Space | None = None, spec: str = "random"):
        self.action_space = space
        self.writer = ActionWriter(space, target)
        self.n = np.asarray(self.writer.heads, dtype=np.float64)
        self._n = np.asarray(self.writer.heads, dtype=np.int64)
        self.spec = spec
        self.num_envs = 0
        self.draws = RowDraws(0)

    def bind(self, num_envs: int) -> None:
        self.num_envs = int(num_envs)
        self.draws = RowDraws(self.num_envs)

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        self.draws.reset(np.asarray(idx, dtype=np.int64), seeds)

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        heads = len(self.writer.heads)
        if out.ndim == 1 and heads == 1 or out.ndim == 2 and out.shape[1] == heads:
            # the buffer has the agent's form: one kernel call draws and writes every active row
            from agents import stream

            stream.uniform_choices(self.draws.stream, active, self._n, self.writer.start,
                                   out[:, None] if out.ndim == 1 else out)
            return
        rows = np.flatnonzero(active)
        if rows.size:
            u = self.draws.uniform(rows, len(self.n))
            self.writer.write(np.minimum((u * self.n).astype(np.int64), self.n.astype(np.int64) - 1), rows, out)


class SingleAgent:
    """An agent with only ``predict`` as a batch of **one**: ``bind(n)`` with n > 1 is refused in one line.
    At each reset the agent's ``rng`` (if it has one) becomes ``default_rng(seed)`` and ``reset()`` is
    called; the recurrent ``state`` runs through the episode, ``episode_start`` True on its first step."""

    def __init__(self, agent: Agent, *, deterministic: bool = False, target: spaces.Space | None = None,
                 spec: str | None = None, why: str | None = None):
        self.agent = agent
        self.deterministic = bool(deterministic)
        self.target = target
        self.spec = spec or getattr(agent, "spec", None) or type(agent).__name__
        self.why = why or (f"agent {self.spec!r} has only predict() and acts for one env; pass a spec string or a "
                           "BatchedAgent (agents.make_batched_agent) to act for many")
        self.num_envs = 0
        self._state: RecurrentState = None
        self._start = np.ones(1, dtype=bool)

    def bind(self, num_envs: int) -> None:
        if int(num_envs) != 1:
            raise ValueError(f"{self.why} (asked for {num_envs} envs)")
        self.num_envs = 1

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        if not len(idx):
            return
        agent = self.agent
        if hasattr(agent, "rng"):
            agent.rng = np.random.default_rng(int(seeds[0]))
        if hasattr(agent, "set_difficulty"):
            d = None if difficulty is None or np.isnan(difficulty[0]) else float(difficulty[0])
            agent.set_difficulty(d)
        if hasattr(agent, "reset"):
            agent.reset()
        self._state, self._start = None, np.ones(1, dtype=bool)

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        if not active[0]:
            return
        action, self._state = self.agent.predict(obs[0], state=self._state, episode_start=self._start,
                                                 deterministic=self.deterministic)
        self._start = np.zeros(1, dtype=bool)
        a = np.asarray(action, dtype=np.int64)
        if out.ndim == 2 and a.ndim == 0 and out.shape[1] > 1 and self.target is not None:
            out[0] = np.unravel_index(int(a), _heads_of(self.target)[0])
        else:
            out[0] = a.reshape(out.shape[1:])


class RowsAgent:
    """Several batched agents sharing one batch: env ``i`` is played by ``members[i % len(members)]``. Each
    member is bound to all N envs and acts on its own rows only."""

    def __init__(self, members: Sequence[BatchedAgent], spec: str = "rows"):
        if not members:
            raise ValueError("RowsAgent needs at least one member")
        self.members = list(members)
        self.spec = spec
        self.num_envs = 0
        self.assigned = np.zeros(0, dtype=np.int64)

    def bind(self, num_envs: int) -> None:
        self.num_envs = int(num_envs)
        self.assigned = np.arange(self.num_envs) % len(self.members)
        for m in self.members:
            m.bind(self.num_envs)

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        idx, seeds = np.asarray(idx, dtype=np.int64), np.asarray(seeds, dtype=np.int64)
        for k, m in enumerate(self.members):
            mine = self.assigned[idx] == k
            if mine.any():
                m.reset_envs(idx[mine], seeds[mine], None if difficulty is None else np.asarray(difficulty)[mine])

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        for k, m in enumerate(self.members):
            mine = active & (self.assigned == k)
            if mine.any():
                m.act(obs, mine, out)


class Mixture:
    """Two batched agents mixed row by row: each active row plays ``b``'s action with probability ``p`` and
    ``a``'s otherwise, a fresh draw per row and step from the row's own numbers. Both act on every active
    row (so recurrent members keep up), unless ``p`` is 0 (``b`` idle) or 1 (``a`` idle); their actions are
    kept in ``last_a`` and ``last_b``. ``p`` may change between calls (DAgger's schedule)."""

    def __init__(self, a: BatchedAgent, b: BatchedAgent, p: float, spec: str = "mixture"):
        self.a, self.b, self.p, self.spec = a, b, float(p), spec
        self.num_envs = 0
        self.draws = RowDraws(0)

    def bind(self, num_envs: int) -> None:
        self.num_envs = n = int(num_envs)
        self.a.bind(n)
        self.b.bind(n)
        self.draws = RowDraws(n)
        self.last_a: np.ndarray | None = None
        self.last_b: np.ndarray | None = None

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        from agents.stream import mix64_array

        seeds = np.asarray(seeds, dtype=np.int64)
        keys = mix64_array(seeds.astype(np.uint64))  # three streams from one seed: the coin, a, b
        self.draws.reset(idx, seeds)
        self.a.reset_envs(idx, (keys >> np.uint64(1)).astype(np.int64), difficulty)
        self.b.reset_envs(idx, (mix64_array(keys) >> np.uint64(1)).astype(np.int64), difficulty)

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        rows = np.flatnonzero(active)
        if not rows.size:
            return
        last_a, last_b = self.last_a, self.last_b
        if last_a is None or last_b is None or last_a.shape != out.shape:  # (both are None or neither)
            last_a, last_b = self.last_a, self.last_b = np.zeros_like(out), np.zeros_like(out)
        if self.p < 1.0:
            self.a.act(obs, active, last_a)
        if self.p > 0.0:
            self.b.act(obs, active, last_b)
        take_b = self.draws.uniform(rows)[:, 0] < self.p
        out[rows] = np.where(take_b.reshape((-1,) + (1,) * (out.ndim - 1)), last_b[rows], last_a[rows])


