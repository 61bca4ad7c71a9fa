"""The stealth level's exact MDP as a solver sees it, and agents that act from its state numbers.

:func:`build_mdp` joins the two floors below: :func:`envs.stealth.mdp.mdp_arrays` (the env's own rule
functions, applied to every ``(cell, phase)`` state, as plain arrays) and :func:`nets.bellman.mdp_from_arrays`
(the ``TabularMDP`` the solvers take). :class:`TabularAgent` plays any state-indexed policy (value
iteration's, Q-learning's) in the real env, reading the state through ``state_fn(env)``, e.g.
:func:`envs.stealth.mdp.stealth_state_fn`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from envs.protocols import RecurrentState
from envs.stealth.level import Level
from envs.stealth.mdp import StateIndex, greedy_path, mdp_arrays, stealth_state_fn
from envs.stealth.rules import Rewards

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = ["TabularAgent", "build_mdp", "greedy_path", "policy_evaluator", "stealth_state_fn"]


def build_mdp(level: Level, *, slip: float = 0.0, rewards: Rewards | None = None, gamma: float = 0.99,
              states: str = "reachable") -> tuple:
    """The exact MDP of ``level``: ``(TabularMDP, StateIndex)``.

    ``states``: ``"reachable"`` (the pairs the env can be in, the default) or ``"all"`` (every floor
    cell at every phase); see :mod:`envs.stealth.mdp`."""
    from nets.bellman import mdp_from_arrays

    arrays = mdp_arrays(level, slip=slip, rewards=rewards, states=states)
    index: StateIndex = arrays.index
    return mdp_from_arrays(arrays, gamma), index


class TabularAgent:
    """A state-indexed greedy policy behind the agent protocol: ``predict`` ignores the observation
    and reads the state from ``env`` through ``state_fn`` (like :class:`agents.navigation.planner.OptimalAgent`)."""

    def __init__(self, policy: np.ndarray, env: gym.Env, state_fn: Callable[[gym.Env], int]):
        self.policy = np.asarray(policy, dtype=np.int64)
        self.env = env
        self.state_fn = state_fn

    def reset(self) -> None:
        pass

    def predict(self, observation: np.ndarray, state: RecurrentState = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray | int, RecurrentState]:
        return int(self.policy[self.state_fn(self.env)]), state


def policy_evaluator(env: gym.Env, state_fn: Callable[[gym.Env], int], episodes: int = 1,
                     seed: int = 10_000) -> Callable[[np.ndarray], tuple[float, float]]:
    """``evaluate(policy) -> (mean return, success rate)`` of a state-indexed policy over ``episodes``
    episodes of ``env`` seeded ``seed, seed + 1, ...`` (the rollout harness; success is the env's
    ``info["is_success"]``). The ``evaluate`` argument of :func:`nets.tabular.q_learning`."""
    from agents.rollout import evaluate

    def evaluate_policy(policy: np.ndarray) -> tuple[float, float]:
        ev = evaluate(TabularAgent(policy, env, state_fn), env, episodes, seed=seed)
        return ev.mean_return, ev.success_rate

    return evaluate_policy
