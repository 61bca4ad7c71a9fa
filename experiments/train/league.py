"""League bookkeeping (issue 15, item 3): the opponent pool, prioritised fictitious self-play, the
snapshot gate and a live Elo ladder. Pure and game-agnostic: an opponent is a name, a kind and an
opaque payload; a game is ``record(opponent, score)`` with the main agent's score (win 1, draw 1/2,
loss 0). :mod:`experiments.train.duel_league` plays the games.

**The pool.** One main agent (the learner, named ``main``) and its opponents, each of a kind:
``main`` (the learner itself, for plain self-play), ``snapshot`` (a frozen past self), ``scripted``
(every preset and style), ``exploiter`` (a best response trained against the main agent) and ``fixed``
(any other frozen agent given to the pool, e.g. a bundled checkpoint). Names are
unique; the pool only grows.

**Win rates.** For each opponent o the main agent's recent score rate over the last ``opp_window``
games against it, with ``prior_games`` virtual draws so that an opponent never played sits at 1/2:

    x_o = (sum of the last n scores + prior_games / 2) / (n + prior_games)

**Prioritised fictitious self-play** (AlphaStar, Vinyals et al. 2019). Opponent o is drawn with
probability proportional to ``f(x_o)``, ``x_o`` the main agent's win rate against o:

    hard:     f(x) = (1 - x) ** p      (p = 2 by default: mostly the opponents that beat the main agent)
    variance: f(x) = x (1 - x)         (opponents near the main agent's level)
    linear:   f(x) = 1 - x             (hard with p = 1)
    uniform:  f(x) = 1                 (fictitious self-play)

A fraction ``self_play`` of the games is played against the main agent itself (AlphaStar's main agents
play 35% self-play); the rest is shared by PFSP over every other opponent. If every weight is 0 (the
main agent beats everyone every time), the draw falls back to uniform over the others. With no other
opponent every game is self-play.

**Snapshot gate** (RLlib's self-play / Footsies examples). The main agent's score over its last
``window`` games (W = 20, all opponents) is kept; once the window is full and the score rate is
*strictly* above ``gate`` (0.9: 19 of 20, not 18 of 20), :meth:`League.gate_open` is true; adding the
snapshot (:meth:`League.add`, kind ``snapshot``) empties the window, so the next snapshot needs W new games.

**Elo ladder.** After each game against a rated opponent, both ratings move by Elo's update
(:func:`experiments.train.elo.update`, k = 32); self-play games are not rated. Every result is also
tallied per pair, and :meth:`League.refit` returns the maximum-likelihood Bradley-Terry ratings of all of
them (:func:`experiments.train.elo.fit_ratings`, one virtual draw per pair as its prior), anchored at
``random`` = 1000 when ``random`` is in the pool, else at the first scripted opponent. A new snapshot
starts at the main agent's current rating (it is a copy of it).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from experiments.train.elo import ANCHOR_RATING, fit_ratings, update

KINDS = ("main", "snapshot", "scripted", "exploiter", "fixed")
WEIGHTINGS = ("hard", "variance", "linear", "uniform")
MAIN = "main"


def pfsp_weights(win_rates, weighting: str = "hard", p: float = 2.0) -> np.ndarray:
    """PFSP sampling probabilities from the main agent's win rates ``x`` against each opponent (see the
    module docstring for ``f``); normalised to sum to 1, uniform when every ``f(x)`` is 0.

    Hand-worked: x = (0.1, 0.5, 0.9), hard, p = 2 -> f = (0.81, 0.25, 0.01), sum 1.07 ->
    (0.757009, 0.233645, 0.009346)."""
    x = np.asarray(win_rates, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"win_rates must be a non-empty 1-d sequence; got shape {x.shape}")
    if np.any((x < 0) | (x > 1)) or np.any(np.isnan(x)):
        raise ValueError(f"win rates must be in [0, 1]; got {x.tolist()}")
    if weighting == "hard":
        if not p > 0:
            raise ValueError(f"p must be > 0; got {p}")
        f = (1.0 - x) ** p
    elif weighting == "variance":
        f = x * (1.0 - x)
    elif weighting == "linear":
        f = 1.0 - x
    elif weighting == "uniform":
        f = np.ones_like(x)
    else:
        raise ValueError(f"unknown PFSP weighting {weighting!r}; valid: {', '.join(WEIGHTINGS)}")
    total = f.sum()
    return f / total if total > 0 else np.full(len(x), 1.0 / len(x))


@dataclass
class Opponent:
    """One member of the pool: its name, kind, the object that plays it (opaque here), its Elo rating,
    and the main agent's recent scores against it."""

    name: str
    kind: str
    payload: Any = None
    rating: float = ANCHOR_RATING
    recent: deque = field(default_factory=deque)
    games: int = 0


def _check_score(score: float) -> float:
    s = float(score)
    if s not in (0.0, 0.5, 1.0):
        raise ValueError(f"a game's score is 1 (main won), 0.5 (draw) or 0 (main lost); got {score!r}")
    return s


class League:
    """The pool, PFSP sampling, the snapshot gate and the Elo ladder (module docstring).

    Args:
        weighting, p: the PFSP function (:func:`pfsp_weights`).
        self_play: the share of games against the main agent itself, in [0, 1].
        window, gate: the snapshot gate (score rate over the last ``window`` games strictly above ``gate``).
        opp_window: games per opponent that its win rate is estimated from; prior_games: virtual draws.
        k: Elo's k-factor. main_rating: the main agent's starting rating.
    """

    def __init__(self, *, weighting: str = "hard", p: float = 2.0, self_play: float = 0.2, window: int = 20,
                 gate: float = 0.9, opp_window: int = 50, prior_games: float = 1.0, k: float = 32.0,
                 main_rating: float = ANCHOR_RATING):
        pfsp_weights([0.5], weighting, p)  # validates weighting and p
        if not 0.0 <= self_play <= 1.0:
            raise ValueError(f"self_play must be in [0, 1]; got {self_play}")
        if int(window) < 1 or int(opp_window) < 1:
            raise ValueError(f"window and opp_window must be >= 1; got {window}, {opp_window}")
        if not 0.0 <= gate <= 1.0:
            raise ValueError(f"gate must be in [0, 1]; got {gate}")
        if prior_games < 0:
            raise ValueError(f"prior_games must be >= 0; got {prior_games}")
        self.weighting, self.p, self.self_play = weighting, float(p), float(self_play)
        self.window, self.gate, self.opp_window = int(window), float(gate), int(opp_window)
        self.prior_games, self.k = float(prior_games), float(k)
        self.members: dict[str, Opponent] = {}
        self.main_recent: deque = deque(maxlen=self.window)  # the gate's window (emptied by a snapshot)
        self.main_history: deque = deque(maxlen=self.window)  # the same games, never emptied (for the log)
        self.results: dict[tuple[str, str], list[float]] = {}  # (main, o) -> [wins, losses, draws]
        self.snapshots = 0
        self.games = 0
        self.add(MAIN, "main", rating=main_rating)

    # ---- the pool -----------------------------------------------------------------------------------
    def add(self, name: str, kind: str, payload: Any = None, rating: float | None = None) -> Opponent:
        """Add an opponent. A snapshot starts at the main agent's rating and empties the gate's window."""
        if kind not in KINDS:
            raise ValueError(f"unknown opponent kind {kind!r}; valid: {', '.join(KINDS)}")
        if name in self.members:
            raise ValueError(f"the pool already has an opponent named {name!r}")
        if kind == "main" and name != MAIN:
            raise ValueError(f"the main agent is named {MAIN!r}")
        if rating is None:
            rating = self.members[MAIN].rating if MAIN in self.members else ANCHOR_RATING
        member = Opponent(name, kind, payload, float(rating), deque(maxlen=self.opp_window))
        self.members[name] = member
        if kind == "snapshot":
            self.snapshots += 1
            self.main_recent.clear()
        return member

    def __len__(self) -> int:
        return len(self.members)

    @property
    def names(self) -> list[str]:
        return list(self.members)

    def win_rate(self, name: str) -> float:
        """The main agent's recent score rate against ``name``, with the prior (module docstring)."""
        o = self.members[name]
        n = len(o.recent) + self.prior_games
        return (sum(o.recent) + 0.5 * self.prior_games) / n if n > 0 else 0.5

    # ---- sampling -----------------------------------------------------------------------------------
    def probabilities(self) -> dict[str, float]:
        """The probability of drawing each opponent (``main``: self-play) for the next game."""
        others = [n for n in self.members if n != MAIN]
        if not others:
            return {MAIN: 1.0}
        w = pfsp_weights([self.win_rate(n) for n in others], self.weighting, self.p) * (1.0 - self.self_play)
        return {MAIN: self.self_play, **{n: float(x) for n, x in zip(others, w, strict=True)}}

    def sample(self, rng: np.random.Generator, n: int = 1) -> list[str]:
        """``n`` opponents drawn independently with :meth:`probabilities`, from ``rng``."""
        probs = self.probabilities()
        names = list(probs)
        p = np.array([probs[k] for k in names])
        idx = rng.choice(len(names), size=int(n), p=p / p.sum())
        return [names[i] for i in idx]

    # ---- results ------------------------------------------------------------------------------------
    def record(self, name: str, score: float) -> None:
        """One game of the main agent against ``name``, in which the main agent scored ``score``."""
        s = _check_score(score)
        if name not in self.members:
            raise ValueError(f"{name!r} is not in the pool; members: {', '.join(self.members)}")
        self.games += 1
        self.main_recent.append(s)
        self.main_history.append(s)
        o = self.members[name]
        o.games += 1
        if name == MAIN:
            return  # self-play: neither a win rate nor a rating
        o.recent.append(s)
        main = self.members[MAIN]
        main.rating, o.rating = update(main.rating, o.rating, s, k=self.k)
        tally = self.results.setdefault((MAIN, name), [0.0, 0.0, 0.0])
        tally[0 if s == 1.0 else 1 if s == 0.0 else 2] += 1

    @property
    def gate_rate(self) -> float:
        """The main agent's score rate over the gate's window (NaN when it is empty: before the first game
        and right after a snapshot)."""
        return float(np.mean(self.main_recent)) if self.main_recent else float("nan")

    @property
    def main_win_rate(self) -> float:
        """The main agent's score rate over its last ``window`` games, snapshots or not (NaN before any)."""
        return float(np.mean(self.main_history)) if self.main_history else float("nan")

    def gate_open(self) -> bool:
        """Is the window full with a score rate strictly above ``gate``?"""
        return len(self.main_recent) == self.window and self.gate_rate > self.gate + 1e-12

    # ---- the ladder ---------------------------------------------------------------------------------
    def ratings(self) -> dict[str, float]:
        """The live (incrementally updated) Elo ratings."""
        return {n: o.rating for n, o in self.members.items()}

    def refit(self) -> dict[str, float]:
        """Bradley-Terry maximum-likelihood ratings of every rated result so far, over the members that
        played (anchored as the module docstring says); {} before two of them have played."""
        played = [n for n in self.members if n == MAIN or (MAIN, n) in self.results]
        results = [(a, b, *t) for (a, b), t in self.results.items()]
        if len(played) < 2:
            return {}
        anchor = "random" if "random" in played else next(
            (n for n in played if self.members[n].kind == "scripted"), MAIN)
        return fit_ratings(played, results, anchor=anchor)

    def summary(self) -> dict:
        """What the trainer logs: pool size, snapshots, games, the gate's rate, and per opponent its kind,
        games, win rate, probability and live rating."""
        probs = self.probabilities()
        return {"pool": len(self), "snapshots": self.snapshots, "games": self.games,
                "main_win_rate": self.main_win_rate, "main_rating": self.members[MAIN].rating,
                "opponents": {n: {"kind": o.kind, "games": o.games, "win_rate": self.win_rate(n),
                                  "p": probs[n], "rating": o.rating} for n, o in self.members.items()}}
