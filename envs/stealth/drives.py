"""The stealth game's drives: its events per step, computed for N envs at once from the core's arrays, and the
drive levels appended to the observation. Both forms of ``sandbox/Stealth-v0`` hold one :class:`StealthDrives`
when ``drives=`` is given (the single env a batch of one), so env ``i`` of a batch gives the single env's
levels and rewards.

The events (:data:`envs.drives.table.EVENTS` ``["stealth"]``), each 1 or 0 per step: ``time`` (every step),
``moved``/``still`` (the player's cell changed or not), ``new_cell`` (its first visit this episode),
``near_cone`` (the cell or one of its four neighbours is watched at the new phase), ``seen`` (caught),
``goal`` (the goal reached).
"""

from __future__ import annotations

import numpy as np

from envs.drives.state import DriveState
from envs.drives.table import EVENTS, DriveTable
from envs.stealth.core import StealthCore
from envs.stealth.kernels import (
    BIT_WATCHED,
    LV_HEIGHT,
    LV_OFF_BITS,
    LV_WIDTH,
    OUT_AT_GOAL,
    OUT_CAUGHT,
    ST_CELL,
    ST_PHASE,
    ST_SLOT,
)
from envs.stealth.rules import World

_EV = {name: k for k, name in enumerate(EVENTS["stealth"])}
_NEIGHBOURS = np.array([(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)], dtype=np.int64)


class StealthDrives:
    """The drives of the core's N envs: ``state`` (:class:`DriveState`), each env's visited cells, and the
    player's cell before the step."""

    def __init__(self, table: DriveTable, core: StealthCore):
        self.core = core
        n = core.num_envs
        self.state = DriveState(table, n)
        cells = max([core.config.size ** 2] + [h * w for h, w in (lv.shape for lv in core.fixed_levels)])
        self.visited = np.zeros((n, cells), dtype=np.bool_)
        self.before = np.zeros(n, dtype=np.int64)
        self.rows = np.arange(n)

    def start(self, envs: np.ndarray) -> None:
        """``envs`` start an episode (after the core placed them): drives at their start, only the start
        cell visited."""
        self.state.reset(envs)
        self.visited[envs] = False
        self.visited[envs, self.core.state[ST_CELL, envs]] = True

    def remember(self) -> None:
        """Keep the cells before a step (call before the kernel runs)."""
        np.copyto(self.before, self.core.state[ST_CELL])

    def step(self, restarted: np.ndarray | None) -> np.ndarray:
        """After the kernel ran: the step's events, the drives' update and their reward (N,); envs in
        ``restarted`` (a bool mask, or None) began a new episode instead: their drives start over, reward 0."""
        core, rows = self.core, self.rows
        x = self.state.events
        cell, phase, slot = core.state[ST_CELL], core.state[ST_PHASE], core.state[ST_SLOT]
        moved = cell != self.before
        x[:, _EV["time"]] = 1.0
        x[:, _EV["moved"]] = moved
        x[:, _EV["still"]] = ~moved
        x[:, _EV["new_cell"]] = ~self.visited[rows, cell]
        self.visited[rows, cell] = True
        table, pad = core.tables.slots[slot], core.pad
        h, w = table[:, LV_HEIGHT], table[:, LV_WIDTH]
        wp = w + 2 * pad
        base = table[:, LV_OFF_BITS] + phase * (h + 2 * pad) * wp
        r = np.clip(cell[:, None] // w[:, None] + _NEIGHBOURS[:, 0], 0, h[:, None] - 1)
        c = np.clip(cell[:, None] % w[:, None] + _NEIGHBOURS[:, 1], 0, w[:, None] - 1)
        bits = core.tables.bits[base[:, None] + (r + pad) * wp[:, None] + c + pad]
        x[:, _EV["near_cone"]] = ((bits >> BIT_WATCHED) & 1).any(axis=1)
        x[:, _EV["seen"]] = core.out_b[OUT_CAUGHT]
        x[:, _EV["goal"]] = core.out_b[OUT_AT_GOAL]
        reward = self.state.step(x)
        if restarted is not None and restarted.any():
            envs = np.flatnonzero(restarted)
            self.start(envs)
            reward[envs] = 0.0
        return reward

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """``obs`` (N, C, h, w) or flat (N, F) with the drive levels appended: D constant planes, or D values."""
        levels = self.state.levels().astype(obs.dtype, copy=False)
        if obs.ndim == 2:
            return np.concatenate([obs, levels], axis=1)
        planes = np.broadcast_to(levels[:, :, None, None], (obs.shape[0], levels.shape[1], *obs.shape[2:]))
        return np.concatenate([obs, planes], axis=1)

    def obs_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The observation shape with the drives appended."""
        d = self.state.size
        return (shape[0] + d,) if len(shape) == 1 else (shape[0] + d, *shape[1:])


def near_watched(world: World, phase: int) -> np.ndarray:
    """(N,) bool: the cells whose ``near_cone`` event fires at ``phase`` (the cell or a 4-neighbour inside the
    map is watched), as :meth:`StealthDrives.step` computes it."""
    h, w = world.height, world.width
    watched = world.watched[phase].reshape(h, w)
    near = watched.copy()
    near[1:] |= watched[:-1]
    near[:-1] |= watched[1:]
    near[:, 1:] |= watched[:, :-1]
    near[:, :-1] |= watched[:, 1:]
    return near.reshape(-1)


def fear_map(world: World, phase: int, table: DriveTable) -> np.ndarray:
    """(H, W) in [0, 1]: what the character fears at ``phase``, each cell the doses its drives would rise by
    there (the positive doses of ``near_cone`` and ``seen``, times the drive's weight), over the largest; 0 on
    walls."""
    a = table.arrays()
    rise = np.maximum(a["dose"], 0.0) @ a["weight"]  # per event, the weighted rise over every drive
    fear = rise[_EV["near_cone"]] * near_watched(world, phase) + rise[_EV["seen"]] * world.watched[phase]
    fear[world.walls] = 0.0  # no one stands there
    top = fear.max()
    return (fear / top if top > 0 else fear).reshape(world.height, world.width)
