"""The drives of N envs as arrays, and their update: one vectorised step over every env, no loop per env.

Both forms of each game hold one :class:`DriveState` (the single env a batch of one), so env ``i`` of a batch
and the single env give the same levels and rewards from the same events. The game computes the event
matrix ``x`` (N, E) (columns in the order of :data:`envs.drives.table.EVENTS`); :meth:`DriveState.step`
decays, doses, clips and returns the drive reward; :meth:`DriveState.reward` mixes in the task's.
"""

from __future__ import annotations

import numpy as np

from envs.drives.table import EVENTS, DriveTable, creatures_reward, drive_value


class DriveState:
    """``h`` (N, D): the drive levels of ``num_envs`` envs under ``table``."""

    def __init__(self, table: DriveTable, num_envs: int):
        self.table = table
        self.num_envs = int(num_envs)
        a = table.arrays()
        self.set_point, self.start, self.decay = a["set_point"], a["start"], a["decay"]
        self.low, self.high, self.weight, self.dose = a["low"], a["high"], a["weight"], a["dose"]
        self.scale = 1.0 / (self.high - self.low)
        self.h = np.tile(self.start, (self.num_envs, 1))
        self.events = np.zeros((self.num_envs, len(EVENTS[table.game])), dtype=np.float64)
        self.drive_reward = np.zeros(self.num_envs, dtype=np.float64)
        mode = table.mix if table.mode == "mix" else table.mode
        self.homeostatic = mode == "homeostatic"

    @property
    def size(self) -> int:
        """The number of drives, D."""
        return len(self.start)

    def reset(self, idx: np.ndarray | slice | None = None) -> None:
        """Envs ``idx`` (all by default) start an episode: their levels are the table's ``start``."""
        self.h[slice(None) if idx is None else idx] = self.start

    def value(self, h: np.ndarray | None = None) -> np.ndarray:
        """``D(h)`` of each env (N,) (of ``h`` when given)."""
        t = self.table
        return drive_value(self.h if h is None else h, self.set_point, self.weight, t.m, t.n)

    def advance(self, h: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The levels after one step from ``h`` (N, D) with events ``x`` (N, E): decay towards the set
        point, the doses, the bounds."""
        h_next = self.set_point + (h - self.set_point) * self.decay + x @ self.dose
        return np.clip(h_next, self.low, self.high, out=h_next)

    def step(self, x: np.ndarray | None = None) -> np.ndarray:
        """Advance every env by the events ``x`` (N, E) (``self.events`` by default); returns the drive
        reward (N,) of the step (homeostatic or creatures, as the table says) and keeps the new levels."""
        h = self.h
        h_next = self.advance(h, self.events if x is None else x)
        if self.homeostatic:
            r = self.value(h) - self.value(h_next)
        else:
            r = creatures_reward(h, h_next, self.weight)
        self.h = h_next
        self.drive_reward = r
        return r

    def reward(self, task: np.ndarray, drive: np.ndarray) -> np.ndarray:
        """The reward the env returns: the drive reward, or with ``mode = "mix"``
        ``lam * task + (1 - lam) * drive``."""
        t = self.table
        if t.mode == "mix":
            return t.lam * task + (1.0 - t.lam) * drive
        return drive

    def levels(self) -> np.ndarray:
        """The levels scaled to [0, 1] by the bounds (N, D) float32: what the observation appends."""
        return ((self.h - self.low) * self.scale).astype(np.float32)
