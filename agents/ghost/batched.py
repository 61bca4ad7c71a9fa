"""Many duel rounds at once for ghosts and their demonstrators: the batched duel with a batched player.

:func:`play_batched` plays ``rounds`` rounds of a *batched player* against one opponent spec in
:class:`envs.duel.vector.DuelVectorEnv` (one numba call steps every round) and returns each slot's
first round as a :class:`PlayedRound` (observations, the player's actions or an oracle's labels,
winner, final health). Round i is seeded ``seed + i`` as in the batched env; the player's own draws
come from its generator.

A batched player speaks ``reset(n)`` and ``act(obs (n, 76), first (n,) bool) -> actions (n, 2)``:

* :class:`BatchedGhost`: a :class:`nets.imitation.GhostPolicy` over n rounds, one recurrent state per
  row (reset where ``first``), sampling every row from one generator;
* :class:`BatchedScriptedPlayer`: a scripted fighter (``scripted:rushdown`` ...) as the player, through
  :class:`agents.character.batched.BatchedScripted`, each row seeded from its own generator; used for
  the demonstrators' win rates, for batched demos and as the DAgger oracle (it reads the states the
  ghost reached and its actions are labels only).

Used by ``sandbox compare ghost`` (the strength gap over hundreds of rounds) and the ghost's
fine-tuning (:mod:`agents.ghost.finetune`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BatchedGhost", "BatchedScriptedPlayer", "PlayedRound", "play_batched"]


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
    """A ghost policy deciding for ``n`` rounds per call: per-row recurrent state, reset at ``first``.

    Args: model: a :class:`nets.imitation.GhostPolicy`; temperature: softmax temperature (1: as learned);
    greedy: the most likely stick, then the most likely button given it; rng: numpy Generator."""

    def __init__(self, model, *, temperature: float = 1.0, greedy: bool = False,
                 rng: np.random.Generator | None = None):
        if not temperature > 0:
            raise ValueError(f"ghost temperature must be > 0; got {temperature}")
        self.model = model.eval()
        self.temperature, self.greedy = float(temperature), bool(greedy)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.state = None

    def reset(self, n: int) -> None:
        self.state = None

    def act(self, obs: np.ndarray, first: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(obs, dtype=np.float32))[:, None]
            stick_z, button_z, self.state = self.model(x, self.state, torch.from_numpy(np.asarray(first, bool)))
        stick_z = stick_z[:, 0].double().numpy() / self.temperature
        button_z = button_z[:, 0].double().numpy() / self.temperature
        stick = self._choose(stick_z)
        if button_z.ndim == 3:  # conditional head: the button softmax of the chosen stick
            button_z = button_z[np.arange(len(stick)), stick]
        return np.stack([stick, self._choose(button_z)], -1).astype(np.int64)

    def _choose(self, z: np.ndarray) -> np.ndarray:
        if self.greedy:
            return z.argmax(-1)
        p = np.exp(z - z.max(-1, keepdims=True))
        c = np.cumsum(p, -1)
        u = self.rng.random(len(z))[:, None] * c[:, -1:]
        return np.minimum((u >= c).sum(-1), z.shape[-1] - 1)


class BatchedScriptedPlayer:
    """A scripted fighter (any ``scripted:NAME`` spec) as the player of ``n`` rounds: at the start of its
    k-th round after the e-th ``reset``, row i draws its fighter's seed from ``default_rng((seed, e, i, k))``."""

    def __init__(self, spec: str, *, seed: int = 0, frame_skip: int = 4):
        from agents.character.batched import make_batched_opponent

        self.spec, self.seed, self.frame_skip = spec, int(seed), int(frame_skip)
        self.fighter = make_batched_opponent(spec, frame_skip)
        if self.fighter is None:
            raise ValueError(f"a scripted player needs a scripted spec; got {spec!r}")
        self._n, self._epoch = 0, -1

    def reset(self, n: int) -> None:
        self._epoch += 1
        self.fighter.bind(n)
        self._n, self._starts = n, np.zeros(n, np.int64)
        self._out = np.zeros((n, 2), np.int64)

    def act(self, obs: np.ndarray, first: np.ndarray) -> np.ndarray:
        first = np.asarray(first, bool)
        if first.any():
            idx = np.flatnonzero(first)
            key = (self.seed, self._epoch)
            seeds = np.array([np.random.default_rng((*key, int(r), int(self._starts[r]))).integers(2**63) for r in idx],
                             dtype=np.int64)
            self._starts[idx] += 1
            self.fighter.reset_envs(idx, seeds, np.full(len(idx), np.nan))
        self.fighter.act(np.ascontiguousarray(obs, dtype=np.float32), np.ones(self._n, bool), self._out)
        return self._out.copy()


def play_batched(player, opponent: str, rounds: int, *, seed: int = 0, frame_skip: int = 4,
                 round_seconds: float = 60.0, oracle=None, chunk: int = 256) -> list[PlayedRound]:
    """``rounds`` rounds of ``player`` against ``opponent``, ``chunk`` at once (round i is seeded
    ``seed + i``); each slot's first round is kept (finished slots restart and play on unrecorded until
    the chunk's last round ends). With ``oracle`` (a batched player), the oracle decides on every state
    the player reached and its decisions are returned as ``actions`` (DAgger labels); the player's
    actions are what the env plays."""
    if rounds < 1 or chunk < 1:
        raise ValueError(f"rounds and chunk must be >= 1; got {rounds}, {chunk}")
    out: list[PlayedRound] = []
    for start in range(0, rounds, chunk):
        out += _play_chunk(player, opponent, min(chunk, rounds - start), seed + start, frame_skip, round_seconds,
                           oracle)
    return out


def _play_chunk(player, opponent, rounds, seed, frame_skip, round_seconds, oracle) -> list[PlayedRound]:
    from agents.character.batched import make_batched_opponent
    from envs.duel.vector import DuelVectorEnv

    env = DuelVectorEnv(num_envs=rounds, opponent=make_batched_opponent(opponent, frame_skip), frame_skip=frame_skip,
                        round_seconds=round_seconds)
    t_max = env.round_ticks // env.frame_skip + 2
    obs_buf = np.zeros((t_max, rounds, env.single_observation_space.shape[0]), np.float32)
    act_buf = np.zeros((t_max, rounds, 2), np.int64)
    rew_buf = np.zeros((t_max, rounds), np.float32)
    obs, _ = env.reset(seed=seed)
    for p in (player, oracle):
        if p is not None:
            p.reset(rounds)
    first = np.ones(rounds, bool)
    live = np.ones(rounds, bool)
    length = np.zeros(rounds, np.int64)
    winner = np.full(rounds, "draw", dtype=object)
    health = np.zeros((rounds, 2), np.int64)
    t = 0
    while live.any():
        if t >= t_max:
            raise RuntimeError(f"a round ran past {t_max} decisions")
        act = player.act(obs, first)
        label = act if oracle is None else oracle.act(obs, first)
        obs_buf[t], act_buf[t] = obs, label
        obs, reward, terminated, truncated, info = env.step(act)
        rew_buf[t] = reward
        ended = (terminated | truncated) & live
        if ended.any():
            length[ended] = t + 1
            w = info["winner"]
            for i in np.flatnonzero(ended):
                winner[i] = {"agent": "player", "opponent": "opponent"}.get(w[i], "draw")
            health[ended, 0], health[ended, 1] = info["agent_health"][ended], info["opponent_health"][ended]
        live &= ~ended
        first = terminated | truncated
        t += 1
    env.close()
    return [PlayedRound(obs_buf[:length[i], i].copy(), act_buf[:length[i], i].copy(), rew_buf[:length[i], i].copy(),
                        opponent, str(winner[i]), health[i].copy()) for i in range(rounds)]
