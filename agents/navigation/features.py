"""``NavFeatures``: the navigation AI's maps as extra observation channels for learning agents.

The channels are computed by :mod:`envs.stealth.features`, which the env also uses for
``nav_features=True`` (the form the batched env offers): the wrapper and the keyword give the same
observations."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.stealth import features
from envs.stealth.features import EXTRA_CHANNELS, NAV_FEATURES

__all__ = ["EXTRA_CHANNELS", "NAV_FEATURES", "NavFeatures"]


class NavFeatures(gym.ObservationWrapper):
    """Adds the navigation AI's channels to a ``sandbox/Stealth-v0`` observation, after the env's six
    (``names``: True for the first three, ``"all"`` or names, as the env's ``nav_features`` keyword):

    * ``threat``: :func:`threat_map`, the fraction of the period each cell is watched;
    * ``hiding``: 1 on the :func:`hiding_spots` (floor never watched, reachable from start and goal);
    * ``danger_next``: 1 on each cell the player can reach with one action (itself and its four
      neighbours) where that action gets it caught (watched next step, or a swap with a guard);
    * ``flow``: the threat-aware flow field seen from the player (:func:`features.flow_view`);
    * ``lookahead``: the cells watched two steps from now;
    * ``trap_next``: the cells one action reaches safely from which every next action is caught.

    Works with every obs mode: ``grid`` gives (6 + C, H, W), ``vector`` the flattened ((6 + C) * H * W,),
    ``local`` the (6 + C, k, k) window (outside the map reads 0 in the extra channels).
    """

    def __init__(self, env: gym.Env, names=True):
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "world") or not hasattr(base, "obs_mode"):
            raise ValueError(f"NavFeatures wraps a sandbox/Stealth-v0 env, got {type(base).__name__}")
        if getattr(base, "nav_features", False):
            raise ValueError("the env already has nav_features; do not wrap it in NavFeatures as well")
        self.base, self.names = base, features.nav_names(names)
        if not self.names:
            raise ValueError(f"NavFeatures needs at least one channel; got {names!r}")
        old = env.observation_space
        c = 6 + len(self.names)
        shape = (old.shape[0] // 6 * c,) if base.obs_mode == "vector" else (c, *old.shape[1:])
        self.observation_space = spaces.Box(0.0, 1.0, shape=shape, dtype=np.float32)
        self._level = None

    def _cached(self) -> tuple:
        level = self.base.level
        if self._level is not level:
            static = features.static_maps(level) if {"threat", "hiding"} & set(self.names) else None
            costs = features.flow_costs(level) if "flow" in self.names else None
            self._maps, self._level = (static, costs), level
        return self._maps

    def extra_channels(self) -> np.ndarray:
        """(C, H, W): the channels ``names`` for the env's current state."""
        static, costs = self._cached()
        return features.extra_maps(self.base.level, self.base.cell, self.base.phase, self.names, static, costs)

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
