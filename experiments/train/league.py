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

**Snapshot gate** (RLlib's self-play / Footsies examples): :class:`experiments.train.gate.SnapshotGate`,
the one RLlib's self-play uses too. The main agent's score over its last ``window`` games (W = 20, all
opponents) is kept; once the window is full and the score rate is *strictly* above ``gate`` (0.9: 19 of 20,
not 18 of 20), :meth:`League.gate_open` is true; adding the snapshot (:meth:`League.add`, kind ``snapshot``)
empties the window, so the next snapshot needs W new games.

**Elo ladder.** After each game against a rated opponent, both ratings move by Elo's update
(:func:`experiments.train.elo.update`, k = 32); self-play games are not rated. Every result is also
tallied per pair, and :meth:`League.refit` returns the maximum-likelihood Bradley-Terry ratings of all of
them (:func:`experiments.train.elo.fit_ratings`, one virtual draw per pair as its prior), anchored at
``random`` = 1000 when ``random`` is in the pool, else at the first scripted opponent. A new snapshot
starts at the main agent's current rating (it is a copy of it).

**Resume.** :meth:`League.state` is the bookkeeping as plain JSON (:data:`STATE_FORMAT`); payloads are not
part of it. :meth:`League.from_state` rebuilds a league from it, and :meth:`League.load_state` loads it into
a league that already holds some payloads, keeping each by its member's name; the caller re-attaches the
others (snapshots: their saved weights) by name.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from experiments.train.elo import ANCHOR_RATING, fit_ratings, update
from experiments.train.gate import SnapshotGate

KINDS = ("main", "snapshot", "scripted", "exploiter", "fixed")
WEIGHTINGS = ("hard", "variance", "linear", "uniform")
MAIN = "main"
STATE_FORMAT = "sandbox-league/1"  # League.state()'s "format"
SETTINGS = ("weighting", "p", "self_play", "window", "gate", "opp_window", "prior_games", "k")


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
        self.snapshot_gate = SnapshotGate(self.window, self.gate)  # emptied by a snapshot
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
            self.snapshot_gate.reset()
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
        self.snapshot_gate.record(s)
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
        return self.snapshot_gate.rate

    @property
    def main_win_rate(self) -> float:
        """The main agent's score rate over its last ``window`` games, snapshots or not (NaN before any)."""
        return float(np.mean(self.main_history)) if self.main_history else float("nan")

    def gate_open(self) -> bool:
        """Is the window full with a score rate strictly above ``gate``? (:meth:`SnapshotGate.open`)"""
        return self.snapshot_gate.open()

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

    # ---- resume -------------------------------------------------------------------------------------
    def settings(self) -> dict:
        """The constructor's arguments but the main agent's starting rating (PFSP, gate, windows, Elo)."""
        return {"weighting": self.weighting, "p": self.p, "self_play": self.self_play, "window": self.window,
                "gate": self.gate, "opp_window": self.opp_window, "prior_games": self.prior_games, "k": self.k}

    def state(self) -> dict:
        """The bookkeeping as plain JSON; payloads are left out (the caller keeps them by name)::

            {"format": "sandbox-league/1",
             "settings": {"weighting", "p", "self_play", "window", "gate", "opp_window", "prior_games", "k"},
             "members": [{"name", "kind", "rating", "games", "recent": [main's last scores against it]}, ...],
             "gate": SnapshotGate.state(), "main_history": [main's last `window` scores],
             "results": [["main", opponent, wins, losses, draws], ...],
             "games": total games, "snapshots": snapshots added}

        Members and results keep the pool's order (the sampling probabilities and the refit follow it)."""
        return {"format": STATE_FORMAT, "settings": self.settings(),
                "members": [{"name": o.name, "kind": o.kind, "rating": o.rating, "games": o.games,
                             "recent": list(o.recent)} for o in self.members.values()],
                "gate": self.snapshot_gate.state(), "main_history": list(self.main_history),
                "results": [[a, b, *tally] for (a, b), tally in self.results.items()],
                "games": self.games, "snapshots": self.snapshots}

    @classmethod
    def from_state(cls, state: dict, payloads: dict[str, Any] | None = None) -> League:
        """The league :meth:`state` described, each member's payload taken from ``payloads`` by name (None
        for the others). A malformed state is a one-line ValueError."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a league state (expected format {STATE_FORMAT!r})")
        try:
            settings, members = state["settings"], state["members"]
            gate_state, history, results = state["gate"], state["main_history"], state["results"]
            games, snapshots = state["games"], state["snapshots"]
        except KeyError as exc:
            raise ValueError(f"a league state needs {exc.args[0]!r}") from None
        if not isinstance(settings, dict) or set(settings) - set(SETTINGS):
            raise ValueError("a league state's settings must be an object of League's settings")
        try:
            league = cls(**settings)
        except TypeError as exc:
            raise ValueError(f"a league state's settings do not fit League ({exc})") from None
        payloads = payloads or {}
        if not isinstance(members, list) or not members or not isinstance(members[0], dict) \
                or members[0].get("name") != MAIN or members[0].get("kind") != "main":
            raise ValueError(f"a league state's members must be a list starting with {MAIN!r}")
        league.members = {}
        for m in members:
            if not isinstance(m, dict) or not isinstance(m.get("name"), str):
                raise ValueError("a league state's member must be an object with a name")
            name, kind = m["name"], m.get("kind")
            if kind not in KINDS or name in league.members or (kind == "main") != (name == MAIN):
                raise ValueError(f"league state: member {name!r} of kind {kind!r} is a duplicate or invalid")
            rating, played, recent = m.get("rating"), m.get("games"), m.get("recent")
            if isinstance(rating, bool) or not isinstance(rating, int | float) or not np.isfinite(rating):
                raise ValueError(f"league state: member {name!r} has no finite rating")
            if not _count(played):
                raise ValueError(f"league state: member {name!r} has no whole number of games")
            if not isinstance(recent, list) or len(recent) > league.opp_window:
                raise ValueError(f"league state: member {name!r}'s recent scores are not a list of at most "
                                 f"{league.opp_window}")
            league.members[name] = Opponent(name, kind, payloads.get(name), float(rating),
                                            deque((_check_score(s) for s in recent), maxlen=league.opp_window),
                                            int(played))
        gate = SnapshotGate.from_state(gate_state)
        if (gate.window, gate.gate) != (league.window, league.gate):
            raise ValueError("league state: the gate's window and threshold differ from the settings")
        league.snapshot_gate = gate
        if not isinstance(history, list) or len(history) > league.window:
            raise ValueError(f"league state: main_history must be a list of at most {league.window} scores")
        league.main_history.extend(_check_score(s) for s in history)
        if not isinstance(results, list):
            raise ValueError("league state: results must be a list")
        for row in results:
            if not (isinstance(row, list) and len(row) == 5 and row[0] == MAIN and row[1] in league.members
                    and row[1] != MAIN and all(_count(x, whole=False) for x in row[2:])):
                raise ValueError(f"league state: bad result row {row!r} (expected [main, member, wins, losses, "
                                 "draws])")
            if (MAIN, row[1]) in league.results:
                raise ValueError(f"league state: two result rows for {row[1]!r}")
            league.results[(MAIN, row[1])] = [float(x) for x in row[2:]]
        if not (_count(games) and _count(snapshots)):
            raise ValueError("league state: games and snapshots must be whole numbers >= 0")
        league.games, league.snapshots = int(games), int(snapshots)
        return league

    def load_state(self, state: dict) -> None:
        """Replace this league's bookkeeping (settings included) by ``state`` (:meth:`state`). The payloads of
        members of the same name are kept; members only the state has get None: re-attach them by name."""
        loaded = League.from_state(state, {n: o.payload for n, o in self.members.items()})
        self.__dict__.update(loaded.__dict__)


def _count(value, whole: bool = True) -> bool:
    """Is ``value`` a number >= 0 (a whole one if ``whole``), not a bool?"""
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
        return False
    return not whole or float(value).is_integer()
