"""The ghost over many duel rounds at once: :func:`play_batched`, and :class:`BatchedGhost` (defined in
:mod:`agents.ghost.agent`, beside the single ghost, and importable from here).

:func:`play_batched` plays ``rounds`` rounds of any player (a spec, an agent object or a batched agent)
against one opponent through the batched harness (:func:`agents.harness.play_duel`) and returns each round
as a :class:`PlayedRound` (observations, the player's actions or an oracle's labels, winner, final
health). Round i is seeded ``seed + i``. Used by ``sandbox compare ghost`` (the strength gap over hundreds
of rounds), batched demos and the DAgger labels of the ghost study, and the ghost's fine-tuning
(:mod:`agents.ghost.finetune`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.ghost.agent import BatchedGhost
from envs.duel.config import DuelConfig

__all__ = ["BatchedGhost", "PlayedRound", "play_batched"]


@dataclass
class PlayedRound:
    """One round a batched player played (the fields a demo round has)."""

    obs: np.ndarray  # (T, 76) float32, the player's observation at each decision
    actions: np.ndarray  # (T, 2) int64: the player's inputs, or the oracle's labels
    rewards: np.ndarray  # (T,) float32
    opponent: str
    winner: str  # player | opponent | draw
    final_health: np.ndarray  # (player, opponent)

    def __len__(self) -> int:
        return len(self.actions)


def play_batched(player: object, opponent: str, rounds: int, *, seed: int = 0, frame_skip: int = DuelConfig.frame_skip,
                 round_seconds: float = 60.0, oracle: object | None = None, chunk: int = 256) -> list[PlayedRound]:
    """``rounds`` rounds of ``player`` (a spec, an agent object or a batched agent) against ``opponent``,
    ``chunk`` at once, through :func:`agents.harness.play_duel` (round i seeded ``seed + i``, the player on
    the left). With ``oracle`` (a spec or a batched agent), the oracle decides on every state the player
    reached and its decisions are returned as ``actions`` (DAgger labels); the player's actions are what
    the env plays."""
    from agents.harness import play_duel

    if rounds < 1 or chunk < 1:
        raise ValueError(f"rounds and chunk must be >= 1; got {rounds}, {chunk}")
    t_max = int(round(round_seconds * 60)) // int(frame_skip) + 2
    buffers: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def record(step) -> None:
        start = int(step.index[0])
        if start not in buffers:
            n = len(step.index)
            buffers[start] = (np.zeros((t_max, n, step.obs.shape[-1]), np.float32), np.zeros((t_max, n, 2), np.int64),
                              np.zeros((t_max, n), np.float32))
        obs, act, rew = buffers[start]
        if step.t >= t_max:
            raise RuntimeError(f"a round ran past {t_max} decisions")
        obs[step.t], rew[step.t] = step.obs, step.rewards
        act[step.t] = step.actions if step.labels is None else step.labels

    records = play_duel(player, opponent, rounds, seed=seed, sides="left", frame_skip=frame_skip,
                        round_seconds=round_seconds, oracle=oracle, on_step=record, chunk=chunk)
    played = []
    for r in records:
        start = r.index - r.index % chunk
        obs, act, rew = buffers[start]
        j, n = r.index - start, r.length
        played.append(PlayedRound(obs[:n, j].copy(), act[:n, j].copy(), rew[:n, j].copy(), opponent,
                                  {"agent": "player", "opponent": "opponent"}.get(r.winner or "", "draw"),
                                  np.array(r.health, dtype=np.int64)))
    return played
