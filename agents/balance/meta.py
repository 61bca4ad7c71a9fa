"""The meta of a population of duel strategies: who beats whom, the Nash mixture, exploitability.

:func:`play_payoff` plays every pair of strategies through the batched harness (:func:`agents.harness.play_duel`,
sides alternating, round ``k`` of each pair seeded ``seed + k``) and returns a :class:`Payoff`: wins, losses and
draws of row against column, the payoff ``A[i, j] = (wins - losses) / rounds`` (antisymmetric, in [-1, 1]), a
95% Wilson interval on each cell's win rate, and each strategy's move usage (moves started, counted from the
observations). The rest works on any payoff matrix of a two-player zero-sum game (the row player's payoff):

* :func:`extend_payoff`: the matrix grown by one strategy (an exploiter trained against the field).
* :func:`nash`: both players' equilibrium mixtures and the value, each by one linear program
  (``scipy.optimize.linprog``): the row player maximises ``v`` subject to ``x^T A >= v``, ``sum x = 1``, ``x >= 0``.
* :func:`exploitability`: how much a best response gains against a mixture over the game's value.
* :func:`dominance`: strategies that beat every other by a margin, and strict dominance between rows.
* :func:`move_entropy`: the entropy (bits) of the move usage at a mixture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.balance.stats import wilson_interval
from agents.harness import StepBatch, play_duel
from envs.duel.layout import F_MOVE, F_PROGRESS, N_MOVES, OPP, SELF, Move

MOVE_NAMES = tuple(m.name.lower() for m in Move if m != Move.NONE)


@dataclass
class Payoff:
    """Results of every pair of a population: ``wins[i, j]`` rounds ``i`` won against ``j`` (and so on)."""

    names: list[str]
    wins: np.ndarray  # (n, n) rounds row won against column
    losses: np.ndarray  # (n, n) rounds row lost
    draws: np.ndarray  # (n, n)
    usage: np.ndarray = field(default_factory=lambda: np.zeros((0, N_MOVES - 1)))  # (n, moves) moves started

    @property
    def rounds(self) -> np.ndarray:
        return self.wins + self.losses + self.draws

    @property
    def matrix(self) -> np.ndarray:
        """``A[i, j] = (wins - losses) / rounds`` (0 where no round was played, e.g. the diagonal)."""
        n = np.maximum(self.rounds, 1)
        return (self.wins - self.losses) / n

    def win_rate(self) -> np.ndarray:
        return self.wins / np.maximum(self.rounds, 1)

    def intervals(self) -> np.ndarray:
        """``(n, n, 2)``: the 95% Wilson interval of each cell's win rate ((0, 1) where nothing was played)."""
        k = len(self.names)
        out = np.zeros((k, k, 2))
        for i in range(k):
            for j in range(k):
                out[i, j] = wilson_interval(int(self.wins[i, j]), int(self.rounds[i, j]))
        return out


def _usage_hook(counts: np.ndarray, prev: dict[str, np.ndarray]) -> Any:
    """An ``on_step`` hook counting the moves each side starts, from the agent's observations: a move starts
    when the one-hot move changes to it, or its progress falls (the same move again)."""
    def hook(b: StepBatch) -> None:
        obs = b.obs
        for side, base in ((0, SELF), (1, OPP)):
            move = np.argmax(obs[:, base + F_MOVE: base + F_MOVE + N_MOVES], axis=1)
            prog = obs[:, base + F_PROGRESS]
            key, pkey = f"m{side}", f"p{side}"
            if key not in prev or prev[key].shape != move.shape:
                prev[key], prev[pkey] = np.zeros_like(move), np.zeros_like(prog)
            started = (move > 0) & ((move != prev[key]) | (prog < prev[pkey])) & b.live
            counts[side] += np.bincount(move[started], minlength=N_MOVES)[1:]
            prev[key], prev[pkey] = move, prog
    return hook


def play_payoff(strategies: Sequence[Any], rounds: int, *, seed: int = 0, names: Sequence[str] | None = None,
                round_seconds: float = 60.0) -> Payoff:
    """Play ``rounds`` rounds of every pair ``i < j`` of ``strategies`` (agent specs) through the batched
    harness, sides alternating; ``A[j, i]`` is the mirror of ``A[i, j]``."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1; got {rounds}")
    k = len(strategies)
    if k < 2:
        raise ValueError(f"a payoff matrix needs at least 2 strategies; got {k}")
    labels = [str(s) for s in strategies] if names is None else list(names)
    wins, losses, draws = (np.zeros((k, k), dtype=np.int64) for _ in range(3))
    usage = np.zeros((k, N_MOVES - 1), dtype=np.int64)
    for i in range(k):
        for j in range(i + 1, k):
            _play_pair(strategies[i], strategies[j], i, j, (wins, losses, draws, usage), rounds, seed, round_seconds)
    return Payoff(labels, wins, losses, draws, usage)


def _play_pair(a: Any, b: Any, i: int, j: int, tallies: tuple[np.ndarray, ...], rounds: int, seed: int,
               round_seconds: float) -> None:
    """``rounds`` rounds of ``a`` (row ``i``) against ``b`` (row ``j``), booked both ways into ``tallies``
    (wins, losses, draws, move usage)."""
    wins, losses, draws, usage = tallies
    counts = np.zeros((2, N_MOVES - 1), dtype=np.int64)
    records = play_duel(a, b, rounds, seed=seed, round_seconds=round_seconds, on_step=_usage_hook(counts, {}))
    w = sum(r.winner == "agent" for r in records)
    lo = sum(r.winner == "opponent" for r in records)
    wins[i, j], losses[i, j], draws[i, j] = w, lo, rounds - w - lo
    wins[j, i], losses[j, i], draws[j, i] = lo, w, rounds - w - lo
    usage[i] += counts[0]
    usage[j] += counts[1]


def extend_payoff(payoff: Payoff, strategy: Any, name: str, rounds: int, others: Sequence[Any], *, seed: int = 0,
                  round_seconds: float = 60.0) -> Payoff:
    """``payoff`` with one more strategy (a spec or an agent object, e.g. a trained best response) played against
    each of ``others`` (the population's strategies, in ``payoff.names`` order), as :func:`play_payoff` plays."""
    k = len(payoff.names)
    if len(others) != k:
        raise ValueError(f"extend_payoff needs the {k} strategies of the payoff; got {len(others)}")
    wins, losses, draws = (np.zeros((k + 1, k + 1), dtype=np.int64) for _ in range(3))
    for mine, old in ((wins, payoff.wins), (losses, payoff.losses), (draws, payoff.draws)):
        mine[:k, :k] = old
    usage = np.zeros((k + 1, N_MOVES - 1), dtype=np.int64)
    if payoff.usage.size:
        usage[:k] = payoff.usage
    for j in range(k):
        _play_pair(strategy, others[j], k, j, (wins, losses, draws, usage), rounds, seed, round_seconds)
    return Payoff([*payoff.names, name], wins, losses, draws, usage)


def nash(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(x, y, v)``: the row player's and the column player's equilibrium mixtures of the zero-sum game
    with row payoff ``A`` and its value, each by one linear program."""
    from scipy.optimize import linprog

    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.size == 0 or not np.all(np.isfinite(A)):
        raise ValueError(f"a payoff matrix is a finite 2-d array; got shape {A.shape}")

    def solve(M: np.ndarray) -> tuple[np.ndarray, float]:
        # maximise v: M^T x >= v, sum x = 1, x >= 0; variables (x, v), minimise -v
        m, n = M.shape
        c = np.zeros(m + 1)
        c[-1] = -1.0
        A_ub = np.hstack([-M.T, np.ones((n, 1))])
        A_eq = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
        res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[1.0],
                      bounds=[(0, None)] * m + [(None, None)], method="highs")
        if not res.success:
            raise RuntimeError(f"the Nash linear program failed: {res.message}")
        x = np.clip(res.x[:m], 0.0, None)
        return x / x.sum(), float(res.x[-1])

    x, v = solve(A)
    y, _ = solve(-A.T)
    return x, y, v


def exploitability(A: np.ndarray, mixture: np.ndarray, *, as_column: bool = True) -> float:
    """What a best response gains against ``mixture`` beyond the game's value: as the column player
    ``max_i (A y)_i - v``, as the row player ``v - min_j (x^T A)_j``. 0 at an equilibrium."""
    A = np.asarray(A, dtype=np.float64)
    p = np.asarray(mixture, dtype=np.float64)
    v = nash(A)[2]
    return float(np.max(A @ p) - v) if as_column else float(v - np.min(p @ A))


def dominance(A: np.ndarray, margin: float = 0.0) -> dict[str, Any]:
    """``beats_all``: rows whose payoff exceeds ``margin`` against every other column; ``strictly_dominates``:
    ``{i: [k, ...]}`` rows ``k`` that row ``i`` beats column by column (``A[i, j] > A[k, j]`` for every j);
    ``dominant``: rows that strictly dominate every other row (the flag)."""
    A = np.asarray(A, dtype=np.float64)
    n = A.shape[0]
    beats = [i for i in range(n) if all(A[i, j] > margin for j in range(A.shape[1]) if j != i)]
    dom: dict[int, list[int]] = {}
    for i in range(n):
        under = [k for k in range(n) if k != i and bool(np.all(A[i] > A[k]))]
        if under:
            dom[i] = under
    dominant = [i for i, under in dom.items() if len(under) == n - 1]
    return {"beats_all": beats, "strictly_dominates": dom, "dominant": dominant}


def move_entropy(usage: np.ndarray, mixture: np.ndarray) -> tuple[float, np.ndarray]:
    """``(H, share)``: the move shares at ``mixture`` (each strategy's usage normalised, then mixed) and their
    entropy in bits (``log2(8) = 3`` is every move alike)."""
    usage = np.asarray(usage, dtype=np.float64)
    rows = usage / np.maximum(usage.sum(axis=1, keepdims=True), 1.0)
    share = np.asarray(mixture, dtype=np.float64) @ rows
    total = share.sum()
    if total <= 0:
        return 0.0, share
    share = share / total
    nz = share[share > 0]
    return float(-(nz * np.log2(nz)).sum()), share


def meta_summary(payoff: Payoff, margin: float = 0.1) -> dict[str, Any]:
    """The figures of a payoff: the Nash mixture and value, each strategy's exploitability (a best response's
    payoff against it as a pure strategy), the population's (its Nash mixture's, both sides: 0 up to the
    solver's tolerance), dominance flags and the move entropy at the Nash mixture."""
    A = payoff.matrix
    x, y, v = nash(A)
    each = {name: float(np.max(A[:, j]) - v) for j, name in enumerate(payoff.names)}
    population = exploitability(A, y) + exploitability(A, x, as_column=False)
    flags = dominance(A, margin)
    out: dict[str, Any] = {
        "names": list(payoff.names), "nash": [round(float(p), 4) for p in x], "value": round(v, 4) + 0.0,
        "exploitability": {k: round(e, 4) for k, e in each.items()},
        "population_exploitability": round(max(population, 0.0), 6),
        "beats_all": [payoff.names[i] for i in flags["beats_all"]],
        "dominant": [payoff.names[i] for i in flags["dominant"]],
        "margin": margin,
    }
    if payoff.usage.size:
        h, share = move_entropy(payoff.usage, x)
        out["move_entropy_bits"] = round(h, 4) if math.isfinite(h) else None
        out["move_share"] = {name: round(float(s), 4) for name, s in zip(MOVE_NAMES, share, strict=True)}
    return out
