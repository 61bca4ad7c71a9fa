"""The self-play snapshot gate, one for every trainer (the native league and RLlib's self-play).

The learner's score is kept over its last ``window`` games (a win scores 1, a draw 1/2, a loss 0). The
gate is **open** when the window is full and the score rate over it is *strictly* above ``gate``: with
``window`` 20 and ``gate`` 0.9, 19 wins of the last 20 open it, 18 of 20 (exactly 0.9) do not. The trainer
then adds a frozen snapshot of the learner and calls :meth:`SnapshotGate.reset`, which empties the window,
so the next snapshot needs ``window`` new games.

Games whose order is unknown (RLlib reports per training iteration only the sum of the learner's wins and
the number of rounds) go in through :meth:`SnapshotGate.record_many`: each of the ``games`` enters the
window scoring their mean, ``wins / games``. The rate is then exact whenever the window holds whole
batches, and where the window's oldest end cuts a batch, the part of it inside counts at the batch's rate.

"Strictly above" allows for float round-off: the rate must exceed ``gate`` by more than 1e-9, so a rate
that is the gate up to round-off (18 wins of 20 against 0.9, however they were added up) keeps it closed.
A ``gate`` of 1 or more never opens; one below 0 opens as soon as the window is full.

Pure: no torch, no Ray, no game; :meth:`SnapshotGate.state` / :meth:`SnapshotGate.from_state` round-trip
it through JSON for resuming.
"""

from __future__ import annotations

import math
import numbers
from collections import deque

TOLERANCE = 1e-9  # how far above the gate the rate must be (round-off at exactly the gate keeps it closed)


class SnapshotGate:
    """The learner's score over its last ``window`` games, and whether it is strictly above ``gate``.

    Args:
        window: games the rate is taken over (>= 1); the gate opens only once the window is full.
        gate: the threshold the rate must be strictly above (module docstring).
    """

    def __init__(self, window: int, gate: float):
        if isinstance(window, bool) or int(window) != window or int(window) < 1:
            raise ValueError(f"the gate's window must be a whole number >= 1; got {window!r}")
        gate = float(gate)
        if not math.isfinite(gate):
            raise ValueError(f"the gate must be a finite number; got {gate!r}")
        self.window, self.gate = int(window), gate
        self.scores: deque[float] = deque(maxlen=self.window)
        self.games = 0  # games recorded since the last reset (also those that left the window)

    # ---- recording ----------------------------------------------------------------------------------
    def record(self, score: float) -> None:
        """One game in which the learner scored ``score`` (1 win, 1/2 draw, 0 loss; anything in [0, 1])."""
        self.scores.append(_check_score(score))
        self.games += 1

    def record_many(self, wins: float, games: int) -> None:
        """``games`` games of unknown order in which the learner scored ``wins`` in total: each enters the
        window at their mean score ``wins / games`` (module docstring). ``games`` 0 records nothing."""
        if isinstance(games, bool) or int(games) != games or games < 0:
            raise ValueError(f"games must be a whole number >= 0; got {games!r}")
        games = int(games)
        if games == 0:
            return
        wins = float(wins)
        if not 0.0 <= wins <= games:
            raise ValueError(f"wins must be in [0, games = {games}]; got {wins!r}")
        mean = wins / games
        self.scores.extend([mean] * min(games, self.window))  # only the last `window` can stay
        self.games += games

    def reset(self) -> None:
        """Empty the window: a snapshot was just added."""
        self.scores.clear()
        self.games = 0

    # ---- reading ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.scores)

    @property
    def full(self) -> bool:
        return len(self.scores) == self.window

    @property
    def rate(self) -> float:
        """The score rate over the games in the window (NaN while it is empty)."""
        return math.fsum(self.scores) / len(self.scores) if self.scores else math.nan

    def open(self) -> bool:
        """Is the window full with a rate strictly above the gate?"""
        return self.full and self.rate > self.gate + TOLERANCE

    # ---- resume -------------------------------------------------------------------------------------
    def state(self) -> dict:
        """A JSON-able dict that :meth:`from_state` turns back into this gate."""
        return {"window": self.window, "gate": self.gate, "scores": list(self.scores), "games": self.games}

    @classmethod
    def from_state(cls, state: dict) -> SnapshotGate:
        """The gate :meth:`state` described; a ValueError (one line) for anything malformed."""
        if not isinstance(state, dict):
            raise ValueError("a snapshot gate's state must be a JSON object")
        try:
            gate = cls(state["window"], state["gate"])
            scores = state["scores"]
            games = state.get("games", len(scores))
        except KeyError as exc:
            raise ValueError(f"a snapshot gate's state needs {exc.args[0]!r}") from None
        if not isinstance(scores, list) or len(scores) > gate.window:
            raise ValueError(f"a snapshot gate's scores must be a list of at most {gate.window} numbers")
        gate.scores.extend(_check_score(s) for s in scores)
        if isinstance(games, bool) or not isinstance(games, int) or games < len(scores):
            raise ValueError(f"a snapshot gate's games must be a whole number >= {len(scores)}; got {games!r}")
        gate.games = games
        return gate

    def __repr__(self) -> str:
        return (f"SnapshotGate(window={self.window}, gate={self.gate}, games={len(self)}/{self.window}, "
                f"rate={self.rate:.3f}, open={self.open()})")


def _check_score(score) -> float:
    if isinstance(score, bool) or not isinstance(score, numbers.Real):
        raise ValueError(f"a game's score is a number in [0, 1]; got {score!r}")
    s = float(score)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"a game's score is a number in [0, 1]; got {score!r}")
    return s
