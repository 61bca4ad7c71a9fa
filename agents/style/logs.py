"""Where style logs come from: the scripted reference corpus, and any player (demo folder, ghost, agent spec).

* :func:`reference_corpus`: rounds of the scripted fighters, one style each at several difficulties
  (``scripted:rushdown-easy`` ... ``scripted:turtle-hard``) against fixed opponents, played in the batched
  duel (:func:`agents.ghost.batched.play_batched`); the corpus the shipped style model is fitted to and the
  known answers are measured on.
* :func:`player_rounds`: the rounds of one player. A folder of demo rounds is read through the demo format's
  safe reader (:class:`agents.ghost.demos.DemoDataset`: an empty folder or a corrupt round is a one-line
  error naming it); a ghost run folder or checkpoint, or any agent spec (``bundled:duel-ppo``,
  ``ghost:runs/me``, ``scripted:zoner-hard``), plays ``rounds`` rounds against each of ``opponents``.
* :class:`RoundMixer`: a batched agent that plays each round as one of its members, drawn per round with
  fixed weights (a player that is a rushdown 70% of its rounds and a zoner 30%).

Seeds: the reference rounds of player p against opponent o are seeded from ``seed``, p and o alone, so adding
players or opponents never changes the others' rounds.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agents.protocol import BatchedAgent
from agents.style.tokens import MIN_DECISIONS, Corpus, build_corpus

__all__ = ["LEVELS", "OPPONENTS", "REFERENCE_STYLES", "RoundMixer", "pair_seed", "player_rounds", "reference_corpus",
           "reference_players"]

REFERENCE_STYLES = ("rushdown", "zoner", "turtle")
LEVELS = ("easy", "normal", "hard")
OPPONENTS = ("scripted:easy", "scripted:normal", "scripted:hard")  # the fixed opponents a spec is played against


def reference_players(styles: Sequence[str] = REFERENCE_STYLES, levels: Sequence[str] = LEVELS) -> list[str]:
    """``scripted:STYLE-LEVEL`` for every style and level."""
    return [f"scripted:{s}-{lv}" for s in styles for lv in levels]


def pair_seed(seed: int, player: str, opponent: str) -> int:
    """The first round's seed of ``player`` against ``opponent`` (round i: + i), from the three alone."""
    key = [int(seed), zlib.crc32(player.encode()), zlib.crc32(opponent.encode())]
    return int(np.random.SeedSequence(key).generate_state(1, np.uint32)[0]) * 1000


def _play(player: object, name: str, opponents: Sequence[str], rounds: int, seed: int,
          round_seconds: float) -> list:
    from agents.ghost.batched import play_batched

    out: list = []
    for opp in opponents:
        out += play_batched(player, opp, rounds, seed=pair_seed(seed, name, opp), round_seconds=round_seconds)
    return out


def reference_corpus(rounds: int, *, seed: int = 0, players: Sequence[str] | None = None,
                     opponents: Sequence[str] = OPPONENTS, min_decisions: int = MIN_DECISIONS,
                     round_seconds: float = 60.0) -> Corpus:
    """``rounds`` rounds of each reference player against each opponent, as one corpus labelled by player."""
    corpus = Corpus([], [], [], [])
    for spec in players or reference_players():
        played = _play(spec, spec, opponents, rounds, seed, round_seconds)
        corpus.extend(build_corpus(played, spec, min_decisions=min_decisions,
                                   sources=[f"{spec}#{k}" for k in range(len(played))]))
    return corpus


def player_rounds(source: str, *, opponents: Sequence[str] = OPPONENTS, rounds: int = 30, seed: int = 0,
                  round_seconds: float = 60.0) -> tuple[str, list, str]:
    """``(label, rounds, kind)`` of a player: ``kind`` is ``demos`` (a folder or file of demo rounds, read
    safely) or ``agent`` (a ghost folder or checkpoint, or an agent spec, played against ``opponents``)."""
    from agents.ghost.demos import DemoDataset

    path = Path(source)
    if path.is_dir() and not any(path.glob("*.npz")):
        if (path / "checkpoints" / "ghost.pt").is_file() or (path / "ghost.pt").is_file():
            return _agent(f"ghost:{source}", opponents, rounds, seed, round_seconds)
        raise ValueError(f"{source}: no demo rounds (*.npz) and no ghost checkpoint in this folder")
    if path.is_dir() or (path.is_file() and path.suffix == ".npz"):
        ds = DemoDataset(path)
        return str(source), list(ds.rounds), "demos"
    if path.is_file() and path.suffix == ".pt" and ":" not in source:
        return _agent(f"ghost:{source}", opponents, rounds, seed, round_seconds)
    return _agent(source, opponents, rounds, seed, round_seconds)


def _agent(spec: str, opponents: Sequence[str], rounds: int, seed: int, round_seconds: float) -> tuple[str, list, str]:
    from agents.batched import make_batched_agent
    from envs.duel.env import duel_spaces

    if rounds < 1 or not opponents:
        raise ValueError("an agent spec needs rounds >= 1 and at least one opponent to produce its logs")
    action_space, observation_space = duel_spaces()
    player = make_batched_agent(spec, action_space=action_space, observation_space=observation_space)
    return spec, _play(player, spec, opponents, rounds, seed, round_seconds), "agent"


class RoundMixer:
    """A batched agent playing each round as one of ``members`` (batched agents), member m with probability
    ``weights[m]``, drawn when the round starts from the round's seed (so a seeded run repeats). Every member
    is bound to all rows and acts on its own rows only."""

    def __init__(self, members: Sequence[BatchedAgent], weights: Sequence[float], spec: str = "mixer"):
        w = np.asarray(weights, dtype=np.float64)
        if len(members) != len(w) or len(w) == 0 or (w < 0).any() or not w.sum() > 0:
            raise ValueError("RoundMixer needs one weight >= 0 per member, not all 0")
        self.members, self.weights, self.spec = list(members), w / w.sum(), spec
        self.assigned = np.zeros(0, dtype=np.int64)
        self.history: list[int] = []  # the member drawn for every round started, in order

    def bind(self, num_envs: int) -> None:
        self.assigned = np.zeros(int(num_envs), dtype=np.int64)
        self._scratch = np.zeros((int(num_envs), 2), dtype=np.int64)
        for m in self.members:
            m.bind(num_envs)

    def reset_envs(self, idx: np.ndarray, seeds: np.ndarray, difficulty: np.ndarray | None = None) -> None:
        idx, seeds = np.asarray(idx, dtype=np.int64), np.asarray(seeds, dtype=np.int64)
        cdf = np.cumsum(self.weights)
        for r, s in zip(idx.tolist(), seeds.tolist(), strict=True):
            u = np.random.default_rng(np.random.SeedSequence(int(s), spawn_key=(7,))).random()
            self.assigned[r] = min(int(np.searchsorted(cdf, u, side="right")), len(self.members) - 1)
            self.history.append(int(self.assigned[r]))
        for m, member in enumerate(self.members):
            mine = self.assigned[idx] == m
            if mine.any():
                member.reset_envs(idx[mine], seeds[mine], None if difficulty is None else difficulty[mine])

    def act(self, obs: np.ndarray, active: np.ndarray, out: np.ndarray) -> None:
        for m, member in enumerate(self.members):
            mine = active & (self.assigned == m)
            if mine.any():
                member.act(obs, mine, self._scratch)
                out[mine] = self._scratch[mine]
