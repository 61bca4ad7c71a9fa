"""The ghost over many duel rounds at once: :class:`BatchedGhost` and :func:`play_batched`.

:class:`BatchedGhost` is a :class:`nets.imitation.GhostPolicy` speaking the batched agent protocol
(:mod:`agents.batched`): one recurrent state per row, zeroed at the row's reset and advanced only when
the row acts, and each row's draws from its own numbers (:class:`agents.batched.RowDraws`). It is what
``make_batched_agent("ghost:PATH")`` builds, and it decides as :class:`agents.ghost.agent.GhostAgent`
does: the stick from ``softmax(stick / T)``, then the button given it (``@greedy`` or ``deterministic``:
the most likely of each), holding its input for ``repeat`` env calls when the env steps finer than the
demos.

:func:`play_batched` plays ``rounds`` rounds of any player (a spec, an agent object or a batched agent)
against one opponent through the batched harness (:func:`agents.harness.play_duel`) and returns each round
as a :class:`PlayedRound` (observations, the player's actions or an oracle's labels, winner, final
health). Round i is seeded ``seed + i``. Used by ``sandbox compare ghost`` (the strength gap over hundreds
of rounds), batched demos and the DAgger labels of the ghost study, and the ghost's fine-tuning
(:mod:`agents.ghost.finetune`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agents.batched import RowDraws, inverse_cdf, softmax
from envs.duel.config import DuelConfig

if TYPE_CHECKING:

    from agents.ghost.agent import GhostAgent
    from nets.imitation import GhostModel

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


class BatchedGhost:
    """A ghost policy deciding for N rows per call (the batched agent protocol).

    Args: model: a :class:`nets.imitation.GhostPolicy`; temperature: softmax temperature (1: as learned);
    greedy: the most likely stick, then the most likely button given it; repeat: env calls per decision
    (the input is held in between, as ``GhostAgent`` does when the env steps finer than the demos)."""

    def __init__(self, model: GhostModel, *, temperature: float = 1.0, greedy: bool = False, repeat: int = 1,
                 spec: str = "ghost"):
        if not temperature > 0:
            raise ValueError(f"ghost temperature must be > 0; got {temperature}")
        self.model = model.eval()
        self.temperature, self.greedy = float(temperature), bool(greedy)
        self.repeat = max(1, int(repeat))
        self.spec = spec
        self.num_envs = 0
        self.draws = RowDraws(0)

    @classmethod
    def from_agent(cls, agent: GhostAgent, *, deterministic: bool = False, spec: str = "ghost") -> BatchedGhost:
        """The batched form of a :class:`agents.ghost.agent.GhostAgent` (its model, temperature, greedy
        flag and hold); ``deterministic`` makes it greedy, as ``predict(deterministic=True)`` does."""
        return cls(agent.model, temperature=agent.temperature, greedy=agent.greedy or deterministic,
                   repeat=agent.repeat, spec=spec)

    # ---- per-row state (a tuple of tensors, the batch on dim 1 for the LSTM, 0 otherwise)
    def _batch_dim(self) -> int:
        return 1 if self.model.encoder_kind == "lstm" else 0

    def _take(self, rows):
        from nets.clockwork import ClockworkState

        if isinstance(self.state, ClockworkState):
            return ClockworkState(self.state.hidden[rows], self.state.step[rows])
        d = self._batch_dim()
        return tuple(s[:, rows] if d else s[rows] for s in self.state)

    def _put(self, rows, part) -> None:
        d = self._batch_dim()
        for s, p in zip(self.state, part, strict=True):
            if d:
                s[:, rows] = p
            else:
                s[rows] = p

    def bind(self, num_envs: int) -> None:
        from nets.device import inference

        self.num_envs = n = int(num_envs)
        with inference(n):
            self.state = self.model.initial_state(n)
        self.draws = RowDraws(n)
        self.calls = np.zeros(n, dtype=np.int64)
        self.held = np.zeros((n, 2), dtype=np.int64)

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        import torch

        from nets.device import inference

        idx = np.asarray(idx, dtype=np.int64)
        self.draws.reset(idx, seeds)
        self.calls[idx] = 0
        with inference(len(idx)):
            rows = torch.from_numpy(idx)
            self._put(rows, tuple(p.zero_() for p in self._take(rows)))

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        rows = np.flatnonzero(active)
        if not rows.size:
            return
        deciding = rows[self.calls[rows] % self.repeat == 0]
        if deciding.size:
            x = obs if deciding.size == len(obs) else obs[deciding]
            self.held[deciding] = self._decide(np.ascontiguousarray(x, dtype=np.float32), deciding)
        self.calls[rows] += 1
        if out.ndim == 1:
            out[rows] = self.held[rows, 0] * self.model.buttons + self.held[rows, 1]
        else:
            out[rows] = self.held[rows]

    def _decide(self, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        import torch

        from nets.device import inference

        with inference(len(rows)):
            r = torch.from_numpy(rows)
            stick_t, button_t, new = self.model(torch.from_numpy(x)[:, None], self._take(r))
            self._put(r, new)
            stick_z = stick_t[:, 0].double().numpy()
            button_z = button_t[:, 0].double().numpy()
        if self.greedy:
            stick = stick_z.argmax(-1)
            if button_z.ndim == 3:  # conditional head: the buttons of the chosen stick
                button_z = button_z[np.arange(len(stick)), stick]
            return np.stack([stick, button_z.argmax(-1)], -1)
        u = self.draws.uniform(rows, 2)
        stick = inverse_cdf(softmax(stick_z / self.temperature), u[:, 0])
        if button_z.ndim == 3:
            button_z = button_z[np.arange(len(stick)), stick]
        return np.stack([stick, inverse_cdf(softmax(button_z / self.temperature), u[:, 1])], -1)


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
