"""Tabular Q-learning on an env whose state is a small integer: the stealth grid's exact MDP states.

The learner steps the real env (not the MDP's tables) and reads the state number from it through
``state_fn(env) -> int``; for ``sandbox/Stealth-v0`` that is :func:`stealth_state_fn`, which maps the
player's ``(cell, phase)`` to the state number of :func:`envs.stealth.mdp.build_mdp`, so the learned
``Q`` lines up with the exact ``Q*`` of :func:`nets.bellman.value_iteration` entry by entry.

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

import numpy as np


@dataclass
class QLearningResult:
    """What :func:`q_learning` returns."""

    Q: np.ndarray  # (n_states, n_actions) learned action values
    policy: np.ndarray  # (n_states,) greedy action of each state (lowest index on ties)
    curve: list[dict] = field(default_factory=list)  # one dict per evaluation: steps, eval_return, eval_success
    visits: np.ndarray | None = None  # (n_states, n_actions) update counts
    steps: int = 0  # env steps taken


class TabularAgent:
    """A state-indexed greedy policy behind the agent protocol: ``predict`` ignores the observation
    and reads the state from ``env`` through ``state_fn`` (like :class:`agents.navigation.planner.OptimalAgent`)."""

    def __init__(self, policy: np.ndarray, env, state_fn: Callable):
        self.policy = np.asarray(policy, dtype=np.int64)
        self.env = env
        self.state_fn = state_fn

    def reset(self) -> None:
        pass

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return int(self.policy[self.state_fn(self.env)]), state


def stealth_state_fn(index) -> Callable:
    """``state_fn`` for ``sandbox/Stealth-v0``: the MDP state number of the env's ``(cell, phase)``.

    ``index`` is the :class:`envs.stealth.mdp.StateIndex` that ``build_mdp`` returned for the env's level.
    """

    def state_fn(env) -> int:
        base = env.unwrapped
        if base.at_goal:
            return index.goal
        if base.caught:
            return index.caught
        return index.state(int(base.cell), int(base.phase))

    return state_fn


def greedy(Q: np.ndarray) -> np.ndarray:
    """The greedy policy of ``Q``: ``argmax_a Q(s, a)``, the lowest action on ties."""
    return np.argmax(Q, axis=1).astype(np.int64)


def evaluate_policy(env, policy: np.ndarray, state_fn: Callable, episodes: int, seed: int) -> tuple[float, float]:
    """Mean undiscounted return and success rate of a state-indexed policy over ``episodes`` episodes,
    reset with seeds ``seed, seed + 1, ...``. Success is ``info["at_goal"]`` or ``env.unwrapped.at_goal``
    when the env has one, else a positive final reward."""
    returns, successes = [], []
    for ep in range(episodes):
        env.reset(seed=seed + ep)
        total, done = 0.0, False
        reward, terminated = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(policy[state_fn(env)]))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        base = env.unwrapped
        successes.append(bool(base.at_goal) if hasattr(base, "at_goal") else bool(terminated and reward > 0))
    return float(np.mean(returns)), float(np.mean(successes))


def q_learning(
    env,
    n_states: int,
    state_fn: Callable,
    steps: int,
    *,
    alpha: float = 0.5,
    gamma: float = 0.99,
    epsilon_start: float = 1.0,
    epsilon_end: float = 0.05,
    epsilon_fraction: float = 0.5,
    q_init: float = 0.0,
    seed: int = 0,
    eval_env=None,
    eval_every: int = 0,
    eval_episodes: int = 1,
    eval_seed: int = 10_000,
    callback: Callable[[dict], bool | None] | None = None,
) -> QLearningResult:
    """Learn ``Q`` by stepping ``env`` for ``steps`` env steps; see the module docstring for the rule.

    ``n_states`` rows of ``Q`` (the MDP's state count, absorbing states included: their row stays
    ``q_init`` and is never bootstrapped from, because reaching them terminates). ``env.reset(seed=seed)``
    seeds the first episode and the learner's generator is ``default_rng(seed)``, so a seed
    reproduces a run. Every ``eval_every`` steps (0: only at the end) the greedy policy is rolled out
    on ``eval_env`` (default ``env``, re-seeded afterwards from the learner's generator) for
    ``eval_episodes`` episodes, appending ``{"steps", "eval_return", "eval_success"}`` to the curve;
    ``callback(entry)`` returning False stops early.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if not (0.0 <= epsilon_end <= 1.0 and 0.0 <= epsilon_start <= 1.0):
        raise ValueError(f"epsilon_start and epsilon_end must be in [0, 1], got {epsilon_start}, {epsilon_end}")
    n_actions = int(env.action_space.n)
    rng = np.random.default_rng(seed)
    Q = np.full((n_states, n_actions), float(q_init))
    visits = np.zeros((n_states, n_actions), dtype=np.int64)
    decay_steps = max(1, int(epsilon_fraction * steps))
    curve: list[dict] = []
    shared_eval = eval_env is None
    eval_env = env if shared_eval else eval_env

    def evaluate(t: int) -> bool:
        ret, succ = evaluate_policy(eval_env, greedy(Q), state_fn, eval_episodes, eval_seed)
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
        need_reset = terminated or truncated
        if eval_every and t % eval_every == 0 and t < steps:
            if not evaluate(t):
                return QLearningResult(Q=Q, policy=greedy(Q), curve=curve, visits=visits, steps=t)
            need_reset = need_reset or shared_eval  # evaluation moved the shared env: start a new episode
        if need_reset:
            env.reset(seed=int(rng.integers(2**31 - 1)) if shared_eval else None)
            s = state_fn(env)
    evaluate(t)
    return QLearningResult(Q=Q, policy=greedy(Q), curve=curve, visits=visits, steps=t)
