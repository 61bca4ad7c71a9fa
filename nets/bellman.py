"""Exact solvers for finite Markov decision processes: what the Bellman equation defines.

A :class:`TabularMDP` holds the transition function T(s2|s,a), the expected reward R(s,a) and the
discount gamma. The solvers compute

* the Bellman expectation equation for a policy pi (:func:`policy_evaluation`)::

      V_pi(s) = sum_a pi(a|s) sum_s2 T(s2|s,a) [R(s,a,s2) + gamma V_pi(s2)]

* the Bellman optimality equation (:func:`value_iteration`, :func:`policy_iteration`,
  :func:`modified_policy_iteration`)::

      V*(s) = max_a sum_s2 T(s2|s,a) [R(s,a,s2) + gamma V*(s2)]

Every solver returns a :class:`Solution` whose ``error_bound`` is a proven bound on max|V - V*|
(for gamma < 1). The iterative solvers stop when that bound is at most ``tol``; they never stop
silently at an iteration cap. Whatever they do between checks (Gauss-Seidel sweeps, closed-form
dead ends, partial evaluation), the bound comes from a rule that holds for any V: MacQueen's on a
full Jacobi backup, or the sup-norm contraction bound of a Gauss-Seidel sweep.

The hot path is one Bellman backup over all states and actions. The transitions of all actions are
stacked, state-major, into one CSR matrix of shape (S*A, S) (row ``s*A + a`` is T(.|s,a)). The numba
kernels read either that CSR or a fixed-width copy of it ("ell": (S*A, K) indices and probabilities,
padded with probability 0), chosen by :func:`choose_layout`; a sweep fuses the max, the argmax and
the extremes of the change in one pass over blocks of states, threaded on large MDPs. scipy's CSR
mat-vec is the other CPU kernel. With ``device="cpu"|"cuda"|"auto"`` the same solvers (Jacobi order)
run on torch sparse tensors instead, so a large MDP can be solved on a GPU.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

if TYPE_CHECKING:
    import torch

ROW_SUM_TOL = 1e-9  # |sum_s2 T(s2|s,a) - 1| allowed in a transition row

try:  # numba is a dependency; guard anyway so that the scipy kernel still works without it
    import numba

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    _HAVE_NUMBA = False


class ConvergenceWarning(UserWarning):
    """A solver reached ``max_iter`` before its stopping rule held; the residual is in the message."""


#: T(s2|s,a): a dense (A, S, S) array, or a sequence of A (S, S) matrices (scipy.sparse or dense).
Transitions: TypeAlias = "np.ndarray | Sequence[Any]"
#: R(s,a) as an (S, A) array, or R(s,a,s2) as an (A, S, S) array or a sequence of A (S, S) matrices.
Rewards: TypeAlias = "npt.ArrayLike | Sequence[Any]"
#: Where the solvers run: None for numpy, else a torch device ("auto", "cpu", "cuda", a ``torch.device``).
Device: TypeAlias = "str | torch.device | None"
#: A value vector inside the solvers: a NumPy array with the numpy operators, a torch tensor with the torch
#: ones. The solvers hand it from one operator call to the next without looking inside, so it is not narrowed.
_Vector: TypeAlias = Any
#: ``P[s][a]``, a toy-text env's model: a list of ``(probability, next_state, reward, terminated)``.
GymnasiumModel: TypeAlias = "Mapping[int, Mapping[int, Sequence[tuple[float, int, float, bool]]]]"


class MDPArrays(Protocol):
    """A game's MDP as plain arrays (e.g. ``envs.stealth.mdp.MDPArrays``), what :func:`mdp_from_arrays` reads."""

    @property
    def transitions(self) -> Transitions: ...

    @property
    def rewards(self) -> Rewards: ...

    @property
    def terminal(self) -> npt.ArrayLike: ...


# --------------------------------------------------------------------------------------------------
# The MDP
# --------------------------------------------------------------------------------------------------


class TabularMDP:
    """A finite MDP with S states and A actions.

    Args:
        transitions: T(s2|s,a), either a dense array of shape (A, S, S) or a sequence of A matrices
            (scipy.sparse or dense) of shape (S, S), where ``transitions[a][s, s2] = T(s2|s,a)``.
            Every row sums to 1 within 1e-9; a terminal state's rows may instead be all zero.
        rewards: the expected reward R(s,a) as an (S, A) array, or R(s,a,s2) as an (A, S, S) array
            (dense or a sequence of sparse matrices); the latter is reduced to
            R(s,a) = sum_s2 T(s2|s,a) R(s,a,s2).
        gamma: the discount, in [0, 1].
        terminal: optional boolean mask (S,) of absorbing states whose value is 0. Whatever their
            rows say, terminal states are modelled as self-loops with reward 0.

    Raises:
        ValueError: naming the problem and where it is (which action, row and column).

    Attributes:
        P: the stacked transitions, a CSR matrix (S*A, S); row ``s*A + a`` is T(.|s,a).
        R: the expected reward, float64 (S, A).
    """

    def __init__(self, transitions: Transitions, rewards: Rewards, gamma: float,
                 terminal: npt.ArrayLike | None = None) -> None:
        gamma = float(gamma)
        if not 0.0 <= gamma <= 1.0:  # also rejects NaN
            raise ValueError(f"gamma = {gamma} is outside [0, 1]")
        self.gamma = gamma
        mats = _as_csr_list(transitions, "transitions")
        n_actions = len(mats)
        n_states = mats[0].shape[0]
        if terminal is None:
            term = np.zeros(n_states, dtype=bool)
        else:
            term = np.asarray(terminal)
            if term.shape != (n_states,):
                raise ValueError(
                    f"terminal has shape {term.shape}; it must be a boolean mask of shape ({n_states},)"
                )
            term = term.astype(bool)
        for a, m in enumerate(mats):
            _check_probabilities(m, a, term)
        self.n_states, self.n_actions = n_states, n_actions
        self.terminal = term
        self.R = _expected_rewards(rewards, mats, n_states, n_actions)
        self.R[term] = 0.0
        self.P = _stack_state_major(mats, term)

    @classmethod
    def from_stacked(cls, P: sp.csr_matrix, rewards: npt.ArrayLike, gamma: float,
                     terminal: npt.ArrayLike | None = None) -> TabularMDP:
        """Build from transitions already stacked state-major: a CSR (S*A, S), row s*A + a = T(.|s,a).

        This is the solvers' own layout, so large generated MDPs skip the restacking copy. ``rewards``
        is (S, A). Validation is the same as the constructor's, with rows named (state, action).
        """
        P = sp.csr_matrix(P, dtype=np.float64)
        R = np.asarray(rewards, dtype=np.float64)
        if R.ndim != 2 or R.shape[0] * R.shape[1] != P.shape[0]:
            raise ValueError(
                f"rewards has shape {R.shape}; with P of shape {P.shape} it must be (S, A) "
                f"with S*A = {P.shape[0]}"
            )
        n_states, n_actions = R.shape
        if P.shape[1] != n_states:
            raise ValueError(
                f"P has shape {P.shape}; it must be (S*A, S) = ({n_states * n_actions}, {n_states})"
            )
        self = cls.__new__(cls)
        gamma = float(gamma)
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma = {gamma} is outside [0, 1]")
        term = np.zeros(n_states, dtype=bool) if terminal is None else np.asarray(terminal, dtype=bool)
        if term.shape != (n_states,):
            raise ValueError(
                f"terminal has shape {term.shape}; it must be a boolean mask of shape ({n_states},)"
            )
        P.sum_duplicates()
        _check_probabilities(P, None, np.repeat(term, n_actions), n_actions)
        if not np.isfinite(R).all():
            s, a = np.argwhere(~np.isfinite(R))[0]
            raise ValueError(f"the expected reward R({s}, {a}) is {R[s, a]}; rewards must be finite numbers")
        self.gamma, self.n_states, self.n_actions, self.terminal = gamma, n_states, n_actions, term
        self.R = R.copy()
        self.R[term] = 0.0
        if term.any():  # terminal states become self-loops, as in the constructor
            mats = [P[a::n_actions] for a in range(n_actions)]
            P = _stack_state_major(mats, term)
        P.sort_indices()
        self.P = P
        return self

    @property
    def shape(self) -> tuple[int, int]:
        """(S, A)."""
        return self.n_states, self.n_actions

    def transition_matrix(self, action: int) -> sp.csr_matrix:
        """T(.|.,a) as an (S, S) CSR matrix (terminal states as self-loops)."""
        return self.P[action :: self.n_actions].tocsr()

    @classmethod
    def from_gymnasium(cls, P: GymnasiumModel, gamma: float) -> TabularMDP:
        """Build the MDP of a toy-text env from its ``env.unwrapped.P`` dict.

        ``P[s][a]`` is a list of ``(probability, next_state, reward, terminated)``. A state reached
        with ``terminated=True`` is terminal (value 0); the reward of reaching it still counts.
        Works for FrozenLake, Taxi and CliffWalking.
        """
        n_states = len(P)
        n_actions = len(P[0])
        rows: list[list[int]] = [[] for _ in range(n_actions)]
        cols: list[list[int]] = [[] for _ in range(n_actions)]
        probs: list[list[float]] = [[] for _ in range(n_actions)]
        rewards = np.zeros((n_states, n_actions))
        terminal = np.zeros(n_states, dtype=bool)
        for s in range(n_states):
            if len(P[s]) != n_actions:
                raise ValueError(f"P[{s}] has {len(P[s])} actions; P[0] has {n_actions}")
            for a in range(n_actions):
                for prob, s2, reward, done in P[s][a]:
                    rows[a].append(s)
                    cols[a].append(int(s2))
                    probs[a].append(float(prob))
                    rewards[s, a] += prob * reward
                    if done:
                        terminal[int(s2)] = True
        mats = [
            sp.csr_matrix((probs[a], (rows[a], cols[a])), shape=(n_states, n_states))
            for a in range(n_actions)
        ]
        return cls(mats, rewards, gamma, terminal=terminal)

    def __repr__(self) -> str:
        return (
            f"TabularMDP(states={self.n_states}, actions={self.n_actions}, nonzeros={self.P.nnz}, "
            f"gamma={self.gamma}, terminal={int(self.terminal.sum())})"
        )


def _as_csr_list(transitions: Transitions, name: str) -> list[sp.csr_matrix]:
    """A list of A float64 CSR matrices, all S x S, or a ValueError naming the bad one."""
    if isinstance(transitions, np.ndarray) or (
        not sp.issparse(transitions) and not isinstance(transitions, Sequence)
    ):
        arr = np.asarray(transitions, dtype=np.float64)
        if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
            raise ValueError(f"{name} has shape {arr.shape}; a dense array must be (A, S, S)")
        items = list(arr)
    elif sp.issparse(transitions):
        raise ValueError(f"{name} is a single sparse matrix; pass a list of A sparse (S, S) matrices")
    else:
        items = list(transitions)
    if not items:
        raise ValueError(f"{name} is empty; it needs at least one action")
    mats: list[sp.csr_matrix] = []
    for a, m in enumerate(items):
        m = (
            sp.csr_matrix(m, dtype=np.float64)
            if sp.issparse(m)
            else sp.csr_matrix(np.asarray(m, dtype=np.float64))
        )
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"{name}[{a}] has shape {m.shape}; every action's matrix must be square (S, S)")
        if mats and m.shape != mats[0].shape:
            raise ValueError(f"{name}[{a}] has shape {m.shape}, but {name}[0] has shape {mats[0].shape}")
        m.sum_duplicates()
        mats.append(m)
    return mats


def _first_coord(m: sp.csr_matrix, mask: np.ndarray) -> tuple[int, int]:
    """(row, col) of the first stored entry of ``m`` where ``mask`` (over ``m.data``) is True."""
    k = int(np.flatnonzero(mask)[0])
    row = int(np.searchsorted(m.indptr, k, side="right") - 1)
    return row, int(m.indices[k])


def _check_probabilities(m: sp.csr_matrix, a: int | None, terminal: np.ndarray, n_actions: int = 0) -> None:
    """Entries finite and >= 0, rows summing to 1 (terminal rows may be empty).

    ``a`` names the action of an (S, S) matrix; with ``a=None`` the rows are stacked state-major and
    row r is named as (state r // n_actions, action r % n_actions).
    """

    def where(row: int, col: int | None = None) -> str:
        if a is not None:
            return f"transitions[{a}]" + (f"[{row}, {col}]" if col is not None else f" row {row}")
        s, act = divmod(row, n_actions)
        return f"T(.|s={s}, a={act})" + (f" at s2={col}" if col is not None else "")

    if not np.isfinite(m.data).all():
        r, c = _first_coord(m, ~np.isfinite(m.data))
        raise ValueError(f"{where(r, c)} is {m[r, c]}; probabilities must be finite")
    if (m.data < 0).any():
        r, c = _first_coord(m, m.data < 0)
        raise ValueError(f"{where(r, c)} = {m[r, c]:.6g} is negative; probabilities must be >= 0")
    sums = np.asarray(m.sum(axis=1)).ravel()
    bad = np.abs(sums - 1.0) > ROW_SUM_TOL
    bad &= ~(terminal & (sums == 0.0))
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where(r)} sums to {sums[r]:.12g}; every row must sum to 1 within {ROW_SUM_TOL:g}"
            + (f" ({int(bad.sum())} rows are off)" if bad.sum() > 1 else "")
        )


def _expected_rewards(rewards: Rewards, mats: list[sp.csr_matrix], n_states: int, n_actions: int) -> np.ndarray:
    if isinstance(rewards, np.ndarray) or not isinstance(rewards, Sequence):
        arr = np.asarray(rewards, dtype=np.float64)
        if arr.shape == (n_states, n_actions):
            r = arr.copy()
        elif arr.shape == (n_actions, n_states, n_states):
            r = np.stack(
                [np.asarray(mats[a].multiply(arr[a]).sum(axis=1)).ravel() for a in range(n_actions)], 1
            )
        else:
            raise ValueError(
                f"rewards has shape {arr.shape}; valid shapes are (S, A) = ({n_states}, {n_actions}) "
                f"or (A, S, S) = ({n_actions}, {n_states}, {n_states})"
            )
    else:  # a sequence of A (S, S) matrices: R(s,a,s2)
        items = list(rewards)
        if len(items) != n_actions:
            raise ValueError(f"rewards has {len(items)} matrices; it needs one per action ({n_actions})")
        cols = []
        for a, m in enumerate(items):
            m = sp.csr_matrix(m, dtype=np.float64)
            if m.shape != (n_states, n_states):
                raise ValueError(
                    f"rewards[{a}] has shape {m.shape}; it must be (S, S) = ({n_states}, {n_states})"
                )
            cols.append(np.asarray(mats[a].multiply(m).sum(axis=1)).ravel())
        r = np.stack(cols, 1)
    if not np.isfinite(r).all():
        s, a = np.argwhere(~np.isfinite(r))[0]
        raise ValueError(f"the expected reward R({s}, {a}) is {r[s, a]}; rewards must be finite numbers")
    return r


def _stack_state_major(mats: list[sp.csr_matrix], terminal: np.ndarray) -> sp.csr_matrix:
    """Stack (S, S) matrices into one CSR (S*A, S), row s*A + a; terminal rows become self-loops."""
    n_actions = len(mats)
    n_states = mats[0].shape[0]
    if terminal.any():
        keep = sp.diags((~terminal).astype(np.float64))
        loops = sp.diags(terminal.astype(np.float64))
        mats = [(keep @ m + loops).tocsr() for m in mats]
    stacked = sp.vstack(mats, format="coo")
    # vstack puts action a's row s at a*S + s; renumber to s*A + a.
    row = stacked.row.astype(np.int64)
    new_row = (row % n_states) * n_actions + row // n_states
    out = sp.csr_matrix((stacked.data, (new_row, stacked.col)), shape=(n_states * n_actions, n_states))
    out.sum_duplicates()
    out.eliminate_zeros()
    out.sort_indices()
    return out


# --------------------------------------------------------------------------------------------------
# Results and bounds
# --------------------------------------------------------------------------------------------------


@dataclass
class Solution:
    """The result of a solver.

    Attributes:
        V: state values (S,).
        Q: action values Q(s,a) = R(s,a) + gamma sum_s2 T(s2|s,a) V(s2), (S, A).
        policy: the greedy policy argmax_a Q(s,a), (S,) ints (lowest index on ties).
        iterations: sweeps (value iteration), improvement steps (policy iteration, MPI).
        residuals: per iteration, max|V_{k+1} - V_k| (value iteration) or max|TV - V| (others).
        error_bound: a proven bound on max|V - V*| (nan where none holds, as for gamma = 1).
        converged: False when ``max_iter`` stopped the solver first (a ConvergenceWarning said so).
        method: which solver produced it.
        seconds: wall time.
        evaluation_sweeps: partial-evaluation sweeps (modified policy iteration), on S rows each.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    residuals: np.ndarray
    error_bound: float
    converged: bool
    method: str
    seconds: float = 0.0
    evaluation_sweeps: int = 0


def _macqueen(gamma: float, d_min: float, d_max: float) -> tuple[float, float]:
    """Shift and error bound from the span of d = TV - V (MacQueen 1966; Puterman Thm 6.6.6).

    For gamma < 1, TV + gamma/(1-gamma) min(d) <= V* <= TV + gamma/(1-gamma) max(d), elementwise.
    So V' = TV + gamma/(1-gamma) (max d + min d)/2 satisfies
    max|V' - V*| <= gamma/(1-gamma) (max d - min d)/2. Returns (shift, bound).
    """
    c = gamma / (1.0 - gamma)
    return c * (d_max + d_min) / 2.0, c * (d_max - d_min) / 2.0


def _stopping_rule(gamma: float, tol: float, d_max: float, d_min: float, TV: _Vector,
                   residuals: list[float]) -> tuple[bool, _Vector | None, float]:
    """The solvers' shared stopping rule, given a Jacobi backup TV of V and d = TV - V's extremes.

    Appends max|d| to residuals. gamma < 1: stop when MacQueen's bound is <= tol, returning the
    midpoint-corrected TV and the bound. gamma = 1: stop when max|d| < tol, returning TV and no bound
    (nan). Returns (stop, values to return, bound).
    """
    residuals.append(max(abs(d_max), abs(d_min)))
    if gamma < 1.0:
        shift, bound = _macqueen(gamma, d_min, d_max)
        stop = bound <= tol
        return stop, (TV + shift if stop else None), bound
    return residuals[-1] < tol, TV, math.nan


def _default_max_iter(mdp: TabularMDP, tol: float) -> int:
    """Sweeps after which the sup-norm contraction alone guarantees tol (gamma < 1), else 10^6."""
    gamma = mdp.gamma
    if gamma >= 1.0:
        return 1_000_000
    if gamma == 0.0:
        return 2
    scale = float(np.abs(mdp.R).max()) / (1.0 - gamma)
    if scale * 2.0 <= tol * (1.0 - gamma):  # zero rewards: V* = 0, one sweep proves it
        return 2
    return int(math.ceil(math.log(tol * (1.0 - gamma) / (2.0 * scale)) / math.log(gamma))) + 10


# --------------------------------------------------------------------------------------------------
# Kernels: the Bellman backup on numpy (numba or scipy) and on torch
# --------------------------------------------------------------------------------------------------
#
# Two layouts of the stacked transitions (row s*A + a is T(.|s,a)):
#
# * "ell", fixed width: an (S*A, K) index array (int32) and an (S*A, K) probability array, K the
#   longest row, short rows padded with probability 0 (and the row's own state as index, so the
#   padding reads a cached value). A row is K consecutive entries: no row pointers, a loop of fixed
#   length. Game MDPs have a few successors per state-action, all about as many, so this is the
#   fast layout; it holds exactly CSR's entries in CSR's order, so the sums are bit-for-bit equal.
# * "csr": the compressed rows of ``mdp.P``, for irregular MDPs where padding to the longest row
#   would cost more than the row pointers.
#
# "auto" picks ell when the padded size is at most ELL_MAX_PADDING times the nonzeros.
#
# One kernel per layout and sweep order does a greedy backup over states lo..hi in blocks, fusing the
# max, the argmax and the extremes of the change (for the stopping rule) into the one pass. The
# partial-evaluation operator T_pi is the same kernel on the policy's rows with one action.

# Threads (numba prange over blocks of states) only from this many stored entries. On the shared 2-core
# machine (ell layout, one full sweep): at load 9, 2.3M nonzeros 12.9 ms threaded vs 7.4 serial, 9.2M
# 80 vs 84; at 23M, 36 vs 48 ms at load 1.5 but 187 vs 174 ms at load 9.6. Threads pay only on large
# MDPs, and only when the second core is free.
PARALLEL_MIN_NNZ = 5_000_000
ELL_MAX_PADDING = 1.5  # ell when S*A*K_max <= this * nnz
BLOCK = 16_384  # states per block of a threaded sweep (the unit of Gauss-Seidel locality when threaded)
LAYOUTS = ("auto", "ell", "csr")
ORDERS = ("auto", "jacobi", "gauss-seidel")
AUTO_ORDER_TRIAL = 16  # value iteration, order="auto": Gauss-Seidel sweeps before deciding whether it pays


def _sweep_ell(idx: np.ndarray, prob: np.ndarray, R: np.ndarray, gamma: float, V: np.ndarray, out: np.ndarray,
               policy: np.ndarray, block: int, stats: np.ndarray) -> None:  # pragma: no cover - compiled
    """Jacobi greedy backup: out[s] = max_a R[s,a] + gamma sum_j prob[s*A+a, j] V[idx[s*A+a, j]].

    policy[s] = argmax (lowest index on ties); stats[b] = (max, min) of out - V over block b.
    """
    n_states, n_actions = R.shape
    width = idx.shape[1]
    for b in _prange((n_states + block - 1) // block):
        lo = b * block
        hi = min(n_states, lo + block)
        d_max = -np.inf
        d_min = np.inf
        for s in range(lo, hi):
            best = -np.inf
            arg = 0
            for a in range(n_actions):
                row = s * n_actions + a
                acc = 0.0
                for j in range(width):
                    acc += prob[row, j] * V[idx[row, j]]
                q = R[s, a] + gamma * acc
                if q > best:
                    best = q
                    arg = a
            out[s] = best
            policy[s] = arg
            d = best - V[s]
            d_max = max(d_max, d)
            d_min = min(d_min, d)
        stats[b, 0] = d_max
        stats[b, 1] = d_min


def _sweep_csr(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, R: np.ndarray, gamma: float,
               V: np.ndarray, out: np.ndarray, policy: np.ndarray, block: int,
               stats: np.ndarray) -> None:  # pragma: no cover
    """:func:`_sweep_ell` on CSR rows."""
    n_states, n_actions = R.shape
    for b in _prange((n_states + block - 1) // block):
        lo = b * block
        hi = min(n_states, lo + block)
        d_max = -np.inf
        d_min = np.inf
        for s in range(lo, hi):
            best = -np.inf
            arg = 0
            for a in range(n_actions):
                row = s * n_actions + a
                acc = 0.0
                for k in range(indptr[row], indptr[row + 1]):
                    acc += data[k] * V[indices[k]]
                q = R[s, a] + gamma * acc
                if q > best:
                    best = q
                    arg = a
            out[s] = best
            policy[s] = arg
            d = best - V[s]
            d_max = max(d_max, d)
            d_min = min(d_min, d)
        stats[b, 0] = d_max
        stats[b, 1] = d_min


def _gs_ell(idx: np.ndarray, prob: np.ndarray, R: np.ndarray, gamma: float, V: np.ndarray, out: np.ndarray,
            policy: np.ndarray, block: int, stats: np.ndarray, reverse: bool) -> None:  # pragma: no cover - compiled
    """Gauss-Seidel greedy backup in blocks: within a block, states are updated in order (ascending,
    or descending with ``reverse``) and each reads the values already updated in its block; values of
    other blocks are read from V as they were before the sweep. With one block this is plain
    Gauss-Seidel; the result never depends on the thread count. out gets the new values (V is not
    written); stats as in :func:`_sweep_ell`, of out - V.
    """
    n_states, n_actions = R.shape
    width = idx.shape[1]
    for b in _prange((n_states + block - 1) // block):
        lo = b * block
        hi = min(n_states, lo + block)
        size = hi - lo
        for s in range(lo, hi):
            out[s] = V[s]
        d_max = -np.inf
        d_min = np.inf
        for i in range(size):
            s = hi - 1 - i if reverse else lo + i
            best = -np.inf
            arg = 0
            for a in range(n_actions):
                row = s * n_actions + a
                acc = 0.0
                for j in range(width):
                    t = idx[row, j]
                    acc += prob[row, j] * (out[t] if lo <= t < hi else V[t])
                q = R[s, a] + gamma * acc
                if q > best:
                    best = q
                    arg = a
            out[s] = best
            policy[s] = arg
            d = best - V[s]
            d_max = max(d_max, d)
            d_min = min(d_min, d)
        stats[b, 0] = d_max
        stats[b, 1] = d_min


def _gs_csr(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, R: np.ndarray, gamma: float,
            V: np.ndarray, out: np.ndarray, policy: np.ndarray, block: int, stats: np.ndarray,
            reverse: bool) -> None:  # pragma: no cover
    """:func:`_gs_ell` on CSR rows."""
    n_states, n_actions = R.shape
    for b in _prange((n_states + block - 1) // block):
        lo = b * block
        hi = min(n_states, lo + block)
        size = hi - lo
        for s in range(lo, hi):
            out[s] = V[s]
        d_max = -np.inf
        d_min = np.inf
        for i in range(size):
            s = hi - 1 - i if reverse else lo + i
            best = -np.inf
            arg = 0
            for a in range(n_actions):
                row = s * n_actions + a
                acc = 0.0
                for k in range(indptr[row], indptr[row + 1]):
                    t = indices[k]
                    acc += data[k] * (out[t] if lo <= t < hi else V[t])
                q = R[s, a] + gamma * acc
                if q > best:
                    best = q
                    arg = a
            out[s] = best
            policy[s] = arg
            d = best - V[s]
            d_max = max(d_max, d)
            d_min = min(d_min, d)
        stats[b, 0] = d_max
        stats[b, 1] = d_min


def _gather_rows_ell(idx: np.ndarray, prob: np.ndarray, rows: np.ndarray, new_idx: np.ndarray,
                     new_prob: np.ndarray) -> None:  # pragma: no cover - compiled
    """new_idx[i], new_prob[i] = idx[rows[i]], prob[rows[i]]: the chosen actions' rows, compact."""
    for i in _prange(rows.shape[0]):
        for j in range(idx.shape[1]):
            new_idx[i, j] = idx[rows[i], j]
            new_prob[i, j] = prob[rows[i], j]


def _extract_rows_kernel(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, rows: np.ndarray,
                         new_indptr: np.ndarray, new_indices: np.ndarray,
                         new_data: np.ndarray) -> None:  # pragma: no cover
    """Copy the CSR rows ``rows`` into a compact CSR whose indptr ``new_indptr`` is precomputed."""
    for i in _prange(rows.shape[0]):
        src = indptr[rows[i]]
        dst = new_indptr[i]
        for j in range(new_indptr[i + 1] - dst):
            new_indices[dst + j] = indices[src + j]
            new_data[dst + j] = data[src + j]


def _constant_future_kernel(ptr: np.ndarray, width: int, succ: np.ndarray, prob: np.ndarray, R: np.ndarray,
                            policy: np.ndarray, r_pi: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """States whose every future reward under ``policy`` equals the reward they collect now.

    Policy rows: row = s*A + policy[s]; its entries are ptr[row]..ptr[row+1] (CSR, width = 0) or
    row*width..row*width+width (ell). Writes r_pi[s] = R[s, policy[s]]. A state is "mixed" when a
    successor (probability > 0) has a different r_pi; a state that can reach a mixed state can
    reach a reward change; the others can only ever collect r_pi[s]. Backward breadth-first search
    from the mixed states over the reversed edges. Returns a boolean mask of the others.
    """
    n, n_actions = R.shape
    start = np.empty(n, dtype=np.int64)
    end = np.empty(n, dtype=np.int64)
    for s in range(n):
        row = s * n_actions + policy[s]
        r_pi[s] = R[s, policy[s]]
        if width > 0:
            start[s] = row * width
            end[s] = row * width + width
        else:
            start[s] = ptr[row]
            end[s] = ptr[row + 1]
    seen = np.zeros(n, dtype=np.bool_)
    queue = np.empty(n, dtype=np.int64)
    tail = 0
    for s in range(n):
        for k in range(start[s], end[s]):
            if prob[k] > 0.0 and r_pi[succ[k]] != r_pi[s]:
                seen[s] = True
                queue[tail] = s
                tail += 1
                break
    if tail == n:
        return ~seen
    # reversed edges in CSR form: pred_ptr[t]..pred_ptr[t+1] lists the states with an edge to t
    pred_ptr = np.zeros(n + 1, dtype=np.int64)
    for s in range(n):
        for k in range(start[s], end[s]):
            if prob[k] > 0.0:
                pred_ptr[succ[k] + 1] += 1
    for t in range(n):
        pred_ptr[t + 1] += pred_ptr[t]
    fill = pred_ptr[:-1].copy()
    preds = np.empty(pred_ptr[n], dtype=np.int64)
    for s in range(n):
        for k in range(start[s], end[s]):
            if prob[k] > 0.0:
                t = succ[k]
                preds[fill[t]] = s
                fill[t] += 1
    head = 0
    while head < tail:
        t = queue[head]
        head += 1
        for k in range(pred_ptr[t], pred_ptr[t + 1]):
            p = preds[k]
            if not seen[p]:
                seen[p] = True
                queue[tail] = p
                tail += 1
    return ~seen


def _policy_rows_kernel(R: np.ndarray, policy: np.ndarray, rows: np.ndarray,
                        r_pi: np.ndarray) -> None:  # pragma: no cover - compiled
    """rows[s] = s*A + policy[s] and r_pi[s] = R[s, policy[s]] (numpy's 2-D fancy indexing is slow)."""
    n_actions = R.shape[1]
    for s in _prange(R.shape[0]):
        rows[s] = s * n_actions + policy[s]
        r_pi[s] = R[s, policy[s]]


#: A numba-compiled kernel (numba's dispatcher; mypy does not see through the compilation).
_Kernel: TypeAlias = Callable[..., Any]
#: The kernels' loop over blocks: numba.prange (threads when compiled with parallel=True), else range.
_prange: Callable[[int], Iterable[int]]

if _HAVE_NUMBA:
    _prange = numba.prange

    def _compile(fn: _Kernel, parallel_too: bool = True) -> tuple[_Kernel, _Kernel]:
        """(parallel, serial) compilations; small MDPs use the serial one."""
        serial = numba.njit(cache=True)(fn)
        return (numba.njit(parallel=True, cache=True)(fn) if parallel_too else serial), serial

    _NB_SWEEP = {"ell": _compile(_sweep_ell), "csr": _compile(_sweep_csr)}
    _NB_GS = {"ell": _compile(_gs_ell), "csr": _compile(_gs_csr)}
    _NB_GATHER_ELL = _compile(_gather_rows_ell)
    _NB_EXTRACT = _compile(_extract_rows_kernel)
    _NB_CONSTANT_FUTURE = numba.njit(cache=True)(_constant_future_kernel)
    _NB_POLICY_ROWS = _compile(_policy_rows_kernel)
else:  # pragma: no cover
    _prange = range


def _ell_arrays(P: sp.csr_matrix, n_actions: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed-width layout of a state-major CSR: (S*A, K) int32 indices and float64 probabilities.

    Row r holds CSR row r's entries in CSR order, then padding: probability 0 at the row's own state.
    """
    lengths = np.diff(P.indptr)
    width = max(1, int(lengths.max(initial=0)))
    rows = P.shape[0]
    own = (np.arange(rows, dtype=np.int64) // n_actions).astype(np.int32)
    idx = np.repeat(own[:, None], width, axis=1)
    prob = np.zeros((rows, width))
    row_of = np.repeat(np.arange(rows), lengths)
    pos = np.arange(P.nnz) - P.indptr[row_of]
    idx[row_of, pos] = P.indices
    prob[row_of, pos] = P.data
    return idx, prob


def choose_layout(mdp: TabularMDP) -> str:
    """Layout "ell" when padding every row to the longest costs at most ELL_MAX_PADDING x the nonzeros."""
    lengths = np.diff(mdp.P.indptr)
    width = max(1, int(lengths.max(initial=0)))
    return "ell" if width * mdp.P.shape[0] <= ELL_MAX_PADDING * max(1, mdp.P.nnz) else "csr"


class _RowsOperator:
    """A greedy backup over rows stored in one layout: the MDP's (S*A rows) or one policy's (S rows).

    ``sweep`` is the Jacobi backup, ``gauss_seidel`` the in-block Gauss-Seidel one; both return
    (new values, greedy policy, max and min of the change).
    """

    def __init__(self, layout: str, arrays: tuple[np.ndarray, ...], R: np.ndarray, gamma: float, parallel: bool):
        self.layout, self.arrays, self.R, self.gamma = layout, arrays, R, gamma
        self.S = R.shape[0]
        variant = 0 if parallel else 1
        self._sweep = _NB_SWEEP[layout][variant]
        self._gs = _NB_GS[layout][variant]
        self.block = BLOCK if parallel else max(1, self.S)
        self._stats = np.empty(((self.S + self.block - 1) // self.block, 2))
        self._policy = np.empty(self.S, dtype=np.int64)

    def sweep(self, V: np.ndarray, out: np.ndarray | None = None,
              policy: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
        out = np.empty(self.S) if out is None else out
        policy = self._policy if policy is None else policy
        self._sweep(*self.arrays, self.R, self.gamma, V, out, policy, self.block, self._stats)
        return out, policy, float(self._stats[:, 0].max()), float(self._stats[:, 1].min())

    def gauss_seidel(self, V: np.ndarray, out: np.ndarray | None = None, policy: np.ndarray | None = None,
                     reverse: bool = False) -> tuple[np.ndarray, np.ndarray, float, float]:
        out = np.empty(self.S) if out is None else out
        policy = self._policy if policy is None else policy
        self._gs(*self.arrays, self.R, self.gamma, V, out, policy, self.block, self._stats, reverse)
        return out, policy, float(self._stats[:, 0].max()), float(self._stats[:, 1].min())


class _NumpyOps:
    """Bellman operators on numpy arrays: numba kernels on the "ell" or "csr" layout, or scipy's CSR.

    ``kernel`` is "auto" (numba when installed), "numba" or "scipy"; ``layout`` is "auto", "ell" or
    "csr" (numba only; scipy is always CSR).
    """

    def __init__(self, mdp: TabularMDP, kernel: str = "auto", layout: str = "auto", threads: str = "auto"):
        if kernel == "auto":
            kernel = "numba" if _HAVE_NUMBA else "scipy"
        if kernel == "numba" and not _HAVE_NUMBA:
            raise ValueError("kernel='numba' needs numba installed; use kernel='scipy'")
        if kernel not in ("numba", "scipy"):
            raise ValueError(f"unknown kernel {kernel!r}; valid: auto, numba, scipy")
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
        if threads not in ("auto", "serial", "parallel"):
            raise ValueError(f"unknown threads {threads!r}; valid: auto, serial, parallel")
        if kernel == "scipy":
            if layout == "ell":
                raise ValueError("layout='ell' needs kernel='numba'; scipy's kernel reads CSR")
            layout = "csr"
        elif layout == "auto":
            layout = choose_layout(mdp)
        self.kernel, self.layout = kernel, layout
        self.mdp = mdp
        self.P, self.R, self.gamma = mdp.P, mdp.R, mdp.gamma
        self.S, self.A = mdp.shape
        self.parallel = mdp.P.nnz >= PARALLEL_MIN_NNZ if threads == "auto" else threads == "parallel"
        if kernel == "numba":
            arrays = _ell_arrays(self.P, self.A) if layout == "ell" else (self.P.indptr, self.P.indices, self.P.data)
            self.rows = _RowsOperator(layout, arrays, self.R, self.gamma, self.parallel)
        self._buffers: dict[str, np.ndarray] = {}

    @property
    def supports_gauss_seidel(self) -> bool:
        return self.kernel == "numba"

    def zeros(self) -> np.ndarray:
        return np.zeros(self.S)

    def q(self, V: np.ndarray) -> np.ndarray:
        """Q(s,a) = R(s,a) + gamma sum_s2 T(s2|s,a) V(s2), (S, A)."""
        return self.R + self.gamma * (self.P @ V).reshape(self.S, self.A)

    def sweep(self, V: np.ndarray, out: np.ndarray | None = None,
              policy: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(TV, greedy policy, max(TV - V), min(TV - V)) in one pass."""
        if self.kernel == "numba":
            return self.rows.sweep(V, out, policy)
        Q = self.q(V)
        policy = np.argmax(Q, axis=1)
        TV = Q[np.arange(self.S), policy]
        d = TV - V
        return TV, policy, float(d.max()), float(d.min())

    def gauss_seidel(self, V: np.ndarray, out: np.ndarray | None = None, policy: np.ndarray | None = None,
                     reverse: bool = False) -> tuple[np.ndarray, np.ndarray, float, float]:
        return self.rows.gauss_seidel(V, out, policy, reverse)

    def policy_operator(self, policy: npt.ArrayLike) -> _RowsOperator | _ScipyPolicyOperator:
        """T_pi for a deterministic pi: an operator on pi's rows, copied into a compact layout, so
        each partial-evaluation sweep reads only the chosen actions' entries, contiguously.

        The copy lives in buffers kept from call to call (fresh pages cost as much as a sweep here),
        so an operator is valid until the next call.
        """
        policy = np.asarray(policy, dtype=np.int64)
        rows, r_pi = self._policy_rows(policy)
        if self.kernel != "numba":
            return _ScipyPolicyOperator(self.P[rows], r_pi.copy(), self.gamma)
        variant = 0 if self.parallel else 1
        buf = self._buffers
        if self.layout == "ell":
            idx, prob = self.rows.arrays
            if "pi_idx" not in buf:
                buf["pi_idx"] = np.empty((self.S, idx.shape[1]), dtype=idx.dtype)
                buf["pi_prob"] = np.empty((self.S, idx.shape[1]))
            _NB_GATHER_ELL[variant](idx, prob, rows, buf["pi_idx"], buf["pi_prob"])
            arrays: tuple[np.ndarray, ...] = (buf["pi_idx"], buf["pi_prob"])
        else:
            P = self.P
            indptr = np.zeros(self.S + 1, dtype=P.indptr.dtype)
            np.cumsum(P.indptr[rows + 1] - P.indptr[rows], out=indptr[1:])
            nnz = int(indptr[-1])
            if buf.get("pi_data", np.empty(0)).shape[0] < nnz:
                buf["pi_indices"] = np.empty(nnz, dtype=P.indices.dtype)
                buf["pi_data"] = np.empty(nnz)
            indices, data = buf["pi_indices"], buf["pi_data"]
            _NB_EXTRACT[variant](P.indptr, P.indices, P.data, rows, indptr, indices, data)
            arrays = (indptr, indices, data)
        return _RowsOperator(self.layout, arrays, r_pi[:, None], self.gamma, self.parallel)

    def _policy_rows(self, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows s*A + pi(s), r_pi) in reused buffers."""
        buf = self._buffers
        if "rows" not in buf:
            buf["rows"], buf["r_pi"] = np.empty(self.S, dtype=np.int64), np.empty(self.S)
        if self.kernel == "numba":
            _NB_POLICY_ROWS[0 if self.parallel else 1](self.R, policy, buf["rows"], buf["r_pi"])
        else:
            np.add(np.arange(self.S) * self.A, policy, out=buf["rows"])
            np.take(self.R.reshape(-1), buf["rows"], out=buf["r_pi"])
        return buf["rows"], buf["r_pi"]

    def constant_future(self, policy: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(mask, r_pi): the states from which pi only ever collects the reward it collects there,
        and pi's rewards (S,). See :class:`_DeadEnds`."""
        ell = self.rows.arrays if self.kernel == "numba" and self.layout == "ell" else None
        return _constant_future(self.mdp, np.asarray(policy, dtype=np.int64), ell)

    def to_numpy(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x)

    def from_numpy(self, x: npt.ArrayLike) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)


def _constant_future(mdp: TabularMDP, policy: np.ndarray,
                     ell: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mask, r_pi) of :func:`_constant_future_kernel`, on the ell arrays when given, else on CSR."""
    if ell is not None:
        idx, prob = ell
        ptr, width, succ, data = mdp.P.indptr, idx.shape[1], idx.reshape(-1), prob.reshape(-1)
    else:
        ptr, width, succ, data = mdp.P.indptr, 0, mdp.P.indices, mdp.P.data
    r_pi = np.empty(mdp.n_states)
    kernel = _NB_CONSTANT_FUTURE if _HAVE_NUMBA else _constant_future_kernel
    return kernel(ptr, width, succ, data, mdp.R, policy, r_pi), r_pi


class _ScipyPolicyOperator:
    """T_pi with scipy's CSR mat-vec (Jacobi only)."""

    def __init__(self, P_pi: sp.csr_matrix, r_pi: np.ndarray, gamma: float):
        self.P_pi, self.r_pi, self.gamma = P_pi, r_pi, gamma
        self.S = r_pi.shape[0]
        self._zeros = np.zeros(self.S, dtype=np.int64)

    def sweep(self, V: np.ndarray, out: np.ndarray | None = None,
              policy: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float, float]:
        new = self.r_pi + self.gamma * (self.P_pi @ V)
        d = new - V
        return new, self._zeros, float(d.max()), float(d.min())


class _TorchOps:
    """The same operators on torch sparse CSR tensors, on any device (float64 throughout).

    Gauss-Seidel sweeps are sequential by nature and exist on the numpy kernels only; the dead-end
    test runs on the CPU copy of the transitions (only the policy crosses over).
    """

    supports_gauss_seidel = False
    layout = "torch"

    def __init__(self, mdp: TabularMDP, device: str | torch.device):
        import torch

        from nets.device import resolve_device

        self.torch = torch
        self.device = resolve_device(device)
        self.mdp = mdp
        self.S, self.A = mdp.shape
        self.gamma = mdp.gamma
        P = mdp.P
        with warnings.catch_warnings():  # torch flags sparse CSR as beta; the mat-vec used here is stable
            warnings.simplefilter("ignore", UserWarning)
            self.P = torch.sparse_csr_tensor(
                torch.from_numpy(P.indptr.astype(np.int64)),
                torch.from_numpy(P.indices.astype(np.int64)),
                torch.from_numpy(P.data),
                size=P.shape,
                dtype=torch.float64,
                check_invariants=False,
            ).to(self.device)
        self.R = torch.from_numpy(mdp.R).to(self.device)

    def zeros(self) -> torch.Tensor:
        return self.torch.zeros(self.S, dtype=self.torch.float64, device=self.device)

    def q(self, V: torch.Tensor) -> torch.Tensor:
        return self.R + self.gamma * self.torch.mv(self.P, V).reshape(self.S, self.A)

    def sweep(self, V: torch.Tensor, out: torch.Tensor | None = None,
              policy: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        TV, policy = self.q(V).max(dim=1)
        d = TV - V
        return TV, policy, float(d.max()), float(d.min())

    def policy_operator(self, policy: torch.Tensor) -> _TorchPolicyOperator:
        """T_pi on torch: P_pi's rows gathered once into a compact sparse CSR tensor."""
        torch = self.torch
        rows = torch.arange(self.S, device=self.device) * self.A + policy
        crow, col, val = self.P.crow_indices(), self.P.col_indices(), self.P.values()
        lengths = crow[rows + 1] - crow[rows]
        new_crow = torch.zeros(self.S + 1, dtype=crow.dtype, device=self.device)
        new_crow[1:] = torch.cumsum(lengths, 0)
        # position of each kept nonzero in the original arrays
        starts = torch.repeat_interleave(crow[rows], lengths)
        offsets = torch.arange(int(new_crow[-1]), device=self.device) - torch.repeat_interleave(
            new_crow[:-1], lengths
        )
        src = starts + offsets
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            P_pi = torch.sparse_csr_tensor(
                new_crow, col[src], val[src], size=(self.S, self.S), check_invariants=False
            )
        r_pi = self.R.gather(1, policy.view(-1, 1)).view(-1)
        return _TorchPolicyOperator(torch, P_pi, r_pi, self.gamma, policy)

    def constant_future(self, policy: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        return _constant_future(self.mdp, self.to_numpy(policy).astype(np.int64))

    def to_numpy(self, x: torch.Tensor) -> np.ndarray:
        return x.detach().cpu().numpy()

    def from_numpy(self, x: npt.ArrayLike) -> torch.Tensor:
        return self.torch.from_numpy(np.asarray(x, dtype=np.float64)).to(self.device)


class _TorchPolicyOperator:
    def __init__(self, torch: ModuleType, P_pi: torch.Tensor, r_pi: torch.Tensor, gamma: float,
                 policy: torch.Tensor):
        self.torch, self.P_pi, self.r_pi, self.gamma, self.policy = torch, P_pi, r_pi, gamma, policy

    def sweep(self, V: torch.Tensor, out: torch.Tensor | None = None,
              policy: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        new = self.r_pi + self.gamma * self.torch.mv(self.P_pi, V)
        d = new - V
        return new, self.policy, float(d.max()), float(d.min())


def _finish(mdp: TabularMDP, ops: _Ops, V: _Vector, iterations: int, residuals: list[float], bound: float,
            converged: bool, method: str, t0: float) -> Solution:
    V = ops.to_numpy(V).astype(np.float64, copy=True)
    V[mdp.terminal] = 0.0  # known exactly
    Q = mdp.R + mdp.gamma * (mdp.P @ V).reshape(mdp.shape)
    return Solution(
        V=V,
        Q=Q,
        policy=np.argmax(Q, axis=1),
        iterations=iterations,
        residuals=np.asarray(residuals, dtype=np.float64),
        error_bound=float(bound),
        converged=converged,
        method=method,
        seconds=time.perf_counter() - t0,
    )


def _warn_cap(method: str, max_iter: int, residual: float, bound: float) -> None:
    warnings.warn(
        f"{method} stopped at max_iter={max_iter} before converging: last residual "
        f"max|TV - V| = {residual:.3g}, error bound {bound:.3g}",
        ConvergenceWarning,
        stacklevel=3,
    )


# --------------------------------------------------------------------------------------------------
# Solvers
# --------------------------------------------------------------------------------------------------


#: The Bellman operators the iterative solvers run on.
_Ops: TypeAlias = "_NumpyOps | _TorchOps"


def _setup(mdp: TabularMDP, tol: float, max_iter: int | None, device: Device, kernel: str,
           layout: str = "auto") -> tuple[_Ops, int]:
    """The iterative solvers' shared start: check tol, pick the operators, fix the sweep cap."""
    if tol <= 0:
        raise ValueError(f"tol = {tol} must be > 0")
    ops: _Ops
    if device is None:
        ops = _NumpyOps(mdp, kernel, layout)
    else:
        if layout not in ("auto", "csr"):
            raise ValueError(f"layout={layout!r} is a numpy layout; torch (device={device!r}) reads CSR")
        ops = _TorchOps(mdp, device)
    return ops, _default_max_iter(mdp, tol) if max_iter is None else int(max_iter)


def _resolve_order(order: str, ops: _Ops) -> str:
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; valid: {', '.join(ORDERS)}")
    if order == "auto":
        return "gauss-seidel" if ops.supports_gauss_seidel else "jacobi"
    if order == "gauss-seidel" and not ops.supports_gauss_seidel:
        raise ValueError("order='gauss-seidel' needs the numba kernel on numpy (device=None, kernel='numba')")
    return order


class _DeadEnds:
    """Closed-form values for the states whose future reward is constant under the greedy policy.

    If from s the policy pi only ever reaches states where it collects the same reward r (a closed
    class with constant reward, or a path into one, e.g. a player stuck where every move is fatal
    and staying costs r per step), then V_pi(s) = r / (1 - gamma) exactly. Value iteration would
    approach it only geometrically, at rate gamma; setting it directly is a partial policy
    evaluation, as in modified policy iteration. It changes no guarantee: the stopping rule is
    always checked on a full Jacobi backup of whatever V is, so max|V - V*| <= tol still holds.

    Checked at iterations 1, 2, 3, ... while the set changes; once it stops changing (or is empty)
    the gap between checks doubles, up to 64, so MDPs without such states pay almost nothing.
    """

    MAX_GAP = 64

    def __init__(self, ops: _Ops, gamma: float, enabled: bool):
        self.ops, self.gamma = ops, gamma
        self.enabled = enabled and gamma < 1.0  # gamma = 1: no contraction to lean on; left out
        self.next, self.gap, self.last = 1, 1, -1
        self.states = 0  # states set in closed form at the last check

    def apply(self, it: int, V: _Vector, policy: _Vector) -> _Vector:
        """Raise V to r / (1 - gamma) on the constant-future states where that is higher.

        V_pi <= V* everywhere, so the new value is never further from V* than the old one: where
        V < V_pi it moves toward V*, elsewhere nothing changes. Started from a lower bound (see
        :func:`_lower_bound`), V stays <= V*, so this is exactly V <- V_pi there.
        """
        if not self.enabled or it < self.next:
            return V
        mask, r_pi = self.ops.constant_future(policy)
        count = int(mask.sum())
        self.gap = 1 if count != self.last and count else min(2 * self.gap, self.MAX_GAP)
        self.next, self.last, self.states = it + self.gap, count, count
        if count:
            values = r_pi[mask] / (1.0 - self.gamma)
            if isinstance(V, np.ndarray):
                V[mask] = np.maximum(V[mask], values)
            else:  # a torch tensor: torch operators
                ops = self.ops
                assert isinstance(ops, _TorchOps)
                where = ops.from_numpy(mask.astype(np.float64)).bool()
                V[where] = ops.torch.maximum(V[where], ops.from_numpy(values))
        return V


def _lower_bound(mdp: TabularMDP, ops: _Ops) -> _Vector:
    """A start V0 with T V0 >= V0 (so V0 <= V*): min(0, min R)/(1 - gamma) on live states, 0 on
    terminal ones. From it every iterate of value iteration and modified policy iteration stays a
    lower bound that only increases (Puterman, section 6.5); gamma = 1: zeros."""
    if mdp.gamma >= 1.0:
        return ops.zeros()
    V0 = np.full(mdp.n_states, min(0.0, float(mdp.R.min())) / (1.0 - mdp.gamma))
    V0[mdp.terminal] = 0.0
    return ops.from_numpy(V0)


def value_iteration(
    mdp: TabularMDP,
    tol: float = 1e-8,
    max_iter: int | None = None,
    *,
    device: Device = None,
    kernel: str = "auto",
    layout: str = "auto",
    order: str = "auto",
    dead_ends: bool = True,
    V0: npt.ArrayLike | None = None,
) -> Solution:
    """Value iteration to a guaranteed accuracy: max|V - V*| <= tol.

    Jacobi order (the default): V_{k+1} = T V_k. Stopping rule (gamma < 1): with d = V_{k+1} - V_k,
    MacQueen's bounds (Puterman, Thm 6.6.6) give V_{k+1} + c min(d) <= V* <= V_{k+1} + c max(d),
    c = gamma/(1-gamma). The solver stops once c (max d - min d)/2 <= tol and returns
    V = V_{k+1} + c (max d + min d)/2, so max|V - V*| <= tol. This is at least as tight as the
    sup-norm rule c max|d| <= tol, and unlike pymdptoolbox's span rule it bounds V itself, not
    only the greedy policy's loss.

    Gauss-Seidel order: each sweep updates the states in place, in blocks (see :func:`_gs_ell`),
    alternating ascending and descending order, so a value can travel along a whole chain of
    states in one sweep. Every updated value is max_a R + gamma sum T W with W a mix of old and new
    values, so for G one such sweep, |GV - V*| <= gamma max(|V - V*|, |GV - V*|), hence G is a
    gamma-contraction in sup norm with fixed point V*, and max|GV - V*| <= c max|GV - V|. That is
    the Gauss-Seidel stopping rule. MacQueen's bounds do not hold for G, so when the span of the
    Gauss-Seidel change says a Jacobi check could pass, the next sweep is a Jacobi backup with the
    MacQueen rule above; whichever rule fires first, its bound is the one reported.

    order="auto" (the default): Gauss-Seidel where the numba kernels run, for AUTO_ORDER_TRIAL
    sweeps; if by then its change has not shrunk faster than gamma^2 per sweep (a Gauss-Seidel sweep
    costs up to two Jacobi sweeps, whose MacQueen rule gains about gamma per sweep), Jacobi from then
    on. The choice depends only on the residuals, never on timing, so results are reproducible.
    Gauss-Seidel wins where values flow along chains of states in index order (the stealth MDP:
    15 sweeps instead of 153 on fortress); on MDPs that mix quickly it gains little per sweep.

    ``dead_ends`` (default on): states whose future reward is constant under the greedy policy get
    their value in closed form (:class:`_DeadEnds`); the stopping rules are unchanged.

    gamma = 1 (episodic MDPs whose optimal policy terminates): no contraction holds, so the solver
    stops when max|V_{k+1} - V_k| < tol. That is a heuristic, not a bound: ``error_bound`` is nan.

    Args:
        mdp: the MDP.
        tol: the sup-norm accuracy to reach.
        max_iter: a cap on sweeps. Reaching it emits a :class:`ConvergenceWarning` with the
            residual, and the Solution has ``converged=False``. None: for gamma < 1, the number of
            sweeps the plain contraction needs (so the cap is never binding); 10^6 for gamma = 1.
        device: None for numpy; "auto", "cpu" or "cuda" to run on torch sparse tensors.
        kernel: numpy sweep kernel, "auto" (numba when installed), "numba" or "scipy".
        layout: numba transition layout, "auto", "ell" (fixed width) or "csr" (:func:`choose_layout`).
        order: "jacobi", "gauss-seidel" (numba only) or "auto" (see above).
        dead_ends: solve constant-reward futures of the greedy policy in closed form.
        V0: optional initial values (S,); by default the lower bound min(0, min R)/(1 - gamma)
            (0 on terminal states; zeros for gamma = 1).
    """
    t0 = time.perf_counter()
    ops, cap = _setup(mdp, tol, max_iter, device, kernel, layout)
    trial = order == "auto"
    order = _resolve_order(order, ops)
    trial = trial and order == "gauss-seidel"
    gamma = mdp.gamma
    V = _lower_bound(mdp, ops) if V0 is None else _initial(ops, V0, mdp)
    jumps = _DeadEnds(ops, gamma, dead_ends)
    out = None
    residuals: list[float] = []
    bound = math.inf
    jacobi_next = order == "jacobi"
    c = gamma / (1.0 - gamma) if gamma < 1.0 else math.inf
    method = "value_iteration" if order == "jacobi" else "value_iteration (gauss-seidel)"
    for k in range(1, cap + 1):
        if trial and k == AUTO_ORDER_TRIAL + 1:
            half = AUTO_ORDER_TRIAL // 2
            early, late = residuals[half - 1], residuals[-1]
            if early > 0 and (late / early) ** (1.0 / half) > gamma**2:
                order, jacobi_next, method = "jacobi", True, "value_iteration (gauss-seidel, then jacobi)"
        if jacobi_next:
            V_new, policy, d_max, d_min = ops.sweep(V, out)
            stop, V_out, bound = _stopping_rule(gamma, tol, d_max, d_min, V_new, residuals)
            if stop:
                return _finish(mdp, ops, V_out, k, residuals, bound, True, method, t0)
            jacobi_next = order == "jacobi"
        else:
            assert isinstance(ops, _NumpyOps)  # Gauss-Seidel: numpy operators only (_resolve_order)
            V_new, policy, d_max, d_min = ops.gauss_seidel(V, out, reverse=k % 2 == 0)
            change = max(abs(d_max), abs(d_min))
            residuals.append(change)
            if gamma < 1.0:
                bound = c * change
                if bound <= tol:
                    return _finish(mdp, ops, V_new, k, residuals, bound, True, method, t0)
                jacobi_next = c * (d_max - d_min) / 2.0 <= tol
            elif change < tol:
                return _finish(mdp, ops, V_new, k, residuals, math.nan, True, method, t0)
        V, out = jumps.apply(k, V_new, policy), V  # reuse the old buffer for the next sweep
    _warn_cap(method, cap, residuals[-1] if residuals else math.nan, bound)
    return _finish(mdp, ops, V, cap, residuals, bound, False, method, t0)


AUTO_K_RATIO = 0.1  # auto k: evaluate until the span of the evaluation change is this fraction of TV - V's
AUTO_K_MAX = 200  # ... or this many partial-evaluation sweeps


def modified_policy_iteration(
    mdp: TabularMDP,
    k: int | str = "auto",
    tol: float = 1e-8,
    max_iter: int | None = None,
    *,
    device: Device = None,
    kernel: str = "auto",
    layout: str = "auto",
    order: str = "jacobi",
    dead_ends: bool = True,
) -> Solution:
    """Modified policy iteration (Puterman, section 6.5), to max|V - V*| <= tol.

    Each iteration does one full Jacobi backup u = TV, which also gives the greedy policy pi and
    d = TV - V, then partial-evaluation sweeps V <- T_pi V that read only pi's rows. It stops on
    the same MacQueen bound as :func:`value_iteration`, applied to d; the partial evaluation only
    decides where the next check starts, so the bound holds whatever it does.

    k: partial-evaluation sweeps per iteration, or "auto": sweep until the span of the evaluation's
    change, max - min of T_pi V - V, falls to AUTO_K_RATIO times the span of the last TV - V (the
    part of the error that the next improvement step cannot remove by a constant), at most
    AUTO_K_MAX sweeps. k = 0 is value iteration; k -> inf approaches policy iteration.
    order: the partial-evaluation sweeps' order, "jacobi" (the default) or "gauss-seidel" (in place,
    alternating direction; numba only; "auto" is Gauss-Seidel where available). The full backup is
    always Jacobi. On the benchmark MDP a Gauss-Seidel sweep costs about twice a Jacobi one and saves
    fewer sweeps than that, so Jacobi is the default.
    dead_ends: see :class:`_DeadEnds`.

    gamma = 1: stops when max|TV - V| < tol (a heuristic; ``error_bound`` is nan).
    """
    auto = k == "auto"
    if not auto and (not isinstance(k, int | np.integer) or k < 0):
        raise ValueError(f"k = {k!r} must be an int >= 0 or 'auto'")
    t0 = time.perf_counter()
    ops, cap = _setup(mdp, tol, max_iter, device, kernel, layout)
    order = _resolve_order(order, ops)
    gamma = mdp.gamma
    V = _lower_bound(mdp, ops)
    jumps = _DeadEnds(ops, gamma, dead_ends)
    residuals: list[float] = []
    bound = math.inf
    out: _Vector = None
    u: _Vector  # vectors and policies of the operators in use (numpy or torch)
    policy: _Vector
    V_next: _Vector
    sweeps = 0
    method = "modified_policy_iteration"
    for it in range(1, cap + 1):
        u, policy, d_max, d_min = ops.sweep(V, out)
        stop, V_out, bound = _stopping_rule(gamma, tol, d_max, d_min, u, residuals)
        if stop:
            sol = _finish(mdp, ops, V_out, it, residuals, bound, True, method, t0)
            sol.evaluation_sweeps = sweeps
            return sol
        V, out = jumps.apply(it, u, policy), V
        n_eval = AUTO_K_MAX if auto else int(k)
        if n_eval == 0:
            continue
        apply_pi = ops.policy_operator(policy)
        target = AUTO_K_RATIO * (d_max - d_min)
        for j in range(n_eval):
            if order == "gauss-seidel":
                assert isinstance(apply_pi, _RowsOperator)  # Gauss-Seidel: numba operators only (_resolve_order)
                V_next, _, e_max, e_min = apply_pi.gauss_seidel(V, out, reverse=j % 2 == 1)
            else:
                V_next, _, e_max, e_min = apply_pi.sweep(V, out)
            V, out = V_next, V
            sweeps += 1
            if auto and e_max - e_min <= target:
                break
    _warn_cap(method, cap, residuals[-1] if residuals else math.nan, bound)
    sol = _finish(mdp, ops, V, cap, residuals, bound, False, method, t0)
    sol.evaluation_sweeps = sweeps
    return sol


def policy_iteration(mdp: TabularMDP, max_iter: int = 1000, *, device: Device = None,
                     kernel: str = "auto") -> Solution:
    """Policy iteration (Howard): exact evaluation by a sparse linear solve, then greedy improvement.

    The policy changes only where an action is better by more than 1e-12 (relative), so ties never
    cycle. When the policy is stable, V = V_pi solves the Bellman optimality equation up to the
    linear solve's rounding; ``error_bound`` is MacQueen's bound from d = TV - V (gamma < 1).
    ``device`` only moves the final check; the linear solves run on the CPU (scipy's SuperLU).
    """
    t0 = time.perf_counter()
    n = mdp.n_states
    ops = _NumpyOps(mdp, kernel)
    policy = np.argmax(mdp.R, axis=1) if mdp.gamma < 1.0 else _proper_policy(mdp)
    residuals: list[float] = []
    for it in range(1, max_iter + 1):
        V = policy_evaluation(mdp, policy, method="exact")
        Q = ops.q(V)
        current = Q[np.arange(n), policy]
        best = np.argmax(Q, axis=1)
        better = Q[np.arange(n), best] > current + 1e-12 * np.maximum(1.0, np.abs(current))
        d = Q.max(axis=1) - V
        residuals.append(float(np.abs(d).max()))
        if not better.any():
            bound = _macqueen(mdp.gamma, float(d.min()), float(d.max()))[1] if mdp.gamma < 1 else math.nan
            return _finish(mdp, ops, V, it, residuals, bound, True, "policy_iteration", t0)
        policy = np.where(better, best, policy)
    _warn_cap("policy_iteration", max_iter, residuals[-1], math.nan)
    return _finish(mdp, ops, V, max_iter, residuals, math.nan, False, "policy_iteration", t0)


def _proper_policy(mdp: TabularMDP) -> np.ndarray:
    """A policy that reaches a terminal state from every state with probability 1 (for gamma = 1).

    Backward breadth-first search over the transitions' support: a state at distance k+1 picks an
    action with a successor at distance k, so from anywhere a terminal state is reached within S
    steps with positive probability, hence eventually with probability 1.
    """
    n, m = mdp.shape
    dist = np.where(mdp.terminal, 0, -1)
    policy = np.zeros(n, dtype=np.int64)
    support = mdp.P.copy()
    support.data[:] = 1.0
    level = 0
    while True:
        reached = (dist >= 0).astype(np.float64)
        hits = (support @ reached).reshape(n, m) > 0
        new = (dist < 0) & hits.any(axis=1)
        if not new.any():
            break
        level += 1
        dist[new] = level
        policy[new] = np.argmax(hits[new], axis=1)
    if (dist < 0).any():
        s = int(np.flatnonzero(dist < 0)[0])
        raise ValueError(
            f"with gamma = 1, policy iteration needs every state to be able to reach a terminal state; "
            f"state {s} cannot ({int((dist < 0).sum())} such states). Use gamma < 1 or mark terminal states."
        )
    return policy


def greedy_policy(mdp: TabularMDP, V: npt.ArrayLike) -> np.ndarray:
    """argmax_a R(s,a) + gamma sum_s2 T(s2|s,a) V(s2), (S,) ints; ties go to the lowest action."""
    V = _check_vector(V, mdp, "V")
    return np.argmax(mdp.R + mdp.gamma * (mdp.P @ V).reshape(mdp.shape), axis=1)


def policy_evaluation(
    mdp: TabularMDP, policy: npt.ArrayLike, tol: float = 1e-10, method: str = "exact", max_iter: int | None = None
) -> np.ndarray:
    """V_pi, the solution of the Bellman expectation equation

        V_pi(s) = sum_a pi(a|s) sum_s2 T(s2|s,a) [R(s,a,s2) + gamma V_pi(s2)].

    Args:
        policy: (S,) action indices, or (S, A) probabilities (rows sum to 1).
        method: "exact" solves (I - gamma P_pi) V = r_pi with a sparse LU (terminal states are
            fixed at 0 and left out); "iterative" applies V <- r_pi + gamma P_pi V until
            max|V - V_pi| <= tol (gamma < 1, sup-norm bound), or until the change is below tol
            (gamma = 1).
    Raises:
        ValueError: for a malformed policy, or (gamma = 1) a policy that never terminates.
    """
    P_pi, r_pi = _policy_matrix(mdp, policy)
    n = mdp.n_states
    if method == "exact":
        live = ~mdp.terminal
        idx = np.flatnonzero(live)
        A = sp.identity(len(idx), format="csc") - mdp.gamma * P_pi[idx][:, idx].tocsc()
        with warnings.catch_warnings():
            warnings.simplefilter("error", spla.MatrixRankWarning)
            try:
                x = spla.spsolve(A, r_pi[idx]) if len(idx) else np.zeros(0)
            except (spla.MatrixRankWarning, RuntimeError) as exc:
                raise ValueError(
                    "policy evaluation: I - gamma P_pi is singular; with gamma = 1 the policy must reach a "
                    "terminal state from every state"
                ) from exc
        x = np.atleast_1d(x)
        if not np.isfinite(x).all():
            raise ValueError(
                "policy evaluation: the linear solve gave non-finite values (does the policy terminate?)"
            )
        V = np.zeros(n)
        V[idx] = x
        return V
    if method == "iterative":
        gamma = mdp.gamma
        cap = _default_max_iter(mdp, tol) if max_iter is None else int(max_iter)
        threshold = tol * (1.0 - gamma) / gamma if 0.0 < gamma < 1.0 else tol
        V = np.zeros(n)
        for _ in range(cap):
            V_new = r_pi + gamma * (P_pi @ V)
            change = float(np.abs(V_new - V).max())
            V = V_new
            if change <= threshold:
                return V
        _warn_cap("policy_evaluation", cap, change, math.nan)
        return V
    raise ValueError(f"unknown method {method!r}; valid: exact, iterative")


def _policy_matrix(mdp: TabularMDP, policy: npt.ArrayLike) -> tuple[sp.csr_matrix, np.ndarray]:
    """P_pi (S, S) and r_pi (S,) for a deterministic or stochastic policy."""
    n, m = mdp.shape
    pol = np.asarray(policy)
    if pol.shape == (n,):
        if not np.issubdtype(pol.dtype, np.integer):
            if not np.all(np.mod(pol, 1) == 0):
                raise ValueError("a deterministic policy must hold integer action indices")
            pol = pol.astype(np.int64)
        if pol.min(initial=0) < 0 or pol.max(initial=0) >= m:
            s = int(np.flatnonzero((pol < 0) | (pol >= m))[0])
            raise ValueError(f"policy[{s}] = {pol[s]} is not an action; valid actions are 0..{m - 1}")
        rows = np.arange(n) * m + pol
        return mdp.P[rows], mdp.R[np.arange(n), pol]
    if pol.shape == (n, m):
        pol = pol.astype(np.float64)
        if not np.isfinite(pol).all() or (pol < 0).any():
            raise ValueError("policy probabilities must be finite and >= 0")
        sums = pol.sum(axis=1)
        if np.abs(sums - 1).max() > ROW_SUM_TOL:
            s = int(np.argmax(np.abs(sums - 1)))
            raise ValueError(f"policy row {s} sums to {sums[s]:.12g}; each row must sum to 1")
        weights = sp.csr_matrix(
            (pol.ravel(), (np.repeat(np.arange(n), m), np.arange(n * m))), shape=(n, n * m)
        )
        return (weights @ mdp.P).tocsr(), (pol * mdp.R).sum(axis=1)
    raise ValueError(f"policy has shape {pol.shape}; valid shapes are (S,) = ({n},) or (S, A) = ({n}, {m})")


def _check_vector(V: npt.ArrayLike, mdp: TabularMDP, name: str) -> np.ndarray:
    V = np.asarray(V, dtype=np.float64)
    if V.shape != (mdp.n_states,):
        raise ValueError(f"{name} has shape {V.shape}; it must be (S,) = ({mdp.n_states},)")
    return V


def _initial(ops: _Ops, V0: npt.ArrayLike, mdp: TabularMDP) -> _Vector:
    V0 = _check_vector(V0, mdp, "V0").copy()
    if isinstance(ops, _TorchOps):
        return ops.torch.from_numpy(V0).to(ops.device)
    return V0


def warm_up() -> None:
    """Load (or compile) the numba kernels the default solvers use on a small MDP, so that timing
    a solve afterwards measures the solve. Cached on disk after the first run."""
    mdp = TabularMDP(np.array([[[0.5, 0.5], [0.0, 1.0]]]), np.array([[1.0], [0.0]]), 0.9, terminal=[False, True])
    value_iteration(mdp)
    modified_policy_iteration(mdp)


def bellman_residual(mdp: TabularMDP, V: npt.ArrayLike) -> float:
    """max_s |(TV)(s) - V(s)|, the Bellman optimality residual of V."""
    V = _check_vector(V, mdp, "V")
    return float(np.abs((mdp.R + mdp.gamma * (mdp.P @ V).reshape(mdp.shape)).max(axis=1) - V).max())


def mdp_from_arrays(arrays: MDPArrays, gamma: float) -> TabularMDP:
    """A :class:`TabularMDP` from a game's plain arrays: any object with ``transitions`` (A matrices of
    shape (S, S), sparse or dense), ``rewards`` (S, A) and ``terminal`` (S,) bool, such as
    ``envs.stealth.mdp.mdp_arrays(level)``. The game builds arrays; the solver floor adds the discount."""
    return TabularMDP(arrays.transitions, arrays.rewards, gamma, terminal=arrays.terminal)
