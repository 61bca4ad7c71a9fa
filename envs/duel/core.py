"""``DuelCore``: N rounds of the duel as arrays, and their decision step; every form of the duel is one.

The single env (``sandbox/Duel-v0``, N = 1), the batched env and the PettingZoo view hold a
:class:`DuelCore`: the struct-of-arrays state (:mod:`envs.duel.layout`), the character tables, and
buffers preallocated once for inputs, rewards, flags, both fighters' observations and the events. A
decision step is one call of :func:`envs.duel.kernels.step_batch` (or, for a watcher that draws every
tick, one kernel call per tick).

The decision step's contract: ``begin`` (both healths remembered, events cleared); ``frame_skip``
ticks with the same inputs, stopping after the tick that ends the round; fighter 0's reward is the
change of the health difference over max health (integers, divided once), +1 for a win and -1 for a
loss, and fighter 1's is exactly its negation; rounds flagged ``restart`` start a new round instead
(next-step autoreset: reward 0, not terminated).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from envs.duel import kernels as K
from envs.duel import layout as L
from envs.duel import rules
from envs.duel.character import Character, character_set, character_table, default_character
from envs.duel.config import DuelConfig


class DuelCore:
    """The arrays of ``num_envs`` rounds under ``config``; ``events`` keeps each decision's events."""

    def __init__(self, num_envs: int, config: DuelConfig, *, events: bool = False):
        n = self.num_envs = int(num_envs)
        self.config = config
        self.frame_skip, self.round_ticks = config.frame_skip, config.round_ticks
        characters, self.who = character_set(config.character, n)
        self.characters: list[Character] = characters
        self.T = character_table(characters)
        self.F = np.zeros((n, 2, L.NF), dtype=np.int32)
        self.F[:, :, L.CHARACTER] = self.who  # each fighter's row of the table, for good
        self.P = np.zeros((n, 2, L.NP), dtype=np.int32)
        self.G = np.zeros((n, L.NG), dtype=np.int32)
        self.BH = np.zeros((n, 2), dtype=np.int64)  # healths at the start of the decision
        self.me = np.zeros(n, dtype=np.int64)  # the fighter whose view is obs[:, 0] and whose reward is returned
        self.obs = np.zeros((n, 2, L.OBS_SIZE), dtype=np.float32)  # [:, 0] fighter me's view, [:, 1] the other's
        self.act = np.zeros((n, 2, 2), dtype=np.int64)  # [:, 0] fighter me's (stick, button), [:, 1] the other's
        self.reward = np.zeros(n, dtype=np.float64)
        self.terminated = np.zeros(n, dtype=np.bool_)
        self.restart = np.zeros(n, dtype=np.bool_)
        room = L.EVENTS_PER_TICK * self.frame_skip if events else 0
        self.EV = np.zeros((n, 1 + room, 4), dtype=np.int32)  # EV[i, 0, 0]: the count; EV[i, 1:]: the events
        self.obs_me, self.obs_other = self.obs[:, 0], self.obs[:, 1]
        self._all = np.ones(n, dtype=np.bool_)
        self._default = all(ch == default_character() for ch in characters)

    def __getstate__(self):
        d = self.__dict__.copy()
        del d["obs_me"], d["obs_other"]  # views of obs: pickling would cut them apart
        d.pop("_args", None)
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        self.obs_me, self.obs_other = self.obs[:, 0], self.obs[:, 1]

    # ---- stepping ------------------------------------------------------------------------------------------
    def step(self) -> int:
        """One decision of every round from ``act`` (rounds with ``restart`` start anew); returns how many
        rounds terminated."""
        return K.step_batch(*self._step_args)

    @property
    def _step_args(self) -> tuple:
        args = self.__dict__.get("_args")
        if args is None:  # the arrays never change identity, so the argument tuple is built once
            args = self._args = (self.F, self.P, self.G, self.T, self.BH, self.round_ticks, self.frame_skip, self.act,
                                 self.me, self.restart, self.reward, self.terminated, self.obs_me, self.obs_other,
                                 self.EV)
        return args

    def step_by_tick(self, on_tick: Callable[[int], object]) -> None:
        """:meth:`step`, one kernel call per tick, calling ``on_tick(k)`` after tick k (from 1) while a round
        is still playing its decision (a watcher that draws every tick uses it). No round may restart."""
        if self.restart.any():
            raise RuntimeError("step_by_tick plays decisions only; reset restarting rounds first")
        playing = self._all
        K.begin_batch(self.F, self.BH, self.EV, playing)
        for k in range(1, self.frame_skip + 1):
            if self.G[:, L.G_OVER].all():
                break
            K.tick_batch(self.F, self.P, self.G, self.T, self.round_ticks, self.act, self.me, playing, self.EV)
            on_tick(k)
        K.finish_batch(self.F, self.P, self.G, self.T, self.BH, self.round_ticks, self.me, playing, self.reward,
                       self.terminated, self.obs_me, self.obs_other)

    def reset(self, idx: np.ndarray | None = None) -> None:
        """Start new rounds in ``idx`` (all by default) and write every round's observations."""
        self.restart[:] = False
        self.restart[self._all if idx is None else idx] = True
        self.step()
        self.restart[:] = False
        self.terminated[:] = False

    def observe(self) -> None:
        """Rewrite both observations of every round from the state (after the state was written)."""
        K.observe_batch(self.F, self.P, self.G, self.T, self.round_ticks, self.me, self.obs_me, self.obs_other)

    # ---- reading ---------------------------------------------------------------------------------------------
    def characters_of(self, i: int) -> tuple[Character, Character] | None:
        """The characters of round ``i``'s fighters (None when both are the shipped one)."""
        if self._default:
            return None
        a, b = self.who[i]
        return self.characters[a], self.characters[b]

    def state(self, i: int) -> rules.DuelState:
        """Round ``i`` as a new :class:`rules.DuelState`."""
        return rules.from_arrays(self.F[i], self.P[i], self.G[i], self.round_ticks, self.characters_of(i))

    def write_state(self, i: int, s: rules.DuelState) -> None:
        """Put ``s`` into round ``i`` (its fighters keep round ``i``'s characters); call :meth:`observe` after."""
        rules.write_arrays(s, self.F[i], self.P[i], self.G[i])

    def events(self, i: int) -> list[dict]:
        """Round ``i``'s events of the last decision (needs ``events=True``)."""
        return rules.events_of(self.EV[i])

    def health(self, i: int, k: int) -> int:
        return int(self.F[i, k, L.HEALTH])


