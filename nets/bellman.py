"""Exact solvers for finite Markov decision processes: what the Bellman equation defines.

A :class:`TabularMDP` holds the transition function T(s2|s,a), the expected reward R(s,a) and the
discount gamma. The solvers compute

* the Bellman expectation equation for a policy pi (:func:`policy_evaluation`)::

      V_pi(s) = sum_a pi(a|s) sum_s2 T(s2|s,a) [R(s,a,s2) + gamma V_pi(s2)]

* the Bellman optimality equation (:func:`value_iteration`, :func:`policy_iteration`,
  :func:`modified_policy_iteration`)::

      V*(s) = max_a sum_s2 T(s2|s,a) [R(s,a,s2) + gamma V*(s2)]

Every solver returns a :class:`Solution` whose ``error_bound`` is a proven bound on max|V - V*|
(for gamma < 1). Value iteration stops when that bound is at most ``tol``; it never stops silently at
an iteration cap.

The hot path is one Bellman backup over all states and actions. The transitions of all actions are
stacked, state-major, into one CSR matrix of shape (S*A, S) (row ``s*A + a`` is T(.|s,a)), so a
sweep reads each nonzero exactly once. Two CPU kernels do the sweep: a fused, multi-threaded numba
kernel (the default) and scipy's compiled CSR mat-vec. With ``device="cpu"|"cuda"|"auto"`` the
same solvers run on torch sparse tensors instead, so a large MDP can be solved on a GPU.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

ROW_SUM_TOL = 1e-9  # |sum_s2 T(s2|s,a) - 1| allowed in a transition row

try:  # numba is a dependency; guard anyway so that the scipy kernel still works without it
    import numba

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    _HAVE_NUMBA = False


class ConvergenceWarning(UserWarning):
    """A solver reached ``max_iter`` before its stopping rule held; the residual is in the message."""


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

    def __init__(self, transitions, rewards, gamma: float, terminal=None):
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
    def from_stacked(cls, P, rewards, gamma: float, terminal=None) -> TabularMDP:
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
    def from_gymnasium(cls, P: dict, gamma: float) -> TabularMDP:
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


def _as_csr_list(transitions, name: str) -> list[sp.csr_matrix]:
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
    mats = []
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


def _expected_rewards(rewards, mats: list[sp.csr_matrix], n_states: int, n_actions: int) -> np.ndarray:
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


def _macqueen(gamma: float, d_min: float, d_max: float) -> tuple[float, float]:
    """Shift and error bound from the span of d = TV - V (MacQueen 1966; Puterman Thm 6.6.6).

    For gamma < 1, TV + gamma/(1-gamma) min(d) <= V* <= TV + gamma/(1-gamma) max(d), elementwise.
    So V' = TV + gamma/(1-gamma) (max d + min d)/2 satisfies
    max|V' - V*| <= gamma/(1-gamma) (max d - min d)/2. Returns (shift, bound).
    """
    c = gamma / (1.0 - gamma)
    return c * (d_max + d_min) / 2.0, c * (d_max - d_min) / 2.0


def _stopping_rule(gamma: float, tol: float, TV, V, residuals: list) -> tuple[bool, object, float]:
    """The solvers' shared stopping rule, given a backup TV of V; appends max|TV - V| to residuals.

    gamma < 1: stop when MacQueen's bound is <= tol, returning the midpoint-corrected TV and the bound.
    gamma = 1: stop when max|TV - V| < tol, returning TV and no bound (nan).
    Returns (stop, values to return, bound).
    """
    d = TV - V
    d_max, d_min = float(d.max()), float(d.min())
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

PARALLEL_MIN_NNZ = 2_000_000  # below this, a threaded sweep costs more than it saves (worst on a busy machine)


def _greedy_backup_kernel(indptr, indices, data, R, gamma, V, out, policy, n_actions):  # pragma: no cover
    """out[s] = max_a Q(s,a) and policy[s] = argmax_a Q(s,a) (lowest index on ties), one pass."""
    n_states = V.shape[0]
    for s in _prange(n_states):
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


def _extract_rows_kernel(indptr, indices, data, rows, new_indptr, new_indices, new_data):  # pragma: no cover
    """Copy the CSR rows ``rows`` into a compact CSR whose indptr ``new_indptr`` is precomputed."""
    for i in _prange(rows.shape[0]):
        src = indptr[rows[i]]
        dst = new_indptr[i]
        for j in range(new_indptr[i + 1] - dst):
            new_indices[dst + j] = indices[src + j]
            new_data[dst + j] = data[src + j]


def _matvec_affine_kernel(indptr, indices, data, r, gamma, V, out):  # pragma: no cover - compiled
    """out[s] = r[s] + gamma * sum_k data[k] V[indices[k]] over row s: the operator T_pi."""
    for s in _prange(V.shape[0]):
        acc = 0.0
        for k in range(indptr[s], indptr[s + 1]):
            acc += data[k] * V[indices[k]]
        out[s] = r[s] + gamma * acc


if _HAVE_NUMBA:
    _prange = numba.prange
    # (parallel, serial) compilations of each kernel; small MDPs use the serial one.
    _NB_GREEDY_BACKUP = (
        numba.njit(parallel=True, cache=True)(_greedy_backup_kernel),
        numba.njit(cache=True)(_greedy_backup_kernel),
    )
    _NB_EXTRACT = (
        numba.njit(parallel=True, cache=True)(_extract_rows_kernel),
        numba.njit(cache=True)(_extract_rows_kernel),
    )
    _NB_AFFINE = (
        numba.njit(parallel=True, cache=True)(_matvec_affine_kernel),
        numba.njit(cache=True)(_matvec_affine_kernel),
    )
else:  # pragma: no cover
    _prange = range


class _NumpyOps:
    """Bellman operators on numpy arrays. ``kernel`` is "numba" (fused, threaded) or "scipy"."""

    def __init__(self, mdp: TabularMDP, kernel: str):
        if kernel == "auto":
            kernel = "numba" if _HAVE_NUMBA else "scipy"
        if kernel == "numba" and not _HAVE_NUMBA:
            raise ValueError("kernel='numba' needs numba installed; use kernel='scipy'")
        if kernel not in ("numba", "scipy"):
            raise ValueError(f"unknown kernel {kernel!r}; valid: auto, numba, scipy")
        self.kernel = kernel
        self.mdp = mdp
        self.P, self.R, self.gamma = mdp.P, mdp.R, mdp.gamma
        self.S, self.A = mdp.shape
        if kernel == "numba":
            serial = 0 if self.P.nnz >= PARALLEL_MIN_NNZ else 1
            self._greedy_backup = _NB_GREEDY_BACKUP[serial]
            self._scratch_policy = np.empty(self.S, dtype=np.int64)
            self._extract, self._affine = _NB_EXTRACT[serial], _NB_AFFINE[serial]

    def zeros(self):
        return np.zeros(self.S)

    def q(self, V):
        """Q(s,a) = R(s,a) + gamma sum_s2 T(s2|s,a) V(s2), (S, A)."""
        return self.R + self.gamma * (self.P @ V).reshape(self.S, self.A)

    def backup(self, V, out=None):
        """(TV)(s) = max_a Q(s,a)."""
        if self.kernel == "numba":
            out = np.empty(self.S) if out is None else out
            P = self.P  # the greedy kernel; its argmax goes to a scratch array
            self._greedy_backup(P.indptr, P.indices, P.data, self.R, self.gamma, V, out, self._scratch_policy, self.A)
            return out
        return self.q(V).max(axis=1)

    def greedy_backup(self, V):
        """(TV, greedy policy) in one pass."""
        if self.kernel == "numba":
            out, policy = np.empty(self.S), np.empty(self.S, dtype=np.int64)
            self._greedy_backup(
                self.P.indptr, self.P.indices, self.P.data, self.R, self.gamma, V, out, policy, self.A
            )
            return out, policy
        Q = self.q(V)
        policy = np.argmax(Q, axis=1)
        return Q[np.arange(self.S), policy], policy

    def policy_operator(self, policy):
        """T_pi for a deterministic pi, as a callable V, out -> r_pi + gamma P_pi V.

        P_pi's rows are copied once into a compact CSR (S rows instead of S*A), so each of MPI's
        partial-evaluation sweeps reads only the chosen actions' nonzeros, contiguously.
        """
        rows = np.arange(self.S) * self.A + policy
        r_pi = self.R[np.arange(self.S), policy]
        if self.kernel != "numba":
            P_pi = self.P[rows]
            return lambda V, out=None: r_pi + self.gamma * (P_pi @ V)
        P = self.P
        indptr = np.zeros(self.S + 1, dtype=P.indptr.dtype)
        np.cumsum(P.indptr[rows + 1] - P.indptr[rows], out=indptr[1:])
        indices = np.empty(indptr[-1], dtype=P.indices.dtype)
        data = np.empty(indptr[-1])
        self._extract(P.indptr, P.indices, P.data, rows, indptr, indices, data)
        gamma, affine = self.gamma, self._affine

        def apply(V, out=None):
            out = np.empty_like(V) if out is None else out
            affine(indptr, indices, data, r_pi, gamma, V, out)
            return out

        return apply

    def to_numpy(self, x):
        return np.asarray(x)


class _TorchOps:
    """The same operators on torch sparse CSR tensors, on any device (float64 throughout)."""

    def __init__(self, mdp: TabularMDP, device):
        import torch

        from nets.device import resolve_device

        self.torch = torch
        self.device = resolve_device(device)
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

    def zeros(self):
        return self.torch.zeros(self.S, dtype=self.torch.float64, device=self.device)

    def q(self, V):
        return self.R + self.gamma * self.torch.mv(self.P, V).reshape(self.S, self.A)

    def backup(self, V, out=None):
        return self.q(V).max(dim=1).values

    def policy_operator(self, policy):
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
        gamma = self.gamma
        return lambda V, out=None: r_pi + gamma * torch.mv(P_pi, V)

    def greedy_backup(self, V):
        return self.q(V).max(dim=1)

    def to_numpy(self, x):
        return x.detach().cpu().numpy()


def _setup(mdp: TabularMDP, tol: float, max_iter: int | None, device, kernel: str):
    """The iterative solvers' shared start: check tol, pick the operators, fix the sweep cap."""
    if tol <= 0:
        raise ValueError(f"tol = {tol} must be > 0")
    ops = _NumpyOps(mdp, kernel) if device is None else _TorchOps(mdp, device)
    return ops, _default_max_iter(mdp, tol) if max_iter is None else int(max_iter)


def _finish(mdp, ops, V, iterations, residuals, bound, converged, method, t0) -> Solution:
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


def value_iteration(
    mdp: TabularMDP,
    tol: float = 1e-8,
    max_iter: int | None = None,
    *,
    device=None,
    kernel: str = "auto",
    V0=None,
) -> Solution:
    """Value iteration, V_{k+1} = T V_k, to a guaranteed accuracy: max|V - V*| <= tol.

    Stopping rule (gamma < 1). With d = V_{k+1} - V_k, MacQueen's bounds (Puterman, Thm 6.6.6)
    give V_{k+1} + c min(d) <= V* <= V_{k+1} + c max(d), c = gamma/(1-gamma). The solver stops once
    c (max d - min d)/2 <= tol and returns V = V_{k+1} + c (max d + min d)/2, so
    max|V - V*| <= tol. This is at least as tight as the sup-norm rule c max|d| <= tol, and unlike
    pymdptoolbox's span rule it bounds V itself, not only the greedy policy's loss.

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
        V0: optional initial values (S,); zeros by default.
    """
    t0 = time.perf_counter()
    ops, cap = _setup(mdp, tol, max_iter, device, kernel)
    gamma = mdp.gamma
    V = ops.zeros() if V0 is None else _initial(ops, V0, mdp)
    out = None
    residuals: list[float] = []
    bound = math.inf
    for k in range(1, cap + 1):
        V_new = ops.backup(V, out)
        stop, V_out, bound = _stopping_rule(gamma, tol, V_new, V, residuals)
        if stop:
            return _finish(mdp, ops, V_out, k, residuals, bound, True, "value_iteration", t0)
        V, out = V_new, V  # reuse the old buffer for the next sweep
    _warn_cap("value_iteration", cap, residuals[-1] if residuals else math.nan, bound)
    return _finish(mdp, ops, V, cap, residuals, bound, False, "value_iteration", t0)


def modified_policy_iteration(
    mdp: TabularMDP,
    k: int = 20,
    tol: float = 1e-8,
    max_iter: int | None = None,
    *,
    device=None,
    kernel: str = "auto",
) -> Solution:
    """Modified policy iteration (Puterman, section 6.5), to max|V - V*| <= tol.

    Each iteration does one full backup u = TV, which also gives the greedy policy pi, then k
    partial-evaluation steps V <- T_pi V that read only pi's rows. It stops on the same MacQueen
    bound as :func:`value_iteration`, applied to d = TV - V. k = 0 is value iteration; k -> inf
    approaches policy iteration.

    gamma = 1: stops when max|TV - V| < tol (a heuristic; ``error_bound`` is nan).
    """
    if k < 0:
        raise ValueError(f"k = {k} must be >= 0")
    t0 = time.perf_counter()
    ops, cap = _setup(mdp, tol, max_iter, device, kernel)
    gamma = mdp.gamma
    V = ops.zeros()
    residuals: list[float] = []
    bound = math.inf
    for it in range(1, cap + 1):
        u, policy = ops.greedy_backup(V)
        stop, V_out, bound = _stopping_rule(gamma, tol, u, V, residuals)
        if stop:
            return _finish(mdp, ops, V_out, it, residuals, bound, True, "modified_policy_iteration", t0)
        V = u
        if k:
            apply_pi = ops.policy_operator(policy)
            buf = None
            for _ in range(k):
                V_next = apply_pi(V, buf)
                V, buf = V_next, V
    _warn_cap("modified_policy_iteration", cap, residuals[-1] if residuals else math.nan, bound)
    return _finish(mdp, ops, V, cap, residuals, bound, False, "modified_policy_iteration", t0)


def policy_iteration(mdp: TabularMDP, max_iter: int = 1000, *, device=None, kernel: str = "auto") -> Solution:
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


def greedy_policy(mdp: TabularMDP, V) -> np.ndarray:
    """argmax_a R(s,a) + gamma sum_s2 T(s2|s,a) V(s2), (S,) ints; ties go to the lowest action."""
    V = _check_vector(V, mdp, "V")
    return np.argmax(mdp.R + mdp.gamma * (mdp.P @ V).reshape(mdp.shape), axis=1)


def policy_evaluation(
    mdp: TabularMDP, policy, tol: float = 1e-10, method: str = "exact", max_iter: int | None = None
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


def _policy_matrix(mdp: TabularMDP, policy) -> tuple[sp.csr_matrix, np.ndarray]:
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


def _check_vector(V, mdp: TabularMDP, name: str) -> np.ndarray:
    V = np.asarray(V, dtype=np.float64)
    if V.shape != (mdp.n_states,):
        raise ValueError(f"{name} has shape {V.shape}; it must be (S,) = ({mdp.n_states},)")
    return V


def _initial(ops, V0, mdp):
    V0 = _check_vector(V0, mdp, "V0").copy()
    if isinstance(ops, _TorchOps):
        return ops.torch.from_numpy(V0).to(ops.device)
    return V0


def bellman_residual(mdp: TabularMDP, V) -> float:
    """max_s |(TV)(s) - V(s)|, the Bellman optimality residual of V."""
    V = _check_vector(V, mdp, "V")
    return float(np.abs((mdp.R + mdp.gamma * (mdp.P @ V).reshape(mdp.shape)).max(axis=1) - V).max())


def mdp_from_arrays(arrays, gamma: float) -> TabularMDP:
    """A :class:`TabularMDP` from a game's plain arrays: any object with ``transitions`` (A matrices of
    shape (S, S), sparse or dense), ``rewards`` (S, A) and ``terminal`` (S,) bool, such as
    ``envs.stealth.mdp.mdp_arrays(level)``. The game builds arrays; the solver floor adds the discount."""
    return TabularMDP(arrays.transitions, arrays.rewards, gamma, terminal=arrays.terminal)
