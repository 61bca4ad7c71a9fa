"""The exact optimum as a teacher: each level's optimal action and value V* for every ``(cell, phase)``.

:class:`ExpertTables` solves a level's exact MDP once (value iteration on :func:`build_mdp` with
``states="all"``, so every floor cell at every phase has an answer, exploring starts included) and keeps
two flat tables indexed ``phase * N + cell``: an optimal action and V*. Where several actions are
optimal (wait now and go later, or go now and wait later, arriving as soon), the teacher takes the one
whose destination is lowest on the flow field (:func:`envs.stealth.features.flow_costs`): it moves as
soon as moving is as good, and waits only when waiting is strictly better, which a learner that sees
only a window around it can imitate. :meth:`ExpertTables.act`
reads them for every env of a batched stealth env (``gym.make_vec("sandbox/Stealth-v0", ...)``) at once, and
:class:`ExpertAgent` plays them as a batched agent: what DAgger (:mod:`experiments.train.dagger`) labels its
states with. :class:`agents.navigation.planner.
OptimalAgent` plays the same policy in a single env.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from envs.stealth import features
from envs.stealth.level import Level
from envs.stealth.rules import Rewards

if TYPE_CHECKING:
    from gymnasium.vector import VectorEnv

__all__ = ["ExpertAgent", "ExpertTables"]

TIE = 1e-9  # actions whose Q* is within this of the best are all optimal


class ExpertTables:
    """Optimal action and value tables of stealth levels, solved on first use and cached per level object.

    ``gamma``, ``slip`` and ``rewards`` are those of the MDP solved (the env's own, for a faithful teacher).
    ``max_levels`` bounds the cache (the first solved dropped first); a 12x12 level with a 24-step period
    takes 17 KB."""

    def __init__(self, gamma: float = 0.99, slip: float = 0.0, rewards: Rewards | None = None,
                 max_levels: int = 10_000):
        self.gamma, self.slip, self.rewards = float(gamma), float(slip), rewards or Rewards()
        self.max_levels = int(max_levels)
        self._cache: dict[int, tuple[Level, np.ndarray, np.ndarray]] = {}
        self.solved = 0

    def tables(self, level: Level) -> tuple[np.ndarray, np.ndarray]:
        """``(action, value)``: (period * N,) int8 and float32, the optimal action and V* of each
        ``(cell, phase)`` at ``phase * N + cell`` (action 0 and value 0 on walls)."""
        hit = self._cache.get(id(level))
        if hit is not None and hit[0] is level:
            return hit[1], hit[2]
        from agents.navigation.mdp import build_mdp
        from nets.bellman import value_iteration

        mdp, index = build_mdp(level, slip=self.slip, rewards=self.rewards, gamma=self.gamma, states="all")
        solution = value_iteration(mdp, tol=1e-8)
        live = index.codes.size  # states 0..L-1 are (cell, phase) pairs; caught and goal follow
        q = (mdp.R + mdp.gamma * (mdp.P @ solution.V).reshape(mdp.shape))[:live]
        optimal = q >= q.max(axis=1, keepdims=True) - TIE
        # among the optimal actions, the one whose destination is nearest the goal on the flow field (moving
        # now rather than later when both are as good); then the lowest action number
        cells = index.codes % index.n_cells
        costs = features.flow_costs(level).reshape(-1)
        dest = np.where(np.isfinite(costs), costs, 1e9)[level.world.move[cells]]  # (L, 5)
        choice = np.argmin(np.where(optimal, dest, np.inf), axis=1)
        action = np.zeros(index.period * index.n_cells, dtype=np.int8)
        value = np.zeros(index.period * index.n_cells, dtype=np.float32)
        action[index.codes] = choice
        value[index.codes] = np.asarray(solution.V[:live], dtype=np.float64)
        if len(self._cache) >= self.max_levels:
            self._cache.pop(next(iter(self._cache)))
        self._cache[id(level)] = (level, action, value)  # the level is kept, so its id is never reused
        self.solved += 1
        return action, value

    def act(self, vec: VectorEnv, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The optimal action and V* of each env (or of ``rows``) of the batched stealth env ``vec``
        (its ``level(i)``, ``cell`` and ``phase``), as two arrays."""
        base = vec.unwrapped
        rows = np.arange(base.num_envs) if rows is None else np.asarray(rows, dtype=np.int64)
        actions = np.zeros(rows.size, dtype=np.int64)
        values = np.zeros(rows.size, dtype=np.float64)
        for k, i in enumerate(rows.tolist()):
            level = base.level(i)
            action, value = self.tables(level)
            code = int(base.phase[i]) * level.world.n_cells + int(base.cell[i])
            actions[k], values[k] = action[code], value[code]
        return actions, values


class ExpertAgent:
    """The teacher as a batched agent (:mod:`agents.batched`): each active env of the batched stealth env
    ``env`` plays its optimal action from ``tables`` (:meth:`ExpertTables.act`), and ``values[i]`` holds
    V* of env ``i``'s state when it last acted. Deterministic: it draws nothing."""

    spec = "expert"

    def __init__(self, tables: ExpertTables, env: VectorEnv):
        self.tables, self.env = tables, env
        self.values = np.zeros(0, dtype=np.float64)

    def bind(self, num_envs: int) -> None:
        self.values = np.zeros(int(num_envs), dtype=np.float64)

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        pass

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        rows = np.flatnonzero(active)
        if rows.size:
            out[rows], self.values[rows] = self.tables.act(self.env, rows)
