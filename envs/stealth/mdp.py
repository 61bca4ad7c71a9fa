"""The exact MDP of a stealth level, built from the same rule the env steps with.

States are ``(cell, phase)`` pairs, plus two absorbing states, ``caught`` and ``goal`` (self-loops,
reward 0, marked terminal). From a state and an action, :func:`envs.stealth.rules.action_outcomes`
gives the directions the player may actually move in and their probabilities (slip), and
:func:`envs.stealth.rules.transition` gives where each one lands; :func:`envs.stealth.rules.step_reward`
gives the reward. The env's kernel (:mod:`envs.stealth.kernels`) applies the same rule, read from the same
compiled tables, one state at a time; here it is applied to every state at once, and
``tests/test_stealth_mdp.py`` steps the env from every state and action to hold the two equal.

Which ``(cell, phase)`` pairs: by default, those the env can ever be in, i.e. the ones reachable from
``(start, 0)`` through uncaught, unfinished steps in any of the five directions (so the set is the
same for every slip). ``states="all"`` takes every floor cell at every phase instead. The pairs the
env never reaches (walled-off pockets, cells behind a sentry that never moves) would only slow value
iteration down: their value, a step cost forever, converges geometrically.

Size: at most ``floor_cells * period + 2`` states, ``A = 5``; each (state, action) row has at most 3
nonzeros, so the transitions are sparse.

The env floor imports no solver, so :func:`mdp_arrays` returns plain arrays (:class:`MDPArrays`: CSR
transitions, expected rewards, terminal mask, state index); ``nets.bellman.mdp_from_arrays`` turns them
into a ``TabularMDP``, and :func:`agents.navigation.build_mdp` does both in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import scipy.sparse as sp

from envs.stealth import rules
from envs.stealth.level import Level
from envs.stealth.rules import Action, Rewards

if TYPE_CHECKING:
    import gymnasium as gym

    from envs.stealth.env import StealthEnv

STATE_SETS = ("reachable", "all")


@dataclass(frozen=True, eq=False)
class StateIndex:
    """Maps ``(cell, phase)`` to MDP state numbers and back.

    Live state ``s`` is the pair coded ``codes[s] = phase * N + cell`` (``codes`` is sorted, so states
    are ordered by phase, then cell); ``caught = len(codes)`` and ``goal = len(codes) + 1``.
    """

    codes: np.ndarray  # (L,) sorted phase * N + flat cell of each live state
    slot: np.ndarray  # (period * N,) code -> state, or -1 where the pair has no state
    period: int
    width: int
    n_cells: int
    start_cell: int
    goal_cell: int

    @property
    def caught(self) -> int:
        return int(self.codes.size)

    @property
    def goal(self) -> int:
        return int(self.codes.size) + 1

    @property
    def n_states(self) -> int:
        return int(self.codes.size) + 2

    @property
    def start_state(self) -> int:
        return self.state(self.start_cell, 0)

    def has(self, cell, phase: int) -> bool:  # cell: a flat index or (row, col)
        """Is ``(cell, phase)`` a state of the MDP?"""
        flat = cast(int, cell) if np.isscalar(cell) else int(cell[0]) * self.width + int(cell[1])
        return bool(self.slot[(int(phase) % self.period) * self.n_cells + int(flat)] >= 0)

    def state(self, cell, phase: int) -> int:  # cell: a flat index or (row, col)
        """State number of ``cell`` (flat index or ``(row, col)``) at ``phase``."""
        flat = cast(int, cell) if np.isscalar(cell) else int(cell[0]) * self.width + int(cell[1])
        s = int(self.slot[(int(phase) % self.period) * self.n_cells + int(flat)])
        if s < 0:
            raise ValueError(
                f"cell {cell} at phase {phase} is not a state: a wall, or never reached from the start "
                "(build_mdp(..., states='all') has every floor cell at every phase)"
            )
        return s

    def cell_phase(self, state: int) -> tuple[int, int]:
        """(flat cell, phase) of a live (non-absorbing) state."""
        if not 0 <= state < self.caught:
            raise ValueError(f"state {state} is not live (caught = {self.caught}, goal = {self.goal})")
        phase, cell = divmod(int(self.codes[state]), self.n_cells)
        return cell, phase


def reachable_pairs(world: rules.World, start_cell: int, start_phase: int = 0) -> np.ndarray:
    """Sorted codes ``phase * N + cell`` of the pairs reachable from ``(start_cell, start_phase)``.

    Breadth-first over all five directions, through steps that are neither caught nor at the goal
    (those end the episode), with :func:`envs.stealth.rules.transition`.
    """
    n, period = world.n_cells, world.period
    seen = np.zeros(period * n, dtype=bool)
    frontier = np.array([(start_phase % period) * n + start_cell])
    seen[frontier] = True
    while frontier.size:
        phases, cells = np.divmod(frontier, n)
        found = []
        for d in range(len(rules.DELTAS)):
            new, caught, at_goal = rules.transition(world, cells, phases, d)
            live = ~caught & ~at_goal
            found.append(((phases[live] + 1) % period) * n + new[live])
        new_codes = np.unique(np.concatenate(found))
        frontier = new_codes[~seen[new_codes]]
        seen[frontier] = True
    return np.flatnonzero(seen)


@dataclass(frozen=True, eq=False)
class MDPArrays:
    """The exact MDP of a level as plain arrays (S states, A = 5 actions)."""

    transitions: list  # A scipy CSR matrices (S, S): transitions[a][s, s2] = T(s2 | s, a)
    rewards: np.ndarray  # (S, A) float64 expected reward R(s, a)
    terminal: np.ndarray  # (S,) bool: the absorbing caught and goal states
    index: StateIndex  # (cell, phase) <-> state number

    @property
    def n_states(self) -> int:
        return self.index.n_states


def mdp_arrays(
    level: Level,
    *,
    slip: float = 0.0,
    rewards: Rewards | None = None,
    states: str = "reachable",
) -> MDPArrays:
    """The exact MDP of ``level`` as :class:`MDPArrays` (no discount: that belongs to the solver).

    ``states``: ``"reachable"`` (the pairs the env can be in, the default) or ``"all"`` (every floor
    cell at every phase). Either set is closed under the transitions.
    """
    if states not in STATE_SETS:
        raise ValueError(f"unknown states={states!r}; valid: {', '.join(STATE_SETS)}")
    if not 0.0 <= slip <= 1.0:
        raise ValueError(f"slip must be a probability in [0, 1], got {slip!r}")
    rewards = rewards or Rewards()
    world = level.world
    n, period = world.n_cells, world.period
    if states == "reachable":
        codes = reachable_pairs(world, world.start, 0)
    else:
        floor = np.flatnonzero(~world.walls)
        codes = (np.arange(period)[:, None] * n + floor[None, :]).reshape(-1)
    slot = np.full(period * n, -1, dtype=np.int64)
    slot[codes] = np.arange(codes.size)
    index = StateIndex(codes, slot, period, world.width, n, int(world.start), int(world.goal))
    n_live = codes.size
    caught_s, goal_s = index.caught, index.goal
    phases, cells = np.divmod(codes, n)  # every live state at once
    live_states = np.arange(n_live)
    next_phase = (phases + 1) % period
    matrices, reward_cols = [], []
    for action in Action:
        rows, cols, probs = [], [], []
        expected = np.zeros(n_live + 2)
        for direction, prob in rules.action_outcomes(action, slip):
            new_cell, caught, at_goal = rules.transition(world, cells, phases, direction)
            dest = np.where(caught, caught_s, np.where(at_goal, goal_s, slot[next_phase * n + new_cell]))
            if (dest < 0).any():  # cannot happen: both state sets are closed
                raise AssertionError("build_mdp: a transition leaves the state set")
            rows.append(live_states)
            cols.append(dest)
            probs.append(np.full(n_live, prob))
            expected[:n_live] += prob * rules.step_reward(rewards, caught, at_goal)
        rows.append(np.array([caught_s, goal_s]))  # absorbing: self-loops, reward 0
        cols.append(np.array([caught_s, goal_s]))
        probs.append(np.ones(2))
        matrices.append(
            sp.csr_matrix(
                (np.concatenate(probs), (np.concatenate(rows), np.concatenate(cols))),
                shape=(n_live + 2, n_live + 2),
            )
        )
        reward_cols.append(expected)
    terminal = np.zeros(n_live + 2, dtype=bool)
    terminal[[caught_s, goal_s]] = True
    return MDPArrays(matrices, np.stack(reward_cols, axis=1), terminal, index)


def stealth_state_fn(index: StateIndex) -> Callable[[gym.Env], int]:
    """``state_fn(env) -> int``: the MDP state number of a stealth env's ``(cell, phase)`` (the goal and
    caught states once the episode has ended there), for state-indexed agents and tabular learners."""

    def state_fn(env: gym.Env) -> int:
        base = cast("StealthEnv", env.unwrapped)
        if base.at_goal:
            return index.goal
        if base.caught:
            return index.caught
        return index.state(int(base.cell), int(base.phase))

    return state_fn


def greedy_path(mdp: Any, index: StateIndex, policy: Sequence[int] | np.ndarray, start_phase: int = 0,
                max_len: int | None = None) -> list[int] | None:
    """Follow a deterministic policy in a deterministic MDP (slip 0) from the start.

    Returns the flat cells occupied at steps 0, 1, ... ending on the goal, or ``None`` when the
    policy is caught or does not reach the goal within ``max_len`` steps (default: the state count).
    """
    max_len = max_len or index.n_states
    s = index.state(index.start_cell, start_phase)
    cells = [index.start_cell]
    for _ in range(max_len):
        row = mdp.P[s * mdp.n_actions + int(policy[s])]
        if row.nnz != 1:
            raise ValueError("greedy_path needs a deterministic MDP (slip = 0)")
        s = int(row.indices[0])
        if s == index.caught:
            return None
        cells.append(index.goal_cell if s == index.goal else index.cell_phase(s)[0])
        if s == index.goal:
            return cells
    return None
