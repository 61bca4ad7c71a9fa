"""The duel's drives: its events per decision, computed for N rounds at once from the core's arrays, and the
drive levels appended to the observation. The single env and the batched env (one-player form) hold one
:class:`DuelDrives` when ``drives=`` is given (the single env a batch of one), so round ``i`` of a batch gives
the single env's levels and rewards.

The events (:data:`envs.drives.table.EVENTS` ``["duel"]``), per decision of the agent's fighter: ``time`` (1),
``damage_taken``/``damage_dealt`` (health lost by the agent/the opponent during the decision, over that
fighter's max health), ``hit_taken``/``hit_landed`` (1 when that damage is above 0), ``blocking`` (1 when the
agent ends the decision in blockstun), ``move_repeated``/``new_move`` (the agent's input, stick and button,
equals its previous decision's or not; the first of a round is new).
"""

from __future__ import annotations

import numpy as np

from envs.drives.state import DriveState
from envs.drives.table import EVENTS, DriveTable
from envs.duel import layout as L
from envs.duel.core import DuelCore

_EV = {name: k for k, name in enumerate(EVENTS["duel"])}


class DuelDrives:
    """The drives of the core's N rounds: ``state`` (:class:`DriveState`) and each round's last input."""

    def __init__(self, table: DriveTable, core: DuelCore):
        self.core = core
        n = core.num_envs
        self.state = DriveState(table, n)
        self.last = np.full(n, -1, dtype=np.int64)
        self.rows = np.arange(n)

    def start(self, idx: np.ndarray | None = None) -> None:
        """Rounds ``idx`` (all by default) start: drives at their start, no last input."""
        self.state.reset(idx)
        self.last[slice(None) if idx is None else idx] = -1

    def step(self, restarted: np.ndarray | None) -> np.ndarray:
        """After a decision: its events, the drives' update and their reward (N,); rounds in ``restarted`` (a
        bool mask, or None) started anew instead: their drives start over, reward 0."""
        core, rows, x = self.core, self.rows, self.state.events
        me = core.me
        F, before = core.F, core.BH
        other = 1 - me
        max_me = core.T[F[rows, me, L.CHARACTER], L.C_MAX_HEALTH]
        max_other = core.T[F[rows, other, L.CHARACTER], L.C_MAX_HEALTH]
        taken = np.maximum(before[rows, me] - F[rows, me, L.HEALTH], 0) / max_me
        dealt = np.maximum(before[rows, other] - F[rows, other, L.HEALTH], 0) / max_other
        code = core.act[:, 0, 0] * L.N_BUTTON + core.act[:, 0, 1]
        repeated = code == self.last
        self.last[:] = code
        x[:, _EV["time"]] = 1.0
        x[:, _EV["damage_taken"]] = taken
        x[:, _EV["damage_dealt"]] = dealt
        x[:, _EV["hit_taken"]] = taken > 0
        x[:, _EV["hit_landed"]] = dealt > 0
        x[:, _EV["blocking"]] = F[rows, me, L.STATE] == L.FState.BLOCKSTUN
        x[:, _EV["move_repeated"]] = repeated
        x[:, _EV["new_move"]] = ~repeated
        reward = self.state.step(x)
        if restarted is not None and restarted.any():
            idx = np.flatnonzero(restarted)
            self.start(idx)
            reward[idx] = 0.0
        return reward

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """``obs`` (N, 76) with the drive levels (N, D) appended."""
        return np.concatenate([obs, self.state.levels()], axis=1)
