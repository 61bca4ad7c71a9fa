"""``GoalShaping``: potential-based reward shaping from the navigation AI's distance field.

On the stealth grid the only positive reward is the goal, far away, while getting caught costs -1 at once;
a learner exploring at random learns to stand still long before it first stumbles on the goal. Shaping
with a potential Phi (Ng, Harada & Russell, 1999) adds ``gamma * Phi(s') - Phi(s)`` to every reward,
which leaves the optimal policies unchanged (for the discount ``gamma`` the learner uses) but pays for
every step that brings the player closer to the goal. Here ``Phi(s) = -d(s) / d(start)``, with ``d`` the
walking distance to the goal over floor (guards ignored: the threat is still the env's own penalty), and
``Phi = 0`` at the end of an episode. Train with it; evaluate without it.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from agents.navigation.analysis import _distances


def goal_potential(level) -> np.ndarray:
    """Phi over the (H, W) grid: 0 at the goal, -1 at the start, unreachable cells as the farthest."""
    dist = _distances(level.walls, level.goal).astype(np.float64)
    far = dist.max() if dist.max() > 0 else 1.0
    dist[dist < 0] = far
    scale = max(dist[level.start], 1.0)
    return -dist / scale


class GoalShaping(gym.Wrapper):
    """Adds ``weight * (gamma * Phi(s') - Phi(s))`` to each reward of a ``sandbox/Stealth-v0`` env;
    ``info["unshaped_reward"]`` keeps the env's own reward."""

    def __init__(self, env: gym.Env, gamma: float = 0.99, weight: float = 1.0):
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "world") or not hasattr(base, "level"):
            raise ValueError(f"GoalShaping wraps a sandbox/Stealth-v0 env, got {type(base).__name__}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
        self.base, self.gamma, self.weight = base, float(gamma), float(weight)
        self._level = None
        self._phi_map: np.ndarray | None = None
        self._phi = 0.0

    def _potential(self) -> float:
        level = self.base.level
        if self._level is not level:
            self._phi_map, self._level = goal_potential(level), level
        r, c = divmod(int(self.base.cell), level.shape[1])
        return float(self._phi_map[r, c])

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._phi = self._potential()
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        phi_next = 0.0 if terminated else self._potential()
        shaped = reward + self.weight * (self.gamma * phi_next - self._phi)
        self._phi = phi_next
        info = {**info, "unshaped_reward": reward}
        return obs, float(shaped), terminated, truncated, info


class ExploringStarts(gym.Wrapper):
    """Training aid: with probability ``prob`` a reset starts the player on a random safe floor cell at a
    random guard phase (``reset(options={"start": "random", "phase": "random"})``), so a learner meets the
    goal early and learns backwards from it; otherwise the level's own start. Evaluate without it."""

    def __init__(self, env: gym.Env, prob: float = 0.5):
        super().__init__(env)
        if not hasattr(env.unwrapped, "world"):
            raise ValueError(f"ExploringStarts wraps a sandbox/Stealth-v0 env, got {type(env.unwrapped).__name__}")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"exploring-starts probability must be in [0, 1], got {prob!r}")
        self.prob = float(prob)

    def reset(self, *, seed=None, options=None):
        if seed is not None:  # seed first, so that the coin below comes from the seeded generator
            self.env.reset(seed=seed)
        if self.np_random.random() < self.prob:
            options = {"start": "random", "phase": "random", **(options or {})}
        return self.env.reset(options=options)


class VectorGoalShaping(gym.vector.VectorWrapper):
    """:class:`GoalShaping` for the batched stealth env (``gym.make_vec("sandbox/Stealth-v0", ...)``), one
    array operation per step: each env's reward gains ``weight * (gamma * Phi(s') - Phi(s))`` (``Phi = 0``
    after a termination), and ``info["unshaped_reward"]`` keeps the env's own rewards. With next-step
    autoreset, the step that resets an env keeps its reward 0 and restarts its potential at the new start,
    so env ``i`` sees exactly what ``GoalShaping`` around a single env gives in a ``SyncVectorEnv``."""

    def __init__(self, env, gamma: float = 0.99, weight: float = 1.0):
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "levels") or not hasattr(base, "slot"):
            raise ValueError(f"VectorGoalShaping wraps the batched sandbox/Stealth-v0 env, got {type(base).__name__}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
        self.base, self.gamma, self.weight = base, float(gamma), float(weight)
        self._maps: list[np.ndarray] = []  # flat Phi of each level slot
        self._flat = np.zeros(0, dtype=np.float64)
        self._offsets = np.zeros(0, dtype=np.int64)
        self._phi = np.zeros(base.num_envs, dtype=np.float64)
        self._ended = np.zeros(base.num_envs, dtype=bool)

    def _potential(self) -> np.ndarray:
        levels = self.base.levels
        if len(levels) > len(self._maps):  # new level slots: a step per new level, never per env
            self._maps += [goal_potential(level).reshape(-1) for level in levels[len(self._maps):]]
            sizes = np.array([m.size for m in self._maps], dtype=np.int64)
            self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            self._flat = np.concatenate(self._maps)
        return self._flat[self._offsets[self.base.slot] + self.base.cell]

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._phi = self._potential()
        self._ended[:] = False
        return obs, info

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        phi = self._potential()
        phi_next = np.where(terminated, 0.0, phi)
        shaped = reward + self.weight * (self.gamma * phi_next - self._phi)
        shaped[self._ended] = 0.0  # these envs were reset on this step (next-step autoreset)
        self._phi, self._ended = phi, terminated | truncated
        return obs, shaped, terminated, truncated, {**info, "unshaped_reward": reward}
