"""Returns and advantages of on-policy learners, as small pure functions (numpy, no torch).

Arrays have shape (T,) or (T, K): time first, then env. Used by every on-policy learner
(:mod:`nets.on_policy`, :mod:`nets.policy_gradient`, :mod:`nets.ppo`, :mod:`nets.kl_ppo`):

* :func:`discounted_returns`: ``G_t = r_t + gamma (1 - d_t) G_{t+1}``, ``G_T = bootstrap``.
* :func:`n_step_returns`: the same inside a rollout, bootstrapped from ``V(s_{t+1})`` where the rollout
  ends and where an episode was *truncated* (a time limit is not a terminal state).
* :func:`td_errors`: ``delta_t = r_t + gamma (1 - term_t) V(s_{t+1}) - V(s_t)``.
* :func:`gae_advantages`: ``A_t = delta_t + gamma lambda (1 - end_t) A_{t+1}`` (Schulman et al. 2016).
  ``lambda = 0`` gives the TD error, ``lambda = 1`` the n-step return minus the value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["discounted_returns", "n_step_returns", "td_errors", "gae_advantages"]


def _as_float(x: npt.ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (T,) or (T, K), got {a.shape}")
    return a


def _matching(x: npt.ArrayLike, like: np.ndarray, name: str, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.shape != like.shape:
        try:
            a = np.broadcast_to(a, like.shape)
        except ValueError:
            raise ValueError(f"{name} has shape {a.shape}; it must match rewards {like.shape}") from None
    return a


def discounted_returns(rewards: npt.ArrayLike, dones: npt.ArrayLike, gamma: float,
                       bootstrap: npt.ArrayLike | None = None) -> np.ndarray:
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


def n_step_returns(rewards: npt.ArrayLike, next_values: npt.ArrayLike, terminated: npt.ArrayLike, gamma: float,
                   ends: npt.ArrayLike | None = None) -> np.ndarray:
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


def td_errors(rewards: npt.ArrayLike, values: npt.ArrayLike, next_values: npt.ArrayLike,
              terminated: npt.ArrayLike, gamma: float) -> np.ndarray:
    """One-step TD errors ``delta_t = r_t + gamma (1 - term_t) V(s_{t+1}) - V(s_t)``."""
    r = _as_float(rewards, "rewards")
    v = _matching(values, r, "values")
    nv = _matching(next_values, r, "next_values")
    term = _matching(terminated, r, "terminated", bool)
    return r + gamma * np.where(term, 0.0, nv) - v


def gae_advantages(rewards: npt.ArrayLike, values: npt.ArrayLike, next_values: npt.ArrayLike,
                   terminated: npt.ArrayLike, gamma: float, lam: float,
                   ends: npt.ArrayLike | None = None) -> np.ndarray:
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
