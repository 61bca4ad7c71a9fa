"""Tabular Q-learning on an env whose state is a small integer (e.g. the stealth grid's exact MDP states).

The learner steps the real env (not the MDP's tables) and reads the state number from it through
``state_fn(env) -> int``, which the caller supplies: for ``sandbox/Stealth-v0`` that is
``envs.stealth.mdp.stealth_state_fn(index)``, which maps the player's ``(cell, phase)`` to the state
number of the level's exact MDP, so the learned ``Q`` lines up with the exact ``Q*`` of
:func:`nets.bellman.value_iteration` entry by entry. This module knows no game.

The update (Watkins' Q-learning, Sutton & Barto eq. 6.8)::

    Q(s, a) <- Q(s, a) + alpha * (r + gamma * (1 - terminated) * max_a' Q(s', a') - Q(s, a))

A truncated step (time limit) still bootstraps: the time limit is not part of the MDP. Behaviour is
epsilon-greedy, epsilon decaying linearly from ``epsilon_start`` to ``epsilon_end`` over the first
``epsilon_fraction`` of the steps; ties among greedy actions are broken at random (from the learner's
own generator), so an all-zero table explores instead of repeating action 0. The greedy policy
returned breaks ties by the lowest action number, so it is a deterministic function of ``Q``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

if TYPE_CHECKING:
    import gymnasium as gym
    from gymnasium import spaces

EnvT = TypeVar("EnvT", bound="gym.Env[Any, Any]")  # the env, as state_fn reads it


@dataclass
class QLearningResult:
    """What :func:`q_learning` returns."""

    Q: np.ndarray  # (n_states, n_actions) learned action values
    policy: np.ndarray  # (n_states,) greedy action of each state (lowest index on ties)
    # one dict per evaluation: steps, eval_return, eval_success
    curve: list[dict[str, float]] = field(default_factory=list)
    visits: np.ndarray | None = None  # (n_states, n_actions) update counts
    steps: int = 0  # env steps taken


def greedy(Q: np.ndarray) -> np.ndarray:
    """The greedy policy of ``Q``: ``argmax_a Q(s, a)``, the lowest action on ties."""
    return np.argmax(Q, axis=1).astype(np.int64)


def q_learning(
    env: EnvT,
    n_states: int,
    state_fn: Callable[[EnvT], int],
    steps: int,
    *,
    alpha: float = 0.5,
    gamma: float = 0.99,
    epsilon_start: float = 1.0,
    epsilon_end: float = 0.05,
    epsilon_fraction: float = 0.5,
    q_init: float = 0.0,
    seed: int = 0,
    evaluate: Callable[[np.ndarray], tuple[float, float]] | None = None,
    eval_every: int = 0,
    callback: Callable[[dict[str, float]], bool | None] | None = None,
) -> QLearningResult:
    """Learn ``Q`` by stepping ``env`` for ``steps`` env steps; see the module docstring for the rule.

    ``n_states`` rows of ``Q`` (the MDP's state count, absorbing states included: their row stays
    ``q_init`` and is never bootstrapped from, because reaching them terminates). ``env.reset(seed=seed)``
    seeds the first episode and the learner's generator is ``default_rng(seed)``, so a seed
    reproduces a run. With ``evaluate(policy) -> (mean return, success rate)`` (it plays the greedy
    policy on an env of its own, e.g. ``agents.navigation.mdp.policy_evaluator``), every ``eval_every``
    steps (0: only at the end) ``{"steps", "eval_return", "eval_success"}`` is appended to the curve;
    ``callback(entry)`` returning False stops early. Without ``evaluate`` the curve stays empty.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if not (0.0 <= epsilon_end <= 1.0 and 0.0 <= epsilon_start <= 1.0):
        raise ValueError(f"epsilon_start and epsilon_end must be in [0, 1], got {epsilon_start}, {epsilon_end}")
    n_actions = int(cast("spaces.Discrete", env.action_space).n)  # a Discrete space (its n, read as ever)
    rng = np.random.default_rng(seed)
    Q = np.full((n_states, n_actions), float(q_init))
    visits = np.zeros((n_states, n_actions), dtype=np.int64)
    decay_steps = max(1, int(epsilon_fraction * steps))
    curve: list[dict[str, float]] = []

    def evaluate_now(t: int) -> bool:
        if evaluate is None:
            return True
        ret, succ = evaluate(greedy(Q))
        entry = {"steps": t, "eval_return": ret, "eval_success": succ}
        curve.append(entry)
        return callback is None or callback(entry) is not False

    env.reset(seed=seed)
    s = state_fn(env)
    t = 0
    while t < steps:
        # ---- act epsilon-greedily (random tie-break among the greedy actions)
        frac = min(t / decay_steps, 1.0)
        eps = epsilon_start + (epsilon_end - epsilon_start) * frac
        if rng.random() < eps:
            a = int(rng.integers(n_actions))
        else:
            row = Q[s]
            best = np.flatnonzero(row == row.max())
            a = int(best[0] if best.size == 1 else rng.choice(best))
        _, reward, terminated, truncated, _ = env.step(a)
        s2 = state_fn(env)
        t += 1
        # ---- Watkins' update; a terminal step does not bootstrap, a time-limit one does
        target = float(reward) + (0.0 if terminated else gamma * Q[s2].max())
        Q[s, a] += alpha * (target - Q[s, a])
        visits[s, a] += 1
        s = s2
        # ---- evaluate the greedy policy on schedule
        if eval_every and t % eval_every == 0 and t < steps and not evaluate_now(t):
            return QLearningResult(Q=Q, policy=greedy(Q), curve=curve, visits=visits, steps=t)
        if terminated or truncated:
            env.reset()
            s = state_fn(env)
    evaluate_now(t)
    return QLearningResult(Q=Q, policy=greedy(Q), curve=curve, visits=visits, steps=t)
