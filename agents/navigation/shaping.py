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
    """:class:`GoalShaping` for a natively batched stealth env (``gym.make_vec("sandbox/Stealth-v0", ...)``):
    adds ``weight * (gamma * Phi(s') - Phi(s))`` to every env's reward in one array operation.

    It reads each env's cell from ``info["cell"]`` (N, 2) and its level from ``env.level(i)`` (looked up
    only when an env starts an episode). Next-step autoreset: the reset step of an env (reward 0, a new
    episode's first observation) is left unshaped. ``info["unshaped_reward"]`` keeps the env's rewards."""

    def __init__(self, env: gym.vector.VectorEnv, gamma: float = 0.99, weight: float = 1.0):
        super().__init__(env)
        base = env.unwrapped
        if not callable(getattr(base, "level", None)):
            raise ValueError(f"VectorGoalShaping wraps the batched sandbox/Stealth-v0 env, got {type(base).__name__}")
        mode = getattr(env.metadata.get("autoreset_mode"), "value", env.metadata.get("autoreset_mode"))
        if mode not in (None, "NextStep"):
            raise ValueError(f"VectorGoalShaping needs next-step autoreset, got {mode}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
        self.base, self.gamma, self.weight = base, float(gamma), float(weight)
        self._maps: list[np.ndarray] = []  # one Phi per distinct level seen, padded to a common shape
        self._index: dict[int, int] = {}  # id(level) -> its row in _maps
        n = env.num_envs
        self._which = np.zeros(n, dtype=np.int64)  # each env's row in _maps
        self._stack = np.zeros((0, 1, 1))
        self._phi = np.zeros(n)
        self._pending = np.zeros(n, dtype=bool)  # envs whose next step is their reset

    def _refresh(self, envs: np.ndarray) -> None:
        """Point ``envs`` at the potential map of the level each now plays."""
        grew = False
        for i in envs:
            level = self.base.level(int(i))
            key = id(level)
            if key not in self._index:
                self._index[key] = len(self._maps)
                self._maps.append(goal_potential(level))
                grew = True
            self._which[i] = self._index[key]
        if grew:
            h = max(m.shape[0] for m in self._maps)
            w = max(m.shape[1] for m in self._maps)
            self._stack = np.zeros((len(self._maps), h, w))
            for k, m in enumerate(self._maps):
                self._stack[k, : m.shape[0], : m.shape[1]] = m

    def _potential(self, info: dict) -> np.ndarray:
        cell = np.asarray(info["cell"])
        return self._stack[self._which, cell[:, 0], cell[:, 1]]

    def reset(self, *, seed=None, options=None):
        mask = None if not options or "reset_mask" not in options else np.asarray(options["reset_mask"], bool)
        obs, info = self.env.reset(seed=seed, options=options)
        envs = np.arange(self.num_envs) if mask is None else np.flatnonzero(mask)
        self._refresh(envs)
        phi = self._potential(info)
        self._phi[envs] = phi[envs]
        self._pending[envs] = False
        return obs, info

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        started = np.flatnonzero(self._pending)
        if len(started):
            self._refresh(started)
        phi_next = np.where(terminated, 0.0, self._potential(info))
        shaping = self.weight * (self.gamma * phi_next - self._phi)
        shaping[self._pending] = 0.0  # a reset step is no transition
        self._phi = phi_next
        self._pending = np.asarray(terminated | truncated, bool)
        info = {**info, "unshaped_reward": reward}
        return obs, np.asarray(reward, np.float64) + shaping, terminated, truncated, info
