"""``gym.make_vec("sandbox/Duel-v0", num_envs=N)``: N duel rounds stepped by one numba call.

The state of all rounds lives in struct-of-arrays form (:mod:`envs.duel.kernels`); ``step`` decodes the
actions, asks the opponent for its N actions (one batched call), then runs one kernel that plays every
round's decision step and writes both fighters' observations into preallocated buffers. There is no
Python loop over rounds in ``step``; only the few rounds that autoreset draw their opponent's seed from
their own generator in Python.

This module knows no agent: an opponent is ``None`` (two-player form) or an object with the batched
opponent interface below. Spec strings (``"scripted:hard"``) are resolved in ``agents`` by the
``vector_entry_point`` that ``envs/__init__.py`` registers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.checks import check_difficulty
from envs.duel import kernels as K
from envs.duel import rules
from envs.duel.config import DuelConfig
from envs.duel.core import DuelCore
from envs.duel.drives import DuelDrives
from envs.duel.layout import N_BUTTON, N_STICK, OBS_SIZE, TICKS_PER_SECOND
from envs.protocols import BatchedAgent

#: The difficulty of the scripted opponent per round: None (its preset), one number in [0, 1], or one value per
#: round (None or NaN entries keep the preset).
Difficulty: TypeAlias = "float | Sequence[float | None] | np.ndarray | None"

TWO_PLAYER = ("external", None)


def draw_seeds(rngs: Sequence[np.random.Generator], idx: Sequence[int] | np.ndarray) -> np.ndarray:
    """One seed in [0, 2**63) per round of ``idx``, drawn from that round's generator (an agent's key)."""
    return np.array([int(rngs[i].integers(2**63)) for i in idx], dtype=np.int64)


class DuelVectorEnv(VectorEnv[np.ndarray, np.ndarray, np.ndarray]):
    """N rounds of :class:`envs.duel.env.DuelEnv` in one batched env (natively, no sub-env objects).

    Arguments are those of ``DuelEnv`` plus ``num_envs`` and ``copy``; ``opponent`` is ``None`` or
    ``"external"`` for the two-player form, else an object speaking the batched agent protocol (``bind``,
    ``reset_envs``, ``act``: ``agents.batched.BatchedAgent``, which envs, the floor below agents, knows by
    its methods only; ``gym.make_vec`` turns spec strings into one). ``difficulty`` is None, one float in [0, 1] or one
    per round. ``copy=False`` returns the env's own observation buffer (overwritten by the next step).

    **One-player form.** Observations ``(N, 76)`` float32, actions ``(N, 2)`` ``[stick, button]`` (or
    ``(N,)`` in ``[0, 36)`` with ``flat_actions``), rewards, terminations as ``DuelEnv``. With
    ``reset(seed=s)``, round i plays like ``DuelEnv`` reset with seed ``s + i``: the same rules, and
    for a scripted opponent the same draws (see ``agents.character.batched``). Next-step autoreset:
    the step after a round terminates starts a new round in that slot and returns its first
    observation with reward 0 (the action given for that slot is ignored).
    ``drives=`` (one-player form only) is the single env's; the update is one NumPy step over the rounds, and
    the step that autoresets a round gives it reward 0 and starts its drives over.

    **Two-player form** (``opponent=None`` or ``"external"``). Player 0 is the left fighter, player 1
    the right, as in the PettingZoo view. Actions ``(N, 2, 2)`` (player, [stick, button]) or ``(N, 2)``
    flat; observations ``(N, 2, 76)``, ``obs[:, p]`` being player p's own view (``observe(state, p)``,
    bit-exact); rewards ``(N, 2)``, player 1's being minus player 0's; one termination per round.

    ``info`` holds per-round arrays with Gymnasium's ``_key`` masks: ``agent_health``,
    ``opponent_health`` and ``tick`` every step (two-player: ``health`` of shape (N, 2)); at a round's
    end ``winner`` (``"agent"``, ``"opponent"``, ``"draw"``; two-player: 0, 1 or -1 for a draw) and, in
    the one-player form, ``is_success`` (the agent won).

    **Examples.** Eight rounds against the hard scripted fighter, stepped together until one ends:

    >>> import gymnasium as gym
    >>> import numpy as np
    >>> import envs  # registers the sandbox/* ids
    >>> vec = gym.make_vec("sandbox/Duel-v0", num_envs=8, opponent="scripted:hard")
    >>> obs, info = vec.reset(seed=0)
    >>> obs.shape, vec.action_space.shape
    ((8, 76), (8, 2))
    >>> terminated = np.zeros(8, dtype=bool)
    >>> while not terminated.any():
    ...     obs, rewards, terminated, truncated, info = vec.step(np.tile([3, 1], (8, 1)))  # forward, light
    ...     assert rewards.shape == (8,) and np.all(np.abs(rewards) <= 2.0)
    >>> bool(np.array_equal(info["_is_success"], terminated))
    True
    >>> set(info["winner"][terminated]) <= {"agent", "opponent", "draw"}
    True
    >>> vec.close()
    """

    metadata = {"render_modes": [], "render_fps": TICKS_PER_SECOND, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, *, num_envs: int = 1, opponent: BatchedAgent | str | None = None,
                 config: DuelConfig | None = None, difficulty: Difficulty = None, render_mode: str | None = None,
                 copy: bool = True, **settings: Any):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1; got {num_envs!r}")
        if render_mode is not None:
            raise ValueError(f"the batched duel does not render; got render_mode={render_mode!r} "
                             "(draw one round with envs.duel.render.DuelRenderer and env.round_state(i))")
        self.config = DuelConfig.build(config, **settings)
        self.two_player = opponent is None or (isinstance(opponent, str) and opponent == "external")
        if not self.two_player:
            if isinstance(opponent, str):
                raise ValueError(f"opponent {opponent!r}: spec strings are resolved by "
                                 "gym.make_vec('sandbox/Duel-v0', ...); DuelVectorEnv takes None, 'external' "
                                 "or a batched opponent object")
            if not all(hasattr(opponent, a) for a in ("bind", "reset_envs", "act")):
                raise TypeError(f"opponent {type(opponent).__name__} lacks the batched interface "
                                "(bind, reset_envs, act); see agents.batched.BatchedAgent")
        if self.two_player and self.config.drives is not None:
            raise ValueError("drives= is for the one-player form (an opponent); the two-player form has none")
        if self.two_player and self.config.side != "left":
            raise ValueError("the two-player form has no side: player 0 is left, player 1 right")
        n = self.num_envs = int(num_envs)
        self.frame_skip, self.flat_actions = self.config.frame_skip, self.config.flat_actions
        self.round_ticks, self.side = self.config.round_ticks, self.config.side
        self.render_mode = None
        self.copy = bool(copy)
        self.opponent: BatchedAgent | None = None if self.two_player or isinstance(opponent, str) else opponent
        self.opponent_spec = "external" if self.two_player else getattr(opponent, "spec", type(opponent).__name__)
        self._difficulty = np.full(n, np.nan)
        self.set_difficulty(difficulty)

        one = spaces.Discrete(N_STICK * N_BUTTON) if self.flat_actions else spaces.MultiDiscrete([N_STICK, N_BUTTON])
        if self.two_player:
            self.single_action_space = (spaces.MultiDiscrete([N_STICK * N_BUTTON] * 2) if self.flat_actions
                                        else spaces.MultiDiscrete(np.array([[N_STICK, N_BUTTON]] * 2)))
            self.single_observation_space = spaces.Box(-1.0, 1.0, shape=(2, OBS_SIZE), dtype=np.float32)
        else:
            self.single_action_space = one
            extra = 0 if self.config.drives is None else len(self.config.drives.drives)
            self.single_observation_space = spaces.Box(-1.0, 1.0, shape=(OBS_SIZE + extra,), dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, n)
        self.observation_space = batch_space(self.single_observation_space, n)

        # the rounds' arrays and preallocated buffers (envs.duel.core)
        self._core = core = DuelCore(n, self.config)
        self.drives = DuelDrives(self.config.drives, core) if self.config.drives is not None else None
        self._F, self._P, self._G, self._me = core.F, core.P, core.G, core.me
        self._obs, self._act = core.obs, core.act  # [:, 0] the agent / player 0, [:, 1] the opponent / player 1
        self._reward, self._terminated, self._restart = core.reward, core.terminated, core.restart
        self._truncated = np.zeros(n, dtype=np.bool_)
        self._all = np.ones(n, dtype=np.bool_)
        self._all.flags.writeable = False
        self._rows = np.arange(n)
        self._rngs: list[np.random.Generator] | None = None
        self._info_buf = np.zeros((n, 4), dtype=np.int64)
        self._active = np.ones(n, dtype=np.bool_)  # the rounds playing this step (not restarting)
        self._ended = self._restarting = False
        self._action_shape = ((n, 2) if self.flat_actions else (n, 2, 2)) if self.two_player else \
            ((n,) if self.flat_actions else (n, 2))
        if self.opponent is not None:
            self.opponent.bind(n)

    # ---- difficulty -------------------------------------------------------------------------------
    def set_difficulty(self, difficulty: Difficulty) -> None:
        """The scripted opponent's strength in [0, 1] from each round's next reset: None (its preset),
        one float, or one value per round (None/NaN entries keep the preset)."""
        self._difficulty[:] = self._difficulties(difficulty)

    def _difficulties(self, difficulty: Difficulty) -> np.ndarray:
        if difficulty is None:
            return np.full(self.num_envs, np.nan)
        if np.ndim(cast("npt.ArrayLike", difficulty)) == 0:
            return np.full(self.num_envs, check_difficulty(difficulty))
        values = list(cast("Iterable[float | None]", difficulty))
        if len(values) != self.num_envs:
            raise ValueError(f"difficulty needs one value per round ({self.num_envs}); got {len(values)}")
        return np.array([np.nan if v is None or (isinstance(v, float) and np.isnan(v)) else check_difficulty(v)
                         for v in values])

    # ---- gymnasium API ------------------------------------------------------------------------------
    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start every round. ``seed`` s seeds round i's generator with s + i (or a list, one per round);
        ``options={"difficulty": x}`` overrides the difficulty for these rounds only."""
        n = self.num_envs
        if seed is not None or self._rngs is None:
            seeds: list[int | None]
            if seed is None:
                seeds = [None] * n
            elif np.ndim(seed) == 0:
                seeds = [int(cast(int, seed)) + i for i in range(n)]
            else:
                seeds = list(cast("Sequence[int]", seed))
                if len(seeds) != n:
                    raise ValueError(f"reset(seed=...) needs one seed or {n}; got {len(seeds)}")
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        options = options or {}
        difficulty = self._difficulties(options["difficulty"]) if "difficulty" in options else self._difficulty
        self._start(self._rows, difficulty)
        self._core.reset()
        self._ended = self._restarting = False
        self._active[:] = True
        if self.drives is not None:
            self.drives.start()
            info = self._info(final=False)
            info["drives"], info["_drives"] = self.drives.state.h.copy(), self._all
            return self._observations(), info
        return self._observations(), self._info(final=False)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._rngs is None:
            raise RuntimeError("call reset() before step()")
        self._decode(actions)
        restart, active = self._restart, self._active
        if self._ended:  # next-step autoreset of the rounds that ended
            np.copyto(restart, self._terminated)
            idx = np.flatnonzero(restart)
            self._start(idx, self._difficulty[idx])
            np.logical_not(restart, out=active)
        elif self._restarting:
            restart[:] = False
            active[:] = True
        self._restarting = self._ended
        if self.opponent is not None:
            self.opponent.act(self._obs[:, 1], active, self._act[:, 1])
        restarting = self._restarting
        self._ended = self._core.step() > 0
        rewards = self._reward.copy()
        if self.two_player:
            rewards = np.stack([rewards, -rewards], axis=1)
        info = self._info(final=self._ended)
        drives = self.drives
        if drives is not None:
            drive_reward = drives.step(restart if restarting else None)
            info["unshaped_reward"], info["_unshaped_reward"] = rewards, self._all
            info["drive_reward"], info["_drive_reward"] = drive_reward, self._all
            info["drives"], info["_drives"] = drives.state.h.copy(), self._all
            rewards = drives.state.reward(rewards, drive_reward)
        return self._observations(), rewards, self._terminated.copy(), self._truncated.copy(), info

    # ---- internals ----------------------------------------------------------------------------------
    def _start(self, idx: np.ndarray, difficulty: np.ndarray) -> None:
        """Draw what DuelEnv.reset draws, in its order: the opponent's seed, then the side."""
        rngs = self._rngs
        assert rngs is not None, "reset() makes the generators"
        if self.opponent is not None:
            self.opponent.reset_envs(idx, draw_seeds(rngs, idx), np.asarray(difficulty, dtype=np.float64))
        if self.side == "random":
            self._me[idx] = [int(rngs[i].integers(2)) for i in idx]
        else:
            self._me[idx] = 0 if self.side == "left" else 1

    def _decode(self, actions: np.ndarray) -> None:
        a = actions if type(actions) is np.ndarray else np.asarray(actions)
        if a.shape != self._action_shape:
            n = self.num_envs
            if self.two_player:
                raise ValueError(f"the two-player duel needs both players' actions, shape {self._action_shape} "
                                 f"(round, player{'' if self.flat_actions else ', [stick, button]'}); "
                                 f"got shape {a.shape}")
            raise ValueError(f"duel actions must have shape {self._action_shape} for {n} rounds; got {a.shape}")
        if a.dtype.kind not in "iu":
            if a.dtype.kind not in "f" or not np.all(np.mod(a, 1) == 0):
                raise ValueError(f"duel actions must be integers; got dtype {a.dtype}")
            a = a.astype(np.int64)
        if not K.take_actions(a.reshape(-1), self._act, 2 if self.two_player else 1, self.flat_actions, N_STICK,
                              N_BUTTON):
            if self.flat_actions:
                raise ValueError(f"flat duel actions must be in [0, {N_STICK * N_BUTTON}); got {a.min()}..{a.max()}")
            raise ValueError(f"duel actions [stick, button] must be in [0,{N_STICK})x[0,{N_BUTTON})")

    def _observations(self) -> np.ndarray:
        if self.drives is not None:
            return self.drives.observe(self._obs[:, 0])
        obs = self._obs if self.two_player else self._obs[:, 0]
        return obs.copy() if self.copy else obs

    def _info(self, final: bool) -> dict[str, Any]:
        K.fill_info(self._F, self._G, self._me, self._info_buf)
        buf, all_ = self._info_buf, self._all
        tick = buf[:, 2].copy()
        if self.two_player:
            info = {"health": buf[:, :2].copy(), "_health": all_, "tick": tick, "_tick": all_}
        else:
            info = {"agent_health": buf[:, 0].copy(), "_agent_health": all_,
                    "opponent_health": buf[:, 1].copy(), "_opponent_health": all_, "tick": tick, "_tick": all_}
        if final:
            term = self._terminated.copy()
            w, me = buf[:, 3].copy(), self._me
            if self.two_player:
                info["winner"], info["_winner"] = np.where(term, w, -1), term
            else:
                won, lost = term & (w == me), term & (w >= 0) & (w != me)
                winner = np.full(self.num_envs, None, dtype=object)
                winner[term] = "draw"
                winner[won], winner[lost] = "agent", "opponent"
                info["winner"], info["_winner"] = winner, term
                info["is_success"], info["_is_success"] = won, term
        return info

    # ---- inspection ---------------------------------------------------------------------------------
    def round_state(self, i: int) -> rules.DuelState:
        """Round i's state as a :class:`rules.DuelState` (a copy: for rendering and checks)."""
        return self._core.state(i)

    def agent_side(self) -> np.ndarray:
        """Which fighter (0 left, 1 right) the agent plays in each round (all 0 in the two-player form)."""
        return self._me.copy()
