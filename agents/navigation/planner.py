"""The safe-path planner and the two stealth agents: ``PlannerAgent`` and ``OptimalAgent``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from envs.protocols import RecurrentState
from envs.stealth import rules
from envs.stealth.level import Level
from envs.stealth.rules import DELTAS, Action

if TYPE_CHECKING:
    from gymnasium.vector import VectorEnv


def plan_safe_path(level: Level, start_phase: int = 0,
                   start: tuple[int, int] | None = None) -> list[tuple[int, int]] | None:
    """The shortest path that is never seen, from the start (or ``start``, a ``(row, col)``).

    A breadth-first, time-expanded search over ``(cell, phase)`` states (see
    :func:`envs.stealth.rules.safe_path`), stepping with the env's own transition rule, so waiting
    in place for a guard to pass is part of the search. Returns the ``(row, col)`` cells occupied at
    steps 0, 1, ..., from the start cell to the goal, or ``None`` when every path is seen.
    """
    world = level.world
    cell = world.start if start is None else world.flat(start)
    path = rules.safe_path(world, cell, start_phase)
    return None if path is None else [world.rc(p) for p in path]


def _action_between(world, a: int, b: int) -> int:
    (r0, c0), (r1, c1) = world.rc(a), world.rc(b)
    return DELTAS.index((r1 - r0, c1 - c0))


def _unwrapped(env):
    if env is None:
        raise ValueError("stealth agents need env= (a sandbox/Stealth-v0 env) to read the player's state")
    base = getattr(env, "unwrapped", env)
    if not hasattr(base, "world") or not hasattr(base, "phase"):
        raise ValueError(f"stealth agents need a sandbox/Stealth-v0 env, got {type(base).__name__}")
    return base


def _batched(observation, env, action: int):
    """Return an array of actions when the observation carries a batch dimension."""
    obs = np.asarray(observation)
    space = env.observation_space
    if obs.ndim == len(space.shape) + 1:
        return np.full(obs.shape[0], action, dtype=np.int64)
    return action


class PlannerAgent:
    """Follows :func:`plan_safe_path`, replanning whenever the player is off the plan (after a slip).

    The agent reads the player's cell and the guards' phase from ``env`` (the observation alone does
    not say the phase). When no safe path exists from where it stands, it takes the first action,
    in the order stay, N, S, E, W, that is not caught on the next step (stay if none).
    """

    def __init__(self, env):  # a stealth env (wrapped or not), or one env's view of a batch
        self.env = _unwrapped(env)
        self.reset()

    def reset(self) -> None:
        self._plan: list[int] | None = None
        self._level = None
        self._step = 0
        self._phase0 = 0

    def _replan(self, world, cell: int, phase: int) -> None:
        self._plan = rules.safe_path(world, cell, phase)
        self._step, self._phase0 = 0, phase

    def predict(self, observation: np.ndarray, state: RecurrentState = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray | int, RecurrentState]:
        env = self.env
        world, cell, phase = env.world, int(env.cell), int(env.phase)
        if episode_start is not None and np.any(episode_start):
            self.reset()
        if self._level is not env.level:
            self._level, self._plan = env.level, None
        plan = self._plan
        expected_phase = (self._phase0 + self._step) % world.period
        if plan is None or self._step >= len(plan) - 1 or plan[self._step] != cell or phase != expected_phase:
            self._replan(world, cell, phase)
            plan = self._plan
        action: int
        if plan is None or len(plan) < 2:
            action = Action.STAY
            for d in Action:
                if not bool(rules.transition(world, cell, phase, int(d))[1]):
                    action = d
                    break
        else:
            action = _action_between(world, plan[self._step], plan[self._step + 1])
            self._step += 1
        return _batched(observation, env, int(action)), state


class OptimalAgent:
    """The optimal policy of the level's exact MDP (value iteration on
    :func:`agents.navigation.mdp.build_mdp`, with the env's slip and rewards).

    It reads the player's ``(cell, phase)`` from ``env`` and solves again when the level changes.
    """

    def __init__(self, env, gamma: float = 0.99, tol: float = 1e-8):  # a stealth env (wrapped or not)
        self.env = _unwrapped(env)
        self.gamma, self.tol = gamma, tol
        self._level = None

    def reset(self) -> None:
        pass

    def _solve(self) -> None:
        from agents.navigation.mdp import build_mdp
        from nets.bellman import value_iteration

        env = self.env
        self.mdp, self.index = build_mdp(env.level, slip=env.slip, rewards=env.rewards, gamma=self.gamma)
        self.solution = value_iteration(self.mdp, tol=self.tol)
        self._level = env.level

    def predict(self, observation: np.ndarray, state: RecurrentState = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray | int, RecurrentState]:
        env = self.env
        if self._level is not env.level:
            self._solve()
        action = int(self.solution.policy[self.index.state(int(env.cell), int(env.phase))])
        return _batched(observation, env, action), state


def make_planner(arg: str | None, **kwargs: Any) -> PlannerAgent:
    """Factory for the agent spec ``planner``."""
    if arg:
        raise ValueError(f"agent spec 'planner' takes no argument, got 'planner:{arg}'")
    return PlannerAgent(kwargs.get("env"))


def make_optimal(arg: str | None, **kwargs: Any) -> OptimalAgent:
    """Factory for the agent spec ``optimal`` or ``optimal:GAMMA``."""
    gamma = 0.99
    if arg:
        try:
            gamma = float(arg)
        except ValueError:
            raise ValueError(f"agent spec 'optimal:GAMMA' needs a number in (0, 1), got {arg!r}") from None
        if not 0.0 < gamma < 1.0:
            raise ValueError(f"agent spec 'optimal:GAMMA' needs a number in (0, 1), got {arg!r}")
    return OptimalAgent(kwargs.get("env"), gamma=gamma)


# ---- the batched forms: a batched stealth env's envs, one row each -----------------------------------------
class _RowView:
    """Env ``i`` of a batched stealth env as the single-env agents read it: ``world``, ``level``, ``cell``,
    ``phase``, ``slip``, ``rewards`` and the single observation space."""

    def __init__(self, vec, i: int):
        self.vec, self.i = vec, int(i)
        self.observation_space = vec.single_observation_space
        self.slip, self.rewards = vec.slip, vec.rewards

    @property
    def level(self):
        return self.vec.level(self.i)

    @property
    def world(self):
        return self.level.world

    @property
    def cell(self) -> int:
        return int(self.vec.cell[self.i])

    @property
    def phase(self) -> int:
        return int(self.vec.phase[self.i])


def _batched_env(env):
    if env is None:
        raise ValueError("batched stealth agents need env= (a batched stealth env, gym.make_vec('sandbox/Stealth-v0', "
                         "...)) to read each env's state")
    base = getattr(env, "unwrapped", env)
    if not all(hasattr(base, a) for a in ("level", "cell", "phase", "num_envs")):
        raise ValueError(f"batched stealth agents need a batched sandbox/Stealth-v0 env, got {type(base).__name__}")
    return base


class BatchedPlanner:
    """``planner`` for every env of a batched stealth env: env ``i`` played by a :class:`PlannerAgent`
    reading that env (the same plans, replans and fallbacks, row by row)."""

    spec = "planner"

    def __init__(self, env):
        self.env = _batched_env(env)
        self.rows: list[PlannerAgent] = []

    def bind(self, num_envs: int) -> None:
        if num_envs != self.env.num_envs:
            raise ValueError(f"planner reads a batched env of {self.env.num_envs} envs; bound to {num_envs}")
        self.rows = [PlannerAgent(_RowView(self.env, i)) for i in range(num_envs)]

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        for i in np.asarray(idx).tolist():
            self.rows[i].reset()

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        for i in np.flatnonzero(active).tolist():
            out[i] = self.rows[i].predict(obs[i])[0]


class BatchedOptimal:
    """``optimal[:GAMMA]`` for every env of a batched stealth env: value iteration on each level's exact MDP
    (as :class:`OptimalAgent`, solved once per level and shared by the envs playing it), the optimal action
    of each env's ``(cell, phase)`` read from one table per level."""

    def __init__(self, env, gamma: float = 0.99, tol: float = 1e-8, spec: str = "optimal"):
        self.env = _batched_env(env)
        self.gamma, self.tol, self.spec = gamma, tol, spec
        self._tables: dict[int, tuple[object, np.ndarray, int, int]] = {}

    def _table(self, level) -> tuple[np.ndarray, int, int]:
        hit = self._tables.get(id(level))
        if hit is not None and hit[0] is level:
            return hit[1], hit[2], hit[3]
        from agents.navigation.mdp import build_mdp
        from nets.bellman import value_iteration

        env = self.env
        mdp, index = build_mdp(level, slip=env.slip, rewards=env.rewards, gamma=self.gamma)
        policy = np.asarray(value_iteration(mdp, tol=self.tol).policy, dtype=np.int64)
        table = np.full(index.slot.shape, -1, dtype=np.int64)  # phase * N + cell -> action (-1: no state)
        live = index.slot >= 0
        table[live] = policy[index.slot[live]]
        self._tables[id(level)] = (level, table, index.n_cells, index.period)  # kept: its id is never reused
        return table, index.n_cells, index.period

    def bind(self, num_envs: int) -> None:
        if num_envs != self.env.num_envs:
            raise ValueError(f"optimal reads a batched env of {self.env.num_envs} envs; bound to {num_envs}")

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        pass

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        env = self.env
        for i in np.flatnonzero(active).tolist():
            table, n_cells, period = self._table(env.level(i))
            a = table[(int(env.phase[i]) % period) * n_cells + int(env.cell[i])]
            if a < 0:
                raise ValueError(f"optimal: env {i} is at cell {int(env.cell[i])}, phase {int(env.phase[i])}, not a "
                                 "state of its level's MDP (reachable from the start)")
            out[i] = a


def make_batched_planner(spec: str, env: VectorEnv | None = None) -> BatchedPlanner | BatchedOptimal:
    """The batched form of ``planner`` or ``optimal[:GAMMA]`` for the batched stealth env ``env``."""
    prefix, _, arg = spec.partition(":")
    if prefix == "planner":
        make_planner(arg or None, env=_RowView(_batched_env(env), 0))  # the single factory's checks
        return BatchedPlanner(env)
    gamma = make_optimal(arg or None, env=_RowView(_batched_env(env), 0)).gamma
    return BatchedOptimal(env, gamma=gamma, spec=spec)
