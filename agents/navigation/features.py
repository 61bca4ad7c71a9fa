"""``NavFeatures``: the navigation AI's maps as extra observation channels for learning agents.

The channels are computed by :mod:`envs.stealth.features`, which the env also uses for
``nav_features=True`` (the form the batched env offers): the wrapper and the keyword give the same
observations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.stealth import features
from envs.stealth.features import EXTRA_CHANNELS

__all__ = ["EXTRA_CHANNELS", "NavFeatures"]


class NavFeatures(gym.ObservationWrapper):
    """Adds three channels to a ``sandbox/Stealth-v0`` observation, after the env's six:

    * ``threat``: :func:`threat_map`, the fraction of the period each cell is watched;
    * ``hiding``: 1 on the :func:`hiding_spots` (floor never watched, reachable from start and goal);
    * ``danger_next``: 1 on each cell the player can reach with one action (itself and its four
      neighbours) where that action gets it caught (watched next step, or a swap with a guard).

    Works with every obs mode: ``grid`` gives (9, H, W), ``vector`` the flattened (9 * H * W,),
    ``local`` the (9, k, k) window (outside the map reads 0 in the extra channels).
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "world") or not hasattr(base, "obs_mode"):
            raise ValueError(f"NavFeatures wraps a sandbox/Stealth-v0 env, got {type(base).__name__}")
        if getattr(base, "nav_features", False):
            raise ValueError("the env already has nav_features=True; do not wrap it in NavFeatures as well")
        self.base = base
        old = env.observation_space
        if base.obs_mode == "vector":
            shape = (old.shape[0] // 6 * 9,)
        else:
            shape = (9, *old.shape[1:])
        self.observation_space = spaces.Box(0.0, 1.0, shape=shape, dtype=np.float32)
        self._level = None

    def _static(self) -> np.ndarray:
        level = self.base.level
        if self._level is not level:
            self._static_maps, self._level = features.static_maps(level), level
        return self._static_maps

    def extra_channels(self) -> np.ndarray:
        """(3, H, W) threat, hiding and next-step danger for the env's current state."""
        base = self.base
        h, w = base.level.shape
        danger = features.danger_next(base.world, base.cell, base.phase)
        return np.concatenate([self._static(), danger.reshape(1, h, w)])

    def observation(self, observation):
        base = self.base
        extra = self.extra_channels()
        if base.obs_mode == "local":
            k = base.local_size
            r = k // 2
            row, col = base.world.rc(base.cell)
            padded = np.pad(extra, ((0, 0), (r, r), (r, r)))
            extra = padded[:, row : row + k, col : col + k]
            return np.concatenate([observation, extra]).astype(np.float32)
        if base.obs_mode == "vector":
            return np.concatenate([observation, extra.reshape(-1)]).astype(np.float32)
        return np.concatenate([observation, extra]).astype(np.float32)
