"""The agent protocols, as types: what an env needs from the agents it hosts (the duel's opponent).

Two protocols, both structural (:class:`typing.Protocol`: an object speaks one by having its methods, it
never inherits from it):

- :class:`Agent`, one env at a time: Stable-Baselines3's ``PolicyPredictor``, ``predict(observation,
  state=None, episode_start=None, deterministic=False) -> (action, state)``, plus an optional ``reset()``
  (:class:`ResettableAgent`; callers test for it with ``hasattr``). ``state`` is the agent's recurrent state
  (a tuple of arrays, SB3's convention; None for agents without one), handed back on the next call;
  ``episode_start`` marks the rows whose episode starts with this observation.
- :class:`BatchedAgent`, N envs per call: ``bind(num_envs)``, ``reset_envs(idx, seeds, difficulty)``,
  ``act(obs, active, out)``; the contract is in :mod:`agents.batched`.

They live on the ground floor so that ``envs`` can name them without importing ``agents`` (the floors,
tests/test_floors.py); ``agents.batched.BatchedAgent`` is this class, and ``agents.Agent`` states the same
``predict`` (being protocols, any object satisfying one satisfies the other).
"""

from __future__ import annotations

from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Action", "Agent", "BatchedAgent", "BoolArray", "FloatArray", "IntArray", "RecurrentState",
           "ResettableAgent"]

#: An action as agents return it: an integer (``Discrete``) or an integer array (``MultiDiscrete``, or a batch).
Action: TypeAlias = "np.ndarray | int"
#: An agent's recurrent state between ``predict`` calls (SB3's convention): a tuple of arrays, or None.
RecurrentState: TypeAlias = "tuple[np.ndarray, ...] | None"
#: Row indices and seeds of the batched protocol (int64).
IntArray: TypeAlias = npt.NDArray[np.int64]
#: Row masks of the batched protocol.
BoolArray: TypeAlias = npt.NDArray[np.bool_]
#: Per-row difficulties of the batched protocol (float64; NaN for the agent's own preset).
FloatArray: TypeAlias = npt.NDArray[np.float64]


@runtime_checkable
class Agent(Protocol):
    """One env at a time: SB3's ``predict`` (``reset()`` is optional: see :class:`ResettableAgent`)."""

    def predict(
        self,
        observation: np.ndarray,
        state: RecurrentState = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[Action, RecurrentState]: ...


@runtime_checkable
class ResettableAgent(Agent, Protocol):
    """An :class:`Agent` with ``reset()``, called at the start of every episode (clears its memory)."""

    def reset(self) -> None: ...


@runtime_checkable
class BatchedAgent(Protocol):
    """An agent acting for N envs per call (the contract: :mod:`agents.batched`)."""

    def bind(self, num_envs: int) -> None: ...

    def reset_envs(self, idx: IntArray, seeds: IntArray, difficulty: FloatArray | None = None) -> None: ...

    def act(self, obs: np.ndarray, active: BoolArray, out: IntArray) -> None: ...
