"""The batched agent protocol: one agent acting for N envs at once.

Every agent spec that :func:`agents.make_agent` accepts can be turned into a :class:`BatchedAgent`
(:func:`make_batched_agent`), so any agent can be the opponent of ``gym.make_vec("sandbox/Duel-v0",
opponent=SPEC)`` or play in the batched harness. The single-env protocol (``predict``) stays as it is;
a single env is a batch of one.

The protocol, in the order an env calls it:

- ``bind(num_envs)``: size per-env memory for ``num_envs`` envs; called once before anything else.
- ``reset_envs(idx, seeds, difficulty=None)``: envs ``idx`` (int64) start a new episode. ``seeds[j]``
  (an int in [0, 2**63), drawn by the env from env ``idx[j]``'s generator) keys every random draw the
  agent makes for that env in that episode, so seeded rollouts repeat exactly. ``difficulty[j]`` is a
  float in [0, 1], or NaN for the agent's own preset (agents without a difficulty ignore it).
  Recurrent state of those envs is cleared here.
- ``act(obs, active, out)``: write the action of every env with ``active[i]`` into ``out[i]`` (int64;
  shape ``(N, 2)`` for the duel's ``[stick, button]``, ``(N,)`` for discrete actions), reading ``obs[i]``,
  that env's observation as the agent sees it. Rows that are not active are left untouched, and their
  recurrent state does not advance.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["BatchedAgent"]


@runtime_checkable
class BatchedAgent(Protocol):
    """An agent acting for N envs per call (see the module docstring for the contract)."""

    def bind(self, num_envs: int) -> None: ...

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None: ...

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None: ...
