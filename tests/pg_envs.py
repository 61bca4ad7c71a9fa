"""Tiny Gymnasium envs with known optima, for the policy-gradient tests (not registered anywhere).

* :class:`Bandit`: one step, ``Discrete(k)`` arms with known mean rewards plus Gaussian noise.
* :class:`ControllerBandit`: one step, ``MultiDiscrete([9, 4])`` like the duel; half a point for the
  right stick direction and half for the right button.
* :class:`Corridor`: 5 cells in a row, start at the left end, +1 for reaching the right end, -0.1 per
  other step; a time limit truncates. :func:`corridor_mdp` is the same model as a TabularMDP.
* :class:`Cue`: a memory task: a cue (one of two) shown at the first step only, then blank steps,
  then a query step where the action must name the cue (+1, else -1).
* :class:`Counter`: deterministic, observation = step count, reward 1 per step; ends after
  ``length`` steps by termination or truncation. For checking returns at episode ends.

Also what the learners' tests share: :func:`make_env` (a single env or a SyncVectorEnv in an autoreset
mode, over ``MODES``) and :func:`params` / :func:`same_params` (parameter snapshots).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium import Env, spaces
from gymnasium.vector import AutoresetMode

from nets.bellman import TabularMDP

MODES = ["single", "NextStep", "SameStep", "Disabled"]


def make_env(fn, mode: str, k: int = 2):
    """A single env (mode "single") or a SyncVectorEnv of ``k`` copies in the given autoreset mode."""
    if mode == "single":
        return fn()
    return gym.vector.SyncVectorEnv([fn] * k, autoreset_mode=AutoresetMode(mode))


def params(learner) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in learner.policy.state_dict().items()}


def same_params(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Bandit(Env):
    def __init__(self, means=(0.2, 0.5, 0.8), noise: float = 0.1):
        self.means = np.asarray(means, dtype=float)
        self.noise = float(noise)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(len(self.means))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def step(self, action):
        r = self.means[int(action)] + self.noise * self.np_random.standard_normal()
        return np.ones(1, np.float32), float(r), True, False, {}


class ControllerBandit(Env):
    def __init__(self, best=(6, 2)):
        self.best = tuple(best)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.MultiDiscrete([9, 4])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.ones(3, np.float32), {}

    def step(self, action):
        d, b = (int(x) for x in action)
        r = 0.5 * (d == self.best[0]) + 0.5 * (b == self.best[1])
        return np.ones(3, np.float32), float(r), True, False, {}


LEFT, RIGHT = 0, 1


class Corridor(Env):
    """Cells 0..n-1, start 0, goal n-1 (terminal). Actions LEFT/RIGHT; the wall at 0 keeps you in place.

    Reward: +1 on entering the goal, ``step_cost`` (negative) on every other step."""

    def __init__(self, n: int = 5, step_cost: float = -0.1, max_steps: int = 20):
        self.n, self.step_cost, self.max_steps = int(n), float(step_cost), int(max_steps)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.n,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)

    def _obs(self):
        o = np.zeros(self.n, np.float32)
        o[self.pos] = 1.0
        return o

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.pos = corridor_move(self.pos, int(action), self.n)
        self.t += 1
        goal = self.pos == self.n - 1
        r = 1.0 if goal else self.step_cost
        return self._obs(), r, goal, (not goal) and self.t >= self.max_steps, {}


def corridor_move(pos: int, action: int, n: int) -> int:
    return min(pos + 1, n - 1) if action == RIGHT else max(pos - 1, 0)


def corridor_mdp(n: int = 5, step_cost: float = -0.1, gamma: float = 0.99) -> TabularMDP:
    """The corridor as an exact MDP (no time limit): T[a, s, s2], R[s, a], goal terminal."""
    T = np.zeros((2, n, n))
    R = np.zeros((n, 2))
    for s in range(n):
        for a in (LEFT, RIGHT):
            s2 = corridor_move(s, a, n)
            T[a, s, s2] = 1.0
            R[s, a] = 1.0 if s2 == n - 1 else step_cost
    terminal = np.zeros(n, bool)
    terminal[n - 1] = True
    return TabularMDP(T, R, gamma, terminal=terminal)


class Cue(Env):
    """Observation [cue0, cue1, query]: the cue at step 0, zeros for ``delay`` steps, then [0, 0, 1].

    The action counts only at the query step: +1 if it equals the cue, -1 otherwise. Without memory
    the best expected return is 0; with memory it is +1."""

    def __init__(self, delay: int = 2):
        self.delay = int(delay)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)

    def _obs(self):
        o = np.zeros(3, np.float32)
        if self.t == 0:
            o[self.cue] = 1.0
        elif self.t == self.delay + 1:
            o[2] = 1.0
        return o

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cue = int(self.np_random.integers(2))
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        if self.t == self.delay + 1:
            r = 1.0 if int(action) == self.cue else -1.0
            return np.zeros(3, np.float32), r, True, False, {}
        self.t += 1
        return self._obs(), 0.0, False, False, {}


class Counter(Env):
    """Observation [t]; reward 1 per step; after ``length`` steps: terminated, or truncated."""

    def __init__(self, length: int = 3, truncate: bool = True):
        self.length, self.truncate = int(length), bool(truncate)
        self.observation_space = spaces.Box(0.0, 100.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        end = self.t >= self.length
        return np.array([float(self.t)], np.float32), 1.0, end and not self.truncate, end and self.truncate, {}
